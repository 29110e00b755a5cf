from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.admin import UserAdmin
from apps.accounts.models import User
from apps.organizations.admin import ReadOnlyAdmin

from .models import OrganizationIdentity, ScimToken, SsoDomain
from .services import two_factor_reset_by_staff

# Second factors are removed only through the audited "Reset two-factor" action below.
for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.action(description=_("Reset two-factor authentication (lost device)"))
def reset_two_factor(modeladmin, request, queryset):
    count = sum(1 for user in queryset if two_factor_reset_by_staff(user=user, actor=request.user))
    modeladmin.message_user(request, _("Two-factor was reset for %(count)d user(s).") % {"count": count},
                            messages.SUCCESS)


admin.site.unregister(User)


@admin.register(User)
class IdentityUserAdmin(UserAdmin):
    actions = [reset_two_factor]


@admin.register(OrganizationIdentity)
class OrganizationIdentityAdmin(admin.ModelAdmin):
    list_display = ("organization", "require_two_factor", "sso_issuer_url", "sso_required")
    readonly_fields = ("organization", "require_two_factor", "sso_issuer_url", "sso_client_id",
                       "sso_default_tier_code", "sso_required")
    exclude = ("sso_client_secret",)

    def has_add_permission(self, request):
        return False


@admin.register(ScimToken)
class ScimTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "prefix", "created_at", "revoked_at", "last_used_at")
    readonly_fields = ("organization", "name", "public_id", "prefix", "digest", "created_at", "revoked_at",
                       "last_used_at")

    def has_add_permission(self, request):
        return False


@admin.register(SsoDomain)
class SsoDomainAdmin(ReadOnlyAdmin):
    """Domain claims, read-only: the primary owner claims, verifies (DNS TXT) and removes them on Security & SSO."""

    list_display = ("domain", "organization", "verified_at", "created_at")
    list_filter = (("verified_at", admin.EmptyFieldListFilter),)
    search_fields = ("domain", "organization__slug")
    readonly_fields = ("organization", "domain", "verification_token", "created_at", "verified_at")

