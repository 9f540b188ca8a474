from django import forms
from django.utils.translation import gettext_lazy as _


class BankTransferConfirmForm(forms.Form):
    """What the admin read on the bank statement."""

    depositor_name = forms.CharField(
        label=_("Depositor name"),
        max_length=100,
        help_text=_("As it appears on the bank statement."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    amount_krw = forms.IntegerField(
        label=_("Amount received (won)"),
        min_value=1,
        help_text=_("The amount on the bank statement. It must equal the order's total."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
