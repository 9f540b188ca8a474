"""Order state is one truth (issue 12, observations 5 and 6): the order page's header, its package
list, the live fragment that refreshes both, and "My data" are all worded by
transactions.selectors.order_delivery_status / entitlement_delivery_status, for every package and
order state; the fragment stops polling once nothing can change and is only the buyer's to read."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of
from transactions import selectors
from transactions.delivery.services import error_text
from transactions.models import Entitlement, Order, Package
from transactions.services import orders as order_services

pytestmark = pytest.mark.django_db

REASON_KO = "이 버전의 데이터 파일이 저장소에 없습니다."

# Each package state as the row is written by the workers, and what every page must then say (Korean).
PACKAGE_CASES = {
    "queued": ({"state": "queued", "progress": 0}, "대기 중", "delivering", "데이터 준비 중", "", True),
    "building": ({"state": "building", "progress": 42}, "만드는 중 42%", "delivering", "데이터 준비 중", "", True),
    "ready": ({"state": "ready", "progress": 100}, "내려받기 가능", "fulfilled", "제공 완료", "download", False),
    "failed": ({"state": "failed", "error": "FAILED"}, "실패", "failed", "패키지 생성 실패", "retry", False),
    "expired": ({"state": "expired"}, "만료됨", "fulfilled", "제공 완료", "rebuild", False),
}


@pytest.fixture
def free_order(buyer, free_dataset, buy):
    """A free order: paid at once, one entitlement, one package queued (no worker in these tests)."""
    order = buy(buyer, offer_of(free_dataset, "free"), method="free")
    assert order.state == Order.State.PAID
    return order


def _set_package(order, **fields):
    if fields.get("state") == "building":
        fields.setdefault("heartbeat_at", timezone.now())  # its worker alive (a stale one reads "interrupted")
    if fields.get("error") == "FAILED":
        fields["error"] = error_text(REASON_KO) + "\n[detail] FileNotFoundError"
    Package.objects.filter(entitlement__order_item__order=order).update(**fields)


def _everywhere(order):
    """(the order page's header and list, the matching "My data" row), read afresh."""
    order = Order.objects.get(pk=order.pk)
    delivery = selectors.order_delivery_status(order)
    rows = {row.entitlement.order_item.order_id: row for row in selectors.my_data(order.buyer)}
    return delivery, rows[order.pk]


@pytest.mark.parametrize("case", PACKAGE_CASES)
def test_every_package_state_reads_the_same_on_the_header_the_list_and_my_data(free_order, case):
    fields, package_label, order_state, order_label, action, live = PACKAGE_CASES[case]
    _set_package(free_order, **fields)
    delivery, mine = _everywhere(free_order)
    [row] = delivery.packages
    [my_row] = mine.packages
    assert row.status == my_row.status  # the list and My data: the very same dataclass
    assert delivery.status == mine.status  # the header and My data's state column agree as well
    assert (row.status.state, row.status.label, row.status.action, row.status.live) == (
        case,
        package_label,
        action,
        live,
    )
    assert (delivery.status.state, delivery.status.label, delivery.live) == (order_state, order_label, live)
    if case == "building":
        assert row.status.progress == 42 and row.status.text == "42% 완료"
    if case == "failed":
        # Observation 5: never "이용 가능 / 대기 중" nor "만들고 있습니다" for a package that failed.
        assert row.status.title == REASON_KO and "관리자" in row.status.text
        assert "만들고 있습니다" not in delivery.status.title and mine.status.label not in ("이용 가능", "대기 중")
    with translation.override("en"):
        delivery_en, mine_en = _everywhere(free_order)
    assert delivery_en.packages[0].status == mine_en.packages[0].status and delivery_en.status == mine_en.status
    assert delivery_en.status.label != delivery.status.label  # translated, not a Korean leftover


def test_a_failure_outranks_a_package_still_building_but_polling_goes_on(buyer, free_dataset, private_dataset, buy):
    order = buy(buyer, offer_of(free_dataset, "free"), method="free")
    [package] = Package.objects.filter(entitlement__order_item__order=order)
    _set_package(order, state="failed", error="FAILED")
    delivery = selectors.order_delivery_status(order)
    assert delivery.status.state == "failed" and delivery.status.title == "패키지 1개를 만들지 못했습니다"
    # A second package of the same order still building: the header asks for action, the page keeps polling.
    other = Package.objects.create(
        entitlement=package.entitlement,
        version=private_dataset.versions.get(),
        state="building",
        progress=10,
        heartbeat_at=timezone.now(),
    )
    delivery = selectors.order_delivery_status(order)
    assert delivery.status.state == "failed" and delivery.live
    assert [(row.package.pk, row.status.state) for row in delivery.packages] == [
        (package.pk, "failed"),
        (other.pk, "building"),
    ]


def test_order_states_before_and_after_delivery(buyer, free_dataset, private_dataset, buy):
    card = buy(buyer, offer_of(private_dataset, "one_off"), method="card")
    status = selectors.order_delivery_status(card).status
    assert (status.state, status.label, status.action, status.live) == ("awaiting_payment", "결제 대기", "pay", False)
    assert status.title == "카드 결제 대기 중"
    # A payment being confirmed with the PG reads as such, and polls.
    confirming = selectors._payment_status(card, ["confirming"])
    assert (confirming.state, confirming.label, confirming.live) == ("confirming", "결제 확인 중", True)
    with translation.override("en"):
        assert selectors._payment_status(card, ["confirming"]).label == "Confirming payment"
    # An unknown payment state is not an error: still awaiting payment.
    assert selectors._payment_status(card, ["something_new"]).state == "awaiting_payment"

    order_services.order_cancel(actor=buyer, order=card, reason="잘못 주문함")
    status = selectors.order_delivery_status(Order.objects.get(pk=card.pk)).status
    assert (status.state, status.label, status.live) == ("cancelled", "취소됨", False) and "잘못 주문함" in status.text

    free = buy(buyer, offer_of(free_dataset, "free"), method="free")
    Order.objects.filter(pk=free.pk).update(state="refunded")
    Entitlement.objects.filter(order_item__order=free).update(revoked_at=timezone.now())
    delivery, mine = _everywhere(free)
    assert (delivery.status.state, delivery.status.label, delivery.shows_packages) == ("refunded", "환불됨", False)
    assert (mine.status.state, mine.status.label) == ("refunded", "취소됨(환불)")
    assert mine.packages[0].status.action == "" and delivery.packages[0].status == mine.packages[0].status


def test_an_ended_subscription_offers_no_download(buyer, private_dataset, buy):
    order = buy(buyer, offer_of(private_dataset, "subscription"), method="bank_transfer")
    from django.db import transaction

    with transaction.atomic():
        order_services.order_mark_paid(order=order)
    _set_package(order, state="ready")
    Entitlement.objects.filter(order_item__order=order).update(valid_until=timezone.now() - timedelta(days=1))
    delivery, mine = _everywhere(order)
    assert mine.status.state == "ended" and mine.packages[0].status.state == "ended"
    assert mine.packages[0].status.action == "" and delivery.packages[0].status == mine.packages[0].status
    # The order's header says the same, not "delivered: download" over rows that cannot be downloaded.
    assert (delivery.status.state, delivery.status.action) == ("ended", "")


# --- Views ---------------------------------------------------------------------------------------------


def _live(client, order, **extra):
    return client.get(reverse("transactions:order_live", args=[order.number]), **extra)


def test_the_fragment_follows_the_package_and_stops_polling_when_final(login, buyer, free_order):
    client = login(buyer)
    [package] = Package.objects.filter(entitlement__order_item__order=free_order)
    _set_package(free_order, state="building", progress=42)
    page = client.get(reverse("transactions:order", args=[free_order.number])).content.decode()
    # The order page: the live region outside the polled part, the polled part holding header and list.
    assert 'aria-live="polite"' in page and 'id="order-live"' in page and 'hx-trigger="every 2s"' in page
    assert page.index('aria-live="polite"') < page.index('id="order-live"')
    html = _live(client, free_order).content.decode()
    assert 'hx-trigger="every 2s"' in html and reverse("transactions:order_live", args=[free_order.number]) in html
    assert 'role="progressbar"' in html and 'aria-valuenow="42"' in html and "42% 완료" in html
    assert "데이터 준비 중" in html and "만드는 중 42%" in html and f'id="download-{package.pk}"' not in html

    _set_package(free_order, state="ready", progress=100, size=1234, sha256="a" * 64)
    Order.objects.filter(pk=free_order.pk).update(state="fulfilled")
    html = _live(client, free_order).content.decode()
    assert "hx-trigger" not in html and "hx-get" not in html  # final: the swapped-in element polls no more
    assert f'id="download-{package.pk}"' in html and "제공 완료" in html and "만들고 있습니다" not in html


def test_the_fragment_shows_a_failure_with_its_reason_and_the_retry(login, buyer, free_order):
    client = login(buyer)
    [package] = Package.objects.filter(entitlement__order_item__order=free_order)
    _set_package(free_order, state="failed", error="FAILED")
    html = _live(client, free_order).content.decode()
    assert "hx-trigger" not in html and REASON_KO in html and f'id="retry-{package.pk}"' in html
    assert "패키지 생성 실패" in html and "관리자에게 알렸습니다" in html and "만들고 있습니다" not in html
    assert f'action="{reverse("transactions:package_retry", args=[package.pk])}"' in html
    client.cookies["django_language"] = "en"
    english = _live(client, free_order).content.decode()
    assert "Package failed" in english and "Try again" in english and "The platform admins have been told" in english


def test_the_fragment_is_only_for_the_buying_organization(client, login, buyer, free_order, outsider):
    assert _live(client, free_order).status_code == 302  # signed out: to the login page
    other = make_user("owner@other.test")
    make_org(other, name_ko="(주)다른회사", name_en="Other", kind="consumer", brn="2118608983")
    assert login(other).get(reverse("transactions:order_live", args=[free_order.number])).status_code == 404
    assert login(outsider).get(reverse("transactions:order_live", args=[free_order.number])).status_code == 403
    assert login(buyer).post(reverse("transactions:order_live", args=[free_order.number])).status_code == 405


def test_my_data_offers_the_download_and_shows_a_failure_as_failed(login, buyer, free_order):
    client = login(buyer)
    [package] = Package.objects.filter(entitlement__order_item__order=free_order)
    _set_package(free_order, state="ready", progress=100, size=1234, sha256="a" * 64)
    page = client.get(reverse("transactions:entitlements")).content.decode()
    assert f'id="download-{package.pk}"' in page and reverse("transactions:package_link", args=[package.pk]) in page
    assert "내려받기 가능" in page

    _set_package(free_order, state="failed", error="FAILED")
    page = client.get(reverse("transactions:entitlements")).content.decode()
    row = page[page.index(f'id="entitlement-{package.entitlement_id}"') :]
    row = row[: row.index("</tr>")]
    assert "이용 가능" not in row and "대기 중" not in row  # observation 5
    assert "패키지 생성 실패" in row and REASON_KO in row and f'id="retry-{package.pk}"' in row
    assert f'name="next" value="{reverse("transactions:entitlements")}"' in row


@pytest.mark.parametrize("case", ["failed", "building", "ready"])
def test_order_lists_badge_each_order_as_its_page_header_does(
    client, buyer, admin_user, free_order, case, django_assert_max_num_queries
):
    """The buyer's order list, the admins' order list and the admins' order page show the header's badge
    (a paid order whose package failed reads "패키지 생성 실패" there too, not "결제 완료")."""
    fields, _label, order_state, order_label, _action, _live = PACKAGE_CASES[case]
    _set_package(free_order, **fields)
    badge = f'data-state="{order_state}">{order_label}</span>'
    client.force_login(buyer)
    assert badge in client.get(reverse("transactions:orders")).content.decode()
    client.force_login(admin_user)
    with django_assert_max_num_queries(15):  # a fixed number for the page, not one per order
        staff_list = client.get(reverse("staff_orders:list")).content.decode()
    assert badge in staff_list
    assert badge in client.get(reverse("staff_orders:detail", args=[free_order.number])).content.decode()


def test_the_cancel_form_leaves_the_live_block_while_a_payment_is_confirmed_and_once_paid(
    login, buyer, private_dataset, buy
):
    """The payments table and the cancel form are part of the polled block: "being confirmed" takes the cancel
    form away, and the block that shows the order paid shows the payment done and no cancel form."""
    from transactions.models import Payment

    order = buy(buyer, offer_of(private_dataset, "one_off"), method="card")
    client = login(buyer)
    live = reverse("transactions:order_live", args=[order.number])
    assert 'id="cancel-form"' in client.get(reverse("transactions:order", args=[order.number])).content.decode()
    payment = Payment.objects.create(
        order=order,
        method="card",
        adapter="toss",
        amount_krw=order.total_krw,
        payment_key="pk-confirming",
        state="confirming",
        confirm_started_at=timezone.now(),
    )
    html = client.get(live).content.decode()
    assert 'id="cancel-form"' not in html and 'id="order-payments"' in html and 'hx-trigger="every 2s"' in html
    Payment.objects.filter(pk=payment.pk).update(state="done", approved_at=timezone.now())
    Order.objects.filter(pk=order.pk).update(state="paid", paid_at=timezone.now())
    html = client.get(live).content.decode()
    assert 'id="cancel-form"' not in html and str(Payment.State.DONE.label) in html
