"""The machine API the assistant products call: admission before a request, usage after it.

django-ninja serves it: typed request bodies validated by pydantic, an OpenAPI schema generated from the same
types (so schemathesis can fuzz it), and plain Django views underneath (same middleware, same ORM). It is
lighter than Django REST framework on this hot path and needs no serializer layer.
"""

from __future__ import annotations

import functools
import json
import logging

import psycopg
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, DataError
from django.http import JsonResponse
from django.utils import timezone
from ninja import NinjaAPI, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from apps.common.json_body import JsonBodyRefused, LimitedJsonParser, json_loads_limited
from apps.common.metrics import RATE_LIMIT_REFUSALS, admission_count, usage_outcomes_count
from apps.organizations.services import api_key_authenticate
from apps.spending.services import UsageInput, admission_answer, usage_record_batch, usage_record_for_key
from apps.usage.pricing import Tokens, UnknownModel, price_lookup

from .ratelimit import rate_limit_hit
from .schemas import AdmissionIn, AdmissionOut, BatchIn, BatchOut, ErrorOut, UsageIn, UsageOut

logger = logging.getLogger(__name__)


class RateLimited(Exception):
    def __init__(self, decision):
        self.decision = decision


class CheckedInAdmission:
    """The bearer token of an admission request, checked by the admission statement itself (one round trip
    for key, member and decision: see spending.selectors.admission_for_key)."""

    def __init__(self, token: str):
        self.token = token


class ApiKeyBearer(HttpBearer):
    """`Authorization: Bearer <machine API key>`, then the key's rate limit. With `in_view=True` (admission
    only) the look-up is left to the view's own statement; a request refused for its body before that checks the
    key then (_deferred_key_refusal), so a bad key is answered 401 on every endpoint alike."""

    def __init__(self, *, in_view: bool = False):
        super().__init__()
        self.in_view = in_view

    def authenticate(self, request, token):
        if self.in_view:
            return CheckedInAdmission(token) if token else None
        key = api_key_authenticate(raw_key=token)
        if key is not None:
            rate_limit_check(key)
        return key


def rate_limit_check(key) -> None:
    decision = rate_limit_hit(key_id=key.public_id)
    if not decision.allowed:
        raise RateLimited(decision)


class UnsupportedContentType(Exception):
    pass


class JsonOnlyParser(LimitedJsonParser):
    """Bodies are JSON, declared as such: a form post or plain text is refused (415), not guessed at; too large
    (413) or nested too deep (400) is refused before it is read (apps/common/json_body.py)."""

    def parse_body(self, request):
        if request.content_type != "application/json":
            raise UnsupportedContentType(request.content_type)
        return super().parse_body(request)


api = NinjaAPI(
    title=f"{settings.BRAND_NAME} machine API",
    parser=JsonOnlyParser(),
    version="1",
    urls_namespace="machine_api",
    auth=ApiKeyBearer(),
    openapi_url="/openapi.json",
    docs_url=None,  # served from our own static files by billing_portal/api_docs.py at the same address
)


def error(status: int, type_: str, message: str, field: str | None = None) -> JsonResponse:
    return JsonResponse({"error": {"type": type_, "field": field, "message": message}}, status=status)


def _loc_to_field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "payload", "data")]
    return ".".join(parts) or "body"


def _validation_message(errors: list[dict]) -> tuple[str, str]:
    first = errors[0]
    field = _loc_to_field(first.get("loc", ()))
    return field, f"{field}: {first.get('msg', 'is invalid')}"


def _deferred_key_refusal(request) -> JsonResponse | None:
    """Admission checks its key in its own statement (see ApiKeyBearer). When its body is refused before that,
    check the key here, so that a bad key is still answered 401 first and a good key's request still counts
    toward its rate limit, as on every other endpoint."""
    credential = getattr(request, "auth", None)
    if not isinstance(credential, CheckedInAdmission):
        return None
    key = api_key_authenticate(raw_key=credential.token)
    if key is None:
        return on_auth_error(request, None)
    decision = rate_limit_hit(key_id=key.public_id)
    return None if decision.allowed else on_rate_limited(request, RateLimited(decision))


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc):
    if refusal := _deferred_key_refusal(request):
        return refusal
    errors = exc.errors or [{"loc": ("body",), "msg": "invalid request"}]
    field, message = _validation_message(errors)
    return error(400, "invalid_request", message, field)


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return error(401, "authentication_error", "A valid API key is required in the Authorization header.")


