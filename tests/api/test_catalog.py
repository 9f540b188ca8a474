"""The public catalog API: the same search, counts, facets and sorts as the catalog page, the same dataset,
versions, files, masked previews and free sample as the dataset page, nothing a buyer may not see, and every
bad parameter a 400 in the one error shape."""

import csv
import io
import uuid
from urllib.parse import quote

import pytest

from accounts.models import Organization
from catalog import services
from catalog.models import CatalogEntry, DataFile, Theme
from tests.catalog.test_dataset_page import BBOX, air_csv
from tests.catalog.test_dataset_page import publish as publish_through_review
from tests.catalog.test_discovery import publish
from tests.conftest import make_org, make_user

pytestmark = pytest.mark.django_db

FACETS = ("theme", "publisher", "format", "licence", "price", "tag", "cadence", "area")


@pytest.fixture
def publisher(official, reference_data):
    return official.active_organization


@pytest.fixture
def catalog(publisher):
    """A small catalog: two providers, several themes, tags, formats, prices, cadences and areas."""
    owner = make_user("owner@daegu.test")
    other = make_org(owner, name_ko="대구광역시 환경과", name_en="Daegu Environment", kind="provider", brn="5048300010")
    made = [
        publish(
            publisher, "초미세먼지 측정망 시간별 자료", tags=["미세먼지", "대기질"], downloads=40, title_en="PM2.5"
        ),
        publish(
            publisher, "미세먼지 경보 발령 현황", tags=["미세먼지"], formats=("csv", "json"), kinds=("free", "one_off")
        ),
        publish(publisher, "대기오염 측정소 위치", tags=["대기질"], formats=("xlsx",), cadence="yearly", downloads=3),
        publish(other, "대구 미세먼지 농도", tags=["미세먼지"], area="대구광역시 수성구", kinds=("subscription",)),
        publish(other, "버스 정류장 위치", theme="transport", tags=["버스"], formats=("json",), downloads=12),
        publish(publisher, "공영주차장 현황", theme="transport", tags=["주차"], kinds=("one_off",), licence="kogl-2"),
        publish(publisher, "하천 수질 측정", tags=["수질"], cadence="daily", downloads=7),
    ]
    return made


def page_result(client, query: str, language: str = "ko"):
    """The catalog page's own result for a query (the template's context), fetched through its URL."""
    client.cookies["django_language"] = language  # the portal's pages follow the language switch's cookie
    response = client.get("/catalog/?" + query)
    assert response.status_code == 200
    return response.context["result"]


def encoded(query: str) -> str:
    """A query string as a browser sends it (DRF's test client does not encode a path's Korean letters)."""
    return quote(query, safe="=&%")


def api_list(api, query: str, language: str = "ko", **extra):
    response = api.get("/api/v1/datasets/?" + encoded(query), HTTP_ACCEPT_LANGUAGE=language, **extra)
    assert response.status_code == 200, response.content
    return response.json()


QUERIES = [
    "q=미세먼지",
    "theme=environment",
    "sort=title",
    "q=미세먼지&theme=environment&price=free&format=csv",
    "tag=대기질&sort=downloads",
    "publisher={other}&price=subscription",
    "",
]


@pytest.mark.parametrize("query", QUERIES)
def test_results_counts_and_facets_equal_the_catalog_page(client, api, catalog, query):
    if "{other}" in query:
        query = query.format(other=catalog[3].publisher.slug)
    for language in ("ko", "en"):
        page = page_result(client, query, language)
        data = api_list(api, query, language)
        assert data["count"] == page.total and data["exact"] == page.exact
        assert [r["slug"] for r in data["results"]] == [e.slug for e in page.entries]
        assert data["sort"] == page.sort and data["relevance"] == page.relevance
        assert (data["page"], data["pages"]) == (page.page, page.pages)
        assert set(data["facets"]) == set(FACETS)
        for name in FACETS:
            shown = [(fv.value, str(fv.label), fv.count, fv.selected) for fv in page.facets.get(name, [])]
            api_values = [(v["value"], v[f"label_{language}"], v["count"], v["selected"]) for v in data["facets"][name]]
            assert api_values == shown, (language, name)
    assert data["count"] > 0


