"""Settings > Admin API keys: the primary owner creates, sees and revokes the organization's Admin API keys.

Access: the primary owner only. Other members of the organization (owners, admins, members) get 403: they
know the organization, and the page says who may manage keys. Anyone outside it gets 404; an anonymous
visitor is sent to log in. A new key is shown once, on the page that created it; only its digest is stored.
Revoking asks for confirmation on its own page (no script needed), then takes effect on the next API call.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.common.service_messages import translated_message_dict
from apps.organizations.permissions import Capability, require

from .forms import AdminApiKeyForm
from .selectors import admin_api_keys
from .services import admin_api_key_create, admin_api_key_revoke


def _page(request, membership, form, new_key=None, status=200):
    organization = membership.organization
    context = {
        "organization": organization,
        "membership": membership,
        "keys": admin_api_keys(organization=organization),
        "form": form,
        "new_key": new_key,
        "enterprise": organization.is_enterprise,
    }
    return render(request, "admin_api/keys.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def admin_api_keys_page(request, slug):
    membership = require(request.user, slug, Capability.MANAGE_ADMIN_API_KEYS)
    if request.method == "GET":
        return _page(request, membership, AdminApiKeyForm())
    form = AdminApiKeyForm(request.POST)
    if not membership.organization.is_enterprise:
        form.add_error(None, _("The Admin API is offered on Enterprise plans only."))
        return _page(request, membership, form, status=400)
    if not form.is_valid():
        return _page(request, membership, form, status=400)
    try:
        key, raw = admin_api_key_create(organization=membership.organization, name=form.cleaned_data["name"],
                                        scopes=form.cleaned_data["scopes"], actor=request.user,
                                        now=timezone.now())
    except ValidationError as error:
        for field, errors in translated_message_dict(error).items():
            form.add_error(field if field in form.fields else None, errors)
        return _page(request, membership, form, status=400)
    return _page(request, membership, AdminApiKeyForm(), new_key={"key": key, "raw": raw})


@login_required
@require_http_methods(["GET", "POST"])
def admin_api_key_revoke_page(request, slug, public_id):
    membership = require(request.user, slug, Capability.MANAGE_ADMIN_API_KEYS)
    key = admin_api_keys(organization=membership.organization).filter(public_id=public_id).first()
    if key is None:
        raise Http404
    if request.method == "POST":
        admin_api_key_revoke(key=key, actor=request.user, now=timezone.now())
        messages.success(request, _("Revoked “%(name)s”. Scripts using it are refused from now on.") % {
            "name": key.name})
        return redirect("admin_api:keys", slug=slug)
    context = {"organization": membership.organization, "membership": membership, "key": key}
    return render(request, "admin_api/revoke_confirm.html", context)
