"""A platform admin registers another city's CKAN portal as a harvest source — a tiny local HTTP server answering
from a recorded CKAN fixture (tests/interop/fixtures/ui_ckan_*.json) — with its mapping rules, sees what the
address answered (and what a wrong address answers), asks for a harvest (twice: one run), changes the source with a
reason; the harvested listings then read like our own, naming their source, linking back, free at the source.
Korean and English, at 1280 and 390 px, nothing wider than the screen, no console error; screenshots are
artefacts.

The last test runs the real harvest task (catalog.harvest.tasks.harvest_run, built by the engine's part of issue
17) on a real worker, end to end through these pages."""

import re
import threading
import time

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from catalog.harvest import services
from catalog.harvest.models import HarvestRun, HarvestSource
from core.models import AuditEvent
from tests.browser.test_purchase_card import login
from tests.interop.harvestui_support import fixture_portal, make_finished_run, make_harvested_listing

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 390)


@pytest.fixture
def portal_gate():
    gate = threading.Event()
    yield gate
    gate.set()


@pytest.fixture
def portal(portal_gate):
    # The run this journey starts must stay open while the page is checked: a Celery worker left running by an
    # earlier test of the session would otherwise finish it first. The harvest's reads wait for the gate.
    with fixture_portal(hold=portal_gate) as base:
        yield base


def _fits(page, width):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide on a {width}px screen"


def _both_widths(page, shot, name):
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
        shot(page, f"{name}-{width}")
        _fits(page, width)
    page.set_viewport_size({"width": 1280, "height": 900})


def register_through_the_page(page, base, portal, org, *, wrong_first=True, shot=None):
    """Fill the source form as an admin would: name, address, owner, rules (one row added with the button)."""
    page.goto(f"{base}/staff/")
    page.locator("#harvest-sources-link").click()
    expect(page.locator("h1")).to_contain_text("데이터 수집처")
    if shot:
        expect(page.locator("#harvest-no-sources")).to_be_visible()
        shot(page, "sources-empty")
    page.locator("#harvest-source-new").click()
    page.locator("#id_name").fill("경기데이터드림 (시험)")
    page.locator("#id_url").fill(f"{portal}/page" if wrong_first else portal)
    page.locator("#id_organization").select_option(str(org.pk))
    page.locator("#id_themes-0-source_value").fill("traffic")
    page.locator("#id_themes-0-ours").select_option("transport")
    # Three blank rows come with the page; the button adds a fourth.
    page.locator("#themes-add-rule").click()
    expect(page.locator("#id_themes-TOTAL_FORMS")).to_have_value("4")
    page.locator("#id_themes-3-source_value").fill("science-tech")
    page.locator("#id_themes-3-ours").select_option("science")
    page.locator("#id_licences-0-source_value").fill("other-closed")
    page.locator("#id_licences-0-ours").select_option("kogl-3")
    page.locator("#id_default_theme").select_option("transport")
    page.locator("#id_reason").fill("경기도와 데이터 연계 협약 (2026-11)")
    if shot:
        _both_widths(page, shot, "source-form")
    page.locator("#harvest-source-save").click()
    if wrong_first:
        # The address answered with a web page: the form says so, keeps everything typed, and saves nothing.
        expect(page.locator("#harvest-url-problem")).to_be_visible()
        expect(page.locator("#id_url_error")).to_contain_text("웹 페이지")
        expect(page.locator("#id_themes-3-source_value")).to_have_value("science-tech")
        assert not HarvestSource.objects.exists()
        if shot:
            _both_widths(page, shot, "source-form-wrong-address")
        page.locator("#id_url").fill(portal)
        page.locator("#harvest-source-save").click()
    page.wait_for_url(re.compile(r"/staff/harvest/\d+/$"))
    expect(page.locator(".site-messages")).to_contain_text("CKAN 포털을 찾았습니다")
    expect(page.locator(".site-messages")).to_contain_text("데이터 3건")
    return HarvestSource.objects.get()


