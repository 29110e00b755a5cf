"""The dashboards' "Export CSV": usage per member × day × model × product for the chosen date range, streamed.

Owners and admins (as the dashboards); members and outsiders get a 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.common.csv_stream import csv_stream
from apps.organizations.permissions import Capability, require

from .exports import USAGE_EXPORT_COLUMNS, usage_export_rows
from .ranges import RangeError, date_range_from_query


@login_required
@require_GET
def usage_export(request, slug):
    membership = require(request.user, slug, Capability.VIEW_ORG_USAGE, hide=True)
    organization = membership.organization
    try:
        date_range = date_range_from_query(request.GET, now=timezone.now(), tz_name=organization.billing_timezone)
    except RangeError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    rows = usage_export_rows(organization=organization, date_range=date_range)
    response = StreamingHttpResponse(csv_stream(USAGE_EXPORT_COLUMNS, rows), content_type="text/csv; charset=utf-8")
    name = f"usage-{organization.slug}-{date_range.start.isoformat()}-to-{date_range.last_day.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
