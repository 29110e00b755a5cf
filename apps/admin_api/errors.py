"""The Admin API's error type and the authenticated call every handler receives.

A handler raises `ApiError` for anything it refuses; `api.py` answers it in the documented envelope
`{"type": "error", "error": {"type", "message", "details"?}, "request_id"}` with the request id also in the
`request-id` header (the SDK reads it there). Never a 409 (the SDK would retry it), never a 500 for bad input.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apps.organizations.models import Organization

from .models import AdminApiKey


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str, *, error_code: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message
        self.error_code, self.headers = error_code, headers or {}


def bad_request(message: str, error_code: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request_error", message, error_code=error_code)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found_error", message)


@dataclass(frozen=True)
class Call:
    """One authenticated API call: the key, its organization, the request time and id."""

    key: AdminApiKey
    organization: Organization
    now: dt.datetime
    request_id: str
