"""The world of the access tests: tests/api/world.py's world (a provider department and a buyer company, "A", with a
published dataset, a draft, orders, a package, documents, refunds, a statement, a voucher; a second department and
a second company, "B"; a platform admin), plus what the site's pages name and the API world does not need:

- a member of A's department with the publisher role (the API world's official is its owner);
- the buyer's package built (READY) and a signed download link for it;
- a pending invitation of A's department, a development API plan of A's company on A's dataset, a live table of
  that dataset with a webhook of A's company, a harvest source and run, the company owner's data key;
- one client per role, signed in once for the module.

Built once per module inside a transaction rolled back at its end (like the API world); every request runs in a
savepoint rolled back after it, so a write by one role never changes what the next one finds."""

from dataclasses import dataclass, field
from http.cookies import SimpleCookie

import pytest
from allauth.mfa.models import Authenticator
from django.db import transaction
from django.test import Client, override_settings

from accounts.models import Membership, PolicyVersion, User
from tests.api.world import BUYER_SECRET, PROVIDER_SECRET, World, _key, build_world
from tests.conftest import make_user

__all__ = ["BUYER_SECRET", "PROVIDER_SECRET", "SESSIONS", "KEYS", "ROLES", "AccessWorld", "access_world"]

# Who calls. Sessions: a browser signed in as that user (None: anonymous). Keys: a program sending an API key.
SESSIONS = {
    "anonymous": None,
    "buyer": "buyer",  # a buyer (buyer role) of A's company
    "company_owner": "company_owner",  # the owner of A's company
    "publisher": "publisher",  # a member of A's department with the publisher role
    "owner": "owner",  # the owner of A's department
    "other_publisher": "other_publisher",  # the owner of B's department
    "other_buyer": "other_buyer",  # the owner of B's company
    "admin": "admin",  # a platform admin (is_staff)
}
# An API key of each scope, each of a user of A (the admin key: the platform admin's).
KEYS = {
    "key_read": "buyer_reader",  # A's company buyer, read
    "key_publish": "publisher",  # A's department owner, read + publish
    "key_buy": "buyer",  # A's company buyer, read + buy
    "key_data": "data",  # A's company owner, read + data
    "key_admin": "admin",  # the platform admin, read + admin
}
ROLES = [*SESSIONS, *KEYS]
B_KEYS = ("b_key_publish", "b_key_buy", "b_key_data")  # keys of B (the object-level tests)


@dataclass
class AccessWorld:
    api: World
    objects: dict = field(default_factory=dict)  # name → model instance (or plain value)
    users: dict = field(default_factory=dict)  # session role → user
    keys: dict = field(default_factory=dict)  # key role → key string
    jars: dict = field(default_factory=dict)  # signed-in role → its session's cookies
    client: Client | None = None

    def value(self, spec: str):
        """ "draft.pk" → the draft's pk; "=ttl" → "ttl" (a constant)."""
        if spec.startswith("="):
            return spec[1:]
        name, *attributes = spec.split(".")
        value = self.objects[name]
        for attribute in attributes:
            value = getattr(value, attribute)
        return value


