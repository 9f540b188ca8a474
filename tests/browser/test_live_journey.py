"""Issue 16, live data: a city department makes its published table live on its version page, pushes rows by API
with its key (curl-like, from Python), and a subscribed company's dataset page shows the rows as they arrive (a
Server-Sent Events stream), with the freshness beside the declared cadence; the company adds a webhook and sees its
secret once."""

import json
import time
import uuid

import pytest
import requests
from playwright.sync_api import expect

from catalog.live.models import LiveTable
from tests.browser.test_purchase_card import login
from tests.catalog.live_fixtures import SUBSCRIPTION, row
from tests.transactions.conftest import publish_dataset
from tests.transactions.livefeed_helpers import subscribe, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_department_pushes_rows_and_a_buyers_page_shows_them(
    live_server, browser, settings, official, admin_user, buyer, reference_data, make_key, shot, console_errors
):
    settings.LIVE_STREAM_MAX_SECONDS = 20
    settings.LIVE_WEBHOOK_ALLOW_HTTP = settings.LIVE_WEBHOOK_ALLOW_PRIVATE = True
    base = live_server.url
    dataset = publish_dataset(official, admin_user, offers=(SUBSCRIPTION,))
    version = dataset.versions.get(state="published")

    # The department makes its table live on the version page.
    provider = browser.new_context(locale="ko-KR")
    page = provider.new_page()
    login(page, base, official.email)
    page.goto(f"{base}/catalog/provider/versions/{version.pk}/")
    expect(page.locator("#live-panel-title")).to_have_text("실시간 데이터")
    page.locator("#live-file").select_option(label="대기질.csv")
    page.locator("#live-cadence").select_option("daily")
    page.locator("#live-enable-btn").click()
    expect(page.locator("#live-daegijil")).to_be_visible()
    expect(page.locator("#live-daegijil pre")).to_contain_text("Idempotency-Key")
    shot(page, "provider-live-panel")
    table = LiveTable.objects.get(dataset=dataset)

    # It pushes rows with its API key, as its sensors' gateway would.
    key = make_key(official, scopes=("publish",))
    rows_url = f"{base}/api/v1/provider/datasets/{dataset.slug}/live/{table.name}/rows"

    def push(*rows):
        answer = requests.post(
            rows_url,
            data=json.dumps({"rows": list(rows)}, ensure_ascii=False).encode(),
            headers={
                "Authorization": f"Token {key}",
                "Content-Type": "application/json",
                "Idempotency-Key": str(uuid.uuid4()),
            },
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["batch"]

    push(row(station="정왕동", pm=31), row(station="대야동", pm=27))
    page.reload()
    expect(page.locator("#live-count-daegijil")).to_have_text("2")
    provider.close()

    # Before it subscribes, the company's page says the rows are for subscribers and opens no stream (a refused
    # stream would only be a 403 in the browser's console).
    company = browser.new_context(locale="ko-KR")
    page = company.new_page()
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    streams = []
    page.on(
        "request",
        lambda request: (
            streams.append(request.url) if request.url.endswith("/stream") or "/stream?" in request.url else None
        ),
    )
    login(page, base, buyer.email)
    page.goto(f"{base}/catalog/datasets/{dataset.slug}/")
    expect(page.locator("#live-daegijil .live-status")).to_have_text(
        "실시간 행은 이 데이터셋의 구독자와 API 요금제 이용자에게 보입니다."
    )
    assert streams == [] and console_errors == []

    # A subscribed company opens the dataset page: the newest rows, then a new one within 2 s.
    subscribe(buyer, dataset)
    page.goto(f"{base}/catalog/datasets/{dataset.slug}/")
    expect(page.locator("#live-title")).to_have_text("실시간 데이터")
    expect(page.locator("#live-daegijil .live-age")).to_contain_text("마지막 행")
    expect(page.locator("#live-daegijil")).to_contain_text("공지 주기")
    rows = page.locator("#live-rows-daegijil tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("대야동")
    started = time.monotonic()
    push(row(station="배곧동", pm=44))
    expect(rows.first).to_contain_text("배곧동", timeout=2000)
    print(f"browser: row shown {(time.monotonic() - started) * 1000:.0f} ms after the push")
    expect(rows.first.locator("th")).to_have_text("3")
    expect(page.locator("#live-daegijil .live-age")).to_have_text("마지막 행 방금")
    expect(page.locator("#live-daegijil .live-count")).to_have_text("3")
    expect(rows.first).to_contain_text("2026-12-05 14:00:00")
    shot(page, "buyer-live-rows")
    # On a phone the live section fits the screen (the rows table scrolls inside its own box).
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate(
        "() => { const s = document.querySelector('#live'); return s.getBoundingClientRect().right - window.innerWidth; }"
    )
    assert overflow <= 1
    page.set_viewport_size({"width": 1280, "height": 900})

    # The company adds a webhook; its secret is shown once.
    page.goto(f"{base}/orders/webhooks/")
    page.locator("#webhook-url").fill("http://127.0.0.1:9/hook")
    page.locator("#webhook-add-btn").click()
    expect(page.locator("#webhook-secret-value")).to_contain_text("whsec_")
    expect(page.locator("#webhooks tbody tr")).to_have_count(1)
    page.goto(f"{base}/orders/webhooks/")
    expect(page.locator("#webhook-secret")).to_have_count(0)
    shot(page, "buyer-webhooks")
    company.close()

    from transactions.livefeed import stream

    assert wait_until(lambda: stream.slots.open == 0, timeout=25)
    assert console_errors == []
