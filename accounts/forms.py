from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts import brn as brn_rules
from accounts import selectors
from accounts.models import Membership, Organization


class SignupExtraForm(forms.Form):
    """Extra fields on allauth's sign-up form."""

    field_order = ["email", "name", "password1", "password2", "agree_terms"]

    name = forms.CharField(
        label=_("Name"), max_length=100, required=True, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    agree_terms = forms.BooleanField(label=_("I agree to the terms of use and the privacy policy."), required=True)

    def signup(self, request, user):
        user.name = self.cleaned_data["name"]
        user.save(update_fields=["name"])


class OrganizationForm(forms.ModelForm):
    brn = forms.CharField(
        label=_("Business registration number"),
        required=False,
        max_length=14,
        help_text=_("10 digits, e.g. 123-45-67891. A department of a city may leave it empty and choose its city."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": "000-00-00000"}),
    )

    website = forms.URLField(label=_("website"), required=False, assume_scheme="https")

    class Meta:
        model = Organization
        fields = [
            "name_ko",
            "name_en",
            "kind",
            "org_type",
            "parent",
            "brn",
            "vat_status",
            "representative",
            "address",
            "contact_name",
            "contact_phone",
            "contact_email",
            "website",
            "description",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A department belongs to a city or public body; a company is never anyone's parent here.
        self.fields["parent"].queryset = Organization.objects.filter(
            parent__isnull=True,
            verification=Organization.Verification.VERIFIED,
            org_type__in=[Organization.OrgType.PUBLIC_BODY, Organization.OrgType.CITY_DEPARTMENT],
        ).exclude(pk=self.instance.pk or 0)
        self.fields["parent"].required = False
        self.fields["parent"].help_text = _("Only for a department of a verified city or public body.")
        self.fields["name_en"].required = True
        self.fields["contact_email"].required = True
        if self.instance.pk and self.instance.brn:
            self.initial["brn"] = brn_rules.format_brn(self.instance.brn)

    def clean_brn(self):
        raw = self.cleaned_data.get("brn", "").strip()
        if not raw:
            return None  # a department may use its parent's number (checked in clean())
        digits = brn_rules.normalize(raw)
        clash = selectors.brn_holder(digits, exclude_pk=self.instance.pk)
        if clash:
            raise ValidationError(
                _("This business registration number is already registered (%(name)s). Ask its owner to invite you."),
                code="brn_duplicate",
                params={"name": clash.name_ko},
            )
        return digits

    def clean(self):
        data = super().clean()
        if "brn" in self.errors:
            return data
        if not data.get("brn") and not data.get("parent"):
            self.add_error("brn", _("Enter the business registration number."))
        return data

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        return {"brn": data.pop("brn", None) or None, **data}


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for rejection"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The organization's owners read this. Say what to correct."),
    )


class VerifyForm(forms.Form):
    reason = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example, how you checked the registration number."),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices, initial=Membership.Role.BUYER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class ProfileForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
