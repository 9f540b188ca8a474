"""DCAT-AP output with data a publisher or a harvested source may really hold (review rev1): a valid e-mail address
with characters an IRI cannot hold, a harvested listing without licence, coverage or description and with odd
formats, media types and checksums; and the cache of catalog pages, which `modified_since` must not fill."""

import pytest
from django.core.cache import cache
from rdflib import Graph

from catalog.discovery import catalog_changed
from catalog.harvest.models import ExternalResource
from catalog.models import DatasetVersion
from tests.catalog.test_dataset_page import publish
from tests.interop.test_dcat_shacl import DCAT, FORMATS, harvested, parse_all, shapes, violations  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_contact_address_with_braces_keeps_every_document_readable(
    client, official, admin_user, reference_data, shapes
):  # noqa: F811
    # RFC 5322 (and Django's EmailField) accept {, }, |, ^ and ` in an address; an IRI may not hold them as they are.
    version = publish(official, admin_user, fake_files=1, contact_email="data{team}|x@siheung.test")
    slug = version.dataset.slug
    g = parse_all(client, f"/dataset/{slug}.ttl")  # 500 before: rdflib refuses to write such an IRI in Turtle
    assert violations(g, shapes) == []
    for ext, fmt in FORMATS.items():
        response = client.get(f"/catalog.{ext}")  # the whole page of the catalog, not only this dataset's document
        assert response.status_code == 200, (ext, response.content[:200])
        Graph().parse(data=response.content, format=fmt)
    negotiated = client.get(f"/catalog/datasets/{slug}/", HTTP_ACCEPT="text/turtle")
    assert negotiated.status_code == 200


def test_a_harvested_listing_with_odd_resources_and_no_licence_has_no_violation(
    client,
    official,
    admin_user,
    reference_data,
    shapes,  # noqa: F811
):
    version = harvested(official, admin_user)
    DatasetVersion.objects.filter(pk=version.pk).update(
        licence=None, temporal_start=None, temporal_end=None, spatial_area="", spatial_bbox=None, tags=[]
    )
    for position, (fmt, media, size, checksum) in enumerate(
        [
            ("text/csv", 'text/csv"; charset=utf-8', 0, "zz-not-hex"),  # a quote in a source's media type
            ("", "text/{csv}", None, "sha1:" + "a" * 40),
            ("Esri REST", "application/json", 5, "SHA-256:" + "AB" * 32),
            ("csv; charset=utf-8", "csv", None, ""),
        ],
        start=10,
    ):
        ExternalResource.objects.create(
            version=version,
            position=position,
            name=f"자원 {position}",
            url=f"https://data.daegu.example/files/{position}?a=1&b=<x>",
            format=fmt,
            media_type=media,
            size=size,
            checksum=checksum,
            description="",
        )
    catalog_changed()
    g = parse_all(client, f"/dataset/{version.dataset.slug}.ttl")
    assert violations(g, shapes) == []
    catalog = parse_all(client, "/catalog.ttl")
    assert violations(catalog, shapes) == []


def _catalog_page_keys() -> list:
    return list(cache._cache.get_client(None).scan_iter(match="*dcat:catalog:*"))


def test_modified_since_does_not_fill_the_cache(client, official, admin_user, reference_data):
    publish(official, admin_user, fake_files=1)
    catalog_changed()
    before = len(_catalog_page_keys())
    for second in range(12):  # a client (or an attacker) writing a new instant each time
        response = client.get("/catalog.ttl", {"modified_since": f"2001-01-01T00:00:{second:02d}"})
        assert response.status_code == 200
    assert len(_catalog_page_keys()) - before <= 1, "one cached catalog page per modified_since value"
