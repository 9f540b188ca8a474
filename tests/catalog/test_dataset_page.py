"""The public dataset page, its free sample and the public organization page: what buyers may see,
prices with VAT, sanitised descriptions, JSON-LD, the next-update rule, related datasets, query counts."""

import csv
import io
import json
import re
import zipfile
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization
from catalog import services
from catalog.models import CatalogEntry, DataFile, DatasetVersion, Licence, Theme
from catalog.schedule import next_update_due
from catalog.selectors import dataset_related
from catalog.tasks import datafile_check_task
from tests.conftest import make_org, make_user

BBOX = [126.72, 37.33, 126.86, 37.46]


def air_csv(rows=30, *, phone_row=3) -> bytes:
    """A small CP949 CSV: stations, hours, numbers, an empty-ish column, one phone number, one formula-like cell."""
    lines = ["측정소명,측정일시,미세먼지,비고,담당자연락처"]
    for i in range(rows):
        note = "=1+2" if i == 1 else ("점검" if i % 7 == 0 else "")
        phone = "010-2345-6789" if i == phone_row else ""
        lines.append(
            f"{['정왕동', '대야동', '배곧동'][i % 3]},2024-01-01 {i % 24:02d}:00,{10 + i * 3 % 90},{note},{phone}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp949")


def plain_csv(name_col="지점", rows=12) -> bytes:
    lines = [f"{name_col},값"] + [f"지점{i},{i * 2}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def run_checks(version):
    """The automatic checks, in-process with the worker's code (ZIP members are checked after their archive)."""
    while True:
        pending = list(DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING))
        if not pending:
            break
        for datafile in pending:
            datafile_check_task.apply(args=[datafile.pk])
    version.refresh_from_db()


def upload(official, version, name, data: bytes, checks=run_checks):
    up = services.upload_create(actor=official, version=version, filename=name, length=len(data))
    services.upload_append(actor=official, upload=up, offset=0, stream=io.BytesIO(data))
    checks(version)


def publish(
    official,
    admin,
    *,
    files=(),
    offers=({"kind": "free"},),
    fake_files=0,
    justification="",
    checks=run_checks,
    **metadata,
):
    """A dataset of the official's organization, through the real services: describe, upload (real files
    through the real checks, or `fake_files` rows that look checked), offer, submit, approve. `checks`
    runs or awaits the checks of the uploaded files (in-process by default; a browser test awaits its worker)."""
    fields = dict(
        title_ko="시흥시 대기질 측정 자료",
        title_en="Siheung air quality",
        description_ko="정왕동 측정소의 시간별 자료입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지, 대기질",
        department="환경정책과",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email="official@siheung.test",
        update_cadence="monthly",
        data_kind="public",
        licence=Licence.objects.get(code="kogl-1"),
    )
    fields.update(metadata)
    organization = fields.pop("organization", official.active_organization)
    version = services.dataset_create(actor=official, organization=organization, **fields)
    for name, data in files:
        upload(official, version, name, data, checks=checks)
    for i in range(fake_files):
        DataFile.objects.create(
            version=version,
            file=f"datasets/test/{i}.csv",
            original_name=f"파일{i}.csv",
            format="csv",
            size=100 + i,
            sha256=f"{i:064d}",
            check_state="passed",
            row_count=10,
            column_count=2,
            table_schema={"fields": [{"name": "지점", "type": "string"}, {"name": "값", "type": "integer"}]},
            profile=[
                {"name": "지점", "type": "string", "count": 10, "nulls": 0, "distinct": 10, "top_values": []},
                {
                    "name": "값",
                    "type": "integer",
                    "count": 10,
                    "nulls": 1,
                    "null_ratio": 0.1,
                    "distinct": 9,
                    "min": 0,
                    "max": 18,
                    "histogram": [{"from": 0, "to": 9, "count": 5}, {"from": 10, "to": 18, "count": 4}],
                },
            ],
            preview={"columns": ["지점", "값"], "rows": [[f"지점{j}", j * 2] for j in range(5)]},
        )
    services._refresh_version_state(version)
    for offer in offers:
        services.offer_create(actor=official, dataset=version.dataset, **offer)
    version.refresh_from_db()
    services.version_submit(actor=official, version=version, pii_justification=justification)
    services.version_approve(actor=admin, version=version)
    return DatasetVersion.objects.select_related("dataset__publisher").get(pk=version.pk)


