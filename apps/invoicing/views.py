"""Invoice pages for owners (admins see them read-only; there is nothing to change here): the list, the
detail with lines grouped by member, and the CSV and PDF downloads. Members and outsiders get a 404."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.common.periods import local_date
from apps.common.service_messages import translated_message_dict, translated_messages
from apps.organizations.permissions import Capability, can, require

from .exports import invoice_csv_rows
from .forms import BillingDetailsForm
from .models import CreditNote, PaymentStatus
from .selectors import (
    credit_note_by_number,
    credit_note_lines,
    invoice_by_number,
    invoice_document,
    invoice_kind_summary,
    invoice_last_payment,
    invoice_member_groups,
    invoice_usage_summary,
    invoices_for_organization,
    month_label,
)
from .services import (
    BILLING_DETAIL_FIELDS,
    billing_details_update,
    billing_profile_get,
    credit_note_document_render,
    invoice_document_render,
    invoice_pay_by_card,
)

logger = logging.getLogger(__name__)


def _viewer(request, slug):
    membership = require(request.user, slug, Capability.VIEW_ORG_USAGE, hide=True)
    return membership, membership.organization


@login_required
@require_GET
def invoice_list(request, slug):
    membership, organization = _viewer(request, slug)
    page = Paginator(invoices_for_organization(organization=organization), 24).get_page(request.GET.get("page"))
    today = local_date(timezone.now(), organization.billing_timezone)
    for invoice in page.object_list:
        invoice.organization = organization
        invoice.shown = invoice.status_on(today)  # "overdue" is computed, never stored
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
        "doc": invoice_document(invoice=invoice), "last_payment": invoice_last_payment(invoice=invoice),
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
    initial = {f: getattr(profile, f) for f in BILLING_DETAIL_FIELDS}
    form = BillingDetailsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        if read_only:
            return HttpResponse(status=403)
        if form.is_valid():
            try:
                billing_details_update(organization=organization, actor=request.user, now=timezone.now(),
                                       **form.cleaned_data)
            except ValidationError as error:
                for field, errors in translated_message_dict(error).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Billing details saved. They appear on invoices issued from now on."))
                return redirect("invoicing:billing_details", slug=organization.slug)
    return render(request, "invoicing/billing_details.html", {
        "membership": membership, "organization": organization, "form": form, "profile": profile,
        "read_only": read_only,
    })


@login_required
@require_POST
def invoice_pay(request, slug, number):
    """Owners: pay an open or overdue invoice's amount due by card, through the payment provider. Admins read
    invoices but cannot pay them (403)."""
    membership, organization = _viewer(request, slug)
    if not can(membership, Capability.MANAGE_BILLING):
        return HttpResponse(status=403)
    invoice = invoice_by_number(organization=organization, number=number)
    try:
        payment = invoice_pay_by_card(invoice=invoice, now=timezone.now())
    except ValidationError as error:
        for message in translated_messages(error):
            messages.error(request, message)
    except Exception:  # the provider unreachable or failing: the claim stays pending, a retry reuses its key
        logger.exception("Card payment of invoice %s did not complete", invoice.number)
        messages.error(request, _("The card provider could not be reached. Try again in a moment: you will "
                                  "not be charged twice."))
    else:
        if payment.status == PaymentStatus.SUCCEEDED:
            messages.success(request, _("Paid by card. Thank you: the invoice is paid."))
        elif payment.status == PaymentStatus.FAILED:
            messages.error(request, _("The card payment did not go through: %(error)s") % {"error": payment.error})
        else:
            messages.info(request, _("The card payment is being processed; the invoice shows as paid once it "
                                     "is confirmed."))
    return redirect("invoicing:invoice_detail", slug=organization.slug, number=invoice.number)


@login_required
@require_GET
def credit_note_detail(request, slug, number):
    membership, organization = _viewer(request, slug)
    note = credit_note_by_number(organization=organization, number=number)
    return render(request, "invoicing/credit_note_detail.html", {
        "membership": membership, "organization": organization, "note": note, "invoice": note.invoice,
        "lines": credit_note_lines(credit_note=note),
    })


@login_required
@require_GET
def credit_note_pdf(request, slug, number):
    _, organization = _viewer(request, slug)
    note = credit_note_by_number(organization=organization, number=number)
    # Rendered once after it was issued and served as stored (rendered now if that task has not run).
    note = credit_note_document_render(credit_note=CreditNote.objects.select_related(
        "invoice", "organization").get(pk=note.pk))
    response = HttpResponse(bytes(note.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{note.number}.pdf"'
    response["X-Content-SHA256"] = note.pdf_sha256
    return response
