"""Forms of the harvest staff pages: they check input only; catalog.harvest.services decides.

The mapping rules are two editable tables (formsets): source value → our theme, source value → our licence. A row
left empty on both sides is ignored, a row ticked "remove" is dropped, a half-filled row is an error of that row.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog.harvest.models import HarvestKind, HarvestSchedule, ResourceMode
from catalog.models import DataKind, Licence, Theme

RULE_ROWS_EXTRA = 3  # blank rows under the rules (more with the "add a row" button)


def theme_choices():
    return [(t.code, t.name) for t in Theme.objects.order_by("position", "code")]


def licence_choices():
    """Shared licences first, then each organization's own, named with it (the service checks it is the owner's)."""
    rows = Licence.objects.select_related("organization").order_by("organization_id", "position", "code")
    return [
        (lic.code, f"{lic.name} · {lic.organization.display_name}" if lic.organization_id else lic.name) for lic in rows
    ]


class HarvestSourceForm(forms.Form):
    name = forms.CharField(
        label=_("Name of the source"),
        max_length=200,
        help_text=_("How the admin pages and every harvested listing name it, for example 경기도 공공데이터 포털."),
    )
    kind = forms.ChoiceField(
        label=_("Kind of catalog"),
        choices=HarvestKind.choices,
        widget=forms.RadioSelect,
        initial=HarvestKind.CKAN,
    )
    url = forms.CharField(
        label=_("Address"),
        max_length=500,
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "url"}),
        help_text=_(
            "CKAN: the portal's base address (https://data.example.go.kr). DCAT-AP: the catalog document "
            "(https://example.go.kr/catalog.ttl). The address is checked when you save."
        ),
    )
    organization = forms.ModelChoiceField(
        label=_("Owner organization"),
        queryset=Organization.objects.none(),
        help_text=_("The harvested datasets are published as listings of this organization, under its name."),
    )
    schedule = forms.ChoiceField(
        label=_("How often"), choices=HarvestSchedule.choices, widget=forms.RadioSelect, initial=HarvestSchedule.DAILY
    )
    resource_mode = forms.ChoiceField(
        label=_("Files of the datasets"),
        choices=ResourceMode.choices,
        widget=forms.RadioSelect,
        initial=ResourceMode.LINK,
        help_text=_(
            "Link: the dataset page links to the files at the source (nothing is copied). Fetch: the files are "
            "copied into this exchange and checked like an upload."
        ),
    )
    filter_query = forms.CharField(
        label=_("Filter (CKAN only, optional)"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "A CKAN filter that narrows what is read, for example organization:siheung. Empty: every public dataset "
            "of the portal."
        ),
    )
    default_theme = forms.ChoiceField(
        label=_("Default theme"),
        required=False,
        help_text=_(
            "For a dataset whose themes match no rule below. Without a default, such a dataset is not imported and "
            "the run's report says why."
        ),
    )
    default_licence = forms.ChoiceField(
        label=_("Default licence"),
        required=False,
        help_text=_("For a dataset whose licence matches no rule below and no licence we know by its id."),
    )
    data_kind = forms.ChoiceField(
        label=_("Kind of data of the listings"), choices=DataKind.choices, initial=DataKind.PUBLIC
    )
    reason = forms.CharField(
        label=_("Why (kept in the audit trail)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    save_anyway = forms.BooleanField(
        label=_("Save anyway: the address did not answer as expected, and I know why"), required=False
    )

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.fields["organization"].queryset = Organization.objects.filter(
            kind__in=[Organization.Kind.PROVIDER, Organization.Kind.BOTH]
        ).order_by("name_ko")
        self.fields["organization"].label_from_instance = lambda org: org.display_name
        self.fields["default_theme"].choices = [("", _("No default: report the dataset"))] + theme_choices()
        self.fields["default_licence"].choices = [("", _("No default: report the dataset"))] + licence_choices()
        if editing:
            self.fields["reason"].required = True
            self.fields["reason"].label = _("Why do you change the source? (kept in the audit trail)")
        else:
            self.fields["reason"].help_text = _("Optional: why the exchange harvests this catalog.")
        self.show_save_anyway = False


class ThemeRuleForm(forms.Form):
    source_value = forms.CharField(
        label=_("Value at the source"),
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "krds-input small"}),
    )
    ours = forms.ChoiceField(
        label=_("Our theme"), required=False, widget=forms.Select(attrs={"class": "krds-form-select small"})
    )

    def __init__(self, *args, choices=None, suggest: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        # The formset reads the choices once for all its rows (rule_formset_kwargs).
        self.fields["ours"].choices = [("", "—")] + (theme_choices() if choices is None else choices)
        if suggest:  # the id of a <datalist> of the values the source uses
            self.fields["source_value"].widget.attrs["list"] = suggest


class LicenceRuleForm(ThemeRuleForm):
    def __init__(self, *args, choices=None, **kwargs):
        super().__init__(*args, choices=licence_choices() if choices is None else choices, **kwargs)
        self.fields["ours"].label = _("Our licence")


class BaseRuleFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            value, ours = form.cleaned_data.get("source_value", "").strip(), form.cleaned_data.get("ours", "")
            if value and not ours:
                form.add_error("ours", _("Choose what this value becomes here, or clear the row."))
            elif ours and not value:
                form.add_error("source_value", _("Write the value the source uses, or clear the row."))

    def rules(self) -> dict:
        """{source value: our code} of the filled rows, in the order shown."""
        out = {}
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            value, ours = form.cleaned_data.get("source_value", "").strip(), form.cleaned_data.get("ours", "")
            if value and ours:
                out[value] = ours
        return out


ThemeRuleFormSet = forms.formset_factory(
    ThemeRuleForm, formset=BaseRuleFormSet, extra=RULE_ROWS_EXTRA, can_delete=True, max_num=500
)
LicenceRuleFormSet = forms.formset_factory(
    LicenceRuleForm, formset=BaseRuleFormSet, extra=RULE_ROWS_EXTRA, can_delete=True, max_num=500
)


def rule_formset_kwargs(prefix: str, *, suggest: bool) -> dict:
    """Keyword arguments of a rules formset: its prefix, and for its rows the choices (read once) and the
    <datalist> of the source's values when there is one."""
    choices = theme_choices() if prefix == "themes" else licence_choices()
    return {"prefix": prefix, "form_kwargs": {"choices": choices, "suggest": f"{prefix}-values" if suggest else ""}}


def rule_initial(rules: dict) -> list[dict]:
    return [{"source_value": value, "ours": ours} for value, ours in (rules or {}).items()]


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Why?"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
