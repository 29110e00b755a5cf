"""Staff see every organization's endpoints and deliveries (read-only: owners manage them on their page).
The signing secrets are never shown."""

from django.contrib import admin

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnly):
    list_display = ("url", "organization", "enabled", "failing_since", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "public_id", "organization__slug")
    exclude = ("secret", "previous_secret")
    list_select_related = ("organization",)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("attempted_at", "status_code", "latency_ms", "error", "response_excerpt", "succeeded")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnly):
    list_display = ("event", "endpoint", "status", "attempt_count", "last_status_code", "next_attempt_at")
    list_filter = ("status",)
    search_fields = ("event__public_id", "endpoint__url")
    list_select_related = ("event", "endpoint")
    inlines = [AttemptInline]
