"""Django admin for Admin API keys. A key is created through `admin_api_key_create`: the raw key is shown once,
in the confirmation message after saving, and only its digest is stored. Keys are revoked with the "Revoke"
action (audited); they are never edited or deleted by hand."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.organizations.models import Organization

from .models import AdminApiKey, AdminScope
from .services import admin_api_key_create, admin_api_key_revoke


class AdminApiKeyAddForm(forms.ModelForm):
    organization = forms.ModelChoiceField(queryset=Organization.objects.all())
    scopes = forms.MultipleChoiceField(choices=AdminScope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = AdminApiKey
        fields = ("organization", "name", "scopes")

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization")
        if organization is not None and not organization.is_enterprise:
            raise ValidationError("The Admin API is offered on Enterprise plans only.")
        return cleaned


@admin.register(AdminApiKey)
class AdminApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("organization",)
    search_fields = ("name", "public_id", "prefix", "organization__name", "organization__slug")
    readonly_fields = ("organization", "name", "public_id", "prefix", "scopes", "created_by", "created_at",
                       "last_used_at", "revoked_at")
    exclude = ("digest",)
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = AdminApiKeyAddForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        return ("organization", "name", "scopes") if obj is None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, raw = admin_api_key_create(
            organization=form.cleaned_data["organization"], name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"], actor=request.user, now=timezone.now(),
        )
        obj.pk, obj.public_id = key.pk, key.public_id
        messages.warning(request, f"Copy the new Admin API key now, it will not be shown again: {raw}")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        now = timezone.now()
        count = 0
        for key in queryset.select_related("organization"):
            if key.revoked_at is None:
                admin_api_key_revoke(key=key, actor=request.user, now=now)
                count += 1
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)