@api.exception_handler(HttpError)
def on_http_error(request, exc):
    if refusal := _deferred_key_refusal(request):
        return refusal
    # django-ninja turns any body-parsing failure into a 400; say which one it was, naming the culprit.
    if isinstance(exc.__cause__, UnsupportedContentType):
        return error(415, "invalid_request", "Content-Type: send the body as JSON with Content-Type: "
                     "application/json.", "Content-Type")
    if isinstance(exc.__cause__, JsonBodyRefused):
        refused = exc.__cause__
        return error(refused.status, "request_too_large" if refused.status == 413 else "invalid_request",
                     refused.message, "body")
    if exc.__cause__ is not None and exc.status_code == 400:
        return error(400, "invalid_request", "body: is not valid JSON.", "body")
    return error(exc.status_code, "invalid_request", str(exc))


def _nul_field(value, path: str = "") -> str | None:
    """Where the first string holding a NUL character is (PostgreSQL text cannot store one), e.g. "member" or
    "events[2].idempotency_key"; None if there is none."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found = _nul_field(child, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


@api.exception_handler(DatabaseError)
@api.exception_handler(psycopg.DataError)  # raised unwrapped when psycopg refuses a parameter before sending it
def on_database_unavailable(request, exc):
    if isinstance(exc, DataError | psycopg.DataError):
        # A value the database cannot store: the client's error, and the transaction wrote nothing.
        try:
            field = _nul_field(json.loads(request.body))
        except ValueError:
            field = None
        if field:
            return error(400, "invalid_request", f"{field}: must not contain NUL (\\u0000) characters", field)
        return error(400, "invalid_request", "body: a value cannot be stored (out of range)", "body")
    # The connection dropped or the database refused: the request's transaction rolled back, so a retry with
    # the same idempotency key is charged exactly once.
    logger.exception("machine API: database error")
    response = error(503, "service_unavailable",
                     "The database was unavailable and nothing was recorded; retry with the same idempotency_key.")
    response["Retry-After"] = "1"
    return response


@api.exception_handler(RateLimited)
def on_rate_limited(request, exc):
    RATE_LIMIT_REFUSALS.labels("machine").inc()
    response = error(429, "rate_limit_error",
                     f"This API key sent more than {exc.decision.limit} requests this minute; "
                     f"retry after {exc.decision.retry_after} seconds.")
    response["Retry-After"] = str(exc.decision.retry_after)
    return response


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, exc):
    if refusal := _deferred_key_refusal(request):
        return refusal
    return error(413, "request_too_large", "The request body is too large.", "body")


@api.post("/admission", response={200: AdmissionOut, 400: ErrorOut, 401: ErrorOut}, summary="May this member spend?",
          auth=ApiKeyBearer(in_view=True))
def admission(request, payload: AdmissionIn):
    """Decide, before a model request, whether the member may spend now."""
    now = timezone.now()
    email = payload.member.strip().lower()
    # One statement for the key, member, seat, counters, caps and extra-usage switches (the hot path: see
    # make bench).
    keyed = admission_answer(raw_key=request.auth.token, email=email, product=payload.product, now=now)
    if keyed is None:
        raise AuthenticationError()
    rate_limit_check(keyed.key)
    try:
        price_lookup(model_name=payload.model, at=now)
    except UnknownModel:
        return error(400, "invalid_request", f"model: unknown model {payload.model!r}", "model")
    decision = keyed.admission
    if decision is None:
        return error(400, "invalid_request", "member: is not a member of this organization", "member")
    admission_count(decision)
    # A plain JsonResponse: the body is AdmissionOut's fields exactly, without a second validation pass.
    return JsonResponse({
        "allowed": decision.allowed,
        "reason": decision.reason,
        "funding": decision.funding,
        "period_ends_at": decision.period_ends_at,
        "can_request_extra_usage": decision.can_request_extra_usage,
    })


def _usage_input(payload: UsageIn) -> UsageInput:
    usage = payload.usage
    return UsageInput(
        idempotency_key=payload.idempotency_key,
        member=payload.member,
        product=payload.product,
        model=payload.model,
        occurred_at=payload.occurred_at,
        tokens=Tokens(
            input=usage.input_tokens,
            output=usage.output_tokens,
            cache_write=usage.cache_creation_input_tokens or 0,
            cache_read=usage.cache_read_input_tokens or 0,
        ),
    )


@api.post(
    "/usage",
    response={200: UsageOut, 201: UsageOut, 400: ErrorOut, 401: ErrorOut, 409: ErrorOut},
    summary="Record what one request cost",
)
def usage(request, payload: UsageIn):
    """Record one request's usage. The same idempotency key with the same body answers 200 with the first
    answer and charges nothing; with a different body, 409."""
    [outcome] = usage_record_batch(
        organization=request.auth.organization, items=[_usage_input(payload)], now=timezone.now()
    )
    return _usage_answer(outcome)


def _usage_answer(outcome):
    usage_outcomes_count((outcome,))
    if outcome.status == "invalid":
        return Status(400, {"error": {"type": "invalid_request", "field": outcome.field,
                               "message": f"{outcome.field}: {outcome.message}"}})
    if outcome.status == "conflict":
        return Status(409, {"error": {"type": "idempotency_conflict", "field": outcome.field,
                               "message": f"{outcome.field}: {outcome.message}"}})
    # A plain JsonResponse: the body is UsageOut's fields exactly, without a second validation pass.
    return JsonResponse(outcome.answer(), status=201 if outcome.status == "created" else 200)


_usage_adapter = TypeAdapter(UsageIn)
_usage_list_adapter = TypeAdapter(list[UsageIn])


@api.post("/usage/batch", response={200: BatchOut, 400: ErrorOut, 401: ErrorOut}, summary="Record many requests")
def usage_batch(request, payload: BatchIn):
    """Record up to 1,000 events; each gets its own result (status 201, 200, 400 or 409), in order."""
    limit = settings.USAGE_BATCH_MAX_EVENTS
    if len(payload.events) > limit:
        return Status(400, {"error": {"type": "invalid_request", "field": "events",
                               "message": f"events: at most {limit} events per batch"}})
    results: list[dict | None] = [None] * len(payload.events)
    items, positions = [], []
    try:
        # Usually every event is well formed: validate them in one pass, and one by one only otherwise.
        items = [_usage_input(parsed) for parsed in _usage_list_adapter.validate_python(payload.events)]
        positions = list(range(len(items)))
        events_to_check = []
    except PydanticValidationError:
        events_to_check = payload.events
    for index, raw in enumerate(events_to_check):
        if not isinstance(raw, dict):
            results[index] = {"index": index, "status": 400, "result": None,
                              "error": {"type": "invalid_request", "field": f"events[{index}]",
                                        "message": f"events[{index}]: must be an object like POST /usage's body"}}
            continue
        try:
            parsed = _usage_adapter.validate_python(raw)
        except PydanticValidationError as exc:
            field, message = _validation_message(exc.errors())
            results[index] = {"index": index, "status": 400, "result": None,
                              "error": {"type": "invalid_request", "field": f"events[{index}].{field}",
                                        "message": message}}
            continue
        items.append(_usage_input(parsed))
        positions.append(index)
    outcomes = usage_record_batch(organization=request.auth.organization, items=items, now=timezone.now())
    usage_outcomes_count(outcomes)
    for index, outcome in zip(positions, outcomes, strict=True):
        # Each result's `field` is the full path in the batch (events[i].model), like schema errors above.
        if outcome.status == "invalid":
            results[index] = {"index": index, "status": 400, "result": None, "error": {
                "type": "invalid_request", "field": f"events[{index}].{outcome.field}",
                "message": f"{outcome.field}: {outcome.message}"}}
        elif outcome.status == "conflict":
            results[index] = {"index": index, "status": 409, "result": None, "error": {
                "type": "idempotency_conflict", "field": f"events[{index}].{outcome.field}",
                "message": f"{outcome.field}: {outcome.message}"}}
        else:
            results[index] = {"index": index, "status": 201 if outcome.status == "created" else 200,
                              "result": outcome.answer(), "error": None}
    # A plain JsonResponse: BatchOut's shape exactly (both keys on every result), without validating 1,000
    # results a second time (that was a sixth of a batch's time; see make bench).
    return JsonResponse({"results": results})


def _json_method_not_allowed(view):
    """django-ninja answers a wrong method with a plain-text 405; API clients get the JSON error envelope."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
            allowed = response.get("Allow", "")
            json_response = error(405, "method_not_allowed",
                                  f"method: {request.method} is not allowed here; use {allowed}.", "method")
            json_response["Allow"] = allowed
            return json_response
        return response

    return wrapper


