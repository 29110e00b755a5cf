"""Streaming CSV: the text of a header and rows, one line at a time, for StreamingHttpResponse."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator


class _Echo:
    """A file-like object whose write returns the text, so csv.writer formats one row at a time."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV lines (RFC 4180 quoting, CRLF line ends) of a header and rows, produced as the rows are read."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)
