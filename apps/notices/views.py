"""The notification preferences page (any signed-in user) and the one-click unsubscribe link (no login: the
signed token is the authority; RFC 8058 mail clients POST `List-Unsubscribe=One-Click` to it)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.organizations.models import Organization

from .models import NoticeKind
from .selectors import notice_preferences
from .services import notice_opt_out, notice_preferences_save, unsubscribe_token_read


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    rows = notice_preferences(user=request.user)
    if request.method == "POST":
        choices = {(row.organization_id, row.kind): request.POST.get(row.field_name) == "on" for row in rows}
        notice_preferences_save(user=request.user, choices=choices, now=timezone.now())
        messages.success(request, _("Your notification preferences were saved."))
        return redirect("notices:preferences")
    organizations: dict[int, dict] = {}
    for row in rows:
        organizations.setdefault(row.organization_id, {"name": row.organization_name, "rows": []})["rows"].append(row)
    return render(request, "notices/preferences.html", {"organizations": list(organizations.values())})


@csrf_exempt  # mail clients post the one-click unsubscribe without a session or CSRF token; the token signs it
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    try:
        payload = unsubscribe_token_read(token)
    except signing.BadSignature:
        raise Http404 from None
    organization = Organization.objects.filter(pk=payload["o"]).first()
    if organization is None:
        raise Http404
    context = {"organization": organization, "label": dict(NoticeKind.choices)[payload["k"]],
               "email": payload["e"], "mandatory": bool(payload.get("m")), "done": False}
    if request.method == "POST" and not context["mandatory"]:
        notice_opt_out(email=payload["e"], organization_id=organization.pk, kind=payload["k"], now=timezone.now())
        context["done"] = True
    return render(request, "notices/unsubscribe.html", context)
