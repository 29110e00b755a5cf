"""Django admin for the price table (editable by staff), spend caps and the ledger (read-only).

Prices are data: to change a price, add a row with a later effective date, so past events keep the rates they
were priced at (each event also stores its rates). Saving a price refreshes this process's price cache at
once; other processes pick it up within 30 seconds.

Spend caps are shown read-only: they change through the console or the Admin API (usage.services.cap_set),
which audits every change. Events, counters, slots and rollups are the ledger: never edited by hand.
"""

from django.contrib import admin

from apps.organizations.admin import ReadOnlyAdmin

from .models import AIModel, MemberPeriodUsage, ModelPrice, OrgUsageSlot, SpendCap, UsageDailyRollup, UsageEvent
from .pricing import price_table


class ModelPriceInline(admin.TabularInline):
    model = ModelPrice
    extra = 0
    fields = ("effective_from", "input", "output", "cache_write", "cache_read", "long_input", "long_output",
              "long_cache_write", "long_cache_read")
    show_change_link = True


class LongContextFilter(admin.SimpleListFilter):
    title = "long-context rates"
    parameter_name = "long_context"

    def lookups(self, request, model_admin):
        return (("yes", "Has long-context rates"), ("no", "Standard rates only"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(prices__long_input__isnull=False).distinct()
        if self.value() == "no":
            return queryset.exclude(prices__long_input__isnull=False)
        return queryset


@admin.register(AIModel)
class AIModelAdmin(admin.ModelAdmin):
    list_display = ("display_name", "api_id", "alias")
    search_fields = ("display_name", "api_id", "alias")
    list_filter = (LongContextFilter,)
    inlines = [ModelPriceInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        price_table.invalidate()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        price_table.invalidate()


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("model", "effective_from", "input", "output", "cache_write", "cache_read", "long_input",
                    "long_output", "long_cache_write", "long_cache_read")
    list_filter = ("model", "effective_from")
    search_fields = ("model__api_id", "model__alias", "model__display_name")
    list_select_related = ("model",)
    date_hierarchy = "effective_from"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        price_table.invalidate()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        price_table.invalidate()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        price_table.invalidate()


@admin.register(SpendCap)
class SpendCapAdmin(ReadOnlyAdmin):
    list_display = ("organization", "scope", "tier", "membership", "amount", "updated_at")
    list_filter = ("scope", "organization")
    search_fields = ("organization__name", "organization__slug", "membership__user__email", "public_id")
    list_select_related = ("organization", "tier", "membership__user", "membership__organization")


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "organization", "membership", "product", "model", "input_tokens",
                    "output_tokens", "cache_write_tokens", "cache_read_tokens", "cost", "included_cost", "funding",
                    "long_context", "idempotency_key")
    list_filter = ("funding", "product", "long_context", "model", "organization")
    search_fields = ("idempotency_key", "membership__user__email", "organization__name", "organization__slug")
    list_select_related = ("organization", "membership__user", "membership__organization", "model")
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(MemberPeriodUsage)
class MemberPeriodUsageAdmin(ReadOnlyAdmin):
    list_display = ("period_start", "organization", "membership", "spend", "included_spend", "event_count",
                    "extra_usage_started_at")
    list_filter = ("period_start", "organization")
    search_fields = ("membership__user__email", "organization__name", "organization__slug")
    list_select_related = ("organization", "membership__user", "membership__organization")


@admin.register(OrgUsageSlot)
class OrgUsageSlotAdmin(ReadOnlyAdmin):
    list_display = ("period_start", "organization", "slot", "spend", "included_spend", "event_count")
    list_filter = ("period_start", "organization")
    search_fields = ("organization__name", "organization__slug")
    list_select_related = ("organization",)


@admin.register(UsageDailyRollup)
class UsageDailyRollupAdmin(ReadOnlyAdmin):
    list_display = ("day", "organization", "membership", "model", "product", "cost", "included_cost",
                    "input_tokens", "output_tokens", "event_count")
    list_filter = ("product", "model", "period_start", "organization")
    search_fields = ("membership__user__email", "organization__name", "organization__slug")
    list_select_related = ("organization", "membership__user", "membership__organization", "model")
    date_hierarchy = "day"
