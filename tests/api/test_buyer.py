"""The buyer API: a program buys as a person does in the browser (the same services and selectors), end to end
with a real worker, the simulated PG and a download that needs nothing but its signed link; licence acceptance
exactly as the checkout page; keys' scopes; other organizations' orders and packages unseen; a removed member
powerless at once."""

import hashlib
import json
import time
import uuid
import zipfile

import httpx
import pytest
from django.conf import settings
from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator

from accounts import services as account_services
from accounts.models import Membership, User
from catalog.models import Licence
from core.transitions import transition
from devtools.pg_simulator import views as simulator
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, publish_dataset, wait_for_download_records
from tests.transactions.test_payments import approve_at_pg
from transactions.models import Entitlement, LicenceAcceptance, Order, Package, Payment
from transactions.payments import selectors as payment_selectors
from transactions.tasks import build_package

COST_RECOVERY = {"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용 (건당)"}
FREE_AND_PAID = ({"kind": "free"}, COST_RECOVERY)


@pytest.fixture
def pg(live_server, settings):
    """The simulated PG on the live server, configured as a real one would be."""
    settings.SITE_URL = live_server.url
    settings.PG_API_BASE = f"{live_server.url}/pg-sim"
    settings.PG_CHECKOUT_URL = f"{live_server.url}/pg-sim/checkout/"
    settings.PG_SIMULATOR_WEBHOOKS = False
    settings.PG_TIMEOUT_SECONDS = 10
    simulator.reset()
    yield live_server
    simulator.wait_for_webhooks()


@pytest.fixture
def dataset(official, admin_user, reference_data):
    """공공데이터 under 공공누리 제1유형: free, and a cost-recovery one-off (30,000 won + VAT)."""
    return publish_dataset(official, admin_user, offers=FREE_AND_PAID)


def _checkout(api, offer_id, sha, **extra):
    body = {"checkout_token": str(uuid.uuid4()), "accepted_licences": {str(offer_id): sha}, **extra}
    return api.post("/api/v1/checkout/", body, format="json")


