"""CKAN Action API (catalog.ckan), in-process: CKAN's envelope, package dict, errors and status codes; what is public;
package_search on the catalog's own engine (same ids, same order, same facets as the catalog page); batching.

The unmodified ckanapi client and CLI against a live server: tests/interop/test_ckan_client.py."""

import json
from datetime import UTC, date, timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog import services
from catalog.ckan import packages
from catalog.discovery import catalog_search
from catalog.harvest.models import ExternalResource, HarvestedDataset, HarvestSource
from catalog.interop import object_uuid
from catalog.models import CatalogEntry, DataFile, Dataset, DatasetVersion, Licence, Offer, Theme
from tests.catalog.test_dataset_page import BBOX, air_csv, publish
from tests.conftest import make_org, make_user

pytestmark = pytest.mark.django_db

PACKAGE_KEYS = {
    "id", "name", "title", "version", "url", "author", "author_email", "maintainer", "maintainer_email", "notes",
    "license_id", "license_title", "license_url", "isopen", "type", "owner_org", "creator_user_id", "private",
    "state", "metadata_created", "metadata_modified", "num_resources", "num_tags", "extras", "tags", "groups",
    "organization", "relationships_as_subject", "relationships_as_object", "resources",
}  # fmt: skip
RESOURCE_KEYS = {
    "id", "package_id", "url", "name", "description", "format", "mimetype", "mimetype_inner", "size", "hash",
    "created", "last_modified", "metadata_modified", "position", "resource_type", "url_type", "cache_url",
    "cache_last_updated", "state",
}  # fmt: skip
ORGANIZATION_KEYS = {
    "id", "name", "title", "type", "description", "image_url", "created", "is_organization", "approval_status",
    "state",
}  # fmt: skip


def build_world(official, admin):
    """The public catalog and what must never be in it, made through the real services:
    - air: a real CSV (checked in-process), bounding box, coverage, free offer; 미세먼지 in title and tags;
    - parking: another theme and licence, a one-off offer;
    - daegu: another publisher;
    - harvested: a listing of a harvest source with two link resources at the source;
    - a draft and a withdrawn dataset that both say 미세먼지 (never public)."""
    air = publish(
        official,
        admin,
        files=[("시흥_대기질.csv", air_csv())],
        spatial_bbox=BBOX,
        spatial_area="경기도 시흥시 정왕동",
        temporal_start=date(2024, 1, 1),
        temporal_end=date(2024, 12, 31),
        legal_basis="대기환경보전법 제3조",
        justification="담당자 사무실 번호입니다",
    )
    parking = publish(
        official,
        admin,
        fake_files=1,
        title_ko="정왕동 공영주차장 이용 현황",
        title_en="Jeongwang public parking use",
        description_ko="공영주차장의 월별 이용 대수입니다.",
        theme=Theme.objects.get(code="transport"),
        tags="주차, 공영주차장",
        licence=Licence.objects.get(code="cc-by-4.0"),
        offers=[{"kind": "one_off", "price_krw": 10_000, "cost_basis": "가공비"}],
    )
    owner = make_user("owner@daegu.test")
    daegu_org = make_org(
        owner, name_ko="대구광역시 환경과", name_en="Daegu Environment", kind="provider", brn="5048300010"
    )
    daegu = publish(
        owner,
        admin,
        fake_files=1,
        organization=daegu_org,
        title_ko="대구 미세먼지 농도",
        title_en="Daegu fine dust",
        tags="미세먼지",
        contact_email="owner@daegu.test",
    )
    # A harvested listing as the harvester writes it: a published version without files of ours, its resources
    # links at the source, indexed by the real catalog_entry_refresh.
    dataset = Dataset.objects.create(
        slug="bucheon-dust-alerts", publisher=official.active_organization, created_by=admin
    )
    harvested = DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        state="published",
        title_ko="부천시 미세먼지 경보 발령 현황",
        title_en="Bucheon fine dust alerts",
        description_ko="부천시가 발령한 미세먼지 경보의 이력입니다.",
        theme=Theme.objects.get(code="environment"),
        tags=["미세먼지", "경보"],
        contact_name="부천시 환경과",
        contact_phone="032-625-2114",
        contact_email="env@bucheon.example",
        update_cadence="daily",
        data_kind="public",
        licence=Licence.objects.get(code="kogl-1"),
        created_by=admin,
        published_at=timezone.now(),
    )
    Offer.objects.create(dataset=dataset, kind="free", rule="공공데이터법")
    source = HarvestSource.objects.create(
        name="부천시 열린데이터",
        kind="ckan",
        url="https://data.bucheon.example/",
        organization=official.active_organization,
        created_by=admin,
    )
    HarvestedDataset.objects.create(
        dataset=harvested.dataset,
        source=source,
        identifier="bucheon-dust-alerts",
        source_url="https://data.bucheon.example/dataset/bucheon-dust-alerts",
        imported_hash="a" * 64,
        source_hash="b" * 64,
        harvested_at=timezone.now(),
    )
    services.catalog_entry_refresh(dataset)
    links = [
        ExternalResource.objects.create(
            version=harvested,
            position=i,
            name=name,
            url=f"https://data.bucheon.example/files/{i}.{fmt.lower()}",
            format=fmt,
            media_type=media,
            size=1234 * (i + 1),
        )
        for i, (name, fmt, media) in enumerate([("경보 이력", "CSV", "text/csv"), ("경보 API", "API", "")])
    ]
    draft = services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko="미세먼지 초안 자료",
        description_ko="아직 공개하지 않은 자료입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email="official@siheung.test",
        update_cadence="monthly",
        data_kind="public",
    )
    withdrawn = publish(official, admin, fake_files=1, title_ko="철회된 미세먼지 자료", tags="미세먼지")
    services.version_withdraw(actor=official, version=withdrawn, reason="잘못 올린 자료입니다")
    return {
        "air": air,
        "parking": parking,
        "daegu": daegu,
        "harvested": harvested,
        "links": links,
        "source": source,
        "draft": draft,
        "withdrawn": withdrawn,
        "public": [air, parking, daegu, harvested],
    }


