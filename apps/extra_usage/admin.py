from django.contrib import admin

from .models import (
    DigestDelivery,
    ExtraUsageRequest,
    ExtraUsageSettings,
    MemberExtraUsage,
    PrepaidCharge,
    PrepaidLedgerEntry,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money movements and claims are written by services only: staff read them here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("organization", "membership", "day", "pending_count", "created_at")
    list_filter = ("day",)
    search_fields = ("organization__slug", "membership__user__email")