def test_a_result_line_carries_what_the_page_shows(client, api, catalog):
    page = page_result(client, "q=미세먼지 경보")
    line = page.entries[0]
    item = api_list(api, "q=미세먼지 경보")["results"][0]
    assert item["slug"] == line.slug and item["title_ko"] == "미세먼지 경보 발령 현황"
    assert item["organization"] == {"slug": line.publisher_slug, "name_ko": "환경정책과", "name_en": line.publisher_en}
    assert item["theme"]["code"] == "environment" and item["licence"]["code"] == "kogl-1"
    assert item["formats"] == ["csv", "json"] and sorted(item["price_types"]) == ["free", "paid"]
    # The lowest public one-off price as the page shows it: 10,000 + 10 % VAT.
    assert item["price_from"] == {"supply_krw": 10000, "vat_krw": 1000, "total_krw": 11000, "tax_free": False}
    assert line.price_from.total_krw == 11000
    assert item["url"].endswith(f"/api/v1/datasets/{line.slug}/") and item["page_url"].endswith(line.url)
    subscription = api_list(api, "q=대구 미세먼지")["results"][0]
    assert subscription["subscriptions"] == [
        {"days": 30, "supply_krw": 10000, "vat_krw": 1000, "total_krw": 11000, "tax_free": False}
    ]


def test_sort_options_are_the_pages(api, catalog):
    assert [s["value"] for s in api_list(api, "q=미세먼지")["sorts"]] == ["relevance", "newest", "downloads", "title"]
    sorts = api_list(api, "")["sorts"]
    assert [s["value"] for s in sorts] == ["newest", "downloads", "title"]  # relevance needs words
    assert sorts[1]["label_ko"] == "내려받기 많은 순" and sorts[1]["label_en"] == "Most downloaded"


def test_pagination_follows_next_links_to_the_end(client, api, publisher):
    for i in range(23):
        publish(publisher, f"대기질 자료 {i:02d}", downloads=i)
    data = api_list(api, "q=대기질&sort=downloads&page_size=10")
    assert data["count"] == 23 and data["pages"] == 3 and data["previous"] is None
    seen = [r["slug"] for r in data["results"]]
    pages = 1
    while data["next"]:
        data = api.get(data["next"]).json()
        seen += [r["slug"] for r in data["results"]]
        pages += 1
        assert data["previous"] is not None
    assert pages == 3 and len(data["results"]) == 3
    everything = api_list(api, "q=대기질&sort=downloads&page_size=100")["results"]
    assert seen == [r["slug"] for r in everything] and len(set(seen)) == 23
    # Page 2 at the page's size is the page's page 2; the previous link of page 2 is page 1 (no page parameter).
    second = api_list(api, "q=대기질&sort=downloads&page=2")
    assert [r["slug"] for r in second["results"]] == [
        e.slug for e in page_result(client, "q=대기질&sort=downloads&page=2").entries
    ]
    first = api.get(second["previous"]).json()
    assert "page=" not in second["previous"] and first["page"] == 1
    # Past the last page: 404 in the error shape (the page would show the last one); past the deepest page too.
    past = api.get("/api/v1/datasets/?" + encoded("q=대기질&page=3"))
    assert past.status_code == 404 and past.json()["error"]["code"] == "not_found"
    deepest = api.get("/api/v1/datasets/?page=101&page_size=100").json()["error"]
    assert deepest["code"] == "not_found" and "100" in deepest["message_ko"] and "100" in deepest["message_en"]
    assert deepest["message_ko"] != deepest["message_en"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page_size=101&page=1", "page_size"),
        ("page_size=0", "page_size"),
        ("sort=cheapest", "sort"),
        ("price=free%3Bdrop", "price"),
        ("area=" + "가" * 61, "area"),
        ("theme=%3Cscript%3E", "theme"),
        ("q=" + "가" * 201, "q"),
        ("&".join(f"tag=t{i}" for i in range(21)), "tag"),
    ],
)
def test_bad_parameters_are_400_in_the_error_shape_in_both_languages(api, catalog, query, field):
    response = api.get("/api/v1/datasets/?" + encoded(query))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["status"] == 400 and error["code"] == "invalid"
    assert list(error["fields"]) == [field]
    message = error["fields"][field][0]
    assert message["message_ko"] and message["message_en"] and message["message_ko"] != message["message_en"]