def test_an_admin_registers_a_ckan_source_and_asks_for_a_harvest(
    live_server, page, admin_user, official, reference_data, portal, portal_gate, shot, console_errors
):
    base = live_server.url
    org = official.active_organization
    login(page, base, admin_user.email)
    source = register_through_the_page(page, base, portal, org, shot=shot)
    assert source.url == portal and source.organization == org
    assert source.mapping["themes"] == {"traffic": "transport", "science-tech": "science"}
    assert source.mapping["licences"] == {"other-closed": "kogl-3"}
    expect(page.locator("#harvest-theme-rules")).to_contain_text("science-tech")
    expect(page.locator("#harvest-theme-rules")).to_contain_text("과학기술")
    expect(page.locator("#harvest-no-runs")).to_be_visible()
    expect(page.locator("#harvest-history")).to_contain_text("경기도와 데이터 연계 협약")
    _both_widths(page, shot, "source-registered")

    # Harvest now, then again: one run, and the second click lands on it.
    page.locator("#harvest-now").click()
    page.wait_for_url(re.compile(r"/staff/harvest/runs/\d+/$"))
    run = HarvestRun.objects.get()
    expect(page.locator(".site-messages")).to_contain_text("수집을 시작했습니다")
    expect(page.locator("#harvest-run-status [data-run-state]")).to_be_visible()
    _both_widths(page, shot, "run-started")
    page.goto(f"{base}/staff/harvest/{source.pk}/")
    expect(page.locator("#harvest-open-run")).to_be_visible()
    page.locator("#harvest-now").click()
    expect(page.locator(".site-messages")).to_contain_text("이미 진행 중")
    assert page.url.endswith(f"/staff/harvest/runs/{run.pk}/") and HarvestRun.objects.count() == 1

    # A change needs a reason; with it, the decision is in the source's history.
    page.goto(f"{base}/staff/harvest/{source.pk}/")
    page.locator("#harvest-source-edit").click()
    # What each value of the portal becomes under the saved rules: all covered (rules, known ids, the default).
    values = page.locator("#harvest-source-values")
    expect(values.locator("#harvest-values-groups [data-value=science-tech]")).to_contain_text("과학기술")
    expect(values.locator("#harvest-values-licences [data-value=kogl-type1]")).to_contain_text("공공누리 제1유형")
    expect(values.locator("[data-how=none]")).to_have_count(0)
    _both_widths(page, shot, "source-values")
    page.locator("#id_schedule_3").check()  # every week
    page.locator("#harvest-source-save").click()
    expect(page.locator("#id_reason_error")).to_be_visible()
    shot(page, "edit-needs-a-reason")
    page.locator("#id_reason").fill("원본 포털이 주 1회만 갱신됨")
    page.locator("#harvest-source-save").click()
    page.wait_for_url(re.compile(r"/staff/harvest/\d+/$"))
    expect(page.locator("#harvest-history")).to_contain_text("원본 포털이 주 1회만 갱신됨")
    assert HarvestSource.objects.get().schedule == "weekly"
    assert AuditEvent.objects.get(action="harvest_source.updated").data["changes"]["schedule"]["to"] == "weekly"

    # English, on a phone too.
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    for name, path, heading in (
        ("en-sources", "/staff/harvest/", "Harvest sources"),
        ("en-source", f"/staff/harvest/{source.pk}/", "경기데이터드림 (시험)"),
        ("en-source-form", f"/staff/harvest/{source.pk}/edit/", "Change"),
        ("en-run", f"/staff/harvest/runs/{run.pk}/", "Harvest of"),
    ):
        page.goto(f"{base}{path}")
        expect(page.locator("html")).to_have_attribute("lang", re.compile("^en"))
        expect(page.locator("h1")).to_contain_text(heading)
        _both_widths(page, shot, name)
    # The two refused forms (the wrong address, the change without a reason) come back with 400, as every form
    # error does; the browser logs that status. Nothing else.
    refused = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert console_errors == [refused, refused]
    # Let a worker that took the run finish it before the database is emptied for the next test.
    portal_gate.set()
    deadline = time.monotonic() + 30
    while HarvestRun.objects.filter(state=HarvestRun.State.RUNNING).exists() and time.monotonic() < deadline:
        time.sleep(0.2)


RESOURCES = (
    {
        "name": "버스정류소 현황 2026년 11월",
        "description": "정류소 번호, 이름, 위도, 경도, 경유 노선 수",
        "url": "https://data.gg.example/dataset/gg-bus-stops/resource/101/download/bus-stops-202611.csv",
        "format": "CSV",
        "media_type": "text/csv",
        "size": 1843921,
        "source_id": "c0000000-0000-4000-8000-000000000101",
    },
    {
        "name": "버스정류소 조회 API",
        "description": "정류소 번호로 실시간 도착 정보를 조회하는 Open API",
        "url": "https://openapi.gg.example/bus/stops",
        "format": "API",
    },
)