@pytest.fixture
def world(official, admin_user, reference_data):
    return build_world(official, admin_user)


def call(client, action_name, method="GET", status=200, **data):
    if method == "GET":
        response = client.get(f"/api/3/action/{action_name}?{urlencode(data, doseq=True)}")
    else:
        response = client.post(f"/api/action/{action_name}", json.dumps(data), content_type="application/json")
    assert response.status_code == status, response.content.decode()[:500]
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def result(client, action_name, method="GET", **data):
    body = call(client, action_name, method, **data)
    assert body["success"] is True
    assert body["help"].endswith(f"/api/3/action/help_show?name={action_name}")
    return body["result"]


# --- package_show: the package dictionary -----------------------------------------------------------------------


def test_package_show_gives_ckans_package_dict_by_name_and_by_id(client, world):
    air = world["air"]
    by_name = result(client, "package_show", id=air.dataset.slug)
    by_id = result(client, "package_show", "POST", id=object_uuid("dataset", air.dataset_id))
    assert by_name == by_id
    package = by_name
    assert set(package) >= PACKAGE_KEYS
    assert package["id"] == object_uuid("dataset", air.dataset_id)
    assert package["name"] == air.dataset.slug
    assert package["title"] == "시흥시 대기질 측정 자료"
    assert package["title_translated"] == {"ko": "시흥시 대기질 측정 자료", "en": "Siheung air quality"}
    assert package["type"] == "dataset" and package["state"] == "active" and package["private"] is False
    assert package["license_id"] == "kogl-type1" and package["isopen"] is True
    assert package["license_url"].startswith("https://")
    assert package["maintainer_email"] == "official@siheung.test"
    assert "T" in package["metadata_modified"] and "+" not in package["metadata_modified"]
    assert not package["metadata_modified"].endswith("Z")
    org = package["organization"]
    assert set(org) >= ORGANIZATION_KEYS
    assert org["name"] == air.dataset.publisher.slug
    assert org["id"] == package["owner_org"] == object_uuid("organization", air.dataset.publisher_id)
    assert [g["name"] for g in package["groups"]] == ["environment"]
    assert {t["name"] for t in package["tags"]} == {"미세먼지", "대기질"} and package["num_tags"] == 2
    extras = {e["key"]: e["value"] for e in package["extras"]}
    assert [e["key"] for e in package["extras"]] == sorted(extras)
    assert extras["update_cadence"] == "monthly" and extras["data_kind"] == "public"
    assert extras["spatial_area"] == "경기도 시흥시 정왕동"
    assert extras["temporal_start"] == "2024-01-01" and extras["temporal_end"] == "2024-12-31"
    assert extras["legal_basis"] == "대기환경보전법 제3조" and extras["department"] == "환경정책과"
    assert extras["contact_phone"] == "031-310-2114" and extras["theme"] == "environment"
    assert extras["price_types"] == "free"
    assert json.loads(extras["spatial"])["type"] == "Polygon"
    assert all(isinstance(v, str) for v in extras.values())


