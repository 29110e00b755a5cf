"""Invoice pages for owners (admins see them read-only; there is nothing to change here): the list, the
detail with lines grouped by member, and the CSV and PDF downloads. Members and outsiders get a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from apps.organizations.permissions import Capability, can, require

from .exports import invoice_csv_rows
from .forms import BillingDetailsForm
from .selectors import (
    invoice_by_number,
    invoice_kind_summary,
    invoice_member_groups,
    invoice_usage_summary,
    invoices_for_organization,
    month_label,
)
from .services import billing_details_update, billing_profile_get, invoice_document_render


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
    summary = invoice_kind_summary(invoice=invoice)
    return render(request, "invoicing/invoice_detail.html", {
        "membership": membership, "organization": organization, "invoice": invoice,
        "month": month_label(invoice.period_start), "summary": summary,
        "usage_summary": invoice_usage_summary(invoice=invoice, kind_summary=summary), "page": page,
        "groups": groups,
        "organization_lines": organization_lines,
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
    # Rendered once when the invoice was issued and served as stored (rendered now if that task has not run).
    document = invoice_document_render(invoice=invoice, now=timezone.now())
    response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    response["X-Content-SHA256"] = document.sha256
    return response


@login_required
@require_http_methods(["GET", "POST"])
def billing_details(request, slug):
    """Owners keep the billing details copied onto each invoice at issue; admins read them."""
    membership, organization = _viewer(request, slug)
    read_only = not can(membership, Capability.MANAGE_BILLING)
    profile = billing_profile_get(organization=organization)
    initial = {f: getattr(profile, f) for f in ("legal_name", "address", "tax_id", "billing_email")}
    form = BillingDetailsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        if read_only:
            return HttpResponse(status=403)
        if form.is_valid():
            billing_details_update(organization=organization, actor=request.user, now=timezone.now(),
                                   **form.cleaned_data)
            messages.success(request, _("Billing details saved. They appear on invoices issued from now on."))
            return redirect("invoicing:billing_details", slug=organization.slug)
    return render(request, "invoicing/billing_details.html", {
        "membership": membership, "organization": organization, "form": form, "profile": profile,
        "read_only": read_only,
    })