def _add(api, offer):
    response = api.post("/api/v1/cart/items/", {"offer": offer.pk}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- the whole purchase, over real HTTP ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_program_buys_pays_by_card_and_downloads_a_package_that_verifies(
    celery_worker, pg, dataset, buyer, make_key, tmp_path
):
    key = make_key(buyer, scopes=["read", "buy"], name="ERP")
    offer = offer_of(dataset, "one_off")
    with httpx.Client(base_url=pg.url, headers={"Authorization": f"Token {key}"}, timeout=20) as http:
        added = http.post("/api/v1/cart/items/", json={"offer": offer.pk})
        assert added.status_code == 201, added.text
        cart = added.json()
        (line,) = cart["lines"]
        assert (line["supply_krw"], line["vat_krw"], line["total_krw"]) == (30_000, 3_000, 33_000)
        assert cart["total_krw"] == 33_000 and cart["blocked"] is False and line["problem"] is None
        assert line["offer"]["id"] == offer.pk and line["licence"]["code"] == "kogl-1"

        # The licence text as the checkout page shows it; its SHA-256 is what the buyer accepts.
        licence = http.get(line["licence_text_url"]).json()
        assert hashlib.sha256(licence["text"].encode()).hexdigest() == licence["sha256"] == line["licence_sha256"]
        assert licence["text_ko"].strip()[:20] in licence["text"]

        body = {
            "checkout_token": str(uuid.uuid4()),
            "method": "card",
            "accepted_licences": {str(offer.pk): line["licence_sha256"]},
            "expected_total_krw": 33_000,
        }
        placed = http.post("/api/v1/checkout/", json=body)
        assert placed.status_code == 201, placed.text
        order = placed.json()["order"]
        number = order["number"]
        assert order["state"] == "awaiting_payment" and order["total_krw"] == 33_000
        assert order["billing"]["name"] == buyer.active_organization.name_ko  # the page's prefilled details
        redirect_url = placed.json()["redirect_url"]
        assert redirect_url.startswith(f"{pg.url}/pg-sim/checkout/")
        acceptance = LicenceAcceptance.objects.get(order_item__order__number=number)
        assert acceptance.licence_sha256 == line["licence_sha256"] and acceptance.user == buyer
        assert acceptance.ip == "127.0.0.1"

        again = http.post("/api/v1/checkout/", json=body)  # a retry of the same request: the same order
        assert again.status_code == 201 and again.json()["order"]["number"] == number
        assert Order.objects.count() == 1
        assert http.get("/api/v1/cart/").json()["count"] == 0

        # The buyer pays in the PG's window; the PG sends the browser back to the portal, which confirms.
        started = http.post(f"/api/v1/orders/{number}/payments/card/")
        assert started.status_code == 200, started.text
        location, back = approve_at_pg(started.json()["redirect_url"])
        assert back["orderId"] == number
        with httpx.Client(timeout=20) as browser:  # no session, no key: the PG's redirect alone
            assert browser.get(location).status_code == 302
        status = http.get(f"/api/v1/orders/{number}/payments/").json()
        assert status["state"] in ("paid", "fulfilled")
        assert [p["state"] for p in status["payments"]] == ["done"]

        detail = http.get(f"/api/v1/orders/{number}/").json()
        (package_id,) = [p["id"] for p in detail["packages"]]
        assert [e["dataset"]["id"] for e in detail["entitlements"]] == [dataset.pk]
        deadline = time.monotonic() + 90
        while True:
            package = http.get(f"/api/v1/packages/{package_id}/").json()
            assert package["status"]["state"] in ("queued", "building", "ready"), package
            if package["state"] == "ready":
                break
            assert 0 <= package["progress"] <= 100 and package["status"]["live"] is True
            assert time.monotonic() < deadline, "the worker did not build the package"
            time.sleep(0.3)
        assert package["progress"] == 100 and package["status"]["action"] == "download"
        assert package["manifest_sha256"] and "data/대기질.csv" in package["manifest"]

        link = http.post(f"/api/v1/packages/{package_id}/download-link/")
        assert link.status_code == 200, link.text
        link = link.json()
        expires = parse_datetime(link["expires_at"])
        assert 0 < expires.timestamp() - time.time() <= settings.DOWNLOAD_LINK_TTL_SECONDS
        assert link["sha256"] == package["sha256"]

    target = tmp_path / "package.zip"
    digest = hashlib.sha256()
    with httpx.Client(timeout=20) as anonymous, anonymous.stream("GET", link["url"]) as response:
        assert response.status_code == 200
        with target.open("wb") as out:
            for block in response.iter_bytes():
                digest.update(block)
                out.write(block)
    assert digest.hexdigest() == package["sha256"] and target.stat().st_size == package["size"]
    wait_for_download_records()
    with zipfile.ZipFile(target) as zf:
        listed = {}
        for row in zf.read("MANIFEST-SHA256").decode().splitlines():
            sha, _sep, path = row.partition("  ")
            listed[path] = sha
        assert listed == package["manifest"]
        assert set(listed) == {name for name in zf.namelist() if name != "MANIFEST-SHA256"}
        for path, sha in listed.items():
            with zf.open(path) as member:
                assert hashlib.file_digest(member, "sha256").hexdigest() == sha, path
        assert hashlib.sha256(zf.read("MANIFEST-SHA256")).hexdigest() == package["manifest_sha256"]


# --- free, bank transfer, cancel -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_free_dataset_is_taken_without_payment_or_billing(api, dataset, buyer, make_key):
    api.with_key(make_key(buyer, scopes=["buy"]))
    offer = offer_of(dataset, "free")
    line = _add(api, offer)["lines"][0]
    assert line["total_krw"] == 0
    placed = _checkout(api, offer.pk, line["licence_sha256"])
    assert placed.status_code == 201, placed.content
    order = placed.json()["order"]
    assert (order["state"], order["method"], order["total_krw"]) == ("paid", "free", 0)
    assert placed.json()["redirect_url"] is None and order["bank_transfer"] is None and order["payments"] == []
    assert order["billing"]["name"] == ""  # nothing is invoiced for a free order
    assert order["status"]["state"] == "delivering" and order["status"]["live"] is True
    (package,) = order["packages"]
    assert package["state"] == "queued" and package["status"]["progress"] == 0

    entitlements = api.get("/api/v1/entitlements/").json()
    assert entitlements["count"] == 1
    (row,) = entitlements["results"]
    assert (row["dataset"]["id"], row["version"], row["order"], row["kind"]) == (dataset.pk, 1, order["number"], "free")
    assert row["valid_until"] is None and row["packages"][0]["id"] == package["id"]
    assert [p["id"] for p in api.get("/api/v1/packages/").json()["results"]] == [package["id"]]

    # Paying a free order: nothing to pay, in both languages.
    refused = api.post(f"/api/v1/orders/{order['number']}/payments/card/")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "order_not_payable" and order["number"] in error["message_en"]
    assert error["message_ko"] != error["message_en"]

    # The same dataset again: the cart says why not, in both languages (the page's own sentence).
    again = api.post("/api/v1/cart/items/", {"offer": offer.pk}, format="json")
    assert again.status_code == 400
    error = again.json()["error"]
    assert error["code"] == "not_buyable" and order["number"] in error["message_ko"]
    assert error["message_en"].startswith("Your organization already has this version")
    assert error["message_ko"] != error["message_en"]


@pytest.mark.django_db
def test_a_bank_transfer_shows_the_account_amount_depositor_and_deadline(api, dataset, buyer, make_key):
    api.with_key(make_key(buyer, scopes=["read", "buy"]))
    offer = offer_of(dataset, "one_off")
    line = _add(api, offer)["lines"][0]
    placed = _checkout(
        api, offer.pk, line["licence_sha256"], method="bank_transfer", billing_name="에어데이터랩 회계팀"
    )
    assert placed.status_code == 201, placed.content
    order = placed.json()["order"]
    account = settings.BANK_TRANSFER_ACCOUNT
    transfer = order["bank_transfer"]
    assert (transfer["bank"], transfer["account_number"], transfer["account_holder"]) == (
        account["bank"],
        account["number"],
        account["holder"],
    )
    assert transfer["amount_krw"] == 33_000 and transfer["depositor_name"] == "에어데이터랩 회계팀"
    assert transfer["transfer_note"] == order["number"] and parse_datetime(transfer["deadline"]) is not None
    # As the checkout page does, the transfer is started at once: the admins' list of deposits to look for has it.
    assert [p.order.number for p in payment_selectors.bank_transfers_waiting()] == [order["number"]]

    started = api.post(f"/api/v1/orders/{order['number']}/payments/bank-transfer/")
    assert started.status_code == 200, started.content
    body = started.json()
    assert body["account_number"] == account["number"] and body["amount_krw"] == 33_000
    assert body["deadline"] == transfer["deadline"] and body["payment"]["state"] == "ready"
    assert Payment.objects.count() == 1  # a repeated start changes nothing

    status = api.get(f"/api/v1/orders/{order['number']}/payments/").json()
    assert status["status"]["state"] == "awaiting_payment" and status["bank_transfer"]["amount_krw"] == 33_000

    # Switching to card is allowed, and cancelling an unpaid order too (idempotent).
    assert api.post(f"/api/v1/orders/{order['number']}/payments/card/").json()["redirect_url"]
    cancelled = api.post(f"/api/v1/orders/{order['number']}/cancel/", {"reason": "예산 변경"}, format="json")
    assert cancelled.status_code == 200
    assert (cancelled.json()["state"], cancelled.json()["cancel_reason"]) == ("cancelled", "예산 변경")
    assert api.post(f"/api/v1/orders/{order['number']}/cancel/").json()["state"] == "cancelled"
    listed = api.get("/api/v1/orders/?state=cancelled").json()
    assert [o["number"] for o in listed["results"]] == [order["number"]]
    assert api.get("/api/v1/orders/?state=open").json()["count"] == 0
    assert api.get("/api/v1/orders/?state=nonsense").status_code == 400


# --- licence acceptance --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_checkout_needs_the_hash_of_the_licence_text_in_force_and_says_so_in_both_languages(
    api, dataset, buyer, make_key
):
    api.with_key(make_key(buyer, scopes=["buy"]))
    offer = offer_of(dataset, "one_off")
    line = _add(api, offer)["lines"][0]
    title = line["title"]

    missing = api.post(
        "/api/v1/checkout/", {"checkout_token": str(uuid.uuid4()), "method": "card"}, format="json"
    ).json()["error"]
    assert missing["code"] == "licence_not_accepted"
    assert missing["message_en"] == f"Accept the licence of “{title}” to continue."
    with translation.override("ko"):
        korean = gettext("Accept the licence of “%(title)s” to continue.") % {"title": title}
    assert missing["message_ko"] == korean and korean != missing["message_en"]

    # The publisher's licence text changes after the buyer read it: the hash read is stale.
    Licence.objects.filter(code="kogl-1").update(text_ko=Licence.objects.get(code="kogl-1").text_ko + "\n제7조 추가.")
    stale = _checkout(api, offer.pk, line["licence_sha256"], method="card")
    assert stale.status_code == 400
    error = stale.json()["error"]
    assert error["code"] == "licence_changed"
    assert error["message_en"].startswith(f"The licence of “{title}” changed while you were reading it")
    assert "바뀌었습니다" in error["message_ko"] or error["message_ko"] != error["message_en"]
    assert not Order.objects.exists() and not LicenceAcceptance.objects.exists()

    fresh = api.get("/api/v1/cart/").json()["lines"][0]["licence_sha256"]
    assert fresh != line["licence_sha256"]
    assert _checkout(api, offer.pk, fresh, method="card").status_code == 201
    assert LicenceAcceptance.objects.get().licence_sha256 == fresh

    malformed = _checkout(api, offer.pk, "not-a-hash", method="card").json()["error"]
    assert malformed["code"] == "invalid" and f"accepted_licences.{offer.pk}" in malformed["fields"]


