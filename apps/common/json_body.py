"""JSON request bodies with a size and a depth limit: the one parser every API uses (machine API, Admin API,
SCIM). Each API turns the two refusals into its own error shape (413 for too large, 400 for too deep).

Python's json module recurses once per nesting level: 100,000 opening brackets raise RecursionError, which no
API expected (a 500). Here a body larger than `max_bytes` is refused before it is decoded, a RecursionError is
a refusal, and the decoded value is walked (without recursion) to refuse anything nested deeper than
`max_depth`. No legitimate body of ours nests deeper than five levels; the default limit is 32.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja.parser import Parser


class JsonBodyRefused(ValueError):
    """The body is refused before anything reads it; `status` is 400 or 413, `message` says why."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class JsonBodyTooLarge(JsonBodyRefused):
    status = 413


class JsonBodyTooDeep(JsonBodyRefused):
    status = 400


def max_depth_default() -> int:
    return int(getattr(settings, "JSON_BODY_MAX_DEPTH", 32))


def max_bytes_default() -> int:
    return int(getattr(settings, "JSON_BODY_MAX_BYTES", settings.DATA_UPLOAD_MAX_MEMORY_SIZE))


def _too_deep(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than `limit` levels (a scalar is depth 0, [] or {} is depth 1)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_loads_limited(raw: bytes | str, *, max_bytes: int | None = None, max_depth: int | None = None) -> Any:
    """The decoded JSON value. JsonBodyTooLarge above `max_bytes`, JsonBodyTooDeep above `max_depth` levels,
    ValueError (json.JSONDecodeError or UnicodeDecodeError) when it is not JSON."""
    max_bytes = max_bytes_default() if max_bytes is None else max_bytes
    max_depth = max_depth_default() if max_depth is None else max_depth
    if len(raw) > max_bytes:
        raise JsonBodyTooLarge(f"body: larger than {max_bytes} bytes")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JsonBodyTooDeep(f"body: nested deeper than {max_depth} levels") from None
    if _too_deep(value, max_depth):
        raise JsonBodyTooDeep(f"body: nested deeper than {max_depth} levels")
    return value


_REQUIRED = object()


def request_json(request: HttpRequest, *, max_bytes: int | None = None, max_depth: int | None = None,
                 empty: Any = _REQUIRED) -> Any:
    """The request's body decoded by json_loads_limited (`empty` when the body is empty, if given); a body above
    Django's own upload limit (DATA_UPLOAD_MAX_MEMORY_SIZE) is JsonBodyTooLarge too."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise JsonBodyTooLarge(f"body: larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes") from None
    if not raw and empty is not _REQUIRED:
        return empty
    return json_loads_limited(raw, max_bytes=max_bytes, max_depth=max_depth)


class LimitedJsonParser(Parser):
    """django-ninja's parser hook: the body through request_json. django-ninja wraps any parser exception in an
    HttpError(400) whose __cause__ is ours; each API's HttpError handler answers a JsonBodyRefused cause with its
    status in that API's error shape."""

    max_bytes: int | None = None

    def parse_body(self, request):
        return request_json(request, max_bytes=self.max_bytes)