def test_harvested_listings_and_the_report_read_clearly_in_both_languages(
    live_server, browser, admin_user, official, reference_data, shot
):
    """The listing made in the shape the importer makes it (the engine is another part of issue 17)."""
    base = live_server.url
    org = official.active_organization
    source = services.harvest_source_create(
        actor=admin_user,
        name="경기데이터드림",
        kind="ckan",
        url="https://data.gg.example",
        organization=org,
        schedule="daily",
        resource_mode="link",
        mapping={"themes": {"traffic": "transport"}, "default_theme": "transport"},
    )
    bus = make_harvested_listing(
        source,
        actor=admin_user,
        identifier="7c1f3b1e-5a0d-4d55-9f1b-2a0f6e1d9a01",
        title_ko="경기도 버스정류소 현황",
        title_en="Gyeonggi bus stops",
        description_ko="경기도 31개 시·군의 버스정류소 위치(위도·경도), 정류소 번호와 이름, 경유 노선 수입니다. 매월 갱신합니다.",
        resources=RESOURCES,
        source_url="https://data.gg.example/dataset/gg-bus-stops",
    )
    wifi = make_harvested_listing(
        source,
        actor=admin_user,
        identifier="7c1f3b1e-5a0d-4d55-9f1b-2a0f6e1d9a02",
        title_ko="경기도 공공와이파이 설치 현황",
        theme="science",
        licence="cc-by-4.0",
        tags=("와이파이",),
        resources=({"name": "공공와이파이 설치 현황", "url": "https://data.gg.example/wifi.xlsx", "format": "XLSX"},),
        source_url="https://data.gg.example/dataset/gg-public-wifi",
    )
    run = make_finished_run(
        source,
        requested_by=admin_user,
        records=[
            ("7c1f3b1e-5a0d-4d55-9f1b-2a0f6e1d9a01", "경기도 버스정류소 현황", "added", "", "", bus),
            ("7c1f3b1e-5a0d-4d55-9f1b-2a0f6e1d9a02", "경기도 공공와이파이 설치 현황", "added", "", "", wifi),
            (
                "7c1f3b1e-5a0d-4d55-9f1b-2a0f6e1d9a03",
                "",
                "failed",
                "제목이 없어 가져오지 않았습니다. 수집처에서 제목을 채우면 다음 수집 때 가져옵니다.",
                "Not imported: the record has no title. Once the source gives it one, the next harvest imports it.",
                None,
            ),
        ],
    )
    errors = []
    for lang in ("ko", "en"):
        context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("console", lambda msg: errors.append(f"{msg.text}") if msg.type == "error" else None)
        login(page, base, admin_user.email)
        context.add_cookies([{"name": "django_language", "value": lang, "url": base}])

        page.goto(f"{base}/staff/harvest/")
        expect(page.locator(f"#harvest-source-{source.pk}")).to_contain_text("2")
        _both_widths(page, shot, f"{lang}-sources")

        page.goto(f"{base}/staff/harvest/runs/{run.pk}/")
        expect(page.locator("#harvest-run-counts [data-count=added]")).to_have_text("2")
        expect(page.locator("#harvest-run-counts [data-count=failed]")).to_have_text("1")
        _both_widths(page, shot, f"{lang}-run-report")
        page.locator("#harvest-filter-failed").click()
        failed = page.locator("#harvest-records tbody tr")
        expect(failed).to_have_count(1)
        expect(failed).to_contain_text("제목이 없어" if lang == "ko" else "the record has no title")
        _both_widths(page, shot, f"{lang}-run-report-failed")
        page.locator("#harvest-filter-added").click()
        page.locator("#harvest-records a", has_text="데이터 보기" if lang == "ko" else "Open the listing").first.click()
        page.wait_for_url(re.compile(r"/catalog/datasets/"))

        # The dataset page: names its source, links back, lists the files at the source, free there.
        page.goto(f"{base}" + reverse("catalog:dataset", args=[bus.slug]))
        origin = page.locator("#dataset-harvest-origin")
        expect(origin).to_contain_text(
            "경기데이터드림에서 수집한 데이터" if lang == "ko" else "Data harvested from 경기데이터드림"
        )
        expect(page.locator("#dataset-source-link")).to_have_attribute(
            "href", "https://data.gg.example/dataset/gg-bus-stops"
        )
        expect(page.locator("#dataset-harvested")).to_have_text("수집" if lang == "ko" else "Harvested")
        expect(page.locator("#dataset-free-at-source")).to_contain_text(
            "원본 사이트에서 무료" if lang == "ko" else "Free at the source"
        )
        expect(page.locator("#purchase-panel")).to_have_count(0)
        rows = page.locator("#dataset-external-resources tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("1.8")
        expect(rows.nth(1)).to_contain_text("API")
        _both_widths(page, shot, f"{lang}-harvested-dataset")

        # Search and the organization page show it like our own, with the badge.
        page.goto(f"{base}/catalog/?q=버스")
        expect(page.locator("#dataset-list [data-harvested]")).to_have_count(1)
        _both_widths(page, shot, f"{lang}-search-badge")
        page.goto(f"{base}" + reverse("catalog:organization", args=[org.slug]))
        expect(page.locator("#org-datasets [data-harvested]")).to_have_count(2)
        _both_widths(page, shot, f"{lang}-organization-badge")
        context.close()
    assert errors == []


def _finished(run, seconds: float = 90.0):
    """The run once the worker has finished it (done or failed); fails saying where it stopped otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.state in (HarvestRun.State.DONE, HarvestRun.State.FAILED):
            return run
        time.sleep(0.5)
    raise AssertionError(
        f"the harvest task (catalog.harvest.tasks.harvest_run) did not finish run {run.pk} in {seconds:.0f} s: "
        f"state {run.state}, {run.seen} records read"
    )


def test_the_whole_harvest_through_the_pages(
    live_server, page, celery_worker, admin_user, official, reference_data, portal, portal_gate, shot, console_errors
):
    """End to end on a real worker, against the contract of the engine (catalog.harvest.tasks.harvest_run): the
    fixture portal's two complete records become listings, the one without a title is a failed line with its
    reason, and the listings read as harvested."""
    portal_gate.set()  # this journey harvests at once
    base = live_server.url
    login(page, base, admin_user.email)
    source = register_through_the_page(page, base, portal, official.active_organization, wrong_first=False)
    page.locator("#harvest-now").click()
    page.wait_for_url(re.compile(r"/staff/harvest/runs/\d+/$"))
    run = _finished(HarvestRun.objects.get(source=source))
    assert (run.state, run.added, run.failed) == ("done", 2, 1), (run.state, run.error_en)
    # The page follows the run by itself (htmx): it shows the end without a reload.
    expect(page.locator("#harvest-run-status [data-run-state=done]")).to_be_visible(timeout=10_000)
    expect(page.locator("#harvest-run-counts [data-count=added]")).to_have_text("2")
    _both_widths(page, shot, "e2e-run-done")
    page.locator("#harvest-filter-failed").click()
    expect(page.locator("#harvest-records tbody tr")).to_have_count(1)
    expect(page.locator("#harvest-records tbody tr")).to_contain_text("7c1f3b1e-5a0d-4d55-9f1b-2a0f6e1d9a03")
    page.locator("#harvest-filter-added").click()
    page.locator("#harvest-records tr", has_text="경기도 버스정류소 현황").locator("a").click()
    page.wait_for_url(re.compile(r"/catalog/datasets/"))
    expect(page.locator("#dataset-harvest-origin")).to_contain_text("경기데이터드림 (시험)에서 수집한 데이터")
    expect(page.locator("#dataset-external-resources tbody tr")).to_have_count(2)
    expect(page.locator("#dataset-free-at-source")).to_be_visible()
    expect(page.locator("#dataset-theme")).to_contain_text("교통물류")
    _both_widths(page, shot, "e2e-harvested-dataset")
    # Harvest again: nothing is doubled.
    page.goto(f"{base}/staff/harvest/{source.pk}/")
    page.locator("#harvest-now").click()
    second = _finished(HarvestRun.objects.filter(source=source).order_by("-created_at").first())
    expect(page.locator("#harvest-run-status [data-run-state=done]")).to_be_visible(timeout=10_000)
    assert (second.added, second.unchanged) == (0, 2)
    assert source.datasets.count() == 2
    assert console_errors == []
