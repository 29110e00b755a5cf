"""Django admin for seat tiers (staff may adjust a customer's fees and allowances), seat history and charges.

Seat intervals and prorated charges are records invoices depend on: read-only here. Seats change through
the console (seats.services.seat_assign), which keeps the history gapless and audited.
"""

from django.contrib import admin

from apps.organizations.admin import ReadOnlyAdmin

from .models import SeatAssignment, SeatCharge, SeatTier


@admin.register(SeatTier)
class SeatTierAdmin(admin.ModelAdmin):
    list_display = ("organization", "code", "monthly_fee", "included_usage", "products", "position")
    list_filter = ("code", "organization__plan_kind", "organization")
    search_fields = ("organization__name", "organization__slug", "code")
    list_select_related = ("organization",)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SeatAssignment)
class SeatAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("membership", "organization", "tier", "started_at", "ended_at")
    list_filter = ("tier__code", "organization", ("ended_at", admin.EmptyFieldListFilter))
    search_fields = ("membership__user__email", "organization__name", "organization__slug")
    list_select_related = ("membership__user", "membership__organization", "organization", "tier")


@admin.register(SeatCharge)
class SeatChargeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "organization", "membership", "from_tier", "to_tier", "amount",
                    "remaining_days", "period_days", "period_start")
    list_filter = ("organization", "period_start")
    search_fields = ("membership__user__email", "organization__name", "organization__slug")
    list_select_related = ("membership__user", "membership__organization", "organization", "from_tier", "to_tier")
