"""Opaque page cursors: base64url JSON of (API version tag, last sort key, filter hash).

A cursor is bound to the filters that issued it: reusing it with different filters is refused, as is a cursor
issued by another version of the API (the tag changes whenever the sort keys change shape). `limit` may change
between pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from apps.common.json_body import json_loads_limited

# Bump when a cursor's sort key changes shape: old cursors then get "issued by a different API version".
API_VERSION_TAG = "2026-10-21.1"


class CursorError(Exception):
    """`kind` is "invalid", "mismatch" or "version"; the endpoint picks its documented message."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def filter_hash(*, organization_id: int, endpoint: str, filters: dict) -> str:
    canonical = json.dumps({"o": organization_id, "e": endpoint, "f": filters}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def cursor_encode(*, key: list, filters_digest: str) -> str:
    raw = json.dumps({"v": API_VERSION_TAG, "k": key, "f": filters_digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(token: str, *, filters_digest: str) -> list:
    """The sort key stored in the cursor, after checking its version and filters. Raises CursorError."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json_loads_limited(base64.urlsafe_b64decode(padded.encode("ascii")), max_bytes=4096, max_depth=4)
    except (ValueError, UnicodeError, binascii.Error):
        raise CursorError("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("k"), list) or not isinstance(data.get("f"), str):
        raise CursorError("invalid")
    if data.get("v") != API_VERSION_TAG:
        raise CursorError("version")
    if data["f"] != filters_digest:
        raise CursorError("mismatch")
    return data["k"]