# --- who may -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_read_key_reads_but_cannot_add_to_the_cart_or_check_out(api, dataset, buyer, make_key):
    offer = offer_of(dataset, "free")
    api.with_key(make_key(buyer, scopes=["read"]))
    assert api.get("/api/v1/cart/").status_code == 200
    assert api.get("/api/v1/orders/").status_code == 200
    for response in (
        api.post("/api/v1/cart/items/", {"offer": offer.pk}, format="json"),
        _checkout(api, offer.pk, "0" * 64),
        api.delete(f"/api/v1/cart/items/{offer.pk}/"),
    ):
        assert response.status_code == 403
        error = response.json()["error"]
        assert "buy" in error["message_en"] and "buy" in error["message_ko"]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_publish_key_cannot_buy_nor_read_purchases(api, dataset, official, make_key):
    offer = offer_of(dataset, "free")
    api.with_key(make_key(official, scopes=["publish"]))
    refused = api.post("/api/v1/cart/items/", {"offer": offer.pk}, format="json")
    assert refused.status_code == 403 and "buy" in refused.json()["error"]["message_en"]
    assert _checkout(api, offer.pk, "0" * 64).status_code == 403
    assert "buy" in api.get("/api/v1/cart/").json()["error"]["message_en"]
    assert api.get("/api/v1/orders/").status_code == 403