def page_of(client, version):
    response = client.get(reverse("catalog:dataset", args=[version.dataset.slug]))
    assert response.status_code == 200
    return response.content.decode()


def jsonld_of(html: str) -> dict:
    match = re.search(r'<script type="application/ld\+json" nonce="[^"]+">(.*?)</script>', html, re.S)
    assert match, "no JSON-LD in the head"
    return json.loads(match.group(1))


@pytest.fixture
def published(official, admin_user, reference_data):
    """A published dataset with one real CSV (checked in-process), a bounding box and a free offer."""
    return publish(
        official,
        admin_user,
        files=[("시흥_대기질.csv", air_csv())],
        spatial_bbox=BBOX,
        spatial_area="경기도 시흥시 정왕동",
        temporal_start=date(2024, 1, 1),
        temporal_end=date(2024, 12, 31),
        justification="담당자 사무실 번호입니다",
    )


# ---- What is visible -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_datasets_with_a_catalog_entry_have_a_page(client, official, admin_user, reference_data):
    """Drafts, submitted, rejected, withdrawn and suspended datasets answer 404, page and sample alike."""

    def status(version):
        slug = version.dataset.slug
        return (
            client.get(reverse("catalog:dataset", args=[slug])).status_code,
            client.get(reverse("catalog:dataset_sample", args=[slug])).status_code,
        )

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
        licence=Licence.objects.get(code="kogl-1"),
    )
    assert status(draft) == (404, 404)
    DataFile.objects.create(
        version=draft,
        file="x.csv",
        original_name="x.csv",
        format="csv",
        size=1,
        sha256="0" * 64,
        check_state="passed",
        preview={"columns": ["a"], "rows": [[1]]},
    )
    services._refresh_version_state(draft)
    services.offer_create(actor=official, dataset=draft.dataset, kind="free")
    services.version_submit(actor=official, version=draft)
    assert status(draft) == (404, 404)  # submitted
    services.version_reject(actor=admin_user, version=draft, reason="단위 누락")
    assert status(draft) == (404, 404)  # rejected

    live = publish(official, admin_user, fake_files=1, title_ko="공개 자료")
    assert status(live) == (200, 200)
    services.dataset_suspend(actor=admin_user, dataset=live.dataset, reason="확인 중")
    assert status(live) == (404, 404)
    services.dataset_reinstate(actor=admin_user, dataset=live.dataset, reason="확인 완료")
    assert status(live) == (200, 200)
    services.version_withdraw(actor=official, version=live, reason="오류 발견")
    assert status(live) == (404, 404)
    assert client.get(reverse("catalog:dataset", args=["no-such-dataset"])).status_code == 404


@pytest.mark.django_db
def test_the_page_shows_what_a_buyer_needs(client, published):
    html = page_of(client, published)
    dataset, org = published.dataset, published.dataset.publisher
    assert "시흥시 대기질 측정 자료" in html and "Siheung air quality" in html
    assert f'href="{reverse("catalog:organization", args=[org.slug])}"' in html
    for contact in ("환경정책과", "정민준", "031-310-2114", "mailto:official@siheung.test"):
        assert contact in html
    assert 'href="/catalog/?theme=environment"' in html
    assert f'href="/catalog/?tag={quote("미세먼지")}"' in html and f'href="/catalog/?tag={quote("대기질")}"' in html
    licence = Licence.objects.get(code="kogl-1")
    assert licence.summary_ko in html
    assert re.search(r"<details[^>]*>\s*<summary>[^<]*</summary>\s*<div class=\"ds-licence-text\"", html)
    datafile = published.files.get()
    assert f'id="schema-{datafile.pk}"' in html and "담당자연락처" in html
    assert f'data-profile="profile-data-{datafile.pk}"' in html and f'id="profile-data-{datafile.pk}"' in html
    assert 'data-chart="histogram"' in html
    assert f'id="sample-{datafile.pk}"' in html and "배곧동" in html
    assert f"{reverse('catalog:dataset_sample', args=[dataset.slug])}?file={datafile.pk}" in html
    assert (
        'id="purchase-offers"' in html.split('id="purchase-panel"')[1]
    )  # the transactions app renders the buying panel
    assert 'id="coverage-map"' in html and 'id="coverage-map-config"' in html
    assert "경기도 시흥시 정왕동" in html


