"""The audit log: every audited change of the organization, filtered by kind, actor and dates, and as CSV.

Owners read it (issue 26: it records identity, webhook and key settings that admins do not see); admins, members
and outsiders get a 404.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.common.csv_stream import csv_stream
from apps.common.periods import local_midnight
from apps.organizations.permissions import Capability, require
from apps.organizations.selectors import audit_actors, audit_entries

from .audit import KINDS, audit_sentence
from .forms import AuditFilterForm

AUDIT_PAGE_SIZE = 50
AUDIT_EXPORT_COLUMNS = ("time", "actor", "action", "target", "old_value", "new_value", "description")


def _filtered(request, organization):
    """The filter form and the entries it selects (all entries while the form is unbound or invalid)."""
    form = AuditFilterForm(request.GET or None, kinds=KINDS, actors=audit_actors(organization=organization))
    filters = {}
    if form.is_bound and form.is_valid():
        tz = ZoneInfo(organization.billing_timezone)
        since, until = form.cleaned_data["since"], form.cleaned_data["until"]
        filters = {
            "kind": form.cleaned_data["kind"], "actor": form.cleaned_data["actor"],
            "since": local_midnight(since, tz) if since else None,
            "before": local_midnight(until + dt.timedelta(days=1), tz) if until else None,
        }
    return form, audit_entries(organization=organization, **filters)


@login_required
@require_GET
def audit_log(request, slug):
    membership = require(request.user, slug, Capability.MANAGE_MEMBERS, hide=True)
    organization = membership.organization
    form, entries = _filtered(request, organization)
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page", 1))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "console/audit_log.html", {
        "membership": membership, "organization": organization, "form": form, "page": page,
        "rows": [(entry, audit_sentence(entry)) for entry in page.object_list], "query": query.urlencode(),
    }, status=400 if form.is_bound and not form.is_valid() else 200)


@login_required
@require_GET
def audit_log_export(request, slug):
    """The filtered audit log as CSV: times in UTC (ISO 8601), the stored values as JSON, and the sentence."""
    membership = require(request.user, slug, Capability.MANAGE_MEMBERS, hide=True)
    organization = membership.organization
    _, entries = _filtered(request, organization)
    rows = (
        (e.created_at.astimezone(dt.UTC).isoformat(), e.actor_label, e.action, e.target,
         json.dumps(e.old_value), json.dumps(e.new_value), audit_sentence(e))
        for e in entries.iterator(chunk_size=2000)
    )
    response = StreamingHttpResponse(csv_stream(AUDIT_EXPORT_COLUMNS, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{organization.slug}.csv"'
    return response