def test_resources_are_the_published_files_at_their_public_entry_points(client, world):
    air = world["air"]
    package = result(client, "package_show", id=air.dataset.slug)
    (csv_file,) = DataFile.objects.filter(version=air, parent__isnull=True)
    (resource,) = package["resources"]
    assert set(resource) >= RESOURCE_KEYS
    assert resource["id"] == object_uuid("datafile", csv_file.pk)
    assert resource["package_id"] == package["id"]
    assert resource["format"] == "CSV" and resource["mimetype"] == "text/csv"
    assert resource["size"] == csv_file.size and resource["hash"] == csv_file.sha256
    assert resource["url"].endswith(f"/catalog/datasets/{air.dataset.slug}/#file-{csv_file.pk}")
    assert csv_file.file.name not in json.dumps(package)  # never the private storage key
    sample = client.get(resource["sample_url"].split("localhost:8000", 1)[-1])
    assert sample.status_code == 200 and sample["Content-Type"].startswith("text/csv")
    assert package["num_resources"] == 1
    # resource_show by its id gives the same dict
    assert result(client, "resource_show", id=resource["id"]) == resource


def test_a_harvested_listing_has_its_link_resources_and_source(client, world):
    harvested = world["harvested"]
    package = result(client, "package_show", id=harvested.dataset.slug)
    assert [(r["id"], r["url"], r["format"]) for r in package["resources"]] == [
        (str(link.uuid), link.url, link.format) for link in world["links"]
    ]
    assert package["resources"][0]["size"] == 1234 and package["resources"][0]["mimetype"] == "text/csv"
    assert package["url"] == "https://data.bucheon.example/dataset/bucheon-dust-alerts"
    extras = {e["key"]: e["value"] for e in package["extras"]}
    assert extras["harvest_source_title"] == "부천시 열린데이터"
    assert extras["harvest_identifier"] == "bucheon-dust-alerts"
    assert result(client, "resource_show", id=str(world["links"][1].uuid))["name"] == "경보 API"


def test_only_what_the_catalog_shows_is_public(client, world):
    public = sorted(v.dataset.slug for v in world["public"])
    assert result(client, "package_list") == public
    assert result(client, "package_list", limit=2, offset=1) == public[1:3]
    assert {p["name"] for p in result(client, "current_package_list_with_resources", limit=100)} == set(public)
    for hidden in (world["draft"], world["withdrawn"]):
        body = call(client, "package_show", status=404, id=hidden.dataset.slug)
        assert body == {
            "help": body["help"],
            "success": False,
            "error": {"__type": "Not Found Error", "message": "Not found"},
        }
        call(client, "package_show", status=404, id=object_uuid("dataset", hidden.dataset_id))
    withdrawn_file = DataFile.objects.filter(version=world["withdrawn"]).first()
    body = call(client, "resource_show", status=404, id=object_uuid("datafile", withdrawn_file.pk))
    assert body["error"] == {"__type": "Not Found Error", "message": "Not found: Resource was not found."}
    found = result(client, "package_search", q="미세먼지", rows=100)
    assert found["count"] == 3
    assert {p["name"] for p in found["results"]} == {world[k].dataset.slug for k in ("air", "daegu", "harvested")}
    # organizations: those that publish; the draft's own organization publishes too (air), so it is listed once
    orgs = result(client, "organization_list")
    assert sorted(orgs) == sorted({v.dataset.publisher.slug for v in world["public"]})


# --- package_search: the catalog's engine ----------------------------------------------------------------------


