"""Webhook endpoints through the Admin API, as the official `anthropic` SDK (2.12.0) speaks it:
`client.beta.organization.webhooks.create / retrieve / update / list / delete / regenerate_signing_secret`, on
`/v1/organizations/webhooks`. Scopes: `read:webhooks` for the GETs, `write:webhooks` for the writes.

- The writes go through the services of Settings > Webhooks (apps/webhooks/services.py): the same URL rules
  (HTTPS, no credentials, a host that resolves only to public addresses: the SSRF guard), the same limit of
  endpoints, the same audit rows (actor `apikey:<id>`).
- The signing secret is in the answers of create and regenerate only. Where the portal's rule and the
  published API differ, the portal's wins: after a regeneration the previous secret keeps signing for 24 hours
  (as "Rotate secret" in the console), so a receiver can switch without missing a delivery.
- Event types are the portal's (`spend.cap_reached`, …: /api/webhooks/openapi.json). An endpoint has no `name`
  in the portal: a non-empty `name` is refused (400) rather than dropped; answers carry `name: ""`.
- The list pages like the SDK's `SyncPage`: `{"data", "has_more", "first_id", "last_id"}`, `after_id` /
  `before_id` cursors (ids of endpoints), `limit` up to 100 (0 or none: 20), `order` by `created_at`, `desc`
  (newest first) by default.
- An endpoint of another organization is a 404, like one that does not exist.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest

from apps.webhooks.models import WebhookEndpoint
from apps.webhooks.selectors import endpoint_get, endpoints_for_api
from apps.webhooks.services import endpoint_create, endpoint_delete, endpoint_secret_rotate, endpoint_update

from .errors import Call, bad_request, not_found
from .presenters import rfc3339
from .services import actor_label_for
from .spend_limits import _body, _validation_message

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
MAX_DESCRIPTION = 200
STATES = ("enabled", "disabled")


def endpoint_json(endpoint: WebhookEndpoint) -> dict:
    return {
        "type": "webhook_endpoint", "id": endpoint.public_id, "url": endpoint.url, "name": "",
        "description": endpoint.description, "enabled_events": list(endpoint.events),
        "state": "enabled" if endpoint.enabled else "disabled",
        # Why it is disabled (3 days of failures, or by an owner); empty while enabled.
        "disabled_reason": "" if endpoint.enabled else endpoint.disabled_reason,
        "created_at": rfc3339(endpoint.created_at), "updated_at": rfc3339(endpoint.updated_at),
    }


def _endpoint(call: Call, endpoint_id: str) -> WebhookEndpoint:
    found = endpoint_get(organization=call.organization, public_id=endpoint_id) if endpoint_id else None
    if found is None:
        raise not_found("webhook endpoint not found")
    return found


# --- Reads ---------------------------------------------------------------------------------------------------


def _limit(request: HttpRequest) -> int:
    raw = request.GET.get("limit") or "0"
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_LIMIT:
        raise bad_request(f"limit: must be an integer between 0 and {MAX_LIMIT}")
    return value or DEFAULT_LIMIT


def webhook_endpoints_list(request: HttpRequest, call: Call) -> dict:
    limit = _limit(request)
    order = request.GET.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise bad_request("order: must be one of asc, desc")
    after_id, before_id = request.GET.get("after_id") or None, request.GET.get("before_id") or None
    if after_id and before_id:
        raise bad_request("after_id: cannot be combined with before_id")
    rows = endpoints_for_api(organization=call.organization)
    sign = "" if order == "asc" else "-"
    rows = rows.order_by(f"{sign}created_at", f"{sign}public_id")
    cursor_id = after_id or before_id
    if cursor_id:
        cursor = endpoint_get(organization=call.organization, public_id=cursor_id)
        if cursor is None:
            raise bad_request(f"{'after_id' if after_id else 'before_id'}: no webhook endpoint with this id")
        later = Q(created_at__gt=cursor.created_at) | Q(created_at=cursor.created_at, public_id__gt=cursor.public_id)
        earlier = Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at,
                                                           public_id__lt=cursor.public_id)
        follows = later if order == "asc" else earlier
        rows = rows.filter(follows) if after_id else rows.exclude(follows).exclude(pk=cursor.pk)
    page = list(rows[: limit + 1])
    more, page = len(page) > limit, page[:limit]
    return {"data": [endpoint_json(e) for e in page], "has_more": more,
            "first_id": page[0].public_id if page else None, "last_id": page[-1].public_id if page else None}


def webhook_endpoint_retrieve(request: HttpRequest, call: Call, endpoint_id: str) -> dict:
    return endpoint_json(_endpoint(call, endpoint_id))


# --- Writes --------------------------------------------------------------------------------------------------


def _string(data: dict, name: str, *, max_length: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{name}: must be a string")
    if len(value) > max_length:
        raise bad_request(f"{name}: at most {max_length} characters")
    return value


def _events(data: dict) -> list[str] | None:
    events = data.get("enabled_events")
    if events is None:
        return None
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise bad_request("enabled_events: must be a list of event types")
    return events


def _no_name(data: dict) -> None:
    if data.get("name") not in (None, ""):
        raise bad_request("name: not supported; use description")


def _saved(write):
    try:
        return write()
    except ValidationError as error:
        raise bad_request(_validation_message(error)) from None


URL_MAX = WebhookEndpoint._meta.get_field("url").max_length


def webhook_endpoint_create(request: HttpRequest, call: Call) -> dict:
    """Register an endpoint: `url` (HTTPS), `enabled_events` (at least one), optional `description`. The
    answer carries `signing_secret`, shown this once."""
    data = _body(request)
    url = _string(data, "url", max_length=URL_MAX)
    if url is None:
        raise bad_request("url: required")
    events = _events(data)
    if events is None:
        raise bad_request("enabled_events: required")
    description = _string(data, "description", max_length=MAX_DESCRIPTION) or ""
    _no_name(data)
    endpoint, secret = _saved(lambda: endpoint_create(
        organization=call.organization, url=url, description=description, events=events, actor=None,
        actor_label=actor_label_for(call.key), now=call.now))
    return {**endpoint_json(endpoint), "signing_secret": secret}


def webhook_endpoint_update(request: HttpRequest, call: Call, endpoint_id: str) -> dict:
    """Change only the fields sent: `url`, `description`, `enabled_events` (an empty list leaves them), `state`
    (`enabled` resumes deliveries and clears `disabled_reason`)."""
    endpoint = _endpoint(call, endpoint_id)
    data = _body(request)
    url = _string(data, "url", max_length=URL_MAX)
    description = _string(data, "description", max_length=MAX_DESCRIPTION)
    events = _events(data)
    state = data.get("state")
    if state is not None and state not in STATES:
        raise bad_request("state: must be one of enabled, disabled")
    _no_name(data)
    updated = _saved(lambda: endpoint_update(
        endpoint=endpoint, url=endpoint.url if url is None else url,
        description=endpoint.description if description is None else description,
        events=events or endpoint.events, enabled=endpoint.enabled if state is None else state == "enabled",
        actor=None, actor_label=actor_label_for(call.key), now=call.now))
    return endpoint_json(updated)


def webhook_endpoint_regenerate_signing_secret(request: HttpRequest, call: Call, endpoint_id: str) -> dict:
    """A new signing secret (in this answer only); the previous one keeps signing for 24 hours."""
    _, secret = endpoint_secret_rotate(endpoint=_endpoint(call, endpoint_id), actor=None,
                                       actor_label=actor_label_for(call.key), now=call.now)
    return {"signing_secret": secret}


def webhook_endpoint_delete(request: HttpRequest, call: Call, endpoint_id: str) -> dict:
    endpoint = _endpoint(call, endpoint_id)
    endpoint_delete(endpoint=endpoint, actor=None, actor_label=actor_label_for(call.key), now=call.now)
    return {"type": "webhook_endpoint_deleted", "id": endpoint_id}
