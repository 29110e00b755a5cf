"""Streaming CSV: the text of a header and rows, one line at a time, for StreamingHttpResponse. Every CSV the
portal serves goes through here, so every cell is neutralised against formula injection (OWASP "CSV Injection").

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is what a spreadsheet would run as a
formula (`=HYPERLINK(...)`, `@SUM(...)`, `-2+3`); such a cell gets a leading single quote, OWASP's advice, so it
opens as the text it is. Numbers stay numbers: an int, a Decimal or a float is written as is, and so is a
string that is exactly a plain decimal number (`-12.50`, a credit in an invoice CSV; amounts are formatted as
strings before they get here), because a spreadsheet reads it as that number and runs nothing. `-2+3` or
`-1e3` is not a plain number and is quoted.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def csv_safe_cell(value):
    """The cell as it may be written: numbers as they are, text that a spreadsheet would run as a formula with
    a leading single quote."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns the text, so csv.writer formats one row at a time."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV lines (RFC 4180 quoting, CRLF line ends) of a header and rows, produced as the rows are read, every
    cell through csv_safe_cell."""
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_safe_cell(cell) for cell in header])
    for row in rows:
        yield writer.writerow([csv_safe_cell(cell) for cell in row])
