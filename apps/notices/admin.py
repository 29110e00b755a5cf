"""Django admin: the email outbox, so staff see every notice, its status and last error, and send failed
ones again."""

from django.contrib import admin, messages
from django.utils import timezone

from .models import EmailAttachment, EmailOutbox
from .services import outbox_requeue


class EmailAttachmentInline(admin.TabularInline):
    model = EmailAttachment
    extra = 0
    can_delete = False
    fields = ("filename", "mimetype")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description="Send the selected emails again (failed or queued ones)")
def send_again(modeladmin, request, queryset):
    count = outbox_requeue(email_ids=queryset.values_list("pk", flat=True), now=timezone.now())
    modeladmin.message_user(request, f"{count} email(s) queued again.", messages.SUCCESS)


@admin.register(EmailOutbox)
class EmailOutboxAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "to_email", "subject", "status", "attempts", "short_error", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("to_email", "subject")
    date_hierarchy = "created_at"
    actions = (send_again,)
    inlines = (EmailAttachmentInline,)
    readonly_fields = [f.name for f in EmailOutbox._meta.fields]

    @admin.display(description="Last error")
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("html_body", "text_body")