@pytest.mark.django_db
def test_personal_data_is_masked_in_the_stored_preview_the_page_and_the_sample(client, published):
    datafile = published.files.get()
    assert datafile.check_state == "warning" and datafile.pii_findings
    cells = [cell for row in datafile.preview["rows"] for cell in row if cell]
    assert "010-****-6789" in cells and "010-2345-6789" not in cells
    html = page_of(client, published)
    sample = client.get(reverse("catalog:dataset_sample", args=[published.dataset.slug])).content.decode("utf-8-sig")
    for text in (html, sample):
        assert "010-2345-6789" not in text and "2345-6789" not in text
        assert "010-****-6789" in text
    assert '<span class="krds-badge bg-light-warning">가림 처리</span>' in html  # the column is marked


@pytest.mark.django_db
def test_no_map_without_a_bounding_box(client, official, admin_user, reference_data):
    version = publish(official, admin_user, fake_files=1, spatial_area="경기도 시흥시")
    html = page_of(client, version)
    assert 'id="coverage-map"' not in html and "leaflet" not in html
    assert "경기도 시흥시" in html


# ---- Prices -------------------------------------------------------------------------------------------------


def _offer_html(html, offer):
    match = re.search(rf'<li class="ds-offer" id="offer-{offer.pk}">(.*?)</li>', html, re.S)
    assert match, f"offer {offer.pk} not shown"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1)))


@pytest.mark.django_db
@pytest.mark.parametrize("vat_status, vat, total", [("taxable", "5,000", "55,000"), ("exempt", "0", "50,000")])
def test_prices_are_supply_plus_vat_equals_total(
    client, official, admin_user, buyer, reference_data, vat_status, vat, total
):
    Organization.objects.filter(pk=official.active_organization_id).update(vat_status=vat_status)
    official.active_organization.refresh_from_db()
    version = publish(
        official,
        admin_user,
        fake_files=1,
        offers=[
            {"kind": "free"},
            {"kind": "subscription", "price_krw": 50_000, "subscription_days": 365, "cost_basis": "전송 시스템 유지비"},
        ],
    )
    dataset = version.dataset
    hidden_private = services.offer_create(
        actor=official,
        dataset=dataset,
        kind="one_off",
        price_krw=777_000,
        cost_basis="맞춤 가공",
        buyer=buyer.active_organization,
        terms="별도 계약",
    )
    stopped = services.offer_create(
        actor=official, dataset=dataset, kind="one_off", price_krw=888_000, cost_basis="가공"
    )
    services.offer_deactivate(actor=official, offer=stopped)
    html = page_of(client, version)
    subscription = dataset.offers.get(kind="subscription")
    text = _offer_html(html, subscription)
    assert re.search(rf"공급가액\)? ?50,000원 \+ .*부가세\)?.* ?{vat}원 = .*합계\)? ?{total}원", text), text
    assert ("면세" in text) == (vat_status == "exempt")
    assert "전송 시스템 유지비" in text and "365" in text
    assert f'id="offer-{hidden_private.pk}"' not in html and "777,000" not in html  # private offer
    assert f'id="offer-{stopped.pk}"' not in html and "888,000" not in html  # inactive offer
    assert jsonld_of(html)["isAccessibleForFree"] is True


# ---- Description, JSON-LD -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_markdown_description_is_rendered_and_sanitised(client, official, admin_user, reference_data):
    version = publish(
        official,
        admin_user,
        fake_files=1,
        description_ko=(
            "# 개요\n**굵게** 쓴 설명과 [공식 사이트](https://data.siheung.go.kr)\n\n- 하나\n- 둘\n\n"
            '<script>alert(\'xss\')</script><img src=x onerror="alert(1)"><a href="javascript:alert(2)">링크</a>'
            '<p style="color:red" onclick="x()">스타일</p>'
        ),
    )
    html = page_of(client, version)
    description = re.search(r'<div class="ds-prose" id="dataset-description"[^>]*>(.*?)</div>', html, re.S).group(1)
    assert "<h3>개요</h3>" in description and "<strong>굵게</strong>" in description and "<li>하나</li>" in description
    assert 'href="https://data.siheung.go.kr"' in description and "nofollow" in description
    for bad in ("<script", "alert(", "onerror", "onclick", "javascript:", "style=", "<img"):
        assert bad not in description, bad
    assert "alert('xss')" not in html and "alert(1)" not in html


