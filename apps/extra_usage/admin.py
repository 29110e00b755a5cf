from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from apps.common.tasks import registered_task
from apps.organizations.admin import ReadOnlyAdmin

from .models import (
    DigestDelivery,
    ExtraUsageRequest,
    ExtraUsageSettings,
    MemberExtraUsage,
    PrepaidCharge,
    PrepaidLedgerEntry,
)
from .selectors import organizations_with_pending_requests


@admin.register(ExtraUsageSettings)
class ExtraUsageSettingsAdmin(admin.ModelAdmin):
    list_display = ("organization", "enabled", "all_members", "requests_enabled", "prepaid_balance",
                    "auto_reload_enabled", "reload_threshold", "reload_amount", "monthly_reload_limit")
    list_filter = ("enabled", "all_members", "requests_enabled", "auto_reload_enabled")
    search_fields = ("organization__name", "organization__slug")
    # The balance always equals the sum of the ledger: it is never edited by hand.
    readonly_fields = ("prepaid_balance", "updated_at")


@admin.register(MemberExtraUsage)
class MemberExtraUsageAdmin(admin.ModelAdmin):
    list_display = ("membership", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("membership__user__email", "membership__organization__slug")
    raw_id_fields = ("membership",)


@admin.register(PrepaidLedgerEntry)
class PrepaidLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("organization", "kind", "amount", "period_start", "payment_reference", "reload_key",
                    "created_at")
    list_filter = ("kind", "period_start")
    search_fields = ("organization__name", "organization__slug", "payment_reference", "reload_key")
    date_hierarchy = "created_at"


@admin.register(PrepaidCharge)
class PrepaidChargeAdmin(ReadOnlyAdmin):
    list_display = ("organization", "kind", "amount", "status", "idempotency_key", "payment_reference",
                    "created_at", "settled_at")
    list_filter = ("kind", "status")
    search_fields = ("organization__name", "organization__slug", "idempotency_key", "payment_reference")


@admin.register(ExtraUsageRequest)
class ExtraUsageRequestAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "organization", "membership", "status", "created_at", "resolved_at",
                    "approved_amount")
    list_filter = ("status",)
    search_fields = ("public_id", "membership__user__email", "organization__slug")
    # "Send the digest now": the daily digest (beat, 08:00 UTC), started by staff from the request list.
    change_list_template = "admin/extra_usage/extrausagerequest/change_list.html"

    def get_urls(self):
        send_digest = self.admin_site.admin_view(require_POST(self.send_digest_view))
        return [path("send-digest/", send_digest, name="extra_usage_extrausagerequest_send_digest"),
                *super().get_urls()]

    def send_digest_view(self, request):
        """Runs the daily digest task now: each admin of every organization with pending requests gets one email
        listing them, at most once per local day (a digest already sent today is not sent again)."""
        if not request.user.has_perm("extra_usage.view_extrausagerequest"):
            raise PermissionDenied
        organizations = len(organizations_with_pending_requests())
        registered_task("apps.spending.tasks.digest_send_daily")()  # spending's: it closes what is no longer needed
        if organizations:
            self.message_user(request, ngettext(
                "Sending the digest to the admins of %(count)d organization with pending requests (once a day "
                "each: an admin who had today's digest gets no second one).",
                "Sending the digest to the admins of %(count)d organizations with pending requests (once a day "
                "each: an admin who had today's digest gets no second one).", organizations,
            ) % {"count": organizations}, messages.SUCCESS)
        else:
            self.message_user(request, _("No organization has pending requests: there is no digest to send."),
                              messages.INFO)
        return redirect("admin:extra_usage_extrausagerequest_changelist")


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("organization", "membership", "day", "pending_count", "created_at")
    list_filter = ("day",)
    search_fields = ("organization__slug", "membership__user__email")
