"""The order page keeps up by itself (issue 12, observations 5 and 6): while the buyer watches, the
package row in the database goes building → failed → (retry) → ready, and the header, the next step
and the package list change together without a reload; the failure shows its reason and the retry
button; the polite live region announces the change; "My data" says the same. Builds are parked (no
worker takes them), so the test moves the package itself, as a worker would."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.transactions.conftest import (  # noqa: F401 (a fixture)
    offer_of,
    parked_package_builds,
    place_order,
    publish_dataset,
)
from transactions.delivery.services import error_text
from transactions.models import Order, Package

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MISSING = gettext_lazy("A data file of this version is missing from storage.")  # delivery's own reason


def _login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/catalog/|/orders/"))


@pytest.mark.usefixtures("parked_package_builds")
def test_the_order_page_follows_its_package_without_a_reload(
    live_server, page, official, admin_user, buyer, reference_data, shot, console_errors
):
    base = live_server.url
    with translation.override("ko"):
        reason_ko = str(MISSING)
    with translation.override("en"):
        reason_en = str(MISSING)
    dataset = publish_dataset(official, admin_user, offers=({"kind": "free"},))
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    Package.objects.filter(pk=package.pk).update(state="building", progress=30, heartbeat_at=timezone.now())

    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    _login(page, base, buyer.email)
    page.goto(base + reverse("transactions:order", args=[order.number]))
    header, row = page.locator("#order-state"), page.locator(f"#package-{package.pk}")
    live = page.locator("[aria-live=polite][data-packages-live=order-live]")
    expect(header).to_contain_text("데이터 준비 중")
    expect(row).to_contain_text("만드는 중 30%")
    expect(row.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "30")
    shot(page, "building-ko")
    seen = len(navigations)

    # The worker gets on: the row and the overall progress move, nothing is reloaded.
    Package.objects.filter(pk=package.pk).update(progress=70, heartbeat_at=timezone.now())
    expect(row).to_contain_text("만드는 중 70%", timeout=10_000)
    expect(page.locator("#order-next progress")).to_have_attribute("value", "70")

    # The build fails: header, next step and row all say so, with the reason and the retry button.
    Package.objects.filter(pk=package.pk).update(state="failed", error=error_text(MISSING, "FileNotFoundError"))
    expect(header).to_contain_text("패키지 생성 실패", timeout=10_000)
    expect(page.locator("#order-next")).to_contain_text("패키지 1개를 만들지 못했습니다")
    expect(row).to_contain_text(reason_ko)
    expect(row).to_contain_text("플랫폼 관리자에게 알렸습니다")
    expect(page.locator(f"#retry-{package.pk}")).to_be_visible()
    expect(live).to_contain_text("패키지 생성 실패")
    expect(page.locator("#order-live")).not_to_have_attribute("hx-trigger", re.compile("."))  # nothing more can change
    assert len(navigations) == seen, navigations  # all of that without a reload
    shot(page, "failed-ko")

    # The buyer tries again (a form post: back on the order page, queued, polling again) ...
    page.locator(f"#retry-{package.pk}").click()
    expect(row).to_contain_text("대기 중")
    expect(header).to_contain_text("데이터 준비 중")
    seen = len(navigations)
    # ... and a worker builds it: the header turns to delivered and the download button appears, live.
    Package.objects.filter(pk=package.pk).update(state="building", progress=50, heartbeat_at=timezone.now())
    expect(row).to_contain_text("만드는 중 50%", timeout=10_000)
    Package.objects.filter(pk=package.pk).update(state="ready", progress=100, size=2048, sha256="a" * 64, error="")
    Order.objects.filter(pk=order.pk).update(state="fulfilled")
    expect(header).to_contain_text("제공 완료", timeout=10_000)
    expect(page.locator("#order-next")).to_contain_text("제공 완료: 모든 패키지가 준비되었습니다")
    expect(page.locator(f"#download-{package.pk}")).to_be_visible()
    expect(live).to_contain_text("제공 완료")
    expect(page.locator("#order-live")).not_to_have_attribute("hx-trigger", re.compile("."))
    assert len(navigations) == seen, navigations
    assert page.get_by_text("만들고 있습니다").count() == 0
    shot(page, "ready-ko")

    # "My data" says the same, with the download button.
    page.goto(base + reverse("transactions:entitlements"))
    my_row = page.locator(f"#entitlement-{package.entitlement_id}")
    expect(my_row).to_contain_text("제공 완료")
    expect(my_row).to_contain_text("내려받기 가능")
    expect(my_row.locator(f"#download-{package.pk}")).to_be_visible()
    shot(page, "my-data-ko")

    # 390 px wide, then English through the language switch.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + reverse("transactions:order", args=[order.number]))
    expect(page.locator(f"#download-{package.pk}")).to_be_visible()
    page.locator(f"#download-{package.pk}").scroll_into_view_if_needed()
    expect(page.locator(f"#download-{package.pk}")).to_be_in_viewport()
    shot(page, "ready-390")
    page.goto(base + reverse("transactions:entitlements"))
    page.locator(f"#download-{package.pk}").scroll_into_view_if_needed()
    expect(page.locator(f"#download-{package.pk}")).to_be_in_viewport()  # stacked, not off-screen to the right
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "my-data-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    Package.objects.filter(pk=package.pk).update(state="failed", error=error_text(MISSING))
    page.goto(base + reverse("transactions:order", args=[order.number]))
    page.locator("#lang-en").click()
    expect(page.locator("#order-state")).to_contain_text("Package failed")
    expect(page.locator(f"#retry-{package.pk}")).to_contain_text("Try again")
    expect(page.locator(f"#package-{package.pk}")).to_contain_text(reason_en)  # the reason in English too
    shot(page, "failed-en")
    page.goto(base + reverse("transactions:entitlements"))
    expect(page.locator(f"#entitlement-{package.entitlement_id}")).to_contain_text("Package failed")
    shot(page, "my-data-failed-en")
    assert console_errors == []