@pytest.mark.django_db
def test_json_ld_describes_the_dataset(client, published):
    html = page_of(client, published)
    data = jsonld_of(html)
    dataset = published.dataset
    url = f"http://testserver{reverse('catalog:dataset', args=[dataset.slug])}"
    assert data["@context"] == "https://schema.org" and data["@type"] == "Dataset"
    assert data["name"] == "시흥시 대기질 측정 자료" and data["alternateName"] == "Siheung air quality"
    assert data["url"] == url and data["identifier"] == dataset.slug and data["version"] == "1"
    assert data["license"] == Licence.objects.get(code="kogl-1").url
    assert {"미세먼지", "대기질"} <= set(data["keywords"])
    assert data["creator"]["@type"] == "Organization" and data["creator"]["name"] == "환경정책과"
    assert data["creator"]["contactPoint"]["email"] == "official@siheung.test"
    assert data["publisher"]["url"].endswith(reverse("catalog:organization", args=[dataset.publisher.slug]))
    assert data["temporalCoverage"] == "2024-01-01/2024-12-31"
    assert data["spatialCoverage"]["name"] == "경기도 시흥시 정왕동"
    assert data["spatialCoverage"]["geo"] == {"@type": "GeoShape", "box": "37.33 126.72 37.46 126.86"}
    datafile = published.files.get()
    assert data["distribution"][0]["@type"] == "DataDownload"
    assert data["distribution"][0]["contentUrl"] == f"{url}sample.csv?file={datafile.pk}"
    assert data["distribution"][0]["encodingFormat"] == "text/csv"
    assert data["dateModified"].startswith(str(timezone.localdate(published.published_at).year))
    assert data["isAccessibleForFree"] is True


@pytest.mark.django_db
def test_json_ld_cannot_be_broken_out_of(client, official, admin_user, reference_data):
    version = publish(
        official,
        admin_user,
        fake_files=1,
        title_en="A </script><script>alert(1)</script> & <b>",
        offers=[{"kind": "one_off", "price_krw": 1000, "cost_basis": "가공비"}],
    )
    html = page_of(client, version)
    head = html.split("</head>")[0]
    assert "</script><script>alert(1)" not in head
    data = jsonld_of(html)
    assert data["alternateName"] == "A </script><script>alert(1)</script> & <b>"
    assert data["isAccessibleForFree"] is False


# ---- Free sample ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sample_csv_is_the_preview_with_a_bom(client, published):
    datafile = published.files.get()
    response = client.get(reverse("catalog:dataset_sample", args=[published.dataset.slug]))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == datafile.preview["columns"]
    expected = [
        ["" if v is None else ("'" + v if isinstance(v, str) and v.startswith("=") else str(v)) for v in row]
        for row in datafile.preview["rows"]
    ]
    assert rows[1:] == expected and len(rows) == 1 + len(datafile.preview["rows"])
    assert [c for r in rows for c in r if "1+2" in c] == ["'=1+2"]  # a formula is neutralised for spreadsheets
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert f'filename="{published.dataset.slug}-v1-sample.csv"' in disposition
    assert f"filename*=UTF-8''{quote('시흥_대기질_sample.csv')}" in disposition
    # Another file by id; an unknown or non-numeric id is a 404.
    assert (
        client.get(
            reverse("catalog:dataset_sample", args=[published.dataset.slug]) + f"?file={datafile.pk}"
        ).status_code
        == 200
    )
    assert (
        client.get(reverse("catalog:dataset_sample", args=[published.dataset.slug]) + "?file=999999").status_code == 404
    )
    assert client.get(reverse("catalog:dataset_sample", args=[published.dataset.slug]) + "?file=x").status_code == 404


@pytest.mark.django_db
def test_sample_of_a_file_of_another_dataset_is_refused(client, official, admin_user, published):
    other = publish(official, admin_user, fake_files=1, title_ko="다른 자료")
    foreign = other.files.get()
    url = reverse("catalog:dataset_sample", args=[published.dataset.slug]) + f"?file={foreign.pk}"
    assert client.get(url).status_code == 404


