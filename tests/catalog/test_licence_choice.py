"""Public data cannot carry 공공누리 제2·4유형: the forms say so, instead of submission failing later."""

import pytest
from django.urls import reverse

from catalog.forms import DatasetVersionForm
from catalog.models import Licence
from catalog.review_forms import LicenceForm

pytestmark = pytest.mark.django_db


def _metadata(draft, **changes):
    data = {
        "title_ko": draft.title_ko,
        "title_en": draft.title_en,
        "description_ko": draft.description_ko,
        "theme": draft.theme_id,
        "tags": "미세먼지",
        "data_kind": "public",
        "contact_name": "정민준",
        "contact_phone": "031-310-2114",
        "contact_email": "official@siheung.test",
        "update_cadence": "monthly",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("code", ["kogl-2", "kogl-4"])
def test_metadata_form_refuses_a_non_commercial_licence_for_public_data(official, draft, code):
    licence = Licence.objects.get(code=code)
    form = DatasetVersionForm(
        _metadata(draft, licence=licence.pk), instance=draft, organization=draft.dataset.publisher
    )
    assert not form.is_valid()
    assert "공공데이터법" in " ".join(form.errors["licence"])


def test_metadata_form_accepts_the_same_licence_for_private_data(official, draft):
    licence = Licence.objects.get(code="kogl-2")
    form = DatasetVersionForm(
        _metadata(draft, licence=licence.pk, data_kind="private"), instance=draft, organization=draft.dataset.publisher
    )
    assert form.is_valid(), form.errors


def test_edit_page_shows_the_reason(login, official, draft):
    response = login(official).post(
        reverse("catalog:version_edit", args=[draft.pk]),
        _metadata(draft, licence=Licence.objects.get(code="kogl-4").pk),
    )
    assert response.status_code == 200
    assert "공공데이터법 제3조④" in response.content.decode()
    draft.refresh_from_db()
    assert draft.licence_id is None


def test_licence_step_offers_only_fitting_licences(official, draft):
    public = LicenceForm(organization=draft.dataset.publisher, data_kind="public")
    codes = set(public.fields["licence"].queryset.values_list("code", flat=True))
    assert "kogl-1" in codes and not {"kogl-2", "kogl-4"} & codes
    private = LicenceForm(organization=draft.dataset.publisher, data_kind="private")
    assert "kogl-2" in set(private.fields["licence"].queryset.values_list("code", flat=True))