@pytest.mark.django_db
def test_a_buy_key_loses_its_power_with_the_buyer_role(api, dataset, buyer, make_key):
    offer = offer_of(dataset, "free")
    api.with_key(make_key(buyer, scopes=["read", "buy"]))
    assert api.get("/api/v1/orders/").status_code == 200
    Membership.objects.filter(user=buyer).update(role=Membership.Role.PUBLISHER)
    refused = api.post("/api/v1/cart/items/", {"offer": offer.pk}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert api.get("/api/v1/orders/").status_code == 403
    assert api.get("/api/v1/cart/").status_code == 403


@pytest.mark.django_db
def test_anonymous_is_401(api):
    for path in ("/api/v1/cart/", "/api/v1/orders/", "/api/v1/packages/", "/api/v1/entitlements/"):
        assert api.get(path).status_code == 401


@pytest.mark.django_db
def test_another_organizations_orders_and_packages_are_not_found(api, dataset, buyer, make_key):
    other_owner = make_user("owner@other.test", name="다른 대표")
    make_org(other_owner, name_ko="(주)다른회사", name_en="Other", kind="consumer", brn="2118608983")
    api.with_key(make_key(other_owner, scopes=["buy"]))
    offer = offer_of(dataset, "free")
    line = _add(api, offer)["lines"][0]
    theirs = _checkout(api, offer.pk, line["licence_sha256"]).json()["order"]
    their_package = theirs["packages"][0]["id"]

    api.with_key(make_key(buyer, scopes=["read", "buy"]))
    number = theirs["number"]
    for response in (
        api.get(f"/api/v1/orders/{number}/"),
        api.get(f"/api/v1/orders/{number}/payments/"),
        api.post(f"/api/v1/orders/{number}/cancel/"),
        api.post(f"/api/v1/orders/{number}/payments/card/"),
        api.post(f"/api/v1/orders/{number}/payments/bank-transfer/"),
        api.get(f"/api/v1/packages/{their_package}/"),
        api.post(f"/api/v1/packages/{their_package}/download-link/"),
        api.post(f"/api/v1/packages/{their_package}/retry/"),
        api.get(f"/api/v1/cart/items/{offer.pk}/licence/"),  # not in this buyer's cart
    ):
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/orders/").json()["count"] == 0
    assert api.get("/api/v1/packages/").json()["count"] == 0
    assert api.get("/api/v1/entitlements/").json()["count"] == 0
    assert Order.objects.get(number=number).state == "paid"


@pytest.mark.django_db
def test_a_removed_member_loses_access_and_their_links_at_once(api, client, dataset, buyer, make_key):
    key = make_key(buyer, scopes=["read", "buy"])
    api.with_key(key)
    offer = offer_of(dataset, "free")
    line = _add(api, offer)["lines"][0]
    order = _checkout(api, offer.pk, line["licence_sha256"]).json()["order"]
    package_id = order["packages"][0]["id"]
    assert build_package.apply(args=[package_id]).get() == "ready"
    package = api.get(f"/api/v1/packages/{package_id}/").json()
    assert package["state"] == "ready" and package["status"]["action"] == "download"
    link = api.post(f"/api/v1/packages/{package_id}/download-link/").json()
    path = link["url"].removeprefix("http://testserver")
    response = client.get(path)  # the link alone, no session
    assert response.status_code == 200 and response["Content-Length"] == str(package["size"])
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == package["sha256"]

    membership = Membership.objects.get(user=buyer)
    owner = Membership.objects.get(organization=membership.organization, role="owner").user
    account_services.membership_remove(actor=owner, membership=membership)

    assert api.get(f"/api/v1/packages/{package_id}/").status_code == 401
    assert api.post(f"/api/v1/packages/{package_id}/download-link/").status_code == 401
    refused = client.get(path)
    assert refused.status_code == 403
    api.credentials()
    api.force_login(buyer)  # signed in in the browser: no organization to buy for any more
    assert api.get("/api/v1/orders/").status_code == 403
    assert api.get(f"/api/v1/orders/{order['number']}/").status_code in (403, 404)
    assert Entitlement.objects.filter(organization=membership.organization).count() == 1


@pytest.mark.django_db
def test_a_failed_package_is_retried_by_the_buyer_as_on_the_page(api, dataset, buyer, make_key):
    api.with_key(make_key(buyer, scopes=["buy"]))
    offer = offer_of(dataset, "free")
    line = _add(api, offer)["lines"][0]
    order = _checkout(api, offer.pk, line["licence_sha256"]).json()["order"]
    package = Package.objects.get(pk=order["packages"][0]["id"])
    transition(package, to=Package.State.BUILDING, actor=None)
    package.error = "디스크가 가득 찼습니다.\nThe disk is full."
    transition(package, to=Package.State.FAILED, actor=None, fields=("error",))
    shown = api.get(f"/api/v1/packages/{package.pk}/").json()
    assert shown["state"] == "failed" and shown["status"]["action"] == "retry"
    not_ready = api.post(f"/api/v1/packages/{package.pk}/download-link/")
    assert not_ready.status_code == 400 and not_ready.json()["error"]["code"] == "package_not_ready"
    retried = api.post(f"/api/v1/packages/{package.pk}/retry/")
    assert retried.status_code == 200, retried.content
    assert retried.json()["state"] == "queued" and retried.json()["progress"] == 0
    assert Package.objects.get(pk=package.pk).state == Package.State.QUEUED


# --- the responses are what the schema says --------------------------------------------------------------------


def _schema_checker():
    """check(response, "/api/v1/orders/{number}/", "get"): the body against the OpenAPI schema's response schema."""
    schema = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))

    def check(response, template, method):
        operation = schema["paths"][template][method]
        declared = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**declared, "components": schema["components"]})
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())]
        assert errors == [], (template, method, errors[:5])
        return response.json()

    return check


