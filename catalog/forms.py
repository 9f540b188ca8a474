from django import forms
from django.utils.translation import gettext_lazy as _

from catalog import dictionary, selectors, services
from catalog.models import DatasetVersion


class DatasetVersionForm(forms.ModelForm):
    """The description of a dataset version, with the fields of data.go.kr's dataset page."""

    tags = forms.CharField(
        label=_("Keywords"),
        required=False,
        help_text=_("Separate with commas, e.g. 미세먼지, 대기질, 시흥"),
    )
    spatial_bbox = forms.CharField(
        label=_("Bounding box"),
        required=False,
        help_text=_(
            "Optional: west, south, east, north in degrees, e.g. 126.70, 37.30, 126.90, 37.45. "
            "GeoJSON files and tables with latitude and longitude columns fill it in automatically."
        ),
    )

    class Meta:
        model = DatasetVersion
        fields = [
            "title_ko",
            "title_en",
            "description_ko",
            "description_en",
            "theme",
            "tags",
            "data_kind",
            "licence",
            "department",
            "contact_name",
            "contact_phone",
            "contact_email",
            "update_cadence",
            "spatial_area",
            "spatial_bbox",
            "temporal_start",
            "temporal_end",
            "legal_basis",
            "collection_method",
            "data_limits",
            "notes",
        ]
        widgets = {
            "description_ko": forms.Textarea(attrs={"rows": 6}),
            "description_en": forms.Textarea(attrs={"rows": 4}),
            "data_limits": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "temporal_start": forms.DateInput(attrs={"type": "date"}),
            "temporal_end": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, organization=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["theme"].queryset = selectors.themes()
        self.fields["licence"].queryset = selectors.licences_for(organization)
        self.fields["licence"].required = False
        self.fields["licence"].help_text = _("You can also choose it when you set the price, before submitting.")
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)
            if self.instance.spatial_bbox:
                self.initial["spatial_bbox"] = ", ".join(str(v) for v in self.instance.spatial_bbox)

    def clean_tags(self):
        return services.clean_tags(self.cleaned_data.get("tags", ""))

    def clean_spatial_bbox(self):
        raw = self.cleaned_data.get("spatial_bbox", "").strip()
        if not raw:
            return None
        try:
            values = [float(v) for v in raw.replace(" ", "").split(",")]
        except ValueError:
            values = []
        problem = services.bbox_problem(values)
        if problem:
            raise forms.ValidationError(problem)
        return values

    def clean(self):
        data = super().clean()
        start, end = data.get("temporal_start"), data.get("temporal_end")
        if problem := services.temporal_problem(start, end):
            self.add_error("temporal_end", problem)
        # Said here, not first at submission: the same rule as submission_problems.
        problem = services.licence_kind_problem(data.get("data_kind"), data.get("licence"))
        if problem:
            self.add_error("licence", problem)
        return data


class DataDictionaryForm(forms.Form):
    """The data dictionary of one table file: per column a Korean description (English optional), a unit and
    the codes, one per line ("1 = 좋음 | Good"). Prefilled from the file's dictionary; fields are c<i>_<part>."""

    def __init__(self, *args, datafile, **kwargs):
        super().__init__(*args, **kwargs)
        self.datafile = datafile
        self.columns = dictionary.columns_of(datafile)
        profile = {col.get("name"): col for col in datafile.profile or []}
        types = {f["name"]: f.get("type", "string") for f in (datafile.table_schema or {}).get("fields", [])}
        saved = datafile.dictionary or {}
        self.groups = []
        for i, name in enumerate(self.columns):
            entry = saved.get(name) or {}
            col = profile.get(name) or {}
            examples = [str(v["value"]) for v in col.get("top_values") or [] if v.get("value") is not None][:3]
            if not examples and col.get("min") is not None:
                examples = [str(col["min"]), str(col["max"])] if col.get("max") != col.get("min") else [str(col["min"])]
            prefix = f"c{i}_"
            self.fields[prefix + "description_ko"] = forms.CharField(
                label=_("What the column means (Korean)"),
                required=False,
                max_length=dictionary.MAX_DESCRIPTION,
                initial=entry.get("description_ko", ""),
                widget=forms.Textarea(attrs={"rows": 2, "class": "krds-input pg-textarea"}),
            )
            self.fields[prefix + "description_en"] = forms.CharField(
                label=_("In English (optional)"),
                required=False,
                max_length=dictionary.MAX_DESCRIPTION,
                initial=entry.get("description_en", ""),
                widget=forms.TextInput(attrs={"class": "krds-input"}),
            )
            self.fields[prefix + "unit"] = forms.CharField(
                label=_("Unit"),
                required=False,
                max_length=dictionary.MAX_UNIT,
                initial=entry.get("unit", ""),
                help_text=_("Choose one or type your own, e.g. ㎍/㎥, kWh, 명, 원."),
                widget=forms.TextInput(
                    attrs={"class": "krds-input", "list": "dictionary-units", "autocomplete": "off"}
                ),
            )
            self.fields[prefix + "codes"] = forms.CharField(
                label=_("Codes (if the values are codes)"),
                required=False,
                initial=dictionary.codes_text(entry.get("codes")),
                help_text=_(
                    "One per line: the code, an equals sign and its meaning, e.g. “1 = 좋음”. Add English after a bar: “1 = 좋음 | Good”."
                ),
                widget=forms.Textarea(attrs={"rows": 3, "class": "krds-input pg-textarea"}),
            )
            self.groups.append(
                {
                    "index": i,
                    "name": name,
                    "type": types.get(name, "string"),
                    "examples": examples,
                    "personal": bool(col.get("personal_data")),
                    "fields": [self[prefix + part] for part in ("description_ko", "description_en", "unit", "codes")],
                }
            )

    def clean(self):
        data = super().clean()
        for i in range(len(self.columns)):
            key = f"c{i}_codes"
            if key in data:
                try:
                    data[key] = dictionary.parse_codes(data[key])
                except ValueError as exc:
                    self.add_error(key, str(exc))
        return data

    def entries(self) -> dict:
        data = self.cleaned_data
        return {
            name: {
                "description_ko": data.get(f"c{i}_description_ko", ""),
                "description_en": data.get(f"c{i}_description_en", ""),
                "unit": data.get(f"c{i}_unit", ""),
                "codes": data.get(f"c{i}_codes") or [],
            }
            for i, name in enumerate(self.columns)
        }
