"""Harvest administration (catalog.harvest services, selectors, probe, staff pages) and harvested listings on the
public pages. The sources' addresses are a real local HTTP server answering from recorded CKAN fixtures."""

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import Organization
from catalog.harvest import services
from catalog.harvest.models import HarvestRecord, HarvestRun, HarvestSource
from catalog.harvest.probe import source_probe
from catalog.models import Offer
from catalog.services.entries import catalog_entry_refresh
from core.errors import DomainError
from core.models import AuditEvent
from tests.interop.harvestui_support import (
    fixture_portal,
    make_finished_run,
    make_harvested_listing,
    unused_address,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal():
    with fixture_portal() as base:
        yield base


@pytest.fixture
def provider_org(official):
    return official.active_organization


def form_data(org, **over):
    data = {
        "name": "경기데이터드림",
        "kind": "ckan",
        "url": "",
        "organization": str(org.pk),
        "schedule": "daily",
        "resource_mode": "link",
        "filter_query": "",
        "default_theme": "transport",
        "default_licence": "",
        "data_kind": "public",
        "reason": "",
        "themes-TOTAL_FORMS": "2",
        "themes-INITIAL_FORMS": "0",
        "themes-0-source_value": "traffic",
        "themes-0-ours": "transport",
        "themes-1-source_value": "",
        "themes-1-ours": "",
        "licences-TOTAL_FORMS": "1",
        "licences-INITIAL_FORMS": "0",
        "licences-0-source_value": "other-closed",
        "licences-0-ours": "kogl-3",
    }
    data.update(over)
    return data


def make_source(admin, org, address, **over):
    fields = {
        "name": "경기데이터드림",
        "kind": "ckan",
        "url": address,
        "organization": org,
        "schedule": "daily",
        "resource_mode": "link",
        "mapping": {"themes": {"traffic": "transport"}, "default_theme": "transport"},
    }
    fields.update(over)
    return services.harvest_source_create(actor=admin, **fields)


# ---- permissions -----------------------------------------------------------------------------------------------


def test_only_platform_admins_reach_the_pages(client, login, official, admin_user, provider_org, reference_data):
    source = make_source(admin_user, provider_org, "https://data.gg.example")
    run = services.harvest_run_request(actor=admin_user, source=source)
    urls = [
        ("get", reverse("staff_harvest:sources")),
        ("get", reverse("staff_harvest:source_create")),
        ("get", reverse("staff_harvest:source", args=[source.pk])),
        ("get", reverse("staff_harvest:source_edit", args=[source.pk])),
        ("get", reverse("staff_harvest:run", args=[run.pk])),
        ("post", reverse("staff_harvest:source_run", args=[source.pk])),
        ("post", reverse("staff_harvest:source_active", args=[source.pk])),
        ("post", reverse("staff_harvest:source_create")),
    ]
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    login(official)
    for method, url in urls:
        assert getattr(client, method)(url).status_code == 403, url
    login(admin_user)
    for _method, url in urls[:5]:
        assert client.get(url).status_code == 200, url


def test_services_refuse_anyone_but_a_platform_admin(official, admin_user, provider_org, reference_data):
    with pytest.raises(PermissionDenied):
        make_source(official, provider_org, "https://data.gg.example")
    source = make_source(admin_user, provider_org, "https://data.gg.example")
    with pytest.raises(PermissionDenied):
        services.harvest_source_update(actor=official, source=source, name="다른 이름", reason="x")
    with pytest.raises(PermissionDenied):
        services.harvest_source_set_active(actor=official, source=source, active=False, reason="x")
    with pytest.raises(PermissionDenied):
        services.harvest_run_request(actor=official, source=source)
    assert not HarvestRun.objects.exists()


# ---- create and update: validation in Korean and English --------------------------------------------------------


@pytest.mark.parametrize(
    "over, code",
    [
        ({"name": "  "}, "harvest_name"),
        ({"url": "data.gg.example"}, "harvest_url"),
        ({"url": "ftp://data.gg.example"}, "harvest_url"),
        ({"kind": "oai-pmh"}, "harvest_kind"),
        ({"schedule": "monthly"}, "harvest_schedule"),
        ({"kind": "dcat", "url": "https://x.example/catalog.ttl", "filter_query": "organization:x"}, "harvest_filter"),
        ({"mapping": {"themes": {"traffic": "no-such-theme"}}}, "harvest_mapping"),
        ({"mapping": {"licences": {"cc-by": "no-such-licence"}}}, "harvest_mapping"),
        ({"mapping": {"themes": {" ": "transport"}}}, "harvest_mapping"),
        ({"mapping": {"default_theme": "nope"}}, "harvest_mapping"),
        ({"mapping": {"data_kind": "secret"}}, "harvest_mapping"),
        ({"mapping": ["not", "a", "dict"]}, "harvest_mapping"),
    ],
)
def test_create_refuses_bad_input_in_both_languages(admin_user, provider_org, reference_data, over, code):
    with pytest.raises(DomainError) as caught:
        make_source(admin_user, provider_org, "https://data.gg.example", **over)
    assert caught.value.code == code
    with translation.override("ko"):
        korean = str(caught.value.message)
    with translation.override("en"):
        english = str(caught.value.message)
    assert korean != english and any("\uac00" <= ch <= "\ud7a3" for ch in korean), (korean, english)
    assert not HarvestSource.objects.exists()


def test_a_consumer_organization_cannot_own_a_source(admin_user, buyer, reference_data):
    company = buyer.active_organization
    assert company.kind == Organization.Kind.CONSUMER
    with pytest.raises(DomainError) as caught:
        make_source(admin_user, company, "https://data.gg.example")
    assert caught.value.code == "harvest_organization"


def test_the_ckan_address_is_cut_back_to_the_portal_and_a_duplicate_is_refused(
    admin_user, provider_org, reference_data
):
    source = make_source(admin_user, provider_org, "https://data.gg.example/api/3/action/package_search?q=버스")
    assert source.url == "https://data.gg.example"
    assert source.next_run_at is not None  # scheduled: due at once
    with pytest.raises(DomainError) as caught:
        make_source(admin_user, provider_org, "https://data.gg.example/", name="같은 포털")
    assert caught.value.code == "harvest_duplicate"
    with translation.override("en"):
        assert "already registered" in str(caught.value.message)
    manual = make_source(admin_user, provider_org, "https://other.example", schedule="manual")
    assert manual.next_run_at is None
    event = AuditEvent.objects.get(action="harvest_source.created", object_id=str(source.pk))
    assert event.organization_id == provider_org.pk and event.data["url"] == "https://data.gg.example"


def test_an_update_needs_a_reason_and_records_what_changed(admin_user, provider_org, reference_data):
    source = make_source(admin_user, provider_org, "https://data.gg.example")
    # Nothing changed: nothing written, no reason asked.
    assert services.harvest_source_update(actor=admin_user, source=source, name="경기데이터드림") == source
    assert not AuditEvent.objects.filter(action="harvest_source.updated").exists()
    new_mapping = {"themes": {"traffic": "transport", "environment": "environment"}, "default_theme": "transport"}
    with pytest.raises(DomainError) as caught:
        services.harvest_source_update(actor=admin_user, source=source, mapping=new_mapping)
    assert caught.value.code == "harvest_reason"
    services.harvest_source_update(
        actor=admin_user,
        source=source,
        mapping=new_mapping,
        schedule="weekly",
        reason="환경 분류 추가 요청 (민원 2026-118)",
    )
    source.refresh_from_db()
    assert source.mapping["themes"]["environment"] == "environment" and source.schedule == "weekly"
    event = AuditEvent.objects.get(action="harvest_source.updated")
    assert event.reason == "환경 분류 추가 요청 (민원 2026-118)"
    assert set(event.data["changes"]) == {"mapping", "schedule"}
    assert event.data["changes"]["schedule"] == {"from": "daily", "to": "weekly"}


def test_pause_and_resume_need_a_reason_and_a_paused_source_is_not_harvested(admin_user, provider_org, reference_data):
    source = make_source(admin_user, provider_org, "https://data.gg.example")
    with pytest.raises(DomainError):
        services.harvest_source_set_active(actor=admin_user, source=source, active=False, reason=" ")
    services.harvest_source_set_active(actor=admin_user, source=source, active=False, reason="포털 점검 기간")
    source.refresh_from_db()
    assert not source.active and source.next_run_at is None
    with pytest.raises(DomainError) as caught:
        services.harvest_run_request(actor=admin_user, source=source)
    assert caught.value.code == "harvest_source_paused"
    services.harvest_source_set_active(actor=admin_user, source=source, active=True, reason="점검 종료")
    source.refresh_from_db()
    assert source.active and source.next_run_at is not None
    assert list(
        AuditEvent.objects.filter(object_type="harvestsource").order_by("pk").values_list("action", "reason")
    ) == [
        ("harvest_source.created", ""),
        ("harvest_source.paused", "포털 점검 기간"),
        ("harvest_source.resumed", "점검 종료"),
    ]


# ---- the address check -----------------------------------------------------------------------------------------


def test_the_probe_says_what_the_address_answered(portal):
    ok = source_probe("ckan", portal)
    assert ok.ok and ok.datasets == 3
    with translation.override("ko"):
        assert "3" in str(ok.message) and "경기데이터드림" in str(ok.message) and "2.10.5" in str(ok.message)
    filtered = source_probe("ckan", portal, "organization:gg-transport")
    with translation.override("en"):
        assert "match the filter" in str(filtered.message)
    refused = source_probe("ckan", portal, "bad:field")
    assert not refused.ok
    with translation.override("en"):
        assert "unknown field" in str(refused.message)
    html = source_probe("ckan", f"{portal}/page")
    assert not html.ok
    with translation.override("en"):
        assert "web page" in str(html.message)
    broken = source_probe("ckan", f"{portal}/broken")
    assert not broken.ok
    with translation.override("en"):
        assert "500" in str(broken.message)
    down = source_probe("ckan", unused_address())
    assert not down.ok
    with translation.override("en"):
        assert "connect" in str(down.message).lower()
    dcat = source_probe("dcat", f"{portal}/catalog.ttl")
    assert dcat.ok and dcat.datasets == 41
    with translation.override("en"):
        assert "Turtle" in str(dcat.message) and "2 datasets on the first page" in str(dcat.message)
    not_dcat = source_probe("dcat", f"{portal}/page")
    assert not not_dcat.ok
    assert " / " in ok.bilingual()


# ---- the pages: create, edit, rules ----------------------------------------------------------------------------


def test_registering_through_the_page_checks_the_address(
    client, login, admin_user, provider_org, reference_data, portal
):
    login(admin_user)
    url = reverse("staff_harvest:source_create")
    response = client.post(url, form_data(provider_org, url=f"{portal}/api/3/action/package_search"), follow=True)
    assert response.redirect_chain, response.content.decode()[:3000]
    source = HarvestSource.objects.get()
    assert source.url == portal and source.mapping["themes"] == {"traffic": "transport"}
    assert source.mapping["licences"] == {"other-closed": "kogl-3"} and source.created_by == admin_user
    html = response.content.decode()
    assert "CKAN 포털을 찾았습니다" in html and "경기데이터드림" in html
    event = AuditEvent.objects.get(action="harvest_source.created")
    assert "3" in event.data["url_check"] and " / " in event.data["url_check"]


def test_an_address_that_answers_wrong_is_shown_and_can_be_saved_anyway(
    client, login, admin_user, provider_org, reference_data, portal
):
    login(admin_user)
    url = reverse("staff_harvest:source_create")
    response = client.post(url, form_data(provider_org, url=f"{portal}/page"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "웹 페이지" in html and 'id="harvest-url-problem"' in html and "id_save_anyway" in html
    assert not HarvestSource.objects.exists()
    # English, for the same mistake.
    client.cookies["django_language"] = "en"
    html = client.post(url, form_data(provider_org, url=f"{portal}/page")).content.decode()
    assert "web page" in html and "CKAN&#x27;s Action API" in html
    # Saved anyway: the admin knows the portal is down for maintenance.
    down = unused_address()
    response = client.post(url, form_data(provider_org, url=down, save_anyway="on", reason="점검 중, 주소 확인됨"))
    assert response.status_code == 302
    source = HarvestSource.objects.get()
    event = AuditEvent.objects.get(action="harvest_source.created")
    assert event.reason == "점검 중, 주소 확인됨" and "connect" in event.data["url_check"].lower()
    assert source.url == down


def test_form_errors_name_the_field_in_korean_and_english(client, login, admin_user, provider_org, reference_data):
    login(admin_user)
    url = reverse("staff_harvest:source_create")
    bad = form_data(provider_org, url="data.gg.example", **{"themes-1-source_value": "env", "themes-1-ours": ""})
    html = client.post(url, bad).content.decode()
    assert "이 값이 여기서 무엇이 되는지 고르거나" in html  # the half-filled rule row
    bad_url = form_data(provider_org, url="data.gg.example")
    html = client.post(url, bad_url).content.decode()
    assert "http:// 또는 https://" in html and 'id="id_url_error"' in html
    client.cookies["django_language"] = "en"
    html = client.post(url, bad_url).content.decode()
    assert "starting with http:// or https://" in html
    assert not HarvestSource.objects.exists()


def test_editing_shows_the_rules_and_asks_why(client, login, admin_user, provider_org, reference_data, portal):
    source = make_source(
        admin_user, provider_org, portal, mapping={"themes": {"traffic": "transport"}, "licences": {"x": "kogl-1"}}
    )
    login(admin_user)
    url = reverse("staff_harvest:source_edit", args=[source.pk])
    html = client.get(url).content.decode()
    assert 'value="traffic"' in html and 'id="themes-rules"' in html and 'id="licences-rules"' in html
    data = form_data(
        provider_org,
        url=portal,
        **{
            "themes-TOTAL_FORMS": "2",
            "themes-INITIAL_FORMS": "1",
            "themes-0-DELETE": "on",
            "themes-1-source_value": "science-tech",
            "themes-1-ours": "science",
            "licences-0-source_value": "x",
            "licences-0-ours": "kogl-1",
        },
    )
    response = client.post(url, data)
    assert response.status_code == 400 and "id_reason_error" in response.content.decode()  # the reason is required
    data["reason"] = "과학기술 분류 연결, 교통 규칙은 기본 분류로 충분"
    response = client.post(url, data)
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.mapping["themes"] == {"science-tech": "science"}
    # The address did not change: it was not checked again (no url_check in the trail).
    event = AuditEvent.objects.get(action="harvest_source.updated")
    assert "url_check" not in event.data and set(event.data["changes"]) == {"mapping"}
    page = client.get(reverse("staff_harvest:source", args=[source.pk])).content.decode()
    assert "science-tech" in page and "과학기술" in page and data["reason"] in page


def test_the_edit_page_shows_what_each_value_of_the_source_becomes(
    client, login, admin_user, provider_org, reference_data, portal
):
    source = make_source(admin_user, provider_org, portal, mapping={"themes": {"traffic": "transport"}})
    login(admin_user)
    html = client.get(reverse("staff_harvest:source_edit", args=[source.pk])).content.decode()
    assert 'id="harvest-source-values"' in html
    # traffic: by the rule; science-tech: no rule and no default → not imported.
    assert 'data-value="traffic" data-how="rule"' in html and 'data-value="science-tech" data-how="none"' in html
    # Licences: kogl-type1 and cc-by are ids we know; other-closed needs a rule.
    assert 'data-value="kogl-type1" data-how="known"' in html and 'data-value="cc-by" data-how="known"' in html
    assert 'data-value="other-closed" data-how="none"' in html and "가져오지 않음" in html
    assert '<option value="science-tech">과학기술</option>' in html  # suggested in the rule inputs
    assert 'list="themes-values"' in html and 'list="licences-values"' in html
    services.harvest_source_update(
        actor=admin_user,
        source=source,
        mapping={
            "themes": {"traffic": "transport"},
            "default_theme": "science",
            "licences": {"other-closed": "kogl-3"},
        },
        reason="남은 값 정리",
    )
    html = client.get(reverse("staff_harvest:source_edit", args=[source.pk])).content.decode()
    assert 'data-how="none"' not in html and 'data-value="science-tech" data-how="default"' in html


def test_the_edit_page_works_when_the_source_is_down(client, login, admin_user, provider_org, reference_data):
    source = make_source(admin_user, provider_org, unused_address())
    login(admin_user)
    html = client.get(reverse("staff_harvest:source_edit", args=[source.pk])).content.decode()
    assert 'id="harvest-values-unavailable"' in html and 'list="themes-values"' not in html
    assert 'id="themes-rules"' in html


# ---- runs ------------------------------------------------------------------------------------------------------


def test_harvest_now_makes_one_run_and_a_second_click_finds_it(
    client, login, admin_user, provider_org, reference_data, django_capture_on_commit_callbacks
):
    source = make_source(admin_user, provider_org, "https://data.gg.example")
    login(admin_user)
    url = reverse("staff_harvest:source_run", args=[source.pk])
    with django_capture_on_commit_callbacks() as callbacks:
        first = client.post(url)
    run = HarvestRun.objects.get()
    assert first["Location"] == reverse("staff_harvest:run", args=[run.pk]) and len(callbacks) == 1
    assert run.state == "queued" and run.requested_by == admin_user
    with django_capture_on_commit_callbacks() as callbacks:
        second = client.post(url, follow=True)
    assert HarvestRun.objects.count() == 1 and not callbacks  # nothing queued again
    assert "이미 진행 중" in second.content.decode()
    scheduled = services.harvest_run_request(actor=None, source=source)
    assert scheduled.pk == run.pk and not scheduled.is_new


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_clicks_start_one_run(admin_user, official, reference_data):
    # The source holds a harvest's reads until the end of the test: a Celery worker left running by an earlier test
    # would otherwise finish (or fail) the run between two clicks, and the next click would rightly start another.
    gate = threading.Event()
    with fixture_portal(hold=gate) as base:
        try:
            _ten_concurrent_clicks(admin_user, official, base)
        finally:
            gate.set()


def _ten_concurrent_clicks(admin_user, official, base):
    source = make_source(admin_user, official.active_organization, base)
    url = reverse("staff_harvest:source_run", args=[source.pk])
    barrier = threading.Barrier(10)
    answers, errors = [], []

    def click():
        try:
            browser = Client()
            browser.force_login(admin_user)
            barrier.wait()
            answers.append(browser.post(url)["Location"])
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    run = HarvestRun.objects.get()
    assert answers == [reverse("staff_harvest:run", args=[run.pk])] * 10
    assert AuditEvent.objects.filter(action="harvest_run.requested").count() == 1


def test_the_run_report_filters_by_action_and_speaks_the_page_language(
    client, login, admin_user, official, provider_org, reference_data
):
    source = make_source(admin_user, provider_org, "https://data.gg.example")
    bus = make_harvested_listing(source, actor=admin_user, identifier="gg-bus-stops", title_ko="경기도 버스정류소 현황")
    lines = [("gg-bus-stops", "경기도 버스정류소 현황", "added", "", "", bus)]
    lines += [(f"gg-{i}", f"자료 {i}", "unchanged", "", "", None) for i in range(60)]
    lines.append(
        (
            "gg-untitled-draft",
            "",
            "failed",
            "제목이 없습니다: 원본 기록에 title이 비어 있습니다.",
            "No title: the record's title is empty at the source.",
            None,
        )
    )
    run = make_finished_run(source, requested_by=admin_user, records=lines)
    login(admin_user)
    url = reverse("staff_harvest:run", args=[run.pk])
    html = client.get(url).content.decode()
    assert 'data-count="added">1<' in html and 'data-count="failed">1<' in html
    assert html.count('data-action="unchanged"') == 49  # 50 lines a page, the added one first
    assert reverse("catalog:dataset", args=[bus.slug]) in html
    failed = client.get(url, {"action": "failed"}).content.decode()
    assert failed.count('<tr id="harvest-record-') == 1 and "제목이 없습니다" in failed
    client.cookies["django_language"] = "en"
    failed_en = client.get(url, {"action": "failed"}).content.decode()
    assert "No title: the record" in failed_en and "제목이 없습니다" not in failed_en
    second_page = client.get(url, {"page": 2}).content.decode()
    assert second_page.count('data-action="unchanged"') == 11 and 'data-action="failed"' in second_page
    # The list shows the last run with its numbers, and the listing count.
    listing = client.get(reverse("staff_harvest:sources")).content.decode()
    assert "1 added" in listing and "1 failed" in listing and reverse("staff_harvest:run", args=[run.pk]) in listing


def test_the_audit_trail_says_what_was_decided_in_words(client, login, admin_user, provider_org, reference_data):
    source = make_source(admin_user, provider_org, "https://data.gg.example")
    services.harvest_source_update(actor=admin_user, source=source, schedule="weekly", reason="주 1회 갱신되는 포털")
    services.harvest_source_set_active(actor=admin_user, source=source, active=False, reason="포털 이전 작업")
    login(admin_user)
    html = client.get(reverse("staff:audit")).content.decode()
    assert "수집처 등록" in html and "수집처 변경" in html and "수집 주기" in html and "수집 중지" in html
    assert "주 1회 갱신되는 포털" in html and "포털 이전 작업" in html
    assert "harvest_source.updated</span>" in html  # the code too, as for every action


def test_the_staff_home_lists_the_harvest_pages(client, login, admin_user):
    login(admin_user)
    html = client.get(reverse("staff:home")).content.decode()
    assert 'id="harvest-sources-link"' in html and reverse("staff_harvest:sources") in html


# ---- harvested listings on the public pages --------------------------------------------------------------------

RESOURCES = (
    {
        "name": "버스정류소 현황 2026년 11월",
        "url": "https://data.gg.example/dataset/gg-bus-stops/resource/101/download/bus-stops-202611.csv",
        "format": "CSV",
        "media_type": "text/csv",
        "size": 1843921,
        "source_id": "c0000000-0000-4000-8000-000000000101",
    },
    {"name": "버스정류소 조회 API", "url": "https://openapi.gg.example/bus/stops", "format": "API"},
)


@pytest.fixture
def harvested(admin_user, provider_org, reference_data):
    source = make_source(admin_user, provider_org, "https://data.gg.example", name="경기데이터드림")
    return make_harvested_listing(
        source,
        actor=admin_user,
        identifier="7c1f3b1e-5a0d-4d55-9f1b-2a0f6e1d9a01",
        title_ko="경기도 버스정류소 현황",
        title_en="Gyeonggi bus stops",
        resources=RESOURCES,
        source_url="https://data.gg.example/dataset/gg-bus-stops",
    )


def test_the_dataset_page_names_the_source_links_back_and_is_free_there(client, harvested, buyer, login):
    url = reverse("catalog:dataset", args=[harvested.slug])
    html = client.get(url).content.decode()
    assert "경기데이터드림에서 수집한 데이터" in html
    # It says who lists it here and where the record is, without claiming the owner runs that catalog.
    assert "경기데이터드림의 원본 기록을 바탕으로" in html and "명의로 이 거래소에 게시한 데이터입니다" in html
    assert "자체 카탈로그" not in html
    assert 'href="https://data.gg.example/dataset/gg-bus-stops"' in html and 'id="dataset-source-link"' in html
    assert 'id="dataset-harvested"' in html  # the 수집 badge
    assert 'id="dataset-external-resources"' in html
    assert RESOURCES[0]["url"] in html and "1.8" in html and "MB" in html and ">API<" in html
    assert 'id="dataset-free-at-source"' in html and "원본 사이트에서 무료" in html
    assert 'id="purchase-panel"' not in html and 'id="dataset-files"' not in html
    assert 'rel="noopener noreferrer external" target="_blank"' in html
    client.cookies["django_language"] = "en"
    html_en = client.get(url).content.decode()
    assert "Data harvested from 경기데이터드림" in html_en and "Free at the source" in html_en
    # A signed-in buyer sees the same: nothing to buy here.
    login(buyer)
    assert 'id="purchase-panel"' not in client.get(url).content.decode()


def test_a_local_offer_brings_back_the_normal_buy_panel(client, harvested, official):
    from catalog import services as catalog_services

    catalog_services.offer_create(
        actor=official, dataset=harvested, kind=Offer.Kind.ONE_OFF, price_krw=50_000, cost_basis="가공·정제 비용"
    )
    html = client.get(reverse("catalog:dataset", args=[harvested.slug])).content.decode()
    assert 'id="dataset-free-at-source"' not in html and 'id="purchase-panel"' in html
    assert "55,000" in html  # the pricing rules apply unchanged: 50,000 + VAT
    assert "경기데이터드림에서 수집한 데이터" in html  # still named


def test_a_listing_made_here_shows_no_harvest_parts(client, login, official, admin_user, reference_data):
    from tests.transactions.conftest import publish_dataset

    own = publish_dataset(official, admin_user)
    html = client.get(reverse("catalog:dataset", args=[own.slug])).content.decode()
    assert 'id="dataset-harvest-origin"' not in html and 'id="dataset-harvested"' not in html
    assert 'id="purchase-panel"' in html and 'id="dataset-files"' in html


def test_a_harvested_page_costs_at_most_two_queries_more_than_our_own(
    client, official, admin_user, harvested, django_assert_max_num_queries
):
    from django.test.utils import CaptureQueriesContext

    from tests.transactions.conftest import publish_dataset

    own = publish_dataset(official, admin_user)
    with CaptureQueriesContext(connection) as ours:
        client.get(reverse("catalog:dataset", args=[own.slug]))
    # Two more queries at most: the source of the listing (asked only when the entry says it is harvested) and
    # its resources at the source.
    with django_assert_max_num_queries(len(ours.captured_queries) + 2):
        client.get(reverse("catalog:dataset", args=[harvested.slug]))


def test_search_results_and_the_organization_page_show_the_badge(client, harvested, official, admin_user):
    from tests.transactions.conftest import publish_dataset

    publish_dataset(official, admin_user, title_ko="시흥시 버스 승하차 자료")
    html = client.get(reverse("catalog:index"), {"q": "버스"}).content.decode()
    assert html.count("data-harvested") == 1 and "경기도 버스정류소 현황" in html and "시흥시 버스 승하차 자료" in html
    org = harvested.publisher
    html = client.get(reverse("catalog:organization", args=[org.slug])).content.decode()
    assert html.count("data-harvested") == 1 and "경기도 버스정류소 현황" in html


def test_a_withdrawn_harvested_listing_is_gone_from_the_pages(client, harvested):
    from catalog.models import Dataset

    Dataset.objects.filter(pk=harvested.pk).update(listing=Dataset.Listing.SUSPENDED)
    catalog_entry_refresh(harvested)
    assert client.get(reverse("catalog:dataset", args=[harvested.slug])).status_code == 404
    assert HarvestRecord.objects.count() == 0
