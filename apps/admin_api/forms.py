from django import forms
from django.utils.translation import gettext_lazy as _

from .models import AdminScope
from .services import ADMIN_KEY_MAX_NAME


class AdminApiKeyForm(forms.Form):
    name = forms.CharField(max_length=ADMIN_KEY_MAX_NAME, strip=True,
                           help_text=_("To recognise the key by, e.g. “Finance automation”."))
    scopes = forms.MultipleChoiceField(
        choices=AdminScope.choices, widget=forms.CheckboxSelectMultiple,
        initial=[AdminScope.READ_SPEND_LIMITS], error_messages={"required": _("Choose at least one scope.")},
    )