# ---- Next update ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cadence, published, expected",
    [
        ("daily", date(2024, 12, 31), date(2025, 1, 1)),
        ("weekly", date(2024, 2, 26), date(2024, 3, 4)),
        ("monthly", date(2024, 1, 31), date(2024, 2, 29)),  # leap year: the month's last day
        ("monthly", date(2025, 1, 31), date(2025, 2, 28)),
        ("monthly", date(2024, 12, 15), date(2025, 1, 15)),
        ("quarterly", date(2024, 11, 30), date(2025, 2, 28)),
        ("half_yearly", date(2024, 8, 31), date(2025, 2, 28)),
        ("yearly", date(2024, 2, 29), date(2025, 2, 28)),
        ("realtime", date(2024, 1, 1), None),
        ("irregular", date(2024, 1, 1), None),
        ("none", date(2024, 1, 1), None),
        ("monthly", None, None),
    ],
)
def test_next_update_is_one_period_after_the_last_publication(cadence, published, expected):
    assert next_update_due(cadence, published) == expected


@pytest.mark.django_db
def test_the_page_shows_the_next_update_and_says_when_it_is_late(client, official, admin_user, reference_data):
    version = publish(official, admin_user, fake_files=1, update_cadence="monthly")
    fact = re.compile(r'<div id="next-update">(.*?)</div>', re.S)
    expected = next_update_due("monthly", timezone.localdate(version.published_at))
    from django.utils.formats import date_format

    html = page_of(client, version)
    assert date_format(expected, "DATE_FORMAT") in fact.search(html).group(1)
    assert "지연" not in fact.search(html).group(1)
    DatasetVersion.objects.filter(pk=version.pk).update(published_at=timezone.now() - timedelta(days=70))
    late = fact.search(page_of(client, version)).group(1)
    assert "지연" in late


# ---- Related datasets ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_related_datasets_share_a_keyword_or_the_theme_and_are_visible(client, official, admin_user, reference_data):
    me = publish(official, admin_user, fake_files=1, tags="미세먼지, 대기질")
    transport = Theme.objects.get(code="transport")
    same_tag = publish(
        official, admin_user, fake_files=1, title_ko="미세먼지 교통 영향", theme=transport, tags="미세먼지"
    )
    same_theme = publish(official, admin_user, fake_files=1, title_ko="하천 수질", tags="수질")
    unrelated = publish(official, admin_user, fake_files=1, title_ko="버스 정류장", theme=transport, tags="버스")
    suspended = publish(official, admin_user, fake_files=1, title_ko="정지된 자료", tags="미세먼지")
    services.dataset_suspend(actor=admin_user, dataset=suspended.dataset, reason="확인 중")
    withdrawn = publish(official, admin_user, fake_files=1, title_ko="철회된 자료", tags="대기질")
    services.version_withdraw(actor=official, version=withdrawn, reason="오류")
    services.dataset_create(  # a draft of the same theme and keyword: no entry
        actor=official,
        organization=official.active_organization,
        title_ko="초안 자료",
        description_ko="초안",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지",
        contact_name="정",
        contact_phone="031",
        contact_email="a@b.kr",
        update_cadence="monthly",
        data_kind="public",
    )
    related = dataset_related(CatalogEntry.objects.get(dataset=me.dataset))
    assert [e.dataset_id for e in related] == [same_tag.dataset_id, same_theme.dataset_id]
    html = page_of(client, me)
    section = html.split('id="related-datasets"')[1].split("</section>")[0]
    assert "미세먼지 교통 영향" in section and "하천 수질" in section
    for hidden in ("시흥시 대기질 측정 자료", "버스 정류장", "정지된 자료", "철회된 자료", "초안 자료"):
        assert hidden not in section
    assert unrelated.dataset_id not in [e.dataset_id for e in related]


@pytest.mark.django_db
def test_at_most_six_related_datasets(official, admin_user, reference_data):
    me = publish(official, admin_user, fake_files=1)
    for i in range(8):
        publish(official, admin_user, fake_files=1, title_ko=f"같은 주제 {i}", tags=f"태그{i}")
    related = dataset_related(CatalogEntry.objects.get(dataset=me.dataset))
    assert len(related) == 6 and me.dataset_id not in [e.dataset_id for e in related]