@pytest.mark.django_db
def test_every_buyer_response_matches_the_openapi_schema(api, dataset, buyer, make_key):
    check = _schema_checker()
    api.with_key(make_key(buyer, scopes=["read", "buy"]))
    free = offer_of(dataset, "free")
    check(api.get("/api/v1/cart/"), "/api/v1/cart/", "get")
    cart = check(api.post("/api/v1/cart/items/", {"offer": free.pk}, format="json"), "/api/v1/cart/items/", "post")
    check(api.get(f"/api/v1/cart/items/{free.pk}/licence/"), "/api/v1/cart/items/{offer_id}/licence/", "get")
    sha = cart["lines"][0]["licence_sha256"]
    order = check(_checkout(api, free.pk, sha), "/api/v1/checkout/", "post")["order"]
    package_id = order["packages"][0]["id"]
    assert build_package.apply(args=[package_id]).get() == "ready"

    number = order["number"]
    check(api.get("/api/v1/orders/"), "/api/v1/orders/", "get")
    check(api.get(f"/api/v1/orders/{number}/"), "/api/v1/orders/{number}/", "get")
    check(api.get(f"/api/v1/orders/{number}/payments/"), "/api/v1/orders/{number}/payments/", "get")
    check(api.get("/api/v1/entitlements/"), "/api/v1/entitlements/", "get")
    check(api.get("/api/v1/packages/"), "/api/v1/packages/", "get")
    check(api.get(f"/api/v1/packages/{package_id}/"), "/api/v1/packages/{id}/", "get")
    check(api.post(f"/api/v1/packages/{package_id}/download-link/"), "/api/v1/packages/{id}/download-link/", "post")
    check(api.post(f"/api/v1/packages/{package_id}/retry/"), "/api/v1/packages/{id}/retry/", "post")

    # A paid offer by bank transfer, then by card, then cancelled.
    other = publish_dataset(
        dataset.publisher.memberships.get().user,
        User.objects.get(is_staff=True),
        title_ko="시흥시 소음 측정 자료",
        offers=(COST_RECOVERY,),
    )
    offer = offer_of(other, "one_off")
    api.post("/api/v1/cart/items/", {"offer": offer.pk}, format="json")
    emptied = check(api.delete(f"/api/v1/cart/items/{offer.pk}/"), "/api/v1/cart/items/{offer_id}/", "delete")
    assert emptied["count"] == 0
    cart = check(api.post("/api/v1/cart/items/", {"offer": offer.pk}, format="json"), "/api/v1/cart/items/", "post")
    placed = check(
        _checkout(api, offer.pk, cart["lines"][0]["licence_sha256"], method="bank_transfer"),
        "/api/v1/checkout/",
        "post",
    )
    number = placed["order"]["number"]
    check(
        api.post(f"/api/v1/orders/{number}/payments/bank-transfer/"),
        "/api/v1/orders/{number}/payments/bank-transfer/",
        "post",
    )
    check(api.get(f"/api/v1/orders/{number}/payments/"), "/api/v1/orders/{number}/payments/", "get")
    check(api.post(f"/api/v1/orders/{number}/payments/card/"), "/api/v1/orders/{number}/payments/card/", "post")
    check(api.post(f"/api/v1/orders/{number}/cancel/"), "/api/v1/orders/{number}/cancel/", "post")


