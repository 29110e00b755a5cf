"""Invoice pages for owners (admins see them read-only; there is nothing to change here): the list, the
detail with lines grouped by member, and the CSV and PDF downloads. Members and outsiders get a 404."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.organizations.permissions import Capability, can, require

from .exports import invoice_csv_rows, invoice_pdf_bytes
from .selectors import (
    invoice_by_number,
    invoice_kind_summary,
    invoice_member_groups,
    invoices_for_organization,
    month_label,
)


def _viewer(request, slug):
    membership = require(request.user, slug, Capability.VIEW_ORG_USAGE, hide=True)
    return membership, membership.organization


@login_required
@require_GET
def invoice_list(request, slug):
    membership, organization = _viewer(request, slug)
    page = Paginator(invoices_for_organization(organization=organization), 24).get_page(request.GET.get("page"))
    return render(request, "invoicing/invoice_list.html", {
        "membership": membership, "organization": organization, "page": page,
        "read_only": not can(membership, Capability.MANAGE_BILLING),
    })


@login_required
@require_GET
def invoice_detail(request, slug, number):
    membership, organization = _viewer(request, slug)
    invoice = invoice_by_number(organization=organization, number=number)
    page, groups, organization_lines = invoice_member_groups(invoice=invoice, page_number=request.GET.get("page"))
    return render(request, "invoicing/invoice_detail.html", {
        "membership": membership, "organization": organization, "invoice": invoice,
        "month": month_label(invoice.period_start), "summary": invoice_kind_summary(invoice=invoice),
        "page": page, "groups": groups, "organization_lines": organization_lines,
        "read_only": not can(membership, Capability.MANAGE_BILLING),
    })


@login_required
@require_GET
def invoice_csv(request, slug, number):
    _, organization = _viewer(request, slug)
    invoice = invoice_by_number(organization=organization, number=number)
    response = StreamingHttpResponse(invoice_csv_rows(invoice=invoice), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.csv"'
    return response


@login_required
@require_GET
def invoice_pdf(request, slug, number):
    _, organization = _viewer(request, slug)
    invoice = invoice_by_number(organization=organization, number=number)
    response = HttpResponse(invoice_pdf_bytes(invoice=invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response