def test_unknown_filter_values_match_nothing_like_the_page(client, api, catalog):
    for query in ("price=gratis", "cadence=hourly", "publisher=nobody"):
        assert api_list(api, query)["count"] == 0 == page_result(client, query).total
    data = api_list(api, "theme=no-such-theme")
    assert data["count"] == 0 == page_result(client, "theme=no-such-theme").total
    assert data["facets"]["theme"] == [
        {
            "value": "no-such-theme",
            "label_ko": "no-such-theme",
            "label_en": "no-such-theme",
            "count": 0,
            "selected": True,
        }
    ]


def test_a_key_and_a_session_see_the_same_list_and_a_bad_key_is_refused(api, buyer, make_key, catalog):
    anonymous = api_list(api, "q=미세먼지")
    key = make_key(buyer, scopes=["buy"])
    assert api_list(api.with_key(key), "q=미세먼지")["results"] == anonymous["results"]
    refused = api.with_key("sdx_not-a-key").get("/api/v1/datasets/")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "authentication_failed"


# --- a dataset, its versions and files ------------------------------------------------------------------------------


@pytest.fixture
def published(official, admin_user, reference_data):
    """Published through the real checks and review: a CP949 CSV with a phone number (personal data: masked)."""
    return publish_through_review(
        official,
        admin_user,
        files=[("시흥_대기질.csv", air_csv())],
        spatial_bbox=BBOX,
        spatial_area="경기도 시흥시 정왕동",
        justification="담당자 사무실 번호입니다",
        offers=[{"kind": "free"}, {"kind": "one_off", "price_krw": 50_000, "cost_basis": "가공비"}],
    )


def test_a_dataset_is_what_its_page_shows_with_the_preview_masked_as_on_the_page(client, api, published):
    slug = published.dataset.slug
    response = client.get(f"/catalog/datasets/{slug}/")
    page = response.context["page"]
    html = response.content.decode()
    data = api.get(f"/api/v1/datasets/{slug}/").json()
    assert data["slug"] == slug and data["number"] == 1 and data["state"] == "published" and data["current"]
    assert data["title_ko"] == "시흥시 대기질 측정 자료" and data["tags"] == ["미세먼지", "대기질"]
    assert data["organization"]["slug"] == published.dataset.publisher.slug and data["organization"]["is_verified"]
    assert data["theme"]["code"] == "environment" and data["licence"]["code"] == "kogl-1"
    assert data["licence_text"]["text_ko"] == page.licence_text.text_ko
    assert data["contact"] == {
        "department": "환경정책과",
        "name": "정민준",
        "phone": "031-310-2114",
        "email": "official@siheung.test",
    }
    assert data["spatial_bbox"] == BBOX and data["next_update"] == page.next_update.isoformat()
    assert [v["number"] for v in data["versions"]] == [1] and data["versions"][0]["state"] == "published"
    [datafile] = data["files"]
    stored = published.files.get()
    assert datafile["id"] == stored.pk and datafile["format"] == "csv" and datafile["sha256"] == stored.sha256
    assert datafile["size"] == stored.size and datafile["row_count"] == 30 and datafile["encoding"] == stored.encoding
    assert [f["name"] for f in datafile["table_schema"]["fields"]][-1] == "담당자연락처"
    assert [row["name"] for row in datafile["dictionary"]] == [f["name"] for f in stored.table_schema["fields"]]
    # The preview is the page's: the phone number masked, the column's statistics dropped.
    [page_file] = page.files
    assert datafile["preview"]["rows"] == page_file.public_preview["rows"]
    cells = [cell for row in datafile["preview"]["rows"] for cell in row]
    assert "010-****-6789" in cells and "010-****-6789" in html
    assert "010-2345-6789" not in response.content.decode() and "010-2345-6789" not in str(data)
    phone = next(col for col in datafile["profile"] if col["name"] == "담당자연락처")
    assert phone["personal_data"] and phone["top_values"] == [] and phone["min"] is None
    assert datafile["sample_rows"] == page_file.sample_rows == len(stored.preview["rows"]) > 0
    assert datafile["sample_url"].endswith(f"/api/v1/datasets/{slug}/sample.csv?file={stored.pk}")
    assert data["sample_url"].endswith(f"/api/v1/datasets/{slug}/sample.csv")
    # Prices as the page computes them, VAT included.
    paid = next(o for o in data["offers"] if o["kind"] == "one_off")
    assert paid["price"] == {"supply_krw": 50000, "vat_krw": 5000, "total_krw": 55000, "tax_free": False}
    assert {o["kind"] for o in data["offers"]} == {o.kind for o in page.offers} and not paid["private"]
    # The file alone, by its own URL.
    alone = api.get(datafile["url"]).json()
    assert alone == datafile


