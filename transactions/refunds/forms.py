"""Forms of the refund pages. They check the shape of the input; the services decide (and re-check everything)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from transactions.models import RefundRequest


class _AccountFields(forms.Form):
    bank = forms.CharField(label=_("Bank"), max_length=40, required=False)
    account_number = forms.CharField(label=_("Account number"), max_length=40, required=False)
    holder = forms.CharField(label=_("Account holder"), max_length=100, required=False)

    def account(self) -> dict:
        data = self.cleaned_data
        return {
            "bank": data.get("bank", ""),
            "number": data.get("account_number", ""),
            "holder": data.get("holder", ""),
        }


class RefundRequestForm(_AccountFields):
    items = forms.TypedMultipleChoiceField(
        label=_("Lines to refund"), coerce=int, widget=forms.CheckboxSelectMultiple, choices=()
    )
    kind = forms.ChoiceField(label=_("Why"), choices=RefundRequest.Kind.choices, widget=forms.RadioSelect)
    reason = forms.CharField(
        label=_("What is wrong, or why you no longer need it"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, panel=None, **kwargs):
        super().__init__(*args, **kwargs)
        lines = panel.lines if panel is not None else []
        self.fields["items"].choices = [(line.item.pk, line.item.title) for line in lines if line.requestable]


class RefundCreateForm(_AccountFields):
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, panel=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.line_fields = []
        for item, left, voucher in panel.lines if panel is not None else []:
            name = f"line_{item.pk}"
            self.fields[name] = forms.IntegerField(
                label=item.title, min_value=0, max_value=left, initial=left, required=False
            )
            self.line_fields.append((self[name], item, left, voucher))

    def lines(self) -> dict[int, int]:
        return {int(name[5:]): value for name, value in self.cleaned_data.items() if name.startswith("line_") and value}


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class BankConfirmForm(forms.Form):
    bank = forms.CharField(label=_("Bank"), max_length=40)
    account_number = forms.CharField(label=_("Account number"), max_length=40)
    holder = forms.CharField(label=_("Account holder"), max_length=100)
    reference = forms.CharField(label=_("Transfer reference"), max_length=100, required=False)
