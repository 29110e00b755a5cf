from django import forms
from django.utils.translation import gettext_lazy as _


class ThresholdsForm(forms.Form):
    thresholds = forms.CharField(
        max_length=40,
        # xgettext:no-python-format
        label=_("Notify at (% of each limit)"),
        help_text=_("Comma-separated whole percentages from 1 to 100, for example “50, 80, 100”."),
    )

    def clean_thresholds(self) -> list[int]:
        raw = [part.strip().rstrip("%").strip() for part in self.cleaned_data["thresholds"].split(",")]
        raw = [part for part in raw if part]
        try:
            values = [int(part) for part in raw]
        except ValueError:
            raise forms.ValidationError(_("Use whole numbers separated by commas, for example “80, 100”."))
        return values
