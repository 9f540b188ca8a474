"""A company takes a public dataset free of charge: the dataset page's purchase panel, checkout with the
licence to accept, the order page where a real Celery worker's package appears and becomes ready, the
download, "My data", and the dataset page saying the organization already has it."""

import io
import re
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.transactions.conftest import publish_dataset
from transactions.models import Entitlement, LicenceAcceptance, Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/catalog/|/orders/"))


def test_a_company_takes_a_public_dataset_free(
    live_server, page, celery_worker, official, admin_user, buyer, reference_data, shot, console_errors
):
    base = live_server.url
    dataset = publish_dataset(
        official,
        admin_user,
        offers=({"kind": "free"}, {"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용 (건당)"}),
    )
    free = dataset.offers.get(kind="free")

    _login(page, base, buyer.email)
    page.goto(base + reverse("catalog:dataset", args=[dataset.slug]))
    panel = page.locator("#purchase")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("33,000")  # the one-off: 30,000 + VAT 3,000
    shot(page, "dataset-purchase-panel")
    page.locator(f"#take-free-{free.pk}").click()

    # Checkout: the licence text, nothing to pay and nothing to invoice (no billing fields).
    page.wait_for_url(f"{base}/orders/checkout/")
    expect(page.locator("#id_billing_name")).to_have_count(0)
    expect(page.locator("#free-no-billing")).to_be_visible()
    expect(page.locator(f"#licence-{free.pk}")).to_contain_text("출처를 표시하면")
    expect(page.locator("#free-note")).to_be_visible()
    shot(page, "checkout")
    page.locator("#place-order-btn").click()
    expect(page.locator(".form-alert")).to_be_visible()  # the licence must be accepted first
    assert not Order.objects.exists()
    page.locator(f"#accept-{free.pk}").check()
    page.locator("#place-order-btn").click()

    # The order page: confirmed at once; a real worker builds the package; a download button appears.
    page.wait_for_url(re.compile(r"/orders/\d{8}-[0-9A-Z]{8}/$"))
    order = Order.objects.get()
    assert (order.method, order.total_krw) == ("free", 0)
    expect(page.locator("#order-number")).to_have_text(order.number)
    expect(page.locator("#order-next")).to_be_visible()
    shot(page, "order-confirmed")
    download = page.locator("[id^=download-]")
    expect(download).to_be_visible(timeout=60_000)  # htmx polls every 2 s while the package is built
    order.refresh_from_db()
    assert order.state == "fulfilled"
    page.reload()
    expect(page.locator("#order-state")).to_contain_text(order.get_state_display())
    download = page.locator("[id^=download-]")
    shot(page, "package-ready")
    acceptance = LicenceAcceptance.objects.get()
    assert (acceptance.user, acceptance.licence_code, acceptance.ip) == (buyer, "kogl-1", "127.0.0.1")

    # The download (delivery's part): a ZIP with the licence and the checksums.
    with page.expect_download() as info:
        download.click()
    data = Path(info.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    assert "MANIFEST-SHA256" in names and any("LICENSE" in n.upper() or "LICENCE" in n.upper() for n in names), names

    # My data, and the dataset page knows the organization has it.
    page.goto(f"{base}/orders/data/")
    entitlement = Entitlement.objects.get()
    expect(page.locator(f"#entitlement-{entitlement.pk}")).to_contain_text("시흥시 대기질 측정 자료")
    shot(page, "my-data")
    page.goto(base + reverse("catalog:dataset", args=[dataset.slug]))
    expect(page.locator("#purchase-owned")).to_be_visible()
    assert page.locator(f"#take-free-{free.pk}").count() == 0
    shot(page, "dataset-owned")
    assert console_errors == []
