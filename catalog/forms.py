from django import forms
from django.utils.translation import gettext_lazy as _

from catalog import selectors, services
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
            "GeoJSON files fill it in automatically."
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
        if len(values) != 4 or not (-180 <= values[0] < values[2] <= 180 and -90 <= values[1] < values[3] <= 90):
            raise forms.ValidationError(
                _("Enter four numbers: west, south, east, north (west < east, south < north), in degrees.")
            )
        return values

    def clean(self):
        data = super().clean()
        start, end = data.get("temporal_start"), data.get("temporal_end")
        if start and end and start > end:
            self.add_error("temporal_end", _("The end date is before the start date."))
        # Said here, not first at submission: the same rule as submission_problems.
        problem = services.licence_kind_problem(data.get("data_kind"), data.get("licence"))
        if problem:
            self.add_error("licence", problem)
        return data
