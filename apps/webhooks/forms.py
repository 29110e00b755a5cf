from django import forms
from django.utils.translation import gettext_lazy as _

from .models import EventType


class EndpointForm(forms.Form):
    url = forms.CharField(label=_("Endpoint URL"), max_length=500, strip=True,
                          help_text=_("An HTTPS URL on your side, such as https://example.com/webhooks."))
    description = forms.CharField(label=_("Description"), max_length=200, required=False, strip=True)
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )


class EndpointEditForm(EndpointForm):
    enabled = forms.BooleanField(label=_("Enabled"), required=False)
