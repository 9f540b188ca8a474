from django import forms
from django.utils.translation import gettext_lazy as _


class CashReceiptForm(forms.Form):
    receipt_type = forms.ChoiceField(
        label=_("Kind of cash receipt"),
        choices=[
            ("income_deduction", _("Income deduction (소득공제): phone number")),
            ("expense_proof", _("Proof of expense (지출증빙): business number")),
        ],
        initial="income_deduction",
    )
    registration_number = forms.CharField(
        label=_("Phone number or cash-receipt card number"), max_length=30, help_text=_("Digits; hyphens are ignored.")
    )