def test_a_map_layer_is_linked_where_the_page_draws_it(client, api, published):
    slug = published.dataset.slug
    page = client.get(f"/catalog/datasets/{slug}/").context["page"]
    data = api.get(f"/api/v1/datasets/{slug}/").json()
    layers = {m.pk for m in page.map_files}
    for f in data["files"]:
        if f["id"] in layers:
            assert f["map"]["url"].endswith(f"/catalog/datasets/{slug}/map/{f['id']}.json")
            assert client.get(f["map"]["url"]).status_code == 200
        else:
            assert f["map"] is None


def test_the_sample_csv_streams_the_pages_sample(client, api, published):
    slug = published.dataset.slug
    datafile = published.files.get()
    page = client.get(f"/catalog/datasets/{slug}/sample.csv")
    for url in (f"/api/v1/datasets/{slug}/sample.csv", f"/api/v1/datasets/{slug}/sample.csv?file={datafile.pk}"):
        response = api.get(url, HTTP_ACCEPT="text/csv")
        assert response.status_code == 200 and response.streaming
        assert response["Content-Type"] == "text/csv; charset=utf-8" == page["Content-Type"]
        assert response["Content-Disposition"] == page["Content-Disposition"]
        body = b"".join(response.streaming_content)
        assert body == page.content and body.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert "'=1+2" in [cell for row in rows for cell in row]  # a formula cell neutralised, as on the page
        assert "010-2345-6789" not in body.decode("utf-8-sig")
    for bad in ("file=x", "file=0"):
        refused = api.get(f"/api/v1/datasets/{slug}/sample.csv?{bad}", HTTP_ACCEPT="text/csv")
        assert refused.status_code == 400 and refused["Content-Type"] == "application/json"
        assert refused.json()["error"]["fields"]["file"]
    missing = api.get(f"/api/v1/datasets/{slug}/sample.csv?file=999999999", HTTP_ACCEPT="text/csv")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_a_superseded_version_stays_readable_with_its_files(api, official, admin_user, reference_data):
    first = publish_through_review(official, admin_user, fake_files=1)
    dataset = first.dataset
    second = services.version_start_new(actor=official, dataset=dataset, change_note="2025년 자료 추가")
    draft_url = f"/api/v1/datasets/{dataset.slug}/versions/2/"
    assert api.get(draft_url).status_code == 404  # a draft is not public
    services.version_submit(actor=official, version=second)
    services.version_approve(actor=admin_user, version=second)
    data = api.get(f"/api/v1/datasets/{dataset.slug}/").json()
    assert data["number"] == 2 and [(v["number"], v["state"]) for v in data["versions"]] == [
        (2, "published"),
        (1, "superseded"),
    ]
    assert data["versions"][0]["change_note"] == "2025년 자료 추가" and data["versions"][0]["current"]
    old = api.get(data["versions"][1]["url"]).json()
    assert old["number"] == 1 and old["state"] == "superseded" and not old["current"]
    old_file = first.files.get()
    assert [f["id"] for f in old["files"]] == [old_file.pk]
    assert old["files"][0]["sample_url"] is None  # the free sample is the current version's
    assert api.get(f"/api/v1/datasets/{dataset.slug}/files/{old_file.pk}/").json()["id"] == old_file.pk
    for number in ("3", "0", "99999999999"):
        assert api.get(f"/api/v1/datasets/{dataset.slug}/versions/{number}/").status_code == 404