# --- The lean hot path ------------------------------------------------------------------------------------------
# Admission and single-event usage are the two requests every model request makes. django-ninja's per-request
# machinery (its operation lookup, authentication classes, a signature model wrapping the body model, the
# response renderer) cost about as much Python as the answer itself (py-spy, make bench: docs/scaling.md). The
# two lean views below serve the well-formed request, a POST of a JSON object that the same pydantic model
# accepts with a bearer token, with the same functions, answers and error handlers as the ninja operations
# above; anything else (a wrong method, content type, body or header) is handed to the ninja operation, which
# answers it exactly as before. The OpenAPI schema is still generated from the ninja operations.


def _lean_bearer(request) -> str | None:
    """The bearer token, parsed as django-ninja's HttpBearer parses it; None when there is none."""
    value = request.META.get("HTTP_AUTHORIZATION")
    if not value:
        return None
    parts = value.split(" ")
    if parts[0].lower() != "bearer":
        return None
    return " ".join(parts[1:]) or None


def _lean_payload(request, model):
    """The body validated by `model` exactly as django-ninja would (json.loads, then the model in Python mode);
    None when anything about it is off, so that the ninja operation answers it with its own error."""
    if request.method != "POST" or request.content_type != "application/json":
        return None
    try:
        data = json_loads_limited(request.body)
        if not isinstance(data, dict):
            return None
        return model.model_validate(data)
    except (ValueError, PydanticValidationError, RequestDataTooBig):
        return None


