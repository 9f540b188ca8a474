"""The schema.org Dataset JSON-LD of every dataset page is complete and passes Google's Dataset rules: name, a
description of 50–5,000 characters, url, identifier, keywords, licence, creator and publisher, distributions with
contentUrl and encodingFormat, spatial and temporal coverage, isAccessibleForFree, offers priced in KRW; on real pages
(the demo catalog, a dataset with every field, a harvested listing, a paid one)."""

import re

import pytest
from django.core.management import call_command

from catalog.models import CatalogEntry, DatasetVersion
from tests.catalog.test_dataset_page import jsonld_of, page_of, publish
from tests.interop.test_dcat_shacl import full_dataset, harvested

ISO_INTERVAL = re.compile(r"^(\d{4}-\d{2}-\d{2}|\.\.)/(\d{4}-\d{2}-\d{2}|\.\.)$")


def google_problems(data: dict) -> list[str]:
    """What Google's Dataset structured-data rules refuse or warn about (developers.google.com/search/docs/
    appearance/structured-data/dataset): required name and description (50–5,000 characters); the recommended
    properties, when present, of the right shape."""
    problems = []
    if data.get("@context") != "https://schema.org" or data.get("@type") != "Dataset":
        problems.append("not a schema.org Dataset")
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        problems.append("name missing")
    description = data.get("description")
    if not isinstance(description, str) or not 50 <= len(description) <= 5000:
        problems.append(f"description must be 50–5000 characters, is {len(description or '')}")
    if not str(data.get("url", "")).startswith("http"):
        problems.append("url is not absolute")
    for key in ("creator", "publisher"):
        agent = data.get(key) or {}
        if agent.get("@type") not in ("Organization", "Person") or not agent.get("name"):
            problems.append(f"{key} needs @type and name")
    if "license" in data and not str(data["license"]).startswith("http"):
        problems.append("license is not a URL")
    for item in data.get("distribution", []):
        if item.get("@type") != "DataDownload" or not str(item.get("contentUrl", "")).startswith("http"):
            problems.append(f"distribution without contentUrl: {item}")
        if not item.get("encodingFormat"):
            problems.append(f"distribution without encodingFormat: {item}")
    if "temporalCoverage" in data and not ISO_INTERVAL.match(data["temporalCoverage"]):
        problems.append(f"temporalCoverage is not an ISO 8601 interval: {data['temporalCoverage']}")
    if "spatialCoverage" in data and data["spatialCoverage"].get("@type") != "Place":
        problems.append("spatialCoverage is not a Place")
    if not isinstance(data.get("isAccessibleForFree"), bool):
        problems.append("isAccessibleForFree is not a boolean")
    for offer in data.get("offers", []):
        if offer.get("@type") != "Offer" or offer.get("priceCurrency") != "KRW":
            problems.append(f"offer not in KRW: {offer}")
        if not isinstance(offer.get("price"), int) or offer["price"] < 0:
            problems.append(f"offer without a price: {offer}")
    if not isinstance(data.get("keywords"), list) or not data["keywords"]:
        problems.append("keywords missing")
    return problems


def test_the_checker_sees_what_google_refuses():
    assert set(google_problems({"@context": "https://schema.org", "@type": "Dataset", "description": "짧다"})) >= {
        "name missing",
        "description must be 50–5000 characters, is 2",
        "creator needs @type and name",
    }