def test_package_search_runs_the_catalog_search(client, world):
    for q, fq, ours in [
        ("미세먼지", "", "q=미세먼지"),
        ("먼지", "", "q=먼지"),  # a fragment: the Korean bigrams
        ("", "groups:transport", "theme=transport"),
        (
            "",
            f"organization:{world['daegu'].dataset.publisher.slug}",
            f"publisher={world['daegu'].dataset.publisher.slug}",
        ),
        ("", "tags:주차", "tag=주차"),
        ("", "res_format:CSV", "format=csv"),
        ("", "license_id:cc-by", "licence=cc-by-4.0"),
        ("미세먼지", "tags:(경보 OR 대기질)", "q=미세먼지&tag=경보&tag=대기질"),
    ]:
        found = result(client, "package_search", q=q, fq=fq, rows=100)
        page = catalog_search(QueryDict(ours), page=1)
        assert [p["name"] for p in found["results"]] == [line.slug for line in page.entries], (q, fq)
        assert found["count"] == page.total > 0, (q, fq)


def test_fielded_q_sort_paging_and_fq_list(client, world):
    slugs = {k: world[k].dataset.slug for k in ("air", "parking", "daegu", "harvested")}
    found = result(client, "package_search", q="tags:주차")
    assert [p["name"] for p in found["results"]] == [slugs["parking"]]
    found = result(client, "package_search", fq_list=["groups:environment", "tags:경보"])  # repeated parameters
    assert [p["name"] for p in found["results"]] == [slugs["harvested"]]
    found_post = result(client, "package_search", "POST", fq_list=["groups:environment", "tags:경보"])
    assert [p["name"] for p in found_post["results"]] == [slugs["harvested"]]
    # a title order; paging by start/rows walks it one by one
    everything = result(client, "package_search", sort="title_string asc", rows=1000)
    titles = [p["title"] for p in everything["results"]]
    assert titles == sorted(titles) and everything["count"] == 4
    walked = [result(client, "package_search", sort="title_string asc", rows=1, start=i)["results"] for i in range(5)]
    assert [page[0]["name"] for page in walked[:4]] == [p["name"] for p in everything["results"]]
    assert walked[4] == []
    assert result(client, "package_search", rows=0)["results"] == []
    assert len(result(client, "package_search", rows=5000)["results"]) == 4  # capped silently, like CKAN
    newest = result(client, "package_search")
    assert newest["sort"] == "score desc, metadata_modified desc"
    modified = [p["metadata_modified"] for p in newest["results"]]
    assert modified == sorted(modified, reverse=True)
    # CKAN's state/capacity clauses: public and active is all there is
    assert result(client, "package_search", fq="+state:active +capacity:public")["count"] == 4
    assert result(client, "package_search", fq="+state:draft")["count"] == 0
    # metadata_modified range (an incremental harvest)
    since = world["harvested"].published_at.astimezone(UTC)  # published last of the four
    found = result(client, "package_search", fq=f"metadata_modified:[{since:%Y-%m-%dT%H:%M:%S.%f}Z TO *]")
    assert [p["name"] for p in found["results"]] == [slugs["harvested"]] and found["count"] == 1
    until = since - timedelta(microseconds=1)
    found = result(client, "package_search", fq=f"metadata_modified:[* TO {until:%Y-%m-%dT%H:%M:%S.%f}Z]", rows=10)
    assert found["count"] == 3 and slugs["harvested"] not in {p["name"] for p in found["results"]}
    assert call(client, "package_search", status=400, fq="metadata_modified:[yesterday TO *]")["success"] is False
    # fl: only these fields
    assert result(client, "package_search", q="주차", fl="id name")["results"] == [
        {"id": object_uuid("dataset", world["parking"].dataset_id), "name": slugs["parking"]}
    ]


