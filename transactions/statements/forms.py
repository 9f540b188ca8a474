"""Forms of the statement pages: the admin's payout (transfer reference) and closing a month."""

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _


class MarkPaidForm(forms.Form):
    transfer_reference = forms.CharField(
        label=_("Transfer reference"),
        max_length=100,
        help_text=_("As on the bank's transfer record (e.g. the transaction number)."),
    )


class CloseMonthForm(forms.Form):
    month = forms.RegexField(
        label=_("Month"), regex=r"^\d{4}-(0[1-9]|1[0-2])$", max_length=7, help_text=_("YYYY-MM, Korean time.")
    )

    def clean_month(self) -> date:
        year, month = self.cleaned_data["month"].split("-")
        return date(int(year), int(month), 1)
