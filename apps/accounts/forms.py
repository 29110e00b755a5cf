from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user, match_token


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True,
                                                                               "autocomplete": "email"}))


class LocalizedPasswordResetForm(PasswordResetForm):
    """Django's reset form (one answer for known and unknown addresses; a single-use token), writing the email
    in the recipient's language when the account has one (`User.language`), else the site's default."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        language = getattr(context.get("user"), "language", "") or settings.LANGUAGE_CODE
        with translation.override(language):
            super().send_mail(subject_template_name, email_template_name, context, from_email, to_email,
                              html_email_template_name)


class OtpTokenForm(forms.Form):
    """A code from the authenticator app, or one of the recovery codes (each works once)."""

    otp_token = forms.CharField(
        label=_("Authentication code"), max_length=16,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "text"}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.device = None

    def clean_otp_token(self):
        token = "".join(self.cleaned_data["otp_token"].split()).lower().replace("-", "")
        devices = list(devices_for_user(self.user))
        if devices and all(not device.verify_is_allowed()[0] for device in devices):
            # django-otp's throttle doubles the wait after each wrong code; any code is refused until it ends.
            raise forms.ValidationError(_("Too many wrong codes. Wait a few seconds, then try again."))
        # django-otp checks every confirmed device: the TOTP device (with its drift window, replay guard and
        # failure throttle) and the static device holding the recovery codes (a used code is deleted).
        self.device = match_token(self.user, token)
        if self.device is None:
            raise forms.ValidationError(_("That code is not valid. Try the current code from your app, or a "
                                          "recovery code."))
        return token


class TotpConfirmForm(forms.Form):
    otp_token = forms.CharField(
        label=_("Code from your authenticator app"), max_length=8,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, device, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_otp_token(self):
        token = "".join(self.cleaned_data["otp_token"].split())
        if not self.device.verify_token(token):
            raise forms.ValidationError(_("That code did not match. Check the time on your phone and try the "
                                          "current code."))
        return token