def test_facets_in_ckans_two_shapes(client, world):
    found = result(
        client,
        "package_search",
        q="미세먼지",
        **{"facet.field": json.dumps(["organization", "groups", "tags", "res_format", "license_id"]), "rows": 0},
    )
    siheung, daegu = world["air"].dataset.publisher.slug, world["daegu"].dataset.publisher.slug
    assert found["facets"]["organization"] == {siheung: 2, daegu: 1}
    assert found["facets"]["groups"] == {"environment": 3}
    assert found["facets"]["tags"]["미세먼지"] == 3 and found["facets"]["tags"]["경보"] == 1
    assert found["facets"]["license_id"] == {"kogl-type1": 3}
    assert found["facets"]["res_format"] == {"CSV": 2}
    groups = found["search_facets"]["groups"]
    environment = Theme.objects.get(code="environment").name_ko
    assert groups == {"title": "groups", "items": [{"name": "environment", "display_name": environment, "count": 3}]}
    orgs = found["search_facets"]["organization"]["items"]
    assert {i["display_name"] for i in orgs} == {"환경정책과", "대구광역시 환경과"}
    assert [i["display_name"] for i in orgs] == sorted((i["display_name"] for i in orgs), reverse=True)
    limited = result(client, "package_search", q="미세먼지", **{"facet.field": '["tags"]', "facet.limit": 1})
    assert limited["facets"]["tags"] == {"미세먼지": 3}
    mincount = result(client, "package_search", q="미세먼지", **{"facet.field": '["tags"]', "facet.mincount": 2})
    assert mincount["facets"]["tags"] == {"미세먼지": 3}
    assert result(client, "package_search", q="미세먼지")["search_facets"] == {}
    off = result(client, "package_search", q="미세먼지", facet="false", **{"facet.field": '["tags"]'})
    assert off["facets"] == {}


# --- errors, exactly as CKAN answers them ---------------------------------------------------------------------


def test_errors_have_ckans_shapes_and_status_codes(client, world):
    response = client.get("/api/3/action/package_delete")
    assert response.status_code == 400 and response.json() == "Bad request - Action name not known: package_delete"
    body = call(client, "package_search", status=409, rows="x", start=-1)
    assert body["error"] == {
        "__type": "Validation Error",
        "rows": ["Invalid integer"],
        "start": ["Must be a natural number"],
    }
    assert body["success"] is False
    body = call(client, "package_search", status=400, foo="1")
    assert body["error"] == {
        "__type": "Search Query Error",
        "message": "Search Query is invalid: (\"Invalid search parameters: ['foo']\",)",
        "message_ko": "알 수 없는 검색 매개변수입니다: ['foo']",
    }
    assert call(client, "package_search", status=400, sort="size desc")["error"]["__type"] == "Search Query Error"
    negative = call(client, "package_search", status=409, fq="-tags:주차")["error"]
    assert negative == {
        "__type": "Search Error",
        "message": "Search error: ('Negative filters are not supported: -tags:주차',)",
        "message_ko": "제외 필터는 지원하지 않습니다: -tags:주차",
    }
    assert call(client, "package_search", status=409, fq="notes_ko:x")["error"]["__type"] == "Search Error"
    facet = call(client, "package_search", status=409, **{"facet.field": "tags"})
    assert facet["error"]["facet.field"] == ["Could not parse as valid JSON"]
    assert call(client, "package_show", status=409)["error"] == {
        "__type": "Validation Error",
        "name_or_id": ["Missing value"],
    }
    assert call(client, "resource_show", status=409)["error"]["id"] == ["Missing value"]
    assert call(client, "resource_show", status=404, id="not-a-uuid")["error"]["__type"] == "Not Found Error"
    other_portal = object_uuid("datafile", 1, site_url="https://elsewhere.example")
    assert call(client, "resource_show", status=404, id=other_portal)["success"] is False
    assert call(client, "organization_show", status=404, id="no-such-org")["error"]["__type"] == "Not Found Error"
    assert call(client, "group_show", status=404, id="no-such-theme")["success"] is False
    assert call(client, "help_show", status=404, name="package_delete")["error"]["message"] == (
        "Not found: Action function not found"
    )
    assert call(client, "package_list", status=409, limit="-3")["error"]["limit"] == ["Must be a natural number"]
    bad_json = client.post("/api/3/action/package_show", "{not json", content_type="application/json")
    assert bad_json.status_code == 400 and bad_json.json().startswith("Bad request - JSON Error: Error decoding JSON")
    not_a_dict = client.post("/api/3/action/package_show", "[1, 2]", content_type="application/json")
    assert not_a_dict.status_code == 400 and "needs to be a dictionary" in not_a_dict.json()
    # no trailing-slash redirect anywhere (ckanapi does not follow redirects)
    for path in ("/api/3/action/package_list", "/api/action/package_list"):
        assert client.get(path).status_code == 200
        assert client.post(path, "{}", content_type="application/json").status_code == 200
    assert client.get("/api/3/action/package_list/").status_code not in (301, 302, 307, 308)
    assert client.put("/api/3/action/package_list").status_code == 405


