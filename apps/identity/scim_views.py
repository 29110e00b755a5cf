"""SCIM 2.0 (RFC 7643/7644) at /scim/v2/, one organization per bearer token.

The resources, messages, filters, attribute selection and PATCH semantics are scim2-models' (pydantic); this
module maps them onto memberships and seat-tier groups and calls the services:
- Users are members. id = the user's public id; userName is the provider's (unique per organization); the
  login email is the userName when it is an address, else the primary email (so `emails` is required).
  `active: false` or DELETE removes the member and closes the seat; `active: true` restores them.
- Groups named after a seat tier ("Premium", "Chat + Claude Code") assign that tier to their members."""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Annotated

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from pydantic import EmailStr
from pydantic import ValidationError as PydanticValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    Email,
    ETag,
    Filter,
    Group,
    GroupMember,
    InvalidFilterException,
    InvalidValueException,
    ListResponse,
    Meta,
    Name,
    Patch,
    PatchOp,
    Required,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    ScimFilter,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_models import Error as ScimError

from apps.common.json_body import JsonBodyRefused, request_json
from apps.common.ratelimit import ClientThrottle
from apps.organizations.models import Membership

from .models import ScimGroup, ScimToken
from .selectors import scim_token_authenticate
from .services import (
    ScimConflict,
    ScimOutOfScope,
    scim_group_delete,
    scim_group_save,
    scim_refusal_record,
    scim_token_mark_used,
    scim_user_create,
    scim_user_delete,
    scim_user_update,
)

CONTENT_TYPE = "application/scim+json"
MAX_PAGE = 200
# A SCIM User or Group, or a PATCH of one: 1 MB holds a group of several thousand members.
BODY_MAX_BYTES = 1024 * 1024
scim_throttle = ClientThrottle("scim")


class PortalEmail(Email):
    value: Annotated[EmailStr | None, Required.true] = None


class PortalUser(User):
    """The core User schema, with `emails` (and each one's value) required: a member needs an address to log in
    and to be billed."""

    emails: Annotated[list[PortalEmail] | None, Required.true] = None


# --- Plumbing ---------------------------------------------------------------------------------------------------

def _json(payload, status=200, location: str | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), status=status, content_type=CONTENT_TYPE)
    if location:
        response["Location"] = location
    return response


