"""Forms of the voucher pages: they check input only; transactions.vouchers.services decides."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class VoucherRegisterForm(forms.Form):
    agreement_number = forms.CharField(
        label=_("Agreement number (협약번호)"),
        max_length=60,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("As on the voucher agreement with the agency (한국데이터산업진흥원)."),
    )
    granted_krw = forms.IntegerField(
        label=_("Amount granted (won)"),
        min_value=1,
        max_value=10**11,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    starts_on = forms.DateField(label=_("Valid from"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=_("Valid until"), widget=forms.DateInput(attrs={"type": "date"}))
    copay_percent = forms.IntegerField(
        label=_("Own share (자부담, %)"),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = settings.VOUCHER_COPAY_PERCENT_MIN, settings.VOUCHER_COPAY_PERCENT_MAX
        field = self.fields["copay_percent"]
        field.widget.attrs |= {"min": low, "max": high}  # the bounds are checked by the service
        field.initial = settings.VOUCHER_COPAY_PERCENT_DEFAULT
        field.help_text = _(
            "The part of each eligible purchase your organization pays itself, as in the agreement (%(low)s–%(high)s %%)."
        ) % {"low": low, "high": high}


class VoucherRejectForm(forms.Form):
    reason = forms.CharField(label=_("Why is it rejected?"), max_length=300)


class VoucherRepayForm(forms.Form):
    reference = forms.CharField(
        label=_("Transfer reference"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )


class VoucherSettleForm(forms.Form):
    paid_on = forms.DateField(label=_("Paid on"), widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(
        label=_("Transfer reference"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    amount_krw = forms.IntegerField(
        label=_("Amount received (won)"), min_value=1, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    orders = forms.MultipleChoiceField(label=_("Orders paid for"), required=True, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, order_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["orders"].choices = list(order_choices)