@override_settings(
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    LIVE_WEBHOOK_ALLOW_PRIVATE=True,  # the webhook's address is 127.0.0.1 (nothing is sent: no worker)
)
def build_access_world() -> AccessWorld:
    from accounts import services as account_services
    from catalog import services as catalog_services
    from catalog.live import services as live_services
    from tests.interop.harvest_support import make_run, make_source
    from tests.transactions.test_apiplans_plans import take
    from transactions.delivery import services as delivery_services
    from transactions.livefeed import services as livefeed_services
    from transactions.models import Order, Package
    from transactions.payments import services as payment_services
    from transactions.tasks import build_package

    api = build_world()
    o = {f"{side}_{noun}": obj for (side, noun), obj in api.objects.items()}
    department, company = api.organizations["provider"], api.organizations["buyer"]
    official, buyer, admin = api.users["publisher"], api.users["buyer"], api.users["admin"]
    company_owner = User.objects.get(email="owner@world.test")
    publisher = make_user("publisher@world.test", name="게시담당")
    Membership.objects.create(user=publisher, organization=department, role=Membership.Role.PUBLISHER)
    publisher.active_organization = department
    publisher.save(update_fields=["active_organization"])

    dataset = o["provider_dataset"]
    published = dataset.versions.get(state="published")
    package = o["buyer_package"]
    assert build_package.apply(args=[package.pk]).get() == "ready"
    package = Package.objects.get(pk=package.pk)
    link = delivery_services.download_link(user=buyer, package=package)

    # The order of the priced dataset waits for a bank transfer: the buyer starts it (a payment to confirm).
    paid_order = Order.objects.get(buyer=company, method="bank_transfer", paid_at__isnull=True)
    payment = payment_services.bank_transfer_start(actor=buyer, order=paid_order)
    invitation = account_services.invitation_create(
        actor=official, organization=department, email="invitee@world.test", role="publisher"
    )
    api_dev = catalog_services.offer_create(actor=official, dataset=dataset, kind="api_dev", daily_quota=1000)
    plan = take(company_owner, api_dev)
    live_table = live_services.live_table_enable(
        actor=official, dataset=dataset, datafile=published.files.get(), cadence="daily"
    )
    webhook, _secret = livefeed_services.webhook_endpoint_create(
        actor=company_owner, organization=company, table=live_table, url="https://127.0.0.1:9/hook"
    )
    source = make_source(admin, department, "http://127.0.0.1:9/ckan/")
    # A security key row of someone outside every role (the data is not a real credential: a page that reads it
    # for its holder would fail, so its holder is nobody who calls): the roles must never reach it by its id.
    keyholder = make_user("keyholder@world.test", name="보안키주인")
    webauthn = Authenticator.objects.create(
        user=keyholder, type=Authenticator.Type.WEBAUTHN, data={"name": "보안키", "credential": {}}
    )
    run = make_run(source, requested_by=admin)

    o.update(
        department=department,
        company=company,
        other_department=api.users["other_publisher"].active_organization,
        dataset=dataset,
        published=published,
        published_file=published.files.get(),
        draft=o["provider_version"],
        draft_file=o["provider_datafile"],
        upload=o["provider_upload"],
        offer=o["provider_offer"],
        order=o["buyer_order"],
        payment=payment,
        paid_order=paid_order,
        subscription=o["buyer_subscription"],
        document=o["buyer_document"],
        refund=o["buyer_refund"],
        refund_request=o["buyer_refund_request"],
        statement=o["provider_statement"],
        voucher=o["buyer_voucher"],
        cart_offer=o["buyer_offer"],
        package=package,
        link=link.rstrip("/").rsplit("/", 1)[-1],
        invitation=invitation,
        publisher_membership=Membership.objects.get(user=publisher, organization=department),
        api_key=o["any_api_key"],
        api_dev=api_dev,
        plan=plan,
        live_table=live_table,
        webhook=webhook,
        source=source,
        run=run,
        webauthn=webauthn,
        terms_version=PolicyVersion.objects.filter(kind="terms").order_by("-effective_on").first(),
    )
    users = {
        "buyer": buyer,
        "company_owner": company_owner,
        "publisher": publisher,
        "owner": official,
        "other_publisher": api.users["other_publisher"],
        "other_buyer": api.users["other_buyer"],
        "admin": admin,
    }
    keys = {role: api.keys[name] for role, name in KEYS.items() if name in api.keys}
    keys["key_data"] = _key(company_owner, ["read", "data"], name="data key")
    # B's keys, for the object-level tests (tests/access/test_idor.py): B's department and B's company.
    other_buyer = api.users["other_buyer"]
    keys["b_key_publish"] = api.keys["other_publisher"]
    keys["b_key_buy"] = api.keys["other_buyer"]
    keys["b_key_data"] = _key(other_buyer, ["read", "buy", "data"], name="B data key")
    return AccessWorld(api=api, objects=o, users=users, keys=keys)


def sign_in_everyone(world: AccessWorld) -> None:
    """One test client for the module (each new client loads the middleware again: WhiteNoise scans every static
    file) and a cookie jar per signed-in role. The sessions count as freshly signed in with a password (allauth's
    record), so pages behind a re-authentication (security keys, e-mail addresses) answer for what they are."""
    import time

    from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY

    client = Client()
    world.client = client
    for role, user in world.users.items():
        client.cookies = SimpleCookie()
        client.force_login(user)
        session = client.session
        session[AUTHENTICATION_METHODS_SESSION_KEY] = [
            {"method": "password", "at": time.time(), "email": user.email, "reauthenticated": True}
        ]
        session["account_authentication_methods_user"] = str(user.pk)
        session.save()
        world.jars[role] = client.cookies
    client.cookies = SimpleCookie()


@pytest.fixture(scope="module")
def access_world(django_db_setup, django_db_blocker):
    """The world of this module, rolled back after its last test."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            built = build_access_world()
            sign_in_everyone(built)
            yield built
            transaction.set_rollback(True)
