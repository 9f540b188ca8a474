"""The keyboard fixes of issue 18, with the keyboard: Tab and Enter in Chromium, focus read from
document.activeElement.

- Catalog: a skip link past the facets to the results; the sort "Apply" button visible and in the Tab order (and
  the sort works without JavaScript); focus kept on a filter chip or the results heading after a chip is removed
  or "Clear all" (htmx swaps the results); text fields show KRDS's focus ring, not only a border change.
- Uploader: its live region announces pause, resume and cancel, not only start and finish.
- "Stop this offer" asks before it stops a live offer (a dismissed question stops nothing)."""

import re

import pytest
from playwright.sync_api import expect

from catalog.models import Offer
from tests.browser.test_purchase_card import login
from tests.transactions.conftest import publish_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUS_ON = """(selector) => !!(document.activeElement && document.activeElement.matches(selector))"""
ACTIVE = """() => { const e = document.activeElement;
  return e ? {tag: e.tagName.toLowerCase(), id: e.id, cls: e.className, text: (e.textContent || "").trim()} : null; }"""


def active(page) -> dict:
    return page.evaluate(ACTIVE)


def focus_settles_on(page, selector: str) -> dict:
    """Wait until focus is on an element matching selector (htmx moves it after the swap settles)."""
    try:
        page.wait_for_function(FOCUS_ON, arg=selector, timeout=5_000)
    except Exception as exc:
        raise AssertionError(f"focus not on {selector} but on {active(page)}") from exc
    return active(page)


