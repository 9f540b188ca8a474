"""Forms of the API plan pages (issue 16): input only; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

CAP_HELP = _(
    "In won, excluding VAT. Calls beyond what the cap pays for are refused (429) until the next month or until you "
    "raise it; the month's calls are billed on the 1st (calls × price per 1,000 ÷ 1,000, rounded down to the won)."
)


class TakePlanForm(forms.Form):
    """Taking a development or metered plan: the licence accepted as shown (its SHA-256) and, metered, the cap."""

    accept = forms.CharField(widget=forms.HiddenInput, required=False)
    accepted = forms.BooleanField(label=_("I have read the licence and accept it for my organization."), required=True)
    monthly_cap_krw = forms.CharField(
        label=_("Monthly cap (won)"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=CAP_HELP,
    )


class CapForm(forms.Form):
    monthly_cap_krw = forms.CharField(
        label=_("Monthly cap (won)"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=CAP_HELP,
    )
