from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts import brn as brn_rules
from accounts import selectors, services
from accounts.models import ApiToken, Membership, Organization, PolicyVersion
from core.http import client_ip
from core.text import lazy_percent


def _policy_link(policy) -> str:
    return format_html(
        '<a href="{}" class="pg-link" target="_blank" rel="noopener">{}</a>',
        reverse("policy_version", args=[policy.kind, policy.version]),
        _("Read %(document)s, version %(version)s (in force from %(date)s; opens in a new window)")
        % {
            "document": policy.get_kind_display(),
            "version": policy.version,
            "date": date_format(policy.effective_on, "DATE_FORMAT"),
        },
    )


class SignupExtraForm(forms.Form):
    """Extra fields on allauth's sign-up form: the name, and agreement to the terms of use and the privacy
    policy in force (each a required box linking to the version shown; the versions are sent along, so a
    version that came into force while the form was open is shown before anyone agrees to it)."""

    field_order = ["email", "name", "password1", "password2", "agree_terms", "agree_privacy"]

    name = forms.CharField(
        label=_("Name"), max_length=100, required=True, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    agree_terms = forms.BooleanField(label=_("I agree to the terms of use."), required=True)
    agree_privacy = forms.BooleanField(
        label=_("I agree to the collection and use of my personal data as the privacy policy describes."),
        required=True,
    )
    policy_versions = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.policies = selectors.policies_in_force()
        self.fields["policy_versions"].initial = self._shown()
        for kind, field in (("terms", "agree_terms"), ("privacy", "agree_privacy")):
            if kind in self.policies:
                self.fields[field].help_text = _policy_link(self.policies[kind])

    def _shown(self) -> str:
        return ",".join(str(self.policies[kind].pk) for kind in sorted(self.policies))

    def clean(self):
        data = super().clean()
        shown = self.data.get(self.add_prefix("policy_versions"), "")
        if shown and shown != self._shown():
            self.data = self.data.copy()  # the form comes back with the versions in force now
            self.data[self.add_prefix("policy_versions")] = self._shown()
            raise ValidationError(
                _(
                    "The terms of use or the privacy policy changed while you were signing up. Read the new version and agree again."
                ),
                code="policy_changed",
            )
        return data

    def signup(self, request, user):
        user.name = self.cleaned_data["name"]
        user.save(update_fields=["name"])
        services.policies_agree(actor=user, policies=list(self.policies.values()), ip=client_ip(request))


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


class PolicyVersionForm(forms.Form):
    """A new version of the terms of use or the privacy policy (texts in Markdown, Korean and English)."""

    kind = forms.ChoiceField(label=_("Document"), choices=PolicyVersion.Kind.choices)
    version = forms.CharField(label=_("Version"), max_length=20, help_text=_("For example 1.1 or 2.0."))
    effective_on = forms.DateField(
        label=_("In force from"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Announce changes at least 7 days ahead (30 days when they are unfavourable to members)."),
    )
    changes_ko = forms.CharField(label=_("What changed (Korean)"), widget=forms.Textarea(attrs={"rows": 3}))
    changes_en = forms.CharField(label=_("What changed (English)"), widget=forms.Textarea(attrs={"rows": 3}))
    body_ko = forms.CharField(label=_("Text (Korean, Markdown)"), widget=forms.Textarea(attrs={"rows": 16}))
    body_en = forms.CharField(label=_("Text (English, Markdown)"), widget=forms.Textarea(attrs={"rows": 16}))


# One line on what each scope lets a key do (the keys page shows it under each box).
SCOPE_HELP = {
    "read": _("Read only: the catalog, and what your organization bought or publishes."),
    "publish": _("Make your organization's datasets, upload files and submit them for review."),
    "buy": _("Use the cart, order and pay, and download what your organization bought."),
    "admin": _("Platform administration: reviews, organization checks and payments (platform admins only)."),
    "data": _("Call the data API (tables, SQL) within your organization's API plans and quotas."),
}
NO_ORGANIZATION = ""  # the choice for a platform admin's key that acts for no organization


class ApiKeyForm(forms.Form):
    """A new API key: its name, the organization it acts for (one of the user's), its scopes and its lifetime.
    Only the scopes the user may give for the chosen organization are enabled (selectors.api_scopes_allowed);
    accounts.services.api_token_create decides."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the key is for, such as the program that will use it."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    organization = forms.ChoiceField(
        label=_("Acts for"),
        help_text=_("The key can do only what you may do for this organization, and only while you belong to it."),
    )
    scopes = forms.MultipleChoiceField(label=_("Scopes"), choices=ApiToken.Scope.choices)
    expires_in_days = forms.IntegerField(
        label=_("Expires after (days)"),
        min_value=1,
        max_value=settings.API_TOKEN_MAX_DAYS,
        initial=settings.API_TOKEN_DEFAULT_DAYS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.organizations = {str(m.organization.pk): m.organization for m in selectors.memberships_for_user(user)}
        choices = [(pk, org.display_name) for pk, org in self.organizations.items()]
        if user.is_staff:
            choices.append((NO_ORGANIZATION, _("No organization (platform administration)")))
        self.fields["organization"].choices = choices
        active = getattr(user, "active_organization_id", None)
        if str(active) in self.organizations:
            self.fields["organization"].initial = str(active)
        elif choices:
            self.fields["organization"].initial = choices[0][0]
        # Which scopes may be given for each choice (the page enables the boxes of the chosen one).
        self.allowed = {pk: selectors.api_scopes_allowed(user, self.organizations.get(pk)) for pk, _label in choices}
        self.fields["expires_in_days"].help_text = lazy_percent(
            _("From 1 to %(max)s days. A key that expires is refused; make a new one then."),
            {"max": settings.API_TOKEN_MAX_DAYS},
        )

    @property
    def can_make_keys(self) -> bool:
        return bool(self.fields["organization"].choices)

    def chosen_organization_value(self) -> str:
        value = self["organization"].value()
        return str(value if value is not None else "")

    def scope_rows(self) -> list[dict]:
        """Each scope's box: label, one-line help, checked, enabled for the chosen organization, and the choices
        it is allowed for (data for static/js/api-keys.js)."""
        chosen = self.chosen_organization_value()
        checked = set(self["scopes"].value() or ([] if self.is_bound else ["read"]))
        rows = []
        for value, label in ApiToken.Scope.choices:
            allowed_for = [pk for pk, scopes in self.allowed.items() if value in scopes]
            rows.append(
                {
                    "value": value,
                    "label": label,
                    "help": SCOPE_HELP[value],
                    "checked": value in checked,
                    "enabled": chosen in allowed_for,
                    "allowed_for": " ".join(pk or "none" for pk in allowed_for),
                    "id": f"id_scopes_{value}",
                }
            )
        return rows

    def clean_organization(self):
        value = self.cleaned_data["organization"]
        return self.organizations.get(value) if value != NO_ORGANIZATION else None
