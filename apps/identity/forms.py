from django import forms
from django.utils.translation import gettext_lazy as _


class TwoFactorRequirementForm(forms.Form):
    require_two_factor = forms.BooleanField(label=_("Require two-factor authentication for every member"),
                                            required=False)


class SsoSettingsForm(forms.Form):
    sso_issuer_url = forms.URLField(label=_("Issuer URL"), required=False, max_length=300,
                                    assume_scheme="https")
    sso_client_id = forms.CharField(label=_("Client ID"), required=False, max_length=200)
    sso_client_secret = forms.CharField(label=_("Client secret"), required=False, max_length=300,
                                        widget=forms.PasswordInput(render_value=False),
                                        help_text=_("Leave empty to keep the current secret."))
    sso_email_domains = forms.CharField(label=_("Verified email domains"), required=False, max_length=2000,
                                        help_text=_("Comma-separated, e.g. acme.com, acme.co.uk"))
    sso_default_tier_code = forms.ChoiceField(label=_("Seat tier for people who arrive through SSO"),
                                              required=False)
    sso_required = forms.BooleanField(label=_("Require SSO (the primary owner can still use a password)"),
                                      required=False)

    def __init__(self, *args, tiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sso_default_tier_code"].choices = [(t.code, t.get_code_display()) for t in tiers]

    def domains(self) -> list[str]:
        return [d for d in self.cleaned_data["sso_email_domains"].replace("\n", ",").split(",") if d.strip()]


class SsoStartForm(forms.Form):
    email = forms.EmailField()


class ScimTokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100, initial="Identity provider")
