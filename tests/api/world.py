"""A small world for the tests that go over every operation of the live schema (test_permission_matrix,
test_schemathesis): a provider department with a published dataset, a draft of its next version, offers and an
upload; a buyer company with orders, a package and a cart, a paid subscription with a document, a refund and a
refund request, a data voucher, and the provider's closed statement; a second provider and a second buyer (the "other
organizations"); a signed-in outsider; a platform admin; and an API key per role.

Built once per test module inside a transaction that is rolled back at the end (each test's own `db`
transaction nests inside it as a savepoint), so it costs one build per module whatever the number of operations.

`operations()` reads the schema drf-spectacular makes for /api/schema/, so operations added later are covered
without editing anything here; `concrete_path()` fills a path's parameters with the world's objects, found by the
noun before the parameter (…/versions/{id}/ → a version) or the parameter's own name ({dataset_slug})."""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from accounts.models import ApiToken, Membership
from accounts.services import api_token_create
from tests.conftest import make_org, make_user

WRITES = ("post", "put", "patch", "delete")
# Unique words put in what only the provider (a draft's title) and only the buyer (an order's billing name) may
# read: a response to anyone else that contains one leaked it.
PROVIDER_SECRET = f"비공개초안{uuid.uuid4().hex[:10]}"
BUYER_SECRET = f"구매기관비밀{uuid.uuid4().hex[:10]}"


@cache
def document() -> dict:
    """The OpenAPI document as /api/schema/ serves it (rendered to JSON, so lazy texts are plain strings)."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


def operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the schema, in the schema's order."""
    return [
        (method.upper(), route)
        for route, item in document()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def operation_id(value) -> str:
    return f"{value[0]} {value[1]}" if isinstance(value, tuple) else str(value)


@dataclass
class World:
    users: dict = field(default_factory=dict)
    organizations: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)  # role → key string
    objects: dict = field(default_factory=dict)  # (side, noun) → model instance; side is "provider" or "buyer"

    def object_for(self, noun: str, side: str):
        """The world's object of this kind on one side ("provider", "buyer", "public"; "admin" looks at both
        organizations), else one that belongs to no side (the key the api-keys paths name)."""
        sides = ("provider", "buyer") if side == "admin" else (side,)
        for one in (*sides, "any"):
            if (one, noun) in self.objects:
                return self.objects[(one, noun)]
        return None


# The noun before a path parameter (or in its name) → the kind of object it names.
NOUNS = {
    "dataset": "dataset",
    "datasets": "dataset",
    "version": "version",
    "versions": "version",
    "file": "datafile",
    "files": "datafile",
    "datafiles": "datafile",
    "upload": "upload",
    "uploads": "upload",
    "offer": "offer",
    "offers": "offer",
    "review": "review",
    "reviews": "review",
    "organization": "organization",
    "organizations": "organization",
    "licence": "licence",
    "licences": "licence",
    "license": "licence",
    "licenses": "licence",
    "theme": "theme",
    "themes": "theme",
    "order": "order",
    "orders": "order",
    "package": "package",
    "packages": "package",
    "entitlement": "entitlement",
    "entitlements": "entitlement",
    "payment": "payment",
    "payments": "payment",
    "item": "cart_item",
    "items": "cart_item",
    "cart": "cart_item",
    "document": "document",
    "documents": "document",
    "subscription": "subscription",
    "subscriptions": "subscription",
    "refund": "refund",
    "refunds": "refund",
    "refund-request": "refund_request",
    "refund-requests": "refund_request",
    "statement": "statement",
    "statements": "statement",
    "voucher": "voucher",
    "vouchers": "voucher",
    "ledger": "organization",
    "api-key": "api_key",
    "api-keys": "api_key",
    "key": "api_key",
    "keys": "api_key",
}