def tab_until(page, predicate, limit=80) -> dict:
    """Press Tab until the focused element satisfies predicate(active dict); fail after `limit` presses."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = active(page)
        if now and predicate(now):
            return now
    raise AssertionError(f"not reached with Tab in {limit} presses; focus on {active(page)}")


@pytest.fixture
def two_datasets(celery_worker, official, admin_user, reference_data):
    publish_dataset(official, admin_user)
    publish_dataset(
        official,
        admin_user,
        title_ko="시흥시 공영주차장 이용 현황",
        title_en="Siheung car parks",
        offers=({"kind": "one_off", "price_krw": 10_000, "cost_basis": "파일 가공·전송 비용"},),
    )


def test_skip_link_jumps_past_the_facets_to_the_results(live_server, page, two_datasets, console_errors, shot):
    page.goto(f"{live_server.url}/catalog/")
    page.locator("#catalog-q").focus()
    skip = page.locator("a.cat-skip")
    expect(skip).not_to_be_in_viewport(ratio=0.5)  # hidden until focused (1 px, clipped)
    now = tab_until(page, lambda a: "cat-skip" in a["cls"])
    assert now["text"] == "검색 결과로 바로가기"
    box = skip.bounding_box()
    assert box["width"] > 40 and box["height"] > 20, "the focused skip link is visible"
    shot(page, "skip-link-focused")
    # Before it: only the search form. After it, without the link: every facet link stands before the results.
    page.keyboard.press("Enter")
    assert active(page)["id"] == "results-title"
    expect(page.locator("#results-title")).to_contain_text("데이터셋 2개")
    # The next Tab goes on from the results (the sort control), not back to the facets.
    page.keyboard.press("Tab")
    assert active(page)["id"] == "catalog-sort-select"
    assert console_errors == []


def test_sort_apply_is_visible_keeps_focus_and_works_without_javascript(live_server, page, browser, two_datasets, shot):
    base = live_server.url
    page.goto(f"{base}/catalog/")
    page.locator("#catalog-sort-select").focus()
    page.keyboard.press("Tab")
    assert active(page)["id"] == "catalog-sort-apply"
    box = page.locator("#catalog-sort-apply").bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24, f"the focused Apply button is visible: {box}"
    shot(page, "apply-focused")
    # Choosing another order from the keyboard applies it; focus stays on the control after htmx's swap.
    page.locator("#catalog-sort-select").focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_url(re.compile(r"sort="))
    focus_settles_on(page, "#catalog-sort-select")
    # Apply from the keyboard: focus stays on Apply.
    page.locator("#catalog-sort-apply").focus()
    page.evaluate(
        "window.__swapped = false; document.addEventListener('htmx:afterSettle', () => { window.__swapped = true; })"
    )
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__swapped")
    focus_settles_on(page, "#catalog-sort-apply")

    # On a phone the visible button fits: no sideways scrolling at 390 px.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/catalog/?format=csv")
    assert page.locator("#catalog-sort-apply").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone")

    # Without JavaScript the button is the way to apply the order.
    context = browser.new_context(java_script_enabled=False, locale="ko-KR")
    plain = context.new_page()
    plain.goto(f"{base}/catalog/")
    assert plain.locator("#catalog-sort-apply").is_visible()
    plain.locator("#catalog-sort-select").select_option("title")
    plain.locator("#catalog-sort-apply").click()
    plain.wait_for_url(re.compile(r"sort=title"))
    titles = plain.locator("#dataset-list .cat-item-title").all_inner_texts()
    assert titles == sorted(titles)
    context.close()


def test_focus_stays_meaningful_when_filters_are_removed(live_server, page, two_datasets, console_errors):
    base = live_server.url
    page.goto(f"{base}/catalog/?price=free&format=csv")
    chips = page.locator(".cat-chips a.cat-chip")
    expect(chips).to_have_count(2)
    tab_until(page, lambda a: "cat-chip" in a["cls"])
    first = active(page)["text"]
    page.keyboard.press("Enter")
    expect(chips).to_have_count(1)
    now = focus_settles_on(page, ".cat-chips a.cat-chip")
    assert now["text"] != first, f"focus on {now}"
    # The last chip: focus goes to the results heading, which says how many there are now.
    page.keyboard.press("Enter")
    expect(chips).to_have_count(0)
    focus_settles_on(page, "#results-title")

    # "Clear all" from the keyboard: focus on the results heading too, never on <body>.
    page.goto(f"{base}/catalog/?price=free&format=csv")
    tab_until(page, lambda a: "cat-clear-all" in a["cls"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/catalog/")
    focus_settles_on(page, "#results-title")
    expect(page.locator("#results-title")).to_contain_text("데이터셋 2개")
    assert console_errors == []


RING = """(id) => { const s = getComputedStyle(document.getElementById(id));
  return {outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow}; }"""


@pytest.mark.parametrize("path,field", [("/catalog/", "catalog-q"), ("/accounts/login/", "id_login")])
def test_text_fields_show_the_focus_ring(live_server, page, reference_data, path, field, shot):
    page.goto(f"{live_server.url}{path}")
    tab_until(page, lambda a: a["id"] == field)
    ring = page.evaluate(RING, field)
    assert ring["outline"] != "none" and ring["shadow"] != "none", ring
    shot(page, "focused-field")
    page.keyboard.press("Tab")  # KRDS's inputs ease their shadow out (transition): wait for its end
    page.wait_for_function("(id) => getComputedStyle(document.getElementById(id)).boxShadow === 'none'", arg=field)


def test_the_uploader_announces_pause_resume_and_cancel(live_server, page, official, draft, tmp_path):
    import os

    source = tmp_path / "측정자료.csv"
    source.write_bytes(b"a,b\n" + os.urandom(6 * 1024 * 1024))
    login(page, live_server.url, official.email)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    # About 512 KB/s up: the file takes long enough to pause, resume and cancel it from the keyboard.
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 512 * 1024},
    )
    page.goto(f"{live_server.url}/catalog/provider/versions/{draft.pk}/")
    page.locator("#upload-input").set_input_files(str(source))
    live = page.locator("#upload-live")
    expect(live).to_have_text("측정자료.csv 파일을 업로드하고 있습니다.")
    item = page.locator("#upload-list li").first
    expect(item.locator("[data-bar]")).not_to_have_attribute("aria-valuenow", "0", timeout=20_000)

    item.locator("[data-action=pause]").focus()
    page.keyboard.press("Enter")
    expect(live).to_contain_text("일시 정지했습니다")
    expect(live).to_contain_text("측정자료.csv")
    assert active(page)["text"].startswith("이어서 올리기")  # focus moved to the button that took its place

    page.keyboard.press("Enter")
    expect(live).to_have_text("측정자료.csv 파일을 이어서 업로드합니다.")

    item.locator("[data-action=cancel]").focus()
    page.keyboard.press("Enter")
    expect(live).to_have_text("측정자료.csv: 업로드를 취소했고 이미 보낸 부분은 삭제했습니다.")
    assert active(page)["text"].startswith("숨기기")


def test_stopping_an_offer_asks_first(live_server, page, official, admin_user, reference_data, console_errors):
    dataset = publish_dataset(
        official,
        admin_user,
        offers=({"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용"},),
    )
    offer = Offer.objects.get(dataset=dataset)
    version = dataset.versions.get(state="published")
    login(page, live_server.url, official.email)
    page.goto(f"{live_server.url}/catalog/provider/versions/{version.pk}/")
    stop = page.locator(f"#offer-stop-{offer.pk} button")
    questions = []

    # One key press on "Stop this offer" only asks; dismissing the question stops nothing.
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    stop.focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert questions and questions[0].startswith("이 판매 조건을 중단할까요?")
    offer.refresh_from_db()
    assert offer.active

    page.once("dialog", lambda dialog: dialog.accept())
    stop.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    offer.refresh_from_db()
    assert not offer.active
    assert console_errors == []
