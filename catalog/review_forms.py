"""Forms of the submission and review pages: they only check input; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog import selectors


class LicenceForm(forms.Form):
    licence = forms.ModelChoiceField(
        label=_("Licence"), queryset=selectors.licences_for(None), empty_label=_("Choose a licence"),
        help_text=_("Public data (공공데이터법) must carry a licence that allows commercial use, "
                    "such as 공공누리 제1유형 or 제3유형."),
    )

    def __init__(self, *args, organization=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["licence"].queryset = selectors.licences_for(organization)


class SubmitForm(forms.Form):
    pii_justification = forms.CharField(
        label=_("Why may the personal data be published?"), required=False, max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4, "class": "krds-input pg-textarea"}),
        help_text=_("For example: the data was pseudonymised (가명처리), or the numbers are public office numbers. "
                    "A platform admin reads this."),
    )


class ReasonForm(forms.Form):
    """A decision whose reason is required (reject, withdraw, suspend, reinstate)."""

    reason = forms.CharField(
        label=_("Reason"), max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "krds-input pg-textarea"}),
    )


class NoteForm(forms.Form):
    """A decision with an optional note (approve)."""

    reason = forms.CharField(
        label=_("Note (optional)"), required=False, max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "krds-input pg-textarea"}),
    )


class NewVersionForm(forms.Form):
    change_note = forms.CharField(
        label=_("What will change in the new version"), max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "krds-input pg-textarea"}),
        help_text=_("Buyers and the reviewer read this, e.g. “Data for 2025 added”."),
    )
