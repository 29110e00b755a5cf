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
    sso_default_tier_code = forms.ChoiceField(label=_("Seat tier for people who arrive through SSO"),
                                              required=False)
    sso_required = forms.BooleanField(label=_("Require SSO for this organization's people at its verified domains "
                                              "(the primary owner always signs in with a password)"),
                                      required=False)

    def __init__(self, *args, tiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sso_default_tier_code"].choices = [(t.code, t.get_code_display()) for t in tiers]


class SsoStartForm(forms.Form):
    email = forms.EmailField()


class ScimTokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100, initial="Identity provider")


class DomainClaimForm(forms.Form):
    domain = forms.CharField(label=_("Domain"), max_length=253, help_text=_("e.g. acme.com"))