def test_form_posts_jsonp_and_the_version(client, world):
    form = client.post("/api/3/action/package_show", {"id": world["air"].dataset.slug})
    assert form.status_code == 200 and form.json()["result"]["name"] == world["air"].dataset.slug
    as_key = client.post(
        "/api/3/action/package_show",
        urlencode({json.dumps({"id": world["air"].dataset.slug}): "1"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert as_key.json()["result"]["name"] == world["air"].dataset.slug
    jsonp = client.get("/api/3/action/status_show?callback=cb")
    assert jsonp.content.decode().startswith("cb({") and jsonp["Content-Type"].startswith("application/javascript")
    assert client.get("/api/3").json() == {"version": 3}


def test_lists_groups_tags_licences_status_and_help(client, world):
    siheung = world["air"].dataset.publisher
    orgs = result(client, "organization_list", all_fields="true", sort="package_count desc")
    assert orgs[0]["name"] == siheung.slug and orgs[0]["package_count"] == 3
    assert orgs[1]["package_count"] == 1
    org = result(client, "organization_show", id=object_uuid("organization", siheung.pk), include_datasets="true")
    assert org["name"] == siheung.slug and org["package_count"] == 3 and len(org["packages"]) == 3
    assert "packages" not in result(client, "organization_show", id=siheung.slug)
    groups = result(client, "group_list")
    assert set(groups) == set(Theme.objects.values_list("code", flat=True))
    with_counts = result(client, "group_list", all_fields="true", sort="package_count desc", limit=2)
    assert [(g["name"], g["package_count"]) for g in with_counts] == [("environment", 3), ("transport", 1)]
    group = result(client, "group_show", id="environment", include_datasets="true")
    assert group["package_count"] == 3 and {p["name"] for p in group["packages"]} == {
        world[k].dataset.slug for k in ("air", "daegu", "harvested")
    }
    tags = result(client, "tag_list")
    assert tags == sorted({"미세먼지", "대기질", "주차", "공영주차장", "경보"})
    assert result(client, "tag_list", query="주차") == ["공영주차장", "주차"]
    assert result(client, "tag_list", all_fields="true", query="경보")[0]["name"] == "경보"
    licences = {lic["id"]: lic for lic in result(client, "license_list")}
    assert {"kogl-type1", "kogl-type4", "cc-by", "cc-zero"} <= set(licences)
    assert all(lic["url"] and lic["title"] for lic in licences.values())
    status = result(client, "status_show")
    assert status["locale_default"] == "ko" and status["ckan_version"].startswith("2.")
    assert result(client, "help_show", name="package_search").startswith("Searches for packages")


# --- batching and limits ----------------------------------------------------------------------------------------


def test_a_page_of_packages_costs_a_fixed_number_of_queries(world):
    ids = list(CatalogEntry.objects.values_list("pk", flat=True))
    own = [pk for pk in ids if pk != world["harvested"].dataset_id]
    with CaptureQueriesContext(connection) as one:
        packages.package_dicts(own[:1])
    with CaptureQueriesContext(connection) as ours:
        packages.package_dicts(own)
    with CaptureQueriesContext(connection) as every:
        dicts = packages.package_dicts(ids)
    # entries (with version, dataset, publisher, theme, licence, and whether harvested or linked) and files; with a
    # harvested listing in the page, its records and link resources too
    assert len(one) == len(ours) == 2
    assert len(every) == 4
    assert [d["id"] for d in dicts] == [object_uuid("dataset", pk) for pk in ids]


def test_requests_count_against_the_address_budget(client, world, settings):
    settings.API_RATE_PER_IP = "3/minute"
    for _ in range(3):
        assert client.get("/api/3/action/status_show", REMOTE_ADDR="203.0.113.7").status_code == 200
    refused = client.get("/api/3/action/status_show", REMOTE_ADDR="203.0.113.7")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    body = refused.json()
    assert body["success"] is False and body["error"]["message"].startswith("Too many requests")
    assert body["error"]["message_ko"] != body["error"]["message"]
    assert client.get("/api/3/action/status_show", REMOTE_ADDR="203.0.113.8").status_code == 200
