"""SCIM 2.0 (RFC 7643/7644) at /scim/v2/, one organization per bearer token.

The resources, messages, filters and PATCH semantics are scim2-models' (pydantic); this module maps them onto
memberships and seat-tier groups and calls the services. Users: id = the user's public id, userName = the login
email. Groups: a group named after a seat tier ("Premium", "Chat + Claude Code") assigns that tier."""

from __future__ import annotations

import functools
import json

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
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
    ResourceType,
    Schema,
    SCIMException,
    ScimFilter,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_models import Error as ScimError

from apps.organizations.models import Membership

from .models import ScimGroup, ScimToken
from .selectors import scim_token_authenticate
from .services import (
    ScimConflict,
    scim_group_delete,
    scim_group_save,
    scim_user_create,
    scim_user_delete,
    scim_user_update,
)

CONTENT_TYPE = "application/scim+json"
MAX_PAGE = 200


def _json(payload, status=200, location: str | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), status=status, content_type=CONTENT_TYPE)
    if location:
        response["Location"] = location
    return response


def _error(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    error = ScimError(status=status, detail=detail, scim_type=scim_type)
    return _json(error.model_dump(), status=status)


def scim_endpoint(view):
    """Bearer-token authentication (401 in SCIM's error shape), CSRF exempt, and SCIM errors for bad input."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        header = request.headers.get("Authorization", "")
        token = scim_token_authenticate(raw_token=header[7:].strip()) if header[:7].lower() == "bearer " else None
        if token is None:
            return _error(401, "A valid SCIM bearer token is required.")
        request.scim_token = token
        request.scim_base = request.build_absolute_uri("/scim/v2")
        try:
            return view(request, *args, **kwargs)
        except SCIMException as exc:
            error = exc.to_error()
            return _json(error.model_dump(), status=int(error.status or 400))
        except ScimConflict as exc:
            return _error(409, f"{exc} is already taken in this organization.", "uniqueness")
        except PydanticValidationError as exc:
            return _error(400, f"Invalid resource: {exc.errors()[0].get('msg', 'invalid value')}", "invalidValue")
        except json.JSONDecodeError:
            return _error(400, "The body is not JSON.", "invalidSyntax")
        except ValidationError as exc:  # a service's rule, with its message
            return _error(400, "; ".join(exc.messages), "mutability")

    return wrapper


def _body(request) -> dict:
    data = json.loads(request.body or b"{}")
    if not isinstance(data, dict):
        raise json.JSONDecodeError("not an object", "", 0)
    return data


def _memberships(token: ScimToken):
    """The organization's members SCIM can see: current members, and deactivated ones SCIM still tracks."""
    return (
        Membership.objects.filter(organization=token.organization)
        .filter(removed_at__isnull=True) | Membership.objects.filter(
            organization=token.organization, removed_at__isnull=False, scim__isnull=False)
    ).select_related("user", "scim").order_by("joined_at", "pk")


def _user_resource(request, membership: Membership) -> User:
    scim = getattr(membership, "scim", None)
    user = membership.user
    updated = scim.updated_at if scim is not None else membership.joined_at
    return User(
        id=user.public_id, user_name=user.email, external_id=(scim.external_id if scim else None) or None,
        display_name=user.name or None, name=Name(formatted=user.name) if user.name else None,
        emails=[Email(value=user.email, primary=True, type="work")],
        active=membership.removed_at is None,
        meta=Meta(resource_type="User", created=membership.joined_at, last_modified=updated,
                  location=f"{request.scim_base}/Users/{user.public_id}",
                  version=f'W/"{int(updated.timestamp() * 1000)}"'),
    )


def _dump(resource, context=Context.RESOURCE_QUERY_RESPONSE) -> dict:
    return resource.model_dump(scim_ctx=context)


def _page_args(request) -> tuple[int, int]:
    try:
        start = max(int(request.GET.get("startIndex", 1)), 1)
        count = min(max(int(request.GET.get("count", 100)), 0), MAX_PAGE)
    except ValueError:
        raise InvalidValueException(detail="startIndex and count must be integers.")  # noqa: B904
    return start, count


def _filter(request, model):
    raw = request.GET.get("filter")
    if not raw:
        return None
    try:
        return ScimFilter[model](raw)
    except SCIMException:
        raise
    except ValueError as exc:
        raise InvalidFilterException(detail=str(exc)) from exc


def _list(request, resources, start, count):
    page = resources[start - 1:start - 1 + count]
    response = ListResponse[type(page[0]) if page else User](
        total_results=len(resources), start_index=start, items_per_page=len(page), resources=page or None)
    return _json(response.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint
def users(request):
    token = request.scim_token
    if request.method == "POST":
        payload = User.model_validate(_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        membership = scim_user_create(
            token=token, email=payload.user_name, name=_name_of(payload), external_id=payload.external_id or "",
            active=payload.active is not False, now=timezone.now(),
        )
        membership = _memberships(token).get(pk=membership.pk)
        resource = _user_resource(request, membership)
        return _json(_dump(resource, Context.RESOURCE_CREATION_RESPONSE), status=201,
                     location=resource.meta.location)
    if request.method != "GET":
        return _error(405, "Use GET or POST.")
    start, count = _page_args(request)
    scim_filter = _filter(request, User)
    memberships = _memberships(token)
    equality = _username_equality(scim_filter)
    if equality is not None:
        memberships = memberships.filter(user__email__iexact=equality)
    resources = [_user_resource(request, m) for m in memberships]
    if scim_filter is not None and equality is None:
        resources = [r for r in resources if scim_filter.match(r)]
    return _list(request, resources, start, count)


def _username_equality(scim_filter) -> str | None:
    """`userName eq "…"` is answered by the database (the identity providers' lookup before every create)."""
    if scim_filter is None:
        return None
    node = scim_filter.ast
    attr = getattr(getattr(node, "attr_path", None), "attr", None)
    op = getattr(getattr(node, "op", None), "value", getattr(node, "op", None))
    if attr and str(attr).lower() == "username" and str(op).lower() == "eq" and isinstance(node.value, str):
        return node.value
    return None


def _name_of(payload: User) -> str:
    if payload.display_name:
        return payload.display_name
    if payload.name is not None:
        return payload.name.formatted or " ".join(p for p in (payload.name.given_name, payload.name.family_name) if p)
    return ""


@scim_endpoint
def user(request, user_id):
    token = request.scim_token
    membership = _memberships(token).filter(user__public_id=user_id).first()
    if membership is None:
        return _error(404, f"User {user_id} not found.")
    now = timezone.now()
    if request.method == "GET":
        return _json(_dump(_user_resource(request, membership)))
    if request.method == "DELETE":
        scim_user_delete(token=token, membership=membership, now=now)
        return HttpResponse(status=204)
    if request.method == "PUT":
        payload = User.model_validate(_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    elif request.method == "PATCH":
        patch = PatchOp[User].model_validate(_body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        payload = _user_resource(request, membership)
        patch.patch(payload)
    else:
        return _error(405, "Use GET, PUT, PATCH or DELETE.")
    scim_user_update(token=token, membership=membership, email=payload.user_name or membership.user.email,
                     name=_name_of(payload), external_id=payload.external_id or "",
                     active=payload.active is not False, now=now)
    membership = _memberships(token).get(pk=membership.pk)
    return _json(_dump(_user_resource(request, membership), Context.RESOURCE_REPLACEMENT_RESPONSE))


def _group_resource(request, group: ScimGroup) -> Group:
    members = [GroupMember(value=m.user.public_id, display=m.user.email,
                           ref=f"{request.scim_base}/Users/{m.user.public_id}")
               for m in group.members.all() if m.removed_at is None]
    return Group(
        id=group.public_id, display_name=group.display_name, external_id=group.external_id or None,
        members=members or None,
        meta=Meta(resource_type="Group", created=group.created_at, last_modified=group.updated_at,
                  location=f"{request.scim_base}/Groups/{group.public_id}",
                  version=f'W/"{int(group.updated_at.timestamp() * 1000)}"'),
    )


def _group_members(token, payload: Group) -> list[Membership]:
    ids = [m.value for m in (payload.members or []) if m.value]
    found = list(_memberships(token).filter(user__public_id__in=ids, removed_at__isnull=True))
    if len(found) != len(set(ids)):
        raise InvalidValueException(detail="A group member is not a user of this organization.")
    return found


def _groups_qs(token):
    return ScimGroup.objects.filter(organization=token.organization).prefetch_related(
        "members__user").order_by("created_at", "pk")


@scim_endpoint
def groups(request):
    token = request.scim_token
    if request.method == "POST":
        payload = Group.model_validate(_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        group = scim_group_save(token=token, group=None, display_name=payload.display_name,
                                external_id=payload.external_id or "", members=_group_members(token, payload),
                                now=timezone.now())
        resource = _group_resource(request, _groups_qs(token).get(pk=group.pk))
        return _json(_dump(resource, Context.RESOURCE_CREATION_RESPONSE), status=201,
                     location=resource.meta.location)
    if request.method != "GET":
        return _error(405, "Use GET or POST.")
    start, count = _page_args(request)
    scim_filter = _filter(request, Group)
    resources = [_group_resource(request, g) for g in _groups_qs(token)]
    if scim_filter is not None:
        resources = [r for r in resources if scim_filter.match(r)]
    return _list(request, resources, start, count)


@scim_endpoint
def group(request, group_id):
    token = request.scim_token
    found = _groups_qs(token).filter(public_id=group_id).first()
    if found is None:
        return _error(404, f"Group {group_id} not found.")
    now = timezone.now()
    if request.method == "GET":
        return _json(_dump(_group_resource(request, found)))
    if request.method == "DELETE":
        scim_group_delete(token=token, group=found, now=now)
        return HttpResponse(status=204)
    if request.method == "PUT":
        payload = Group.model_validate(_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    elif request.method == "PATCH":
        patch = PatchOp[Group].model_validate(_body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        payload = _group_resource(request, found)
        patch.patch(payload)
    else:
        return _error(405, "Use GET, PUT, PATCH or DELETE.")
    scim_group_save(token=token, group=found, display_name=payload.display_name or found.display_name,
                    external_id=payload.external_id or "", members=_group_members(token, payload), now=now)
    return _json(_dump(_group_resource(request, _groups_qs(token).get(pk=found.pk)),
                       Context.RESOURCE_REPLACEMENT_RESPONSE))


# --- Discovery --------------------------------------------------------------------------------------------------

def _config(request) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=None, patch=Patch(supported=True), bulk=Bulk(supported=False, max_operations=0,
                                                                       max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_PAGE), change_password=ChangePassword(supported=False),
        sort=Sort(supported=False), etag=ETag(supported=False),
        authentication_schemes=[AuthenticationScheme(
            type="oauthbearertoken", name="Bearer token",
            description="A per-organization SCIM token from Settings > Security & SSO.", primary=True)],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{request.scim_base}/ServiceProviderConfig"),
    )


@scim_endpoint
def service_provider_config(request):
    return _json(_dump(_config(request)))


def _resource_types(request) -> list[ResourceType]:
    found = []
    for model, endpoint in ((User, "/Users"), (Group, "/Groups")):
        rt = ResourceType.from_resource(model)
        rt.endpoint = endpoint
        rt.meta = Meta(resource_type="ResourceType", location=f"{request.scim_base}/ResourceTypes/{rt.id}")
        found.append(rt)
    return found


@scim_endpoint
def resource_types(request):
    items = _resource_types(request)
    return _json(ListResponse[ResourceType](total_results=len(items), start_index=1, items_per_page=len(items),
                                            resources=items).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint
def resource_type(request, name):
    found = next((rt for rt in _resource_types(request) if rt.id == name), None)
    return _json(_dump(found)) if found else _error(404, f"Resource type {name} not found.")


def _schemas(request) -> list[Schema]:
    found = []
    for model in (User, Group):
        schema = model.to_schema()
        schema.meta = Meta(resource_type="Schema", location=f"{request.scim_base}/Schemas/{schema.id}")
        found.append(schema)
    return found


@scim_endpoint
def schemas(request):
    items = _schemas(request)
    return _json(ListResponse[Schema](total_results=len(items), start_index=1, items_per_page=len(items),
                                      resources=items).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint
def schema(request, schema_id):
    found = next((s for s in _schemas(request) if s.id == schema_id), None)
    return _json(_dump(found)) if found else _error(404, f"Schema {schema_id} not found.")