# ---- Query counts -----------------------------------------------------------------------------------------------


def _zip(*members) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.django_db
def test_dataset_page_queries_do_not_grow_with_files(
    client, login, official, admin_user, buyer, reference_data, django_assert_max_num_queries, django_assert_num_queries
):
    one = publish(official, admin_user, files=[("하나.csv", plain_csv())], spatial_bbox=BBOX, title_ko="파일 하나")
    many = publish(
        official,
        admin_user,
        title_ko="파일 여럿",
        spatial_bbox=BBOX,
        justification="사무실 번호",
        files=[
            ("대기.csv", air_csv()),
            ("둘.csv", plain_csv("측정소")),
            ("묶음.zip", _zip(("셋.csv", plain_csv()), ("넷.csv", plain_csv("동")))),
        ],
        offers=[
            {"kind": "free"},
            {"kind": "one_off", "price_krw": 10_000, "cost_basis": "가공비"},
            {"kind": "subscription", "price_krw": 30_000, "subscription_days": 90, "cost_basis": "유지비"},
        ],
    )
    assert many.files.count() == 5 and many.files.exclude(table_schema=None).count() == 4
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        page_of(client, one)
    with django_assert_max_num_queries(10):
        html = page_of(client, many)
    assert html.count('class="ds-file"') == 4 and html.count('data-chart="nulls"') >= 1
    with django_assert_num_queries(len(few.captured_queries)):
        page_of(client, many)  # the same number of queries for one file or five
    login(buyer)
    with django_assert_max_num_queries(10):
        page_of(client, many)


@pytest.mark.django_db
def test_organization_page_queries(client, official, admin_user, reference_data, django_assert_max_num_queries):
    for i in range(3):
        publish(official, admin_user, fake_files=3, title_ko=f"자료 {i}")
    with django_assert_max_num_queries(10):
        response = client.get(reverse("catalog:organization", args=[official.active_organization.slug]))
    assert response.status_code == 200


# ---- Organization page -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_organization_page_lists_its_visible_datasets_newest_first(client, official, admin_user, reference_data):
    org = official.active_organization
    Organization.objects.filter(pk=org.pk).update(address="경기도 시흥시 시청로 20", contact_phone="031-310-2000")
    first = publish(official, admin_user, fake_files=1, title_ko="먼저 나온 자료")
    second = publish(official, admin_user, fake_files=1, title_ko="나중에 나온 자료")
    hidden = publish(official, admin_user, fake_files=1, title_ko="정지된 자료")
    services.dataset_suspend(actor=admin_user, dataset=hidden.dataset, reason="확인 중")
    html = client.get(reverse("catalog:organization", args=[org.slug])).content.decode()
    assert "환경정책과" in html and "Environmental Policy Division" in html
    assert 'id="org-verified"' in html and "경기도 시흥시 시청로 20" in html and "031-310-2000" in html
    assert html.index("나중에 나온 자료") < html.index("먼저 나온 자료")
    assert "정지된 자료" not in html
    assert reverse("catalog:dataset", args=[first.dataset.slug]) in html
    assert reverse("catalog:dataset", args=[second.dataset.slug]) in html
    assert re.search(r'id="org-datasets-title">[^<]*(?<!\d)2(?!\d)', html)
    assert client.get(reverse("catalog:organization", args=["no-such-org"])).status_code == 404


@pytest.mark.django_db
def test_organization_page_paginates_by_twenty(client, official, admin_user, reference_data):
    for i in range(21):
        publish(official, admin_user, fake_files=1, title_ko=f"자료 번호 {i:02d}")
    url = reverse("catalog:organization", args=[official.active_organization.slug])
    first, second = client.get(url).content.decode(), client.get(url + "?page=2").content.decode()
    assert first.count('class="pg-dataset-item"') == 20 and second.count('class="pg-dataset-item"') == 1
    assert "자료 번호 20" in first and "자료 번호 00" in second


@pytest.mark.django_db
def test_unverified_organization_without_datasets_says_so(client, db):
    owner = make_user("owner@unverified.test")
    company = make_org(
        owner,
        name_ko="미확인 회사",
        name_en="Unverified Co.",
        kind="consumer",
        brn="2118608983",
        verified=False,
        contact_phone="02-555-0000",
        address="서울특별시 중구 세종대로 110",
    )
    html = client.get(reverse("catalog:organization", args=[company.slug])).content.decode()
    assert "미확인 회사" in html and 'id="org-unverified"' in html and 'id="org-verified"' not in html
    assert 'id="org-no-datasets"' in html
    # A buying company's contact person and address are not published.
    assert "02-555-0000" not in html and "owner@unverified.test" not in html and "세종대로" not in html


