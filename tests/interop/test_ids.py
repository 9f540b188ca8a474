"""The public UUIDs of catalog.interop: they carry kind and key, and are this portal's own."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.interop import KINDS, ckan_licence_id, licence_code_for_ckan_id, object_uuid, parse_object_uuid


@given(kind=st.sampled_from(sorted(KINDS)), pk=st.integers(min_value=0, max_value=(1 << 62) - 1))
def test_an_id_resolves_to_its_kind_and_key_and_is_a_version_8_uuid(kind, pk):
    value = object_uuid(kind, pk, site_url="https://data.siheung.go.kr")
    assert uuid.UUID(value).version == 8
    assert parse_object_uuid(value, site_url="https://data.siheung.go.kr") == (kind, pk)


def test_another_portals_ids_and_random_uuids_do_not_resolve():
    other = object_uuid("dataset", 7, site_url="https://data.ansan.go.kr")
    assert other != object_uuid("dataset", 7, site_url="https://data.siheung.go.kr")
    assert parse_object_uuid(other, site_url="https://data.siheung.go.kr") is None
    assert parse_object_uuid(str(uuid.uuid4()), site_url="https://data.siheung.go.kr") is None
    assert parse_object_uuid("not-a-uuid") is None
    with pytest.raises(ValueError):
        object_uuid("dataset", -1)


def test_licence_ids_round_trip_and_unknown_ones_map_to_nothing():
    for code in ("kogl-1", "kogl-4", "cc-by-4.0", "cc0-1.0"):
        assert licence_code_for_ckan_id(ckan_licence_id(code)) == code
    assert ckan_licence_id(None) == "notspecified"
    assert licence_code_for_ckan_id("CC-BY") == "cc-by-4.0"
    assert licence_code_for_ckan_id("uk-ogl") is None


def test_a_source_address_is_published_without_its_key_or_password():
    from catalog.interop import public_source_url

    url = "https://user:secret@apis.data.go.kr:8443/catalog?serviceKey=SECRET&type=json#x"
    assert public_source_url(url) == "https://apis.data.go.kr:8443/catalog"
    assert public_source_url("javascript:alert(1)") == ""


def test_ids_are_made_under_the_namespace_setting_so_a_new_address_keeps_them(settings):
    settings.SITE_URL = "https://data.siheung.go.kr"
    before = object_uuid("dataset", 42)
    settings.INTEROP_ID_NAMESPACE = "https://data.siheung.go.kr"
    settings.SITE_URL = "https://data.siheung.kr"  # the portal moved
    assert object_uuid("dataset", 42) == before
    assert parse_object_uuid(before) == ("dataset", 42)