def _noun_of(name: str, before: str) -> str | None:
    base = name
    for suffix in ("_id", "_pk", "_slug", "_number", "_code", "_uuid"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return NOUNS.get(base) or NOUNS.get(before)


def _value_of(obj, name: str):
    if name.endswith("_id") and hasattr(obj, name):
        return getattr(obj, name)  # a cart line's offer_id is its offer's id, not the line's
    if name in ("id", "pk") or name.endswith(("_id", "_pk")):
        return obj.pk
    for attribute in (name, name.rsplit("_", 1)[-1], "slug", "number", "code"):
        if hasattr(obj, attribute) and not callable(getattr(obj, attribute)):
            return getattr(obj, attribute)
    return obj.pk


def path_parameters(route: str, world: World, side: str) -> dict:
    """The world's values for a path's parameters (only those it has an object for)."""
    values = {}
    for name in re.findall(r"\{([^}]+)\}", route):
        filled, resolved = concrete_path(route.split("{" + name + "}")[0] + "{" + name + "}", world, side)
        if resolved:
            values[name] = filled.rsplit("/", 1)[-1]
    return values


def concrete_path(route: str, world: World, side: str) -> tuple[str, bool]:
    """The path with each parameter filled from the world (objects of `side`), and whether every parameter was
    found. An unknown noun gets a value that names nothing (the checks that need an object then skip it)."""
    resolved = True

    def fill(match):
        nonlocal resolved
        name = match.group(1)
        before = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
        noun = _noun_of(name, before)
        obj = world.object_for(noun, side) if noun else None
        if obj is None:
            resolved = False
            return "0"
        return str(_value_of(obj, name))

    return re.sub(r"\{([^}]+)\}", fill, route), resolved


def _key(user, scopes, organization="active", name="world"):
    org = user.active_organization if organization == "active" else organization
    return api_token_create(actor=user, organization=org, name=name, scopes=list(scopes))[1]


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])  # argon2: 0.4 s a user
def build_world() -> World:
    # The catalog's and transactions' test helpers publish and buy through the real services.
    from catalog import services as catalog_services
    from catalog.models import Review
    from catalog.reference_data import ensure_reference_data
    from tests.catalog.test_dataset_page import publish
    from tests.transactions.conftest import offer_of, place_order, publish_dataset
    from transactions.models import CartItem, Entitlement, Package, Payment, Subscription
    from transactions.payments import services as payment_services
    from transactions.refunds import services as refund_services
    from transactions.services import cart as cart_services
    from transactions.services.orders import billing_defaults
    from transactions.statements import selectors as statement_selectors
    from transactions.statements import services as statement_services
    from transactions.vouchers import services as voucher_services

    ensure_reference_data()
    w = World()
    admin = make_user("admin@world.test", name="관리자", staff=True)
    official = make_user("official@world.test", name="정민준")
    provider = make_org(official, name_ko="환경정책과", name_en="Environment", kind="provider", brn="1348310008")
    owner = make_user("owner@world.test", name="김하늘")
    consumer = make_org(owner, name_ko="(주)에어데이터랩", name_en="AirDataLab", kind="consumer", brn="1168200276")
    buyer = make_user("buyer@world.test", name="문지호")
    Membership.objects.create(user=buyer, organization=consumer, role=Membership.Role.BUYER)
    buyer.active_organization = consumer
    buyer.save(update_fields=["active_organization"])
    other_official = make_user("official@other.test", name="다른공무원")
    make_org(other_official, name_ko="교통정책과", name_en="Transport", kind="provider", brn="2208162517")
    other_buyer = make_user("buyer@other.test", name="다른구매자")
    make_org(other_buyer, name_ko="(주)다른회사", name_en="Other Co", kind="consumer", brn="1078155843")
    outsider = make_user("outsider@world.test", name="외부인")
    w.users = {
        "admin": admin,
        "publisher": official,
        "buyer": buyer,
        "other_publisher": other_official,
        "other_buyer": other_buyer,
        "outsider": outsider,
    }
    w.organizations = {"provider": provider, "buyer": consumer}

    dataset = publish_dataset(official, admin, offers=({"kind": "free"},))
    # A second dataset (files that look checked: no real check to wait for), sold for a price: its order waits
    # for a bank transfer, so the world has a payment.
    priced = publish(
        official,
        admin,
        fake_files=1,
        title_ko="시흥시 소음 측정 자료",
        title_en="Siheung noise",
        offers=({"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용"},),
    ).dataset
    published = dataset.versions.get(state="published")
    draft = catalog_services.version_start_new(actor=official, dataset=dataset, change_note="다음 판")
    draft = catalog_services.version_update_metadata(actor=official, version=draft, title_ko=PROVIDER_SECRET)
    upload = catalog_services.upload_create(actor=official, version=draft, filename="추가.csv", length=10)
    free, one_off = offer_of(dataset, "free"), offer_of(priced, "one_off")
    billing = billing_defaults(consumer) | {"billing_name": BUYER_SECRET}
    order = place_order(buyer, free, method="free", billing=billing)
    paid = place_order(buyer, one_off, method="bank_transfer", billing=billing)
    # Money after checkout (issue 15): a subscription paid by bank transfer (so a subscription and a tax document),
    # a partial admin refund waiting for its transfer and the buyer's request for the rest, the month closed (the
    # provider's statement, as the beat task would close it once the month is over), and a voucher to verify.
    subscribed = publish(
        official,
        admin,
        fake_files=1,
        title_ko="시흥시 교통량 자료",
        title_en="Siheung traffic counts",
        offers=({"kind": "subscription", "price_krw": 20_000, "subscription_days": 30, "cost_basis": "갱신 비용"},),
    ).dataset
    account = {"bank": "KB국민은행", "number": "123-45-6789", "holder": "(주)에어데이터랩"}
    subscription_order = place_order(
        buyer, offer_of(subscribed, "subscription"), method="bank_transfer", billing=billing
    )
    transfer = payment_services.bank_transfer_start(actor=buyer, order=subscription_order)
    payment_services.bank_transfer_confirm(
        actor=admin, payment=transfer, depositor_name="에어데이터랩", amount_krw=subscription_order.due_krw
    )
    line = subscription_order.items.get()
    refund_request = refund_services.refund_request(
        actor=buyer,
        order=subscription_order,
        item_ids=[line.pk],
        kind="not_as_described",
        reason="파일이 열리지 않습니다",
        account=account,
    )
    refund = refund_services.refund_create(
        actor=admin, order=subscription_order, reason="일부 환불", lines={line.pk: 5_000}, account=account
    )
    _start, month_end = statement_selectors.month_bounds(statement_selectors.month_of(timezone.now()))
    statement = statement_services.statements_close_month(
        month=statement_selectors.month_of(timezone.now()), actor=admin, now=month_end + timedelta(seconds=1)
    )[0]
    today = timezone.localdate()
    voucher = voucher_services.voucher_register(
        actor=owner,
        organization=consumer,
        agreement_number=f"2026-DV-{uuid.uuid4().hex[:6]}",
        granted_krw=1_000_000,
        starts_on=today,
        ends_on=today + timedelta(days=365),
        copay_percent=20,
    )
    # A third dataset sits in the buyer's cart (the other two are ordered already), so cart paths name a real line.
    in_cart = publish(
        official,
        admin,
        fake_files=1,
        title_ko="시흥시 전력 사용량",
        title_en="Siheung power use",
        offers=({"kind": "one_off", "price_krw": 10_000, "cost_basis": "파일 가공·전송 비용"},),
    ).dataset
    in_cart_offer = offer_of(in_cart, "one_off")
    cart_services.cart_add(actor=buyer, organization=consumer, offer=in_cart_offer)
    provider_objects = {
        "dataset": dataset,
        "version": draft,
        "datafile": draft.files.first(),
        "upload": upload,
        "offer": free,
        "review": Review.objects.filter(version=published).first(),
        "organization": provider,
        "statement": statement,
    }
    buyer_objects = {
        "order": order,
        "entitlement": Entitlement.objects.filter(order_item__order=order).first(),
        "package": Package.objects.filter(entitlement__order_item__order=order).first(),
        "payment": Payment.objects.filter(order=paid).first(),
        "cart_item": CartItem.objects.filter(cart__organization=consumer).first(),
        "organization": consumer,
        # What a buyer names of the catalog: the published version and its file.
        "dataset": dataset,
        "version": published,
        "datafile": published.files.first(),
        "offer": in_cart_offer,  # what a buyer's paths name by offer id: the line in its cart
        "document": subscription_order.documents.first(),
        "subscription": Subscription.objects.get(organization=consumer, dataset=subscribed),
        "refund": refund,
        "refund_request": refund_request,
        "voucher": voucher,
    }
    public_objects = {
        "dataset": dataset,
        "version": published,
        "datafile": published.files.first(),
        "offer": free,
        "organization": provider,
        "licence": published.licence,
        "theme": published.theme,
    }
    w.objects = {("provider", k): v for k, v in provider_objects.items() if v is not None}
    w.objects |= {("buyer", k): v for k, v in buyer_objects.items() if v is not None}
    w.objects |= {("public", k): v for k, v in public_objects.items() if v is not None}

    w.keys = {
        "publisher": _key(official, ["read", "publish"]),
        "provider_reader": _key(official, ["read"]),
        "buyer": _key(buyer, ["read", "buy"]),
        "buyer_reader": _key(buyer, ["read"]),
        "other_publisher": _key(other_official, ["read", "publish"]),
        "other_buyer": _key(other_buyer, ["read", "buy"]),
        "admin": _key(admin, ["read", "admin"], organization=None),
    }
    # The key the api-keys paths name: the official's own, not one the tests authenticate with.
    _key(official, ["read"], name="named by the paths")
    w.objects[("any", "api_key")] = ApiToken.objects.get(user=official, name="named by the paths")
    return w


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The world of this module, rolled back after its last test."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            built = build_world()
            yield built
            transaction.set_rollback(True)
