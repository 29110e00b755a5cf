from django import forms

from .models import AdminScope
from .services import ADMIN_KEY_MAX_NAME


class AdminApiKeyForm(forms.Form):
    name = forms.CharField(max_length=ADMIN_KEY_MAX_NAME, strip=True,
                           help_text="To recognise the key by, e.g. \u201cFinance automation\u201d.")
    scopes = forms.MultipleChoiceField(
        choices=AdminScope.choices, widget=forms.CheckboxSelectMultiple,
        initial=[AdminScope.READ_SPEND_LIMITS], error_messages={"required": "Choose at least one scope."},
    )
