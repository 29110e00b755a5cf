"""Signing (Standard Webhooks) and the HTTP request of one attempt, with the SSRF guard.

Signing: `webhook-id` (the event's public id, the same on every retry), `webhook-timestamp` (the attempt's Unix
time) and `webhook-signature` ("v1,<base64 HMAC-SHA256>" of "<id>.<timestamp>.<body>"), computed by the
`standardwebhooks` package. During a rotation's overlap both secrets sign and both signatures are sent,
space-separated, so a receiver holding either verifies the message.

SSRF guard: apps/common/outbound.py, the guard of every server-side fetch. An endpoint's host must resolve only to
public addresses (no loopback, private, link-local, multicast, reserved or metadata address), checked when the
endpoint is saved, and on every request by the connection itself, which connects to the address it checked (no
second resolution, so no DNS-rebinding window). Tests reach a receiver on 127.0.0.1 through the guard's
allow-list (OUTBOUND_ALLOWED_NETWORKS); WEBHOOKS_REQUIRE_HTTPS=false allows plain http:// in tests only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from apps.common import outbound

SECRET_PREFIX = "whsec_"
RESPONSE_EXCERPT = 500
USER_AGENT = "billing_portal-webhooks/1"


def secret_new() -> str:
    """A new signing secret: "whsec_" + base64 of 32 random bytes (the Standard Webhooks format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_header(*, secrets_: list[str], msg_id: str, timestamp: dt.datetime, body: bytes) -> str:
    """The `webhook-signature` value: one "v1,…" signature per secret, space-separated."""
    return " ".join(Webhook(s).sign(msg_id=msg_id, timestamp=timestamp, data=body) for s in secrets_)


def body_encode(*, msg_id: str, event_type: str, created_at: dt.datetime, data: dict) -> bytes:
    """The JSON body of a message: {"id", "type", "timestamp", "data"} (the Standard Webhooks envelope)."""
    envelope = {"id": msg_id, "type": event_type,
                "timestamp": created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"), "data": data}
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def url_check(url: str, *, resolve: bool = True) -> None:
    """Refuse (ValidationError on "url") a URL the portal must not call: not HTTPS (unless tests allow http),
    credentials in it, or a host that resolves to a loopback, private or otherwise non-public address."""
    allowed = ("https",) if settings.WEBHOOKS_REQUIRE_HTTPS else ("https", "http")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in allowed or not parts.hostname or any(c.isspace() or ord(c) < 32
                                                                                  for c in url):
        raise ValidationError({"url": _("Enter an HTTPS URL, such as https://example.com/webhooks.")})
    if parts.username or parts.password:
        raise ValidationError({"url": _("Leave the user name and password out of the URL.")})
    if not resolve:
        return
    try:
        outbound.check_url_host(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    except outbound.OutboundRefused as refused:
        if not refused.address:
            raise ValidationError({"url": _("This host name does not resolve.")}) from None
        raise ValidationError({"url": _("This URL points to a private or local network address; webhooks are "
                                        "only sent to public addresses.")}) from None


@dataclass(frozen=True)
class AttemptResult:
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_excerpt: str = ""
    error: str = ""


_CLIENT: httpx.Client | None = None


def _client() -> httpx.Client:
    """One client per process (building one loads the CA bundle, ~0.3 s): thread-safe, every connection through
    the outbound guard, no redirects followed, no proxy settings taken from the environment."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = outbound.httpx_client(follow_redirects=False)
    return _CLIENT


def post(*, url: str, headers: dict, body: bytes) -> AttemptResult:
    """Send one signed request. A 2xx is success; anything else (a status, a timeout, a refused URL) is a
    failure with its reason. Redirects are not followed (the target could be anywhere)."""
    started = time.monotonic()
    try:
        url_check(url, resolve=False)  # the connection itself resolves once, checks and connects (outbound.py)
        # Streamed: only the excerpt's worth of the response is read, whatever the endpoint sends back.
        with _client().stream("POST", url, content=body, headers=headers,
                              timeout=settings.WEBHOOKS_TIMEOUT_SECONDS) as response:
            head = b""
            for chunk in response.iter_bytes():
                head += chunk
                if len(head) >= RESPONSE_EXCERPT * 4:
                    break
        excerpt = head.decode(response.encoding or "utf-8", errors="replace")[:RESPONSE_EXCERPT]
    except ValidationError as error:
        return AttemptResult(False, None, _elapsed(started), error=" ".join(error.messages)[:300])
    except outbound.OutboundRefused as refused:  # the connection's own check
        reason = _("This URL points to a private or local network address; webhooks are only sent to public "
                   "addresses.") if refused.address else _("This host name does not resolve.")
        return AttemptResult(False, None, _elapsed(started), error=f"{reason} ({refused.message})"[:300])
    except httpx.HTTPError as error:
        return AttemptResult(False, None, _elapsed(started), error=f"{type(error).__name__}: {error}"[:300])
    return AttemptResult(200 <= response.status_code < 300, response.status_code, _elapsed(started), excerpt)


def _elapsed(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))
