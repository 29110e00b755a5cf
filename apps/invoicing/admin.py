"""Django admin for invoices: read-only documents with their lines; staff void and re-issue them (audited)."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from .models import (
    BillingProfile,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    InvoiceReminder,
    InvoiceRunClaim,
    InvoiceStatus,
    TaxRate,
)
from .services import (
    credit_note_issue,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_reissue,
    invoice_void,
    payment_terms_set,
)
from .tasks import invoice_run_due_periods as invoice_run_due_periods_task

# Past this many lines the change page lists none (the CSV download has them all).
INLINE_MAX_LINES = 500


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    show_change_link = False
    fields = ("position", "member_email", "kind", "description", "model", "input_tokens", "output_tokens",
              "cache_write_tokens", "cache_read_tokens", "days", "period_days", "unrounded_amount", "amount",
              "informational")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("model")



def _errors(error: ValidationError) -> str:
    return "; ".join(str(m) for messages_ in error.message_dict.values() for m in messages_)


@admin.action(description="Void the selected invoices (audited)", permissions=["void"])
def void_invoices(modeladmin, request, queryset):
    now = timezone.now()
    for invoice in queryset:
        try:
            invoice_void(invoice=invoice, actor=request.user, reason=f"Voided by {request.user.email} in admin",
                         now=now)
        except ValidationError as error:
            modeladmin.message_user(request, f"{invoice}: {_errors(error)}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{invoice} is void.", messages.SUCCESS)


@admin.action(description="Re-issue the selected void invoices (audited)", permissions=["void"])
def reissue_invoices(modeladmin, request, queryset):
    now = timezone.now()
    for invoice in queryset:
        try:
            new = invoice_reissue(invoice=invoice, actor=request.user, now=now)
        except ValidationError as error:
            modeladmin.message_user(request, f"{invoice}: {_errors(error)}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{invoice} re-issued as {new}.", messages.SUCCESS)


@admin.action(description="Mark the selected invoices paid (audited)", permissions=["void"])
def mark_paid(modeladmin, request, queryset):
    now = timezone.now()
    for invoice in queryset:
        try:
            invoice_mark_paid(invoice=invoice, now=now, source="admin", actor=request.user)
        except ValidationError as error:
            modeladmin.message_user(request, f"{invoice}: {_errors(error)}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{invoice} is paid.", messages.SUCCESS)


@admin.action(description="Mark the selected invoices uncollectible (audited)", permissions=["void"])
def mark_uncollectible(modeladmin, request, queryset):
    now = timezone.now()
    for invoice in queryset:
        try:
            invoice_mark_uncollectible(invoice=invoice, now=now, actor=request.user)
        except ValidationError as error:
            modeladmin.message_user(request, f"{invoice}: {_errors(error)}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{invoice} is uncollectible.", messages.SUCCESS)


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ("number", "organization", "period_start", "shown_status", "total", "issued_at", "due_date",
                    "paid_at", "replaces")
    list_filter = ("status", "period_start")
    search_fields = ("number", "organization__name", "organization__slug")
    list_select_related = ("organization", "replaces")
    date_hierarchy = "period_start"
    actions = (mark_paid, mark_uncollectible, void_invoices, reissue_invoices)
    inlines = (InvoiceLineInline,)
    readonly_fields = [*(f.name for f in Invoice._meta.fields), "line_count"]

    @admin.display(description="Status", ordering="status")
    def shown_status(self, obj):
        """Overdue is computed (an open invoice past its due date in the billing time zone), never stored."""
        return obj.shown_status_label

    @admin.display(description="Lines")
    def line_count(self, obj):
        count = obj.lines.count()
        if count > INLINE_MAX_LINES:
            return f"{count:,} (too many to list here: download the CSV from the organization's invoice page)"
        return f"{count:,}"

    def get_inlines(self, request, obj):
        # An inline with tens of thousands of rows would make the page unusable.
        if obj is not None and obj.lines.count() > INLINE_MAX_LINES:
            return ()
        return self.inlines

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewing only: documents change through the void / re-issue actions.
        return False

    def has_void_permission(self, request):
        return request.user.has_perm("invoicing.change_invoice")

    # "Issue due invoices now": the beat's monthly run (every 15 minutes), started by staff from the invoice list.
    change_list_template = "admin/invoicing/invoice/change_list.html"

    def get_urls(self):
        issue_due = self.admin_site.admin_view(require_POST(self.issue_due_view))
        return [path("issue-due/", issue_due, name="invoicing_invoice_issue_due"), *super().get_urls()]

    def issue_due_view(self, request):
        """Runs the invoicing beat task now: one issuing task per organization whose month has ended and is not
        invoiced (each idempotent, so a click during the scheduled run issues nothing twice)."""
        if not self.has_void_permission(request):
            raise PermissionDenied
        queued = invoice_run_due_periods_task()
        if queued:
            self.message_user(request, ngettext(
                "Issuing %(count)d due invoice: it appears here when the worker has issued it.",
                "Issuing %(count)d due invoices: they appear here when the worker has issued them.", queued,
            ) % {"count": queued}, messages.SUCCESS)
        else:
            self.message_user(request, _("No invoice is due: every closed month is invoiced."), messages.INFO)
        return redirect("admin:invoicing_invoice_changelist")


@admin.register(InvoiceRunClaim)
class InvoiceRunClaimAdmin(admin.ModelAdmin):
    list_display = ("organization", "period_start", "status", "attempts", "started_at", "finished_at")
    list_filter = ("status", "period_start")
    search_fields = ("organization__name", "organization__slug")
    list_select_related = ("organization",)
    readonly_fields = [f.name for f in InvoiceRunClaim._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BillingProfile)
class BillingProfileAdmin(admin.ModelAdmin):
    """Staff set the payment terms (net days); the billing details themselves are the owners' (read-only)."""

    list_display = ("organization", "legal_name", "billing_email", "payment_terms_days", "updated_at")
    search_fields = ("organization__name", "organization__slug", "legal_name", "billing_email")
    list_select_related = ("organization",)
    fields = ("organization", "legal_name", "address", "country", "tax_id", "po_number", "billing_email",
              "payment_terms_days", "updated_at")
    readonly_fields = ("organization", "legal_name", "address", "country", "tax_id", "po_number", "billing_email",
                       "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, so the change is audited (old → new) like every billing setting.
        payment_terms_set(organization=obj.organization, days=form.cleaned_data["payment_terms_days"],
                          actor=request.user, now=timezone.now())


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    """The tax rate per billing country. Invoices copy the rate when they are issued: editing a row changes
    only invoices issued afterwards."""

    list_display = ("country", "name", "rate", "updated_at")
    search_fields = ("country", "name")


class CreditNoteLineInline(admin.TabularInline):
    model = CreditNoteLine
    extra = 0
    can_delete = False
    fields = ("position", "description", "amount")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class CreditNoteForm(forms.ModelForm):
    """Staff: one credited line (before tax; tax is added at the invoice's rate) and the reason."""

    description = forms.CharField(max_length=300, help_text="What is credited, as printed on the credit note.")
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"),
                                help_text="Credited before tax, in the invoice's currency.")

    class Meta:
        model = CreditNote
        fields = ("invoice", "reason")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoice"].queryset = Invoice.objects.filter(
            status__in=[InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE]
        ).select_related("organization")


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    """Corrections of issued invoices: a credit note is issued here (numbered, audited) and never edited."""

    list_display = ("number", "organization", "invoice", "issue_date", "total", "reason")
    search_fields = ("number", "invoice__number", "organization__slug")
    list_select_related = ("organization", "invoice")
    inlines = (CreditNoteLineInline,)
    raw_id_fields = ("invoice",)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = CreditNoteForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("invoice", "description", "amount", "reason")
        return ("number", "organization", "invoice", "issue_date", "issued_at", "reason", "subtotal",
                "tax_amount", "total")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service: numbered on its own gapless sequence, tax at the invoice's rate, audited.
        data = form.cleaned_data
        note = credit_note_issue(invoice=data["invoice"], lines=[(data["description"], data["amount"])],
                                 reason=data["reason"], now=timezone.now(), actor=request.user)
        obj.__dict__.update({k: v for k, v in note.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        pass  # the service wrote the lines

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as error:
            self.message_user(request, _errors(error), messages.ERROR)
            return redirect("admin:invoicing_creditnote_add")


@admin.register(InvoicePayment)
class InvoicePaymentAdmin(admin.ModelAdmin):
    list_display = ("invoice", "amount", "status", "reference", "created_at", "settled_at")
    list_filter = ("status",)
    search_fields = ("invoice__number", "reference")
    readonly_fields = [f.name for f in InvoicePayment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(InvoiceReminder)
class InvoiceReminderAdmin(admin.ModelAdmin):
    list_display = ("invoice", "kind", "sent_at")
    readonly_fields = ("invoice", "kind", "sent_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