def test_drafts_withdrawn_and_suspended_datasets_are_404_everywhere(api, official, admin_user, buyer, make_key):
    live = publish_through_review(official, admin_user, fake_files=1, title_ko="공개 자료")
    datafile = live.files.get()
    slug = live.dataset.slug
    urls = [
        f"/api/v1/datasets/{slug}/",
        f"/api/v1/datasets/{slug}/versions/1/",
        f"/api/v1/datasets/{slug}/files/{datafile.pk}/",
        f"/api/v1/datasets/{slug}/sample.csv",
    ]
    key = make_key(official, scopes=["publish"])  # even the publisher's own key: the catalog shows what buyers see

    def statuses(client):
        return [client.get(url).status_code for url in urls]

    assert statuses(api) == [200] * 4
    services.dataset_suspend(actor=admin_user, dataset=live.dataset, reason="확인 중")
    assert statuses(api) == [404] * 4 and statuses(api.with_key(key)) == [404] * 4
    body = api.get(urls[0]).json()["error"]
    assert body["code"] == "not_found" and body["message_ko"] != body["message_en"]
    services.dataset_reinstate(actor=admin_user, dataset=live.dataset, reason="확인 완료")
    assert statuses(api) == [200] * 4
    services.version_withdraw(actor=official, version=live, reason="오류 발견")
    assert statuses(api) == [404] * 4
    draft = services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko="초안",
        description_ko="초안",
        theme=Theme.objects.get(code="environment"),
        contact_name="정",
        contact_phone="031",
        contact_email="a@b.kr",
        update_cadence="monthly",
        data_kind="public",
    )
    assert api.get(f"/api/v1/datasets/{draft.dataset.slug}/").status_code == 404
    assert api.get(f"/api/v1/datasets/{draft.dataset.slug}/versions/1/").status_code == 404
    assert not api_list(api, "q=초안")["results"] and not api_list(api, "q=공개 자료")["results"]


def test_a_file_of_another_dataset_is_not_found_through_this_one(api, official, admin_user, reference_data):
    mine = publish_through_review(official, admin_user, fake_files=1)
    other = publish_through_review(official, admin_user, fake_files=1, title_ko="다른 자료")
    foreign = other.files.get()
    assert api.get(f"/api/v1/datasets/{mine.dataset.slug}/files/{foreign.pk}/").status_code == 404
    assert api.get(f"/api/v1/datasets/{mine.dataset.slug}/sample.csv?file={foreign.pk}").status_code == 404
    assert api.get(f"/api/v1/datasets/{other.dataset.slug}/files/{foreign.pk}/").status_code == 200


def test_a_private_offer_is_seen_only_by_its_buyer_organization(api, official, admin_user, buyer, make_key):
    Organization.objects.filter(pk=official.active_organization_id).update(vat_status="exempt")
    official.active_organization.refresh_from_db()
    version = publish_through_review(official, admin_user, fake_files=1)
    private = services.offer_create(
        actor=official,
        dataset=version.dataset,
        kind="one_off",
        price_krw=777_000,
        cost_basis="맞춤 가공",
        buyer=buyer.active_organization,
        terms="별도 계약",
    )
    url = f"/api/v1/datasets/{version.dataset.slug}/"
    rival_owner = make_user("owner@rival.test")
    rival = make_org(rival_owner, name_ko="(주)경쟁사", name_en="Rival", kind="consumer", brn="2208162517")

    def offer_ids(client):
        return [o["id"] for o in client.get(url).json()["offers"]]

    assert private.pk not in offer_ids(api)
    assert private.pk not in offer_ids(Client_with_key(make_key(rival_owner, scopes=["buy"], organization=rival)))
    seen = Client_with_key(make_key(buyer, scopes=["read"])).get(url).json()["offers"]
    mine = next(o for o in seen if o["id"] == private.pk)
    assert mine["private"] and mine["terms"] == "별도 계약"
    assert mine["price"] == {"supply_krw": 777000, "vat_krw": 0, "total_krw": 777000, "tax_free": True}  # 면세
    session = Client_with_key(None)
    session.force_login(buyer)
    assert private.pk in offer_ids(session)
    page = session.get(f"/catalog/datasets/{version.dataset.slug}/").content.decode()
    assert "777,000" in page  # the purchase panel shows it to the same organization


