"""Django admin for organizations, memberships, the audit trail (read-only) and machine API keys.

A machine key is created here like anywhere else, through `api_key_create`: the raw key is shown once, in the
confirmation message after saving, and only its digest is stored. Keys are revoked with the "Revoke" action.
"""

from django.contrib import admin, messages
from django.utils import timezone

from .models import ApiKey, AuditEntry, Invitation, Membership, Organization
from .services import api_key_create, api_key_revoke


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that record what happened: viewable, never added, changed or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user", "role", "joined_at")
    readonly_fields = ("joined_at",)
    raw_id_fields = ("user",)
    show_change_link = True
    can_delete = False  # members are removed (removed_at), never deleted: the ledger points at them


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "plan_kind", "billing_timezone", "currency", "hipaa_ready", "created_at")
    list_filter = ("plan_kind", "billing_timezone", "hipaa_ready")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("currency", "created_at")
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "joined_at", "removed_at")
    list_filter = ("role", ("removed_at", admin.EmptyFieldListFilter), "organization__plan_kind", "organization")
    search_fields = ("user__email", "user__name", "organization__name", "organization__slug")
    list_select_related = ("user", "organization")
    raw_id_fields = ("user", "organization")
    readonly_fields = ("joined_at", "removed_at")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "organization", "actor_label", "action", "target", "old_value", "new_value")
    list_filter = ("action", "organization")
    search_fields = ("actor_label", "action", "target", "organization__name", "organization__slug")
    list_select_related = ("organization",)
    date_hierarchy = "created_at"


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    """Invitations are sent from the Members page; here support can see who was invited, by whom, and whether
    the link was used, replaced or expired. The token itself is never stored."""

    list_display = ("email", "organization", "role", "seat_tier_code", "invited_by", "created_at", "expires_at",
                    "accepted_at", "revoked_at")
    list_filter = ("role", "organization")
    search_fields = ("email", "organization__name", "organization__slug")
    list_select_related = ("organization", "invited_by")
    exclude = ("token_digest",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Create: pick an organization and a name; the key is generated and shown once. Only revoking changes a
    key afterwards."""

    list_display = ("name", "organization", "prefix", "public_id", "created_at", "last_used_at", "revoked_at")
    list_filter = ("organization", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix", "public_id", "organization__name", "organization__slug")
    list_select_related = ("organization",)
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("organization", "name")
        return ("organization", "name", "prefix", "public_id", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("organization", "name", "prefix", "public_id", "created_at", "last_used_at", "revoked_at")

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: the row stays as the record of which key did what.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, raw = api_key_create(
            organization=form.cleaned_data["organization"], name=form.cleaned_data["name"], actor=request.user
        )
        obj.pk = key.pk
        obj.public_id, obj.prefix, obj.digest, obj.created_at = key.public_id, key.prefix, key.digest, key.created_at
        messages.warning(
            request,
            f"The new key for {key.organization.name} is {raw} — copy it now: it is stored only as a hash and "
            "will not be shown again.",
        )

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        now = timezone.now()
        count = 0
        for key in queryset.select_related("organization"):
            if key.revoked_at is None:
                api_key_revoke(key=key, actor=request.user, now=now)
                count += 1
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)