@pytest.mark.django_db
def test_hostile_ids_are_input_errors_or_not_found_never_a_crash(api, dataset, buyer, make_key):
    api.with_key(make_key(buyer, scopes=["read", "buy"]))
    unicode_digit = _checkout(api, "²", "a" * 64)  # "²".isdigit() is True, int("²") is not
    assert unicode_digit.status_code == 400 and unicode_digit.json()["error"]["code"] == "invalid"
    assert api.get("/api/v1/orders/%00/").status_code == 404
    assert api.get("/api/v1/orders/2026-%ED%95%9C/").status_code == 404


@pytest.mark.django_db
def test_another_organizations_private_offer_is_answered_as_no_such_offer(api, dataset, buyer, official, make_key):
    from catalog import services as catalog_services
    from tests.conftest import make_org

    rival_owner = make_user("owner@rival.test", name="경쟁사")
    rival = make_org(rival_owner, name_ko="(주)경쟁사", name_en="Rival", kind="consumer", brn="2208162517")
    private = catalog_services.offer_create(
        actor=official, dataset=dataset, kind="one_off", price_krw=50_000, cost_basis="가공 비용", buyer=rival
    )
    api.with_key(make_key(buyer, scopes=["buy"]))
    theirs = api.post("/api/v1/cart/items/", {"offer": private.pk}, format="json")
    unknown = api.post("/api/v1/cart/items/", {"offer": 10**9}, format="json")
    assert theirs.status_code == unknown.status_code == 400
    assert theirs.json()["error"]["fields"] == unknown.json()["error"]["fields"]