def _lean(fallback, model, answer):
    """A plain Django view answering the well-formed request with `answer(request, token, payload)` and handing
    every other request to the ninja operation `fallback`."""

    @functools.wraps(fallback)
    def view(request, *args, **kwargs):
        token = _lean_bearer(request)
        payload = _lean_payload(request, model) if token else None
        if payload is None:
            return fallback(request, *args, **kwargs)
        try:
            return answer(request, token, payload)
        except AuthenticationError as exc:
            return on_auth_error(request, exc)
        except RateLimited as exc:
            return on_rate_limited(request, exc)
        except (DatabaseError, psycopg.DataError) as exc:
            return on_database_unavailable(request, exc)

    view.csrf_exempt = True
    return view


def _lean_admission(request, token: str, payload: AdmissionIn):
    request.auth = CheckedInAdmission(token)
    return admission(request, payload)


def _lean_usage(request, token: str, payload: UsageIn):
    # Key and member in one statement; then the rate limit, then the event (as usage() after its bearer check).
    outcome = usage_record_for_key(raw_key=token, item=_usage_input(payload), now=timezone.now(),
                                   key_check=rate_limit_check)
    if outcome is None:
        raise AuthenticationError()
    response = _usage_answer(outcome)
    if isinstance(response, Status):  # a refusal: rendered as django-ninja renders it
        return api.create_response(request, response.value, status=response.status_code)
    return response


_LEAN = {"admission": (AdmissionIn, _lean_admission), "usage": (UsageIn, _lean_usage)}


def machine_api_urls():
    """The machine API's URL patterns, each answering a wrong method with the JSON error envelope; admission and
    single-event usage served by their lean views (above)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback = _json_method_not_allowed(pattern.callback)
        lean = _LEAN.get(str(pattern.pattern).strip("/"))
        if lean is not None:
            pattern.callback = _lean(pattern.callback, *lean)
    return patterns, app_name, namespace