# ---- Map tiles and the Content Security Policy -----------------------------------------------------------------


@pytest.mark.django_db
def test_tile_host_is_allowed_as_an_image_source(client, published, settings):
    from marketplace.settings import _tile_origins

    assert _tile_origins("https://{s}.tile.example.org/{z}/{x}/{y}.png") == ["https://*.tile.example.org"]
    assert _tile_origins("") == [] and _tile_origins("/tiles/{z}/{x}/{y}.png") == []
    response = client.get(reverse("catalog:dataset", args=[published.dataset.slug]))
    img_src = next(p for p in response["Content-Security-Policy"].split(";") if p.strip().startswith("img-src"))
    assert "https://tile.openstreetmap.org" in img_src.split()
    config = json.loads(
        re.search(
            r'id="coverage-map-config" type="application/json">(.*?)</script>', response.content.decode(), re.S
        ).group(1)
    )
    assert config["bbox"] == BBOX and config["tileUrl"] == settings.MAP_TILE_URL
    settings.MAP_TILE_URL = ""  # no tiles: the outline alone
    config = json.loads(
        re.search(
            r'id="coverage-map-config" type="application/json">(.*?)</script>',
            client.get(reverse("catalog:dataset", args=[published.dataset.slug])).content.decode(),
            re.S,
        ).group(1)
    )
    assert config["tileUrl"] == ""


@pytest.mark.django_db
def test_pages_show_exact_counts_the_file_as_written_and_a_date_chart(client, official, published):
    """Issue 13: the file's 3 stations are "3", not "≈3"; the sample rows show 2024-01-01 00:00 as written
    (not 2024-01-01T00:00:00) under a column head naming the kind; the date-time column has a chart of
    counts per hour; the same on the provider's file page and in the sample CSV."""
    datafile = published.files.get()
    stations = next(c for c in datafile.profile if c["name"] == "측정소명")
    assert (stations["distinct"], stations["distinct_approximate"]) == (3, False)
    assert datafile.preview["rows"][0][:3] == ["정왕동", "2024-01-01 00:00", "10"]
    assert datafile.preview["types"][:3] == ["string", "datetime", "integer"]
    when = next(c for c in datafile.profile if c["name"] == "측정일시")
    assert when["timeline"]["unit"] == "hour" and len(when["timeline"]["bins"]) == 24

    html = page_of(client, published)
    schema = html.split(f'id="schema-{datafile.pk}"', 1)[1].split("</table>", 1)[0]
    assert "≈" not in schema and re.search(r'<td class="pg-num">3</td>', schema)
    sample = html.split(f'id="sample-{datafile.pk}"', 1)[1].split("</table>", 1)[0]
    assert "2024-01-01 00:00<" in sample and "T00:00" not in sample
    assert re.search(r'측정일시<span class="pg-cell-sub">날짜와 시각\s*</span>', sample)  # the kind under the name
    cards = html.split(f'id="profile-data-{datafile.pk}"', 1)[1]
    assert 'data-chart="timeline"' in cards and "2024-01-01 05:00" in cards

    sample_csv = client.get(reverse("catalog:dataset_sample", args=[published.dataset.slug])).content
    assert "정왕동,2024-01-01 00:00,10," in sample_csv.decode("utf-8-sig")

    client.force_login(official)
    page = client.get(reverse("catalog:datafile", args=[datafile.pk]), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    stats = page.split('id="stats-caption"', 1)[1].split("</table>", 1)[0]
    assert "≈" not in stats and "추정값" not in page  # nothing estimated, so no footnote either
    preview = page.split('id="preview-caption"', 1)[1].split("</table>", 1)[0]
    assert "2024-01-01 00:00<" in preview and "T00:00" not in preview
    when_card = page.split(">측정일시</h3>", 1)[1].split("</article>", 1)[0]
    assert 'data-chart="timeline"' in when_card and "2024-01-01 23:00" in when_card
