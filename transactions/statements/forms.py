"""Forms of the statement pages: the admin's payout (transfer reference) and closing a month."""

from datetime import date

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from transactions.statements import selectors

# The first year a statement can be about: the exchange has no bookings before it.
FIRST_YEAR = 2000


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
        """A real month from FIRST_YEAR to the current one (Korean time): the service then says whether it has
        ended. Years like 0000 or 9999 are refused here, not left to fail as dates."""
        year, month = (int(part) for part in self.cleaned_data["month"].split("-"))
        if year < FIRST_YEAR:
            raise forms.ValidationError(_("Choose a month from 2000 on."), code="month_too_early")
        chosen = date(year, month, 1)
        if chosen > selectors.month_of(timezone.now()):
            raise forms.ValidationError(_("A month in the future cannot be closed."), code="month_in_future")
        return chosen