def Client_with_key(key):  # noqa: N802 - a fresh API client per viewer
    from rest_framework.test import APIClient

    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- licences, themes, organizations ----------------------------------------------------------------------------------


def test_themes_and_licences(api, catalog):
    themes = api.get("/api/v1/themes/").json()
    by_code = {t["code"]: t for t in themes}
    assert by_code["environment"]["dataset_count"] == CatalogEntry.objects.filter(theme__code="environment").count()
    assert by_code["transport"]["dataset_count"] == 2 and by_code["environment"]["name_ko"]
    assert api.get(by_code["transport"]["datasets_url"]).json()["count"] == 2
    licences = api.get("/api/v1/licences/").json()
    kogl = next(item for item in licences if item["code"] == "kogl-1")
    assert kogl["family"] == "kogl" and kogl["allows_commercial_use"] and kogl["organization"] is None


def test_organizations_are_the_providers_with_their_counts(api, catalog, publisher, buyer):
    listed = api.get("/api/v1/organizations/?page_size=100").json()
    by_slug = {o["slug"]: o for o in listed["results"]}
    assert by_slug[publisher.slug]["dataset_count"] == 5
    assert buyer.active_organization.slug not in by_slug  # a buying company is not a provider
    detail = api.get(by_slug[publisher.slug]["url"]).json()
    assert detail["dataset_count"] == 5 and detail["contact"]["email"] == publisher.contact_email
    assert api.get(detail["datasets_url"]).json()["count"] == 5
    company = api.get(f"/api/v1/organizations/{buyer.active_organization.slug}/").json()
    assert company["contact"] is None and company["address"] is None  # as on the page: not public for a buyer
    assert api.get(f"/api/v1/organizations/no-such-{uuid.uuid4().hex[:6]}/").status_code == 404
    assert api.get("/api/v1/organizations/?page_size=101").status_code == 400


def test_the_schema_declares_the_sample_as_csv(api):
    schema = api.get("/api/schema/?format=json").json()
    sample = schema["paths"]["/api/v1/datasets/{slug}/sample.csv"]["get"]
    assert list(sample["responses"]["200"]["content"]) == ["text/csv"]
    listing = schema["paths"]["/api/v1/datasets/"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"q", "theme", "publisher", "format", "licence", "price", "tag", "cadence", "area", "sort", "page"} <= names


def test_a_sheet_table_has_no_size_or_checksum_of_its_own(api, official, admin_user, reference_data):
    version = publish_through_review(official, admin_user, fake_files=1)
    workbook = version.files.get()
    DataFile.objects.filter(pk=workbook.pk).update(format="xlsx", sheet={"tables": 2, "empty": []})
    sheet = DataFile.objects.create(
        version=version,
        parent=workbook,
        file="",
        original_name="1월",
        format="xlsx",
        size=0,
        sha256="",
        check_state="passed",
        sheet={"name": "1월", "index": 0, "header_rows": [1], "title": ""},
        table_schema={"fields": [{"name": "a", "type": "string"}]},
        preview={"columns": ["a"], "rows": [["x"]]},
    )
    data = api.get(f"/api/v1/datasets/{version.dataset.slug}/").json()
    [top] = data["files"]
    [member] = top["members"]
    assert member["id"] == sheet.pk and member["is_sheet"] and member["size"] is None and member["sha256"] is None
    assert member["sheet"] == "1월" and member["display_name"].endswith("› 1월")
    assert member["preview"]["rows"] == [["x"]] and member["members"] == []