def _error(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    return _json(ScimError(status=status, detail=detail, scim_type=scim_type).model_dump(), status=status)


def scim_endpoint(view):
    """Bearer-token authentication (401 in SCIM's error shape), CSRF exempt, and SCIM errors for bad input."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        header = request.headers.get("Authorization", "")
        # Floods: per bearer token (its digest: counted before the look-up, so unknown tokens count too) and per
        # client address (THROTTLE_LIMITS["scim"]).
        decision = scim_throttle.hit(request=request, account=hashlib.sha256(header.encode()).hexdigest()[:32])
        if not decision.allowed:
            response = _error(429, f"Too many requests; retry after {decision.retry_after} seconds.")
            response["Retry-After"] = str(decision.retry_after)
            return response
        token = scim_token_authenticate(raw_token=header[7:].strip()) if header[:7].lower() == "bearer " else None
        if token is None:
            return _error(401, "A valid SCIM bearer token is required.")
        scim_token_mark_used(token=token, now=timezone.now())
        request.scim_token = token
        request.scim_base = request.build_absolute_uri("/scim/v2")
        try:
            return view(request, *args, **kwargs)
        except SCIMException as exc:
            error = exc.to_error()
            return _json(error.model_dump(), status=int(error.status or 400))
        except ScimConflict as exc:
            if exc.foreign:
                # Another organization's account: nothing changes anywhere; the attempt is on this organization's
                # audit log (the other organization is not named).
                scim_refusal_record(token=token, target=exc.value, reason="other_organization")
                return _error(409, f"An account for {exc.value} already exists and belongs to another organization: "
                                   "it cannot be provisioned or changed here.", "uniqueness")
            return _error(409, f"{exc} is already provisioned in this organization.", "uniqueness")
        except ScimOutOfScope as exc:
            return _error(exc.status, exc.message, "invalidValue" if exc.status == 400 else None)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            return _error(400, f"Invalid value{f' for {where}' if where else ''}: {first.get('msg')}", "invalidValue")
        except JsonBodyRefused as refused:  # too large (413) or nested too deep (400): apps/common/json_body.py
            return _error(refused.status, f"The body is refused: {refused.message}.",
                          None if refused.status == 413 else "invalidSyntax")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "The body is not a JSON object.", "invalidSyntax")
        except ValidationError as exc:  # a service's rule, with its message
            return _error(400, "; ".join(exc.messages), "mutability")

    return wrapper


def _only(*methods):
    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                return _error(405, f"Use {' or '.join(methods)}.")
            return view(request, *args, **kwargs)
        return wrapper
    return decorate


def _body(request) -> dict:
    data = request_json(request, max_bytes=BODY_MAX_BYTES, empty={})
    if not isinstance(data, dict):
        raise json.JSONDecodeError("not an object", "", 0)
    return data


def _query_params(request, model) -> ResponseParameters:
    return ResponseParameters[model].model_validate({
        "attributes": request.GET.get("attributes") or None,
        "excludedAttributes": request.GET.get("excludedAttributes") or None,
    })


def _dump(resource, context=Context.RESOURCE_QUERY_RESPONSE, params=None) -> dict:
    return resource.model_dump(scim_ctx=context, response_parameters=params)


def _parse_filter(raw: str | None, model):
    if not raw:
        return None
    try:
        return ScimFilter[model](raw)
    except SCIMException:
        raise
    except ValueError as exc:
        raise InvalidFilterException(detail=str(exc)) from exc


def _page(resources: list, start: int, count: int, params, model) -> HttpResponse:
    page = resources[start - 1:start - 1 + count]
    response = ListResponse[model](total_results=len(resources), start_index=start, items_per_page=len(page),
                                   resources=page)
    return _json(response.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=params))


def _paging(start, count) -> tuple[int, int]:
    try:
        start = max(int(start if start is not None else 1), 1)
        count = min(max(int(count if count is not None else 100), 0), MAX_PAGE)
    except (TypeError, ValueError):
        raise InvalidValueException(detail="startIndex and count must be integers.")  # noqa: B904
    return start, count


# --- Users ------------------------------------------------------------------------------------------------------

def _memberships(token: ScimToken):
    """The organization's members SCIM can see: current members, and deactivated ones SCIM still tracks."""
    org = token.organization
    return (
        Membership.objects.filter(Q(organization=org, removed_at__isnull=True)
                                  | Q(organization=org, removed_at__isnull=False, scim__isnull=False))
        .select_related("user", "scim").order_by("joined_at", "pk")
    )


def _user_resource(request, membership: Membership) -> PortalUser:
    scim = getattr(membership, "scim", None)
    user = membership.user
    if scim is not None and scim.attributes:
        resource = PortalUser.model_validate(scim.attributes, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    else:
        resource = PortalUser(display_name=user.name or None, name=Name(formatted=user.name) if user.name else None,
                              emails=[PortalEmail(value=user.email, primary=True, type="work")], active=True)
    updated = scim.updated_at if scim is not None else membership.joined_at
    resource.id = user.public_id
    resource.user_name = scim.user_name if scim is not None else user.email
    resource.external_id = (scim.external_id if scim is not None else None) or None
    if membership.removed_at is not None:
        resource.active = False
    elif resource.active is not None:
        resource.active = True
    resource.password = None
    resource.meta = Meta(resource_type="User", created=membership.joined_at, last_modified=updated,
                         location=f"{request.scim_base}/Users/{user.public_id}",
                         version=f'W/"{int(updated.timestamp() * 1000)}"')
    return resource


def _login_email(payload: User) -> str:
    """The address the member logs in with: the userName when it is one (Okta, Entra ID), else the primary
    (or first) email."""
    emails = payload.emails or []
    candidates = [payload.user_name or ""] + [e.value for e in emails if e.primary] + [e.value for e in emails]
    for candidate in candidates:
        try:
            validate_email(candidate or "")
        except ValidationError:
            continue
        return candidate
    raise InvalidValueException(detail="userName or emails must hold the member's email address.")


def _name_of(payload: User) -> str:
    if payload.display_name:
        return payload.display_name
    if payload.name is not None:
        return payload.name.formatted or " ".join(p for p in (payload.name.given_name, payload.name.family_name) if p)
    return ""


def _stored(payload: User) -> dict:
    data = payload.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    for key in ("id", "meta", "password", "groups"):
        data.pop(key, None)
    return data


def _username_equality(scim_filter) -> str | None:
    """`userName eq "…"` (the identity providers' lookup before every create) is answered by the database."""
    node = scim_filter.ast if scim_filter is not None else None
    attr = getattr(getattr(node, "attr_path", None), "attr", None)
    op = getattr(getattr(node, "op", None), "value", None)
    if attr and str(attr).lower() == "username" and str(op).lower() == "eq" and isinstance(node.value, str):
        return node.value
    return None


def _search_users(request, token, scim_filter) -> list:
    memberships = _memberships(token)
    equality = _username_equality(scim_filter)
    if equality is not None:
        memberships = memberships.filter(Q(scim__user_name__iexact=equality)
                                         | Q(scim__isnull=True, user__email__iexact=equality))
    resources = [_user_resource(request, m) for m in memberships]
    if scim_filter is not None and equality is None:
        resources = [r for r in resources if scim_filter.match(r)]
    return resources


@scim_endpoint
@_only("GET", "POST")
def users(request):
    token = request.scim_token
    if request.method == "POST":
        payload = PortalUser.model_validate(_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        membership = scim_user_create(
            token=token, user_name=payload.user_name, email=_login_email(payload), name=_name_of(payload),
            external_id=payload.external_id or "", active=payload.active is not False,
            attributes=_stored(payload), now=timezone.now(),
        )
        resource = _user_resource(request, _memberships(token).get(pk=membership.pk))
        return _json(_dump(resource, Context.RESOURCE_CREATION_RESPONSE, _query_params(request, PortalUser)),
                     status=201, location=resource.meta.location)
    start, count = _paging(request.GET.get("startIndex"), request.GET.get("count"))
    resources = _search_users(request, token, _parse_filter(request.GET.get("filter"), PortalUser))
    return _page(resources, start, count, _query_params(request, PortalUser), PortalUser)


@scim_endpoint
@_only("GET", "PUT", "PATCH", "DELETE")
def user(request, user_id):
    token = request.scim_token
    membership = _memberships(token).filter(user__public_id=user_id).first()
    if membership is None:
        return _error(404, f"User {user_id} not found.")
    now = timezone.now()
    params = _query_params(request, PortalUser)
    if request.method == "GET":
        return _json(_dump(_user_resource(request, membership), params=params))
    if request.method == "DELETE":
        scim_user_delete(token=token, membership=membership, now=now)
        return HttpResponse(status=204)
    if request.method == "PUT":
        payload = PortalUser.model_validate(_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    else:
        patch = PatchOp[PortalUser].model_validate(_body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        payload = _user_resource(request, membership)
        patch.patch(payload)
    scim_user_update(token=token, membership=membership, user_name=payload.user_name or membership.user.email,
                     email=_login_email(payload), name=_name_of(payload), external_id=payload.external_id or "",
                     active=payload.active is not False, attributes=_stored(payload), now=now)
    resource = _user_resource(request, _memberships(token).get(pk=membership.pk))
    return _json(_dump(resource, Context.RESOURCE_REPLACEMENT_RESPONSE, params))


# --- Groups -----------------------------------------------------------------------------------------------------

def _groups_qs(token):
    return ScimGroup.objects.filter(organization=token.organization).prefetch_related(
        "members__user").order_by("created_at", "pk")


def _group_resource(request, group: ScimGroup) -> Group:
    members = []
    for m in group.members.all():
        if m.removed_at is not None:
            continue
        entry = group.member_entries.get(m.user.public_id)
        members.append(GroupMember.model_validate(entry) if entry else GroupMember(
            value=m.user.public_id, display=m.user.email, ref=f"{request.scim_base}/Users/{m.user.public_id}",
            type="User"))
    return Group(
        id=group.public_id, display_name=group.display_name, external_id=group.external_id or None,
        members=members or None,
        meta=Meta(resource_type="Group", created=group.created_at, last_modified=group.updated_at,
                  location=f"{request.scim_base}/Groups/{group.public_id}",
                  version=f'W/"{int(group.updated_at.timestamp() * 1000)}"'),
    )


def _member_entries(payload: Group) -> dict:
    return {m.value: m.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST) for m in (payload.members or [])
            if m.value}


def _group_members(token, payload: Group) -> list[Membership]:
    ids = {m.value for m in (payload.members or []) if m.value}
    found = list(_memberships(token).filter(user__public_id__in=ids, removed_at__isnull=True))
    if len(found) != len(ids):
        raise InvalidValueException(detail="A group member is not a current user of this organization.")
    return found


def _search_groups(request, token, scim_filter) -> list:
    resources = [_group_resource(request, g) for g in _groups_qs(token)]
    return [r for r in resources if scim_filter.match(r)] if scim_filter is not None else resources


@scim_endpoint
@_only("GET", "POST")
def groups(request):
    token = request.scim_token
    if request.method == "POST":
        payload = Group.model_validate(_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        group = scim_group_save(token=token, group=None, display_name=payload.display_name,
                                external_id=payload.external_id or "", members=_group_members(token, payload),
                                member_entries=_member_entries(payload), now=timezone.now())
        resource = _group_resource(request, _groups_qs(token).get(pk=group.pk))
        return _json(_dump(resource, Context.RESOURCE_CREATION_RESPONSE, _query_params(request, Group)),
                     status=201, location=resource.meta.location)
    start, count = _paging(request.GET.get("startIndex"), request.GET.get("count"))
    resources = _search_groups(request, token, _parse_filter(request.GET.get("filter"), Group))
    return _page(resources, start, count, _query_params(request, Group), Group)


@scim_endpoint
@_only("GET", "PUT", "PATCH", "DELETE")
def group(request, group_id):
    token = request.scim_token
    found = _groups_qs(token).filter(public_id=group_id).first()
    if found is None:
        return _error(404, f"Group {group_id} not found.")
    now = timezone.now()
    params = _query_params(request, Group)
    if request.method == "GET":
        return _json(_dump(_group_resource(request, found), params=params))
    if request.method == "DELETE":
        scim_group_delete(token=token, group=found, now=now)
        return HttpResponse(status=204)
    if request.method == "PUT":
        payload = Group.model_validate(_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    else:
        patch = PatchOp[Group].model_validate(_body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        payload = _group_resource(request, found)
        patch.patch(payload)
    scim_group_save(token=token, group=found, display_name=payload.display_name or found.display_name,
                    external_id=payload.external_id or "", members=_group_members(token, payload),
                    member_entries=_member_entries(payload), now=now)
    return _json(_dump(_group_resource(request, _groups_qs(token).get(pk=found.pk)),
                       Context.RESOURCE_REPLACEMENT_RESPONSE, params))


# --- Search (POST …/.search) ------------------------------------------------------------------------------------

_SEARCHES = {"Users": (PortalUser, _search_users), "Groups": (Group, _search_groups)}


@scim_endpoint
@_only("POST")
def search(request, resource_type=None):
    """POST /.search (users and groups) or /<Type>/.search: the query in the body (RFC 7644 §3.4.3)."""
    token = request.scim_token
    kinds = [resource_type] if resource_type else list(_SEARCHES)
    models = tuple(_SEARCHES[k][0] for k in kinds)
    union = models[0] if len(models) == 1 else models[0] | models[1]
    body = SearchRequest[union].model_validate(_body(request), scim_ctx=Context.SEARCH_REQUEST)
    start, count = _paging(body.start_index, body.count)
    resources = []
    for kind in kinds:
        model, finder = _SEARCHES[kind]
        resources += finder(request, token, _parse_filter(str(body.filter) if body.filter else None, model))
    return _page(resources, start, count, body, union)


# --- Discovery --------------------------------------------------------------------------------------------------

def _config(request) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        patch=Patch(supported=True), bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_PAGE), change_password=ChangePassword(supported=False),
        sort=Sort(supported=False), etag=ETag(supported=False),
        authentication_schemes=[AuthenticationScheme(
            type="oauthbearertoken", name="Bearer token",
            description="A per-organization SCIM token from Settings > Security & SSO.", primary=True)],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{request.scim_base}/ServiceProviderConfig"),
    )


def _resource_types(request) -> list[ResourceType]:
    found = []
    for model, endpoint in ((PortalUser, "/Users"), (Group, "/Groups")):
        rt = ResourceType.from_resource(model)
        rt.endpoint = endpoint
        rt.meta = Meta(resource_type="ResourceType", location=f"{request.scim_base}/ResourceTypes/{rt.id}")
        found.append(rt)
    return found


def _schemas(request) -> list[Schema]:
    found = []
    for model in (PortalUser, Group):
        schema = model.to_schema()
        schema.meta = Meta(resource_type="Schema", location=f"{request.scim_base}/Schemas/{schema.id}")
        found.append(schema)
    return found


def _listing(items, model) -> HttpResponse:
    return _json(ListResponse[model](total_results=len(items), start_index=1, items_per_page=len(items),
                                     resources=items).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint
@_only("GET")
def service_provider_config(request):
    return _json(_dump(_config(request)))


@scim_endpoint
@_only("GET")
def resource_types(request):
    return _listing(_resource_types(request), ResourceType)


@scim_endpoint
@_only("GET")
def resource_type(request, name):
    found = next((rt for rt in _resource_types(request) if rt.id == name), None)
    return _json(_dump(found)) if found else _error(404, f"Resource type {name} not found.")


@scim_endpoint
@_only("GET")
def schemas(request):
    return _listing(_schemas(request), Schema)


@scim_endpoint
@_only("GET")
def schema(request, schema_id):
    found = next((s for s in _schemas(request) if s.id == schema_id), None)
    return _json(_dump(found)) if found else _error(404, f"Schema {schema_id} not found.")


@scim_endpoint
def not_found(request, rest):
    return _error(404, f"No SCIM endpoint at /{rest}.")
