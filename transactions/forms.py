"""Forms of the buyer's pages: they check input only; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from transactions.models import Order

BILLING_FIELDS = ("billing_name", "billing_brn", "billing_email", "billing_phone", "billing_address")


class AnyValueMultipleChoiceField(forms.MultipleChoiceField):
    """A list of values checked by the service, not against fixed choices (the licence digests shown)."""

    def valid_value(self, value):
        return True


class CheckoutForm(forms.Form):
    """Billing details (prefilled from the organization), the payment method and one licence acceptance
    per cart line (`accept` = "<offer id>:<licence SHA-256>" of the text shown)."""

    checkout_token = forms.UUIDField(widget=forms.HiddenInput)
    expected_total_krw = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    method = forms.ChoiceField(
        label=_("Payment method"),
        required=False,
        widget=forms.RadioSelect,
        choices=[
            (Order.Method.CARD, _("Card (online payment)")),
            (Order.Method.BANK_TRANSFER, _("Bank transfer (무통장입금)")),
        ],
    )
    billing_name = forms.CharField(
        label=_("Invoice made out to"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "organization"})
    )
    billing_brn = forms.CharField(
        label=_("Business registration number"),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("For the tax invoice (세금계산서). 10 digits; hyphens are optional."),
    )
    billing_email = forms.EmailField(
        label=_("E-mail for the invoice"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    billing_phone = forms.CharField(
        label=_("Phone"), max_length=30, required=False, widget=forms.TextInput(attrs={"autocomplete": "tel"})
    )
    billing_address = forms.CharField(
        label=_("Address"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    accept = AnyValueMultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    # "<voucher id>:<voucher part shown>" (the service refuses the order if that part changed), or "" for none.
    voucher = AnyValueMultipleChoiceField(required=False)

    def __init__(self, *args, total_krw: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.total_krw = total_krw
        if total_krw == 0:
            # A free order is not paid or invoiced: no payment method and no billing details.
            for name in ("method", *BILLING_FIELDS):
                del self.fields[name]

    def clean_billing_brn(self):
        digits = "".join(c for c in self.cleaned_data.get("billing_brn", "") if c.isdigit())
        if not digits:
            return ""
        if len(digits) != 10:
            raise forms.ValidationError(_("A business registration number has 10 digits."))
        return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"

    def clean(self):
        cleaned = super().clean()
        if self.total_krw > 0 and "method" in self.fields and not cleaned.get("method"):
            self.add_error("method", _("Choose how to pay: by card or by bank transfer."))
        return cleaned

    def accepted(self) -> dict[int, str]:
        """{offer id: licence SHA-256} from the ticked boxes; malformed values are dropped (the service
        then asks for the missing acceptance)."""
        result = {}
        for value in self.cleaned_data.get("accept") or []:
            offer_id, _sep, digest = value.partition(":")
            if offer_id.isdigit() and len(digest) == 64:
                result[int(offer_id)] = digest
        return result

    def voucher_choice(self) -> tuple[int | None, int | None]:
        """(voucher id, voucher part shown) of the chosen voucher, or (None, None)."""
        for value in self.cleaned_data.get("voucher") or []:
            voucher_id, _sep, amount = value.partition(":")
            if voucher_id.isdigit() and amount.isdigit():
                return int(voucher_id), int(amount)
        return None, None

    def billing(self) -> dict:
        return {name: self.cleaned_data.get(name, "") for name in BILLING_FIELDS}


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you cancelling? (optional)"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
