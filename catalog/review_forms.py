"""Forms of the submission and review pages: they only check input; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog import selectors, services
from catalog.models import DatasetVersion, Offer


class LicenceForm(forms.Form):
    licence = forms.ModelChoiceField(
        label=_("Licence"),
        queryset=selectors.licences_for(None),
        empty_label=_("Choose a licence"),
        help_text=_(
            "Public data (공공데이터법) must carry a licence that allows commercial use, "
            "such as 공공누리 제1유형 or 제3유형."
        ),
    )

    def __init__(self, *args, organization=None, data_kind=None, **kwargs):
        super().__init__(*args, **kwargs)
        licences = selectors.licences_for(organization)
        if data_kind:
            # Offer only what submission would accept, by the one rule submission applies.
            fitting = [lic.pk for lic in licences if services.licence_kind_problem(data_kind, lic) is None]
            licences = licences.filter(pk__in=fitting)
        self.fields["licence"].queryset = licences


class SubmitForm(forms.Form):
    pii_justification = forms.CharField(
        label=_("Why may the personal data be published?"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4, "class": "krds-input pg-textarea"}),
        help_text=_(
            "For example: the data was pseudonymised (가명처리), or the numbers are public office numbers. "
            "A platform admin reads this."
        ),
    )


class ReasonForm(forms.Form):
    """A decision whose reason is required (reject, withdraw, suspend, reinstate)."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "krds-input pg-textarea"}),
    )


class NoteForm(forms.Form):
    """A decision with an optional note (approve)."""

    reason = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "krds-input pg-textarea"}),
    )


class NewVersionForm(forms.Form):
    change_note = forms.CharField(
        label=_("What will change in the new version"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "krds-input pg-textarea"}),
        help_text=_("Buyers and the reviewer read this, e.g. “Data for 2025 added”."),
    )


class OfferForm(forms.Form):
    """An offer of the dataset. Checks only the input; catalog.services.offer_create applies the law."""

    kind = forms.ChoiceField(label=_("How is it offered?"), choices=Offer.Kind.choices)
    price_krw = forms.IntegerField(
        label=_("Price (won, excluding VAT)"),
        required=False,
        min_value=0,
        max_value=10**12,
        help_text=_("VAT (10 %) is added for taxable providers; 면세 organizations charge none."),
    )
    subscription_days = forms.TypedChoiceField(
        label=_("Subscription period"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—"), (30, _("30 days")), (90, _("90 days")), (365, _("365 days"))],
    )
    version = forms.ModelChoiceField(
        label=_("Version sold (one-off purchase)"),
        required=False,
        queryset=DatasetVersion.objects.none(),
        empty_label=_("The latest version at the time of purchase"),
        help_text=_("A one-off purchase may be for one published version; by default the buyer gets the latest one."),
    )
    cost_basis = forms.CharField(
        label=_("Basis of the fee (비용부과기준 및 단위)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "krds-input pg-textarea"}),
        help_text=_("Public data only: which costs the fee recovers, e.g. preparing and delivering the files."),
    )
    contract_type = forms.ChoiceField(
        label=_("Standard contract (데이터 표준계약서)"),
        required=False,
        choices=[("", "—"), *Offer.Contract.choices],
        help_text=_("Private or processed data only."),
    )
    voucher_eligible = forms.BooleanField(
        label=_("Accept the data voucher (데이터바우처) for this offer"),
        required=False,
        help_text=_(
            "A buyer with a verified data voucher may then pay part of the price with it; the platform collects "
            "that part from the voucher agency. Priced offers only."
        ),
    )
    # API plans (issue 16): each kind's own terms.
    daily_quota = forms.IntegerField(
        label=_("Calls a day (API development plan)"),
        required=False,
        min_value=1,
        max_value=10**9,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=_("The development plan is free: a buyer may call the data API this many times a day."),
    )
    price_per_1000_krw = forms.IntegerField(
        label=_("Price per 1,000 calls (won, excluding VAT; API metered plan)"),
        required=False,
        min_value=1,
        max_value=10**9,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=_("Billed monthly for the calls made; the buyer sets a monthly cap."),
    )
    rate_limit_per_minute = forms.IntegerField(
        label=_("Calls a minute (API subscription)"),
        required=False,
        min_value=1,
        max_value=10**6,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=_(
            "The API subscription is a flat monthly price (the price above, for 30 days) with this rate limit."
        ),
    )
    buyer_brn = forms.CharField(
        label=_("Private offer for (business registration number)"),
        required=False,
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": "000-00-00000"}),
        help_text=_(
            "Leave empty to offer to every buyer. With a number, only that verified buyer organization "
            "sees the offer and can buy it."
        ),
    )
    terms = forms.CharField(
        label=_("Extra terms of the private offer"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "krds-input pg-textarea"}),
        help_text=_("Shown to the buyer at checkout and kept with the order, e.g. the agreed use or delivery."),
    )

    def __init__(self, *args, dataset=None, **kwargs):
        super().__init__(*args, **kwargs)
        if dataset is not None:
            self.fields["version"].queryset = dataset.versions.filter(state__in=["published", "superseded"]).order_by(
                "-number"
            )
            self.fields["version"].label_from_instance = lambda v: (
                _("Version %(n)s (%(state)s)") % {"n": v.number, "state": v.get_state_display()}
            )

    def clean(self):
        """The business registration number names the buyer organization; the service checks it may buy."""
        cleaned = super().clean()
        digits = "".join(c for c in cleaned.pop("buyer_brn", "") or "" if c.isdigit())
        cleaned["buyer"] = None
        if digits:
            buyer = Organization.objects.filter(brn=digits).first() if len(digits) == 10 else None
            if buyer is None:
                self.add_error("buyer_brn", _("No organization on the exchange has this business registration number."))
            cleaned["buyer"] = buyer
        return cleaned