@pytest.mark.django_db
def test_a_dataset_with_every_field_has_complete_json_ld(client, official, admin_user, reference_data):
    version = full_dataset(official, admin_user)
    data = jsonld_of(page_of(client, version))
    assert google_problems(data) == []
    url = f"http://testserver/catalog/datasets/{version.dataset.slug}/"
    assert data["name"] == "시흥시 대기질 측정 자료" and data["url"] == url and data["@id"] == url
    assert data["description"].startswith("정왕동 측정소의 시간별 미세먼지 자료입니다.")
    assert data["identifier"] == version.dataset.slug
    assert {"미세먼지", "대기질", "환경기상"} <= set(data["keywords"])
    assert data["license"] == "https://www.kogl.or.kr/info/licenseType1.do"
    assert data["creator"]["name"] == data["publisher"]["name"] == "환경정책과"
    assert data["spatialCoverage"]["name"] == "경기도 시흥시 정왕동"
    assert data["temporalCoverage"] == "2024-01-01/2024-12-31"
    assert data["measurementTechnique"] == "자동 측정망 (1시간 평균)"
    variables = {v["name"]: v for v in data["variableMeasured"]}
    assert variables["미세먼지"] == {
        "@type": "PropertyValue",
        "name": "미세먼지",
        "description": "PM10 1시간 평균",
        "unitText": "㎍/㎥",
    }
    samples = [d for d in data["distribution"] if "sample.csv" in d["contentUrl"]]
    assert len(samples) == 3 and all(d["encodingFormat"] == "text/csv" for d in samples)
    for sample in samples:  # each contentUrl is a real download
        assert client.get(sample["contentUrl"].replace("http://testserver", "")).status_code == 200
    # A free offer and a one-off price of 5,000 won + 10 % VAT.
    assert data["isAccessibleForFree"] is True
    prices = sorted((o["category"], o["price"], o["priceCurrency"]) for o in data["offers"])
    assert prices == [("free", 0, "KRW"), ("one_off", 5500, "KRW")]


@pytest.mark.django_db
def test_a_paid_dataset_is_not_free_and_says_its_price(client, official, admin_user, reference_data):
    version = publish(
        official,
        admin_user,
        fake_files=1,
        offers=[{"kind": "subscription", "price_krw": 30_000, "subscription_days": 90, "cost_basis": "유지비"}],
    )
    data = jsonld_of(page_of(client, version))
    assert google_problems(data) == []
    assert data["isAccessibleForFree"] is False
    (offer,) = data["offers"]
    assert offer["price"] == 33_000 and offer["priceCurrency"] == "KRW"
    assert offer["eligibleDuration"] == {"@type": "QuantitativeValue", "value": 90, "unitCode": "DAY"}
    assert offer["url"].endswith(f"#offer-{version.dataset.offers.get().pk}")


@pytest.mark.django_db
def test_descriptions_are_brought_within_googles_bounds(client, official, admin_user, reference_data):
    short = publish(official, admin_user, fake_files=1, title_ko="짧은 설명", description_ko="주차장 자료.")
    data = jsonld_of(page_of(client, short))
    assert 50 <= len(data["description"]) <= 5000
    assert data["description"].startswith("주차장 자료.") and "환경기상 분야" in data["description"]
    long_text = "시흥시 공영주차장의 시간대별 이용 현황을 담은 자료입니다. " * 200  # 6,400 characters
    long = publish(official, admin_user, fake_files=1, title_ko="긴 설명", description_ko=long_text)
    data = jsonld_of(page_of(client, long))
    assert len(data["description"]) <= 5000 and data["description"].endswith("…")
    assert google_problems(data) == []


@pytest.mark.django_db
def test_a_harvested_listing_points_to_its_files_at_the_source(client, official, admin_user, reference_data):
    version = harvested(official, admin_user)
    data = jsonld_of(page_of(client, version))
    assert google_problems(data) == []
    assert data["isBasedOn"] == "https://data.daegu.example/dataset/bus-stops"
    links = {d["name"]: d for d in data["distribution"]}
    assert links["정류장 목록"]["contentUrl"] == "https://data.daegu.example/files/stops 2024.csv"
    assert links["정류장 목록"]["encodingFormat"] == "text/csv"
    assert links["정류장 목록"]["contentSize"] == "12345 B"
    assert links["정류장 도면"]["encodingFormat"] == "application/x-hwp"
    assert links["정류장 API"]["encodingFormat"] == "API"


@pytest.mark.django_db
def test_every_demo_dataset_page_passes(client, reference_data, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", verbosity=0)
    slugs = list(CatalogEntry.objects.values_list("dataset__slug", flat=True))
    assert len(slugs) >= 25
    for slug in slugs:
        response = client.get(f"/catalog/datasets/{slug}/")
        assert response.status_code == 200
        data = jsonld_of(response.content.decode())
        assert google_problems(data) == [], slug
        version = DatasetVersion.objects.get(dataset__slug=slug, state="published")
        assert data["name"] == version.title_ko
        if version.temporal_start:
            assert data["temporalCoverage"].startswith(version.temporal_start.isoformat())
        assert "offers" in data  # every demo dataset is offered somehow
