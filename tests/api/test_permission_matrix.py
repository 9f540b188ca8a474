"""Every operation of the live schema, called by every kind of caller, on objects that belong to ONE organization
(tests/api/world.py): anonymous gets 401 wherever a sign-in is needed; nobody ever gets a 5xx; other
organizations never get a 2xx on that organization's objects (only 403/404) nor read its secrets anywhere;
a key without the scope an operation needs cannot write with it (403); the rightful caller is let in.

The operations come from the schema, so endpoints added later are in this test without editing it. What an
operation needs is the table NEEDS below, by path prefix; a path under no listed prefix needs what the schema
says (public when its security allows anonymous, else any signed-in caller)."""

import json

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from tests.api.world import (  # noqa: F401 (world is a fixture)
    BUYER_SECRET,
    PROVIDER_SECRET,
    WRITES,
    concrete_path,
    document,
    operation_id,
    operations,
    world,
)

pytestmark = pytest.mark.django_db

# The one table of expectations: the first prefix a path starts with says what an operation needs.
#   public  – anyone, signed in or not (the catalog)
#   key     – any signed-in caller, with a key of any scope (their own account and keys)
#   publish, buy, admin – a key with that scope (a session: the user's role), for that organization's objects
NEEDS = [
    ("/api/v1/provider/", "publish"),
    ("/api/v1/admin/", "admin"),
    ("/api/v1/cart", "buy"),
    ("/api/v1/checkout", "buy"),
    ("/api/v1/orders", "buy"),
    ("/api/v1/payments", "buy"),
    ("/api/v1/packages", "buy"),
    ("/api/v1/entitlements", "buy"),
    ("/api/v1/documents", "buy"),
    ("/api/v1/subscriptions", "buy"),
    ("/api/v1/vouchers", "buy"),
    ("/api/v1/usage", "buy"),  # data API usage and plans (issue 16)
    ("/api/v1/api-plans", "buy"),  # taking an API plan (issue 16)
    ("/api/v1/webhooks", "buy"),  # a buyer's signed webhooks of live tables (issue 16)
    ("/api/v1/me/", "key"),
    ("/api/v1/api-keys/", "key"),
]

# Whose objects an operation's path names, by what it needs.
SIDE = {"publish": "provider", "buy": "buyer", "admin": "admin", "key": "any", "public": "public"}

# Who calls: the key each role sends (None: anonymous; "session": signed in without a key).
ROLES = {
    "anonymous": None,
    "outsider": "session",  # signed in, in no organization
    "provider_reader": "provider_reader",  # the provider's read-only key
    "buyer_reader": "buyer_reader",  # the buyer's read-only key
    "publisher": "publisher",  # the provider's official, read + publish
    "buyer": "buyer",  # the buyer company's buyer, read + buy
    "other_publisher": "other_publisher",  # another department, read + publish
    "other_buyer": "other_buyer",  # another company, read + buy
    "admin": "admin",  # a platform admin, read + admin
}
SCOPES = {
    "provider_reader": {"read"},
    "buyer_reader": {"read"},
    "publisher": {"read", "publish"},
    "buyer": {"read", "buy"},
    "other_publisher": {"read", "publish"},
    "other_buyer": {"read", "buy"},
    "admin": {"read", "admin"},
}
# The organization each role belongs to (for whose objects are "another organization's").
ORGANIZATION = {
    "provider_reader": "provider",
    "publisher": "provider",
    "buyer_reader": "buyer",
    "buyer": "buyer",
}
# Who has the right to an operation of each need, on that side's objects.
RIGHTFUL = {"publish": "publisher", "buy": "buyer", "admin": "admin", "key": "publisher", "public": "anonymous"}


def need_of(method: str, route: str) -> str:
    for prefix, need in NEEDS:
        if route.startswith(prefix):
            return need
    security = document()["paths"][route][method.lower()].get("security") or []
    return "public" if {} in security else "key"


@pytest.fixture(scope="module")
def client():
    """One client for the module: each new one loads the middleware again (WhiteNoise scans every static file)."""
    return APIClient()


def _call(client, world, role: str, method: str, path: str):
    credential = ROLES[role]
    client.force_authenticate(user=world.users["outsider"] if credential == "session" else None)
    client.credentials(
        **({"HTTP_AUTHORIZATION": f"Token {world.keys[credential]}"} if credential not in (None, "session") else {})
    )
    body = {} if method.lower() in WRITES else None
    # Each call in a savepoint rolled back: a write by one caller never changes what the next one finds.
    with transaction.atomic():
        response = getattr(client, method.lower())(path, body, format="json" if body is not None else None)
        transaction.set_rollback(True)
    return response


def _problems(method: str, route: str, need: str, role: str, status: int, text: str, has_object: bool) -> list[str]:
    writes = method.lower() in WRITES
    rightful = RIGHTFUL[need]
    owner_side = SIDE[need]
    problems = []
    if route.startswith("/api/v1/api-keys/") and writes:
        # Keys are made and revoked by a person (the session); a key may revoke only itself, and the world's paths
        # name a key no caller sends. So every key is refused here, the rightful user's too.
        rightful = None
        admin_revoking = role == "admin" and method.lower() == "delete"  # a platform admin may revoke a leaked key
        if ROLES[role] not in (None, "session") and not admin_revoking and status not in (401, 403, 404):
            problems.append("a key made or revoked a key")
    if route == "/api/v1/vouchers/" and writes:
        # A data voucher is registered by an owner with the signed-in session: a key never has an owner's powers
        # (accounts.permissions.SCOPE_OF_PERM), so every key is refused here, the rightful buyer's too.
        rightful = None
        if ROLES[role] not in (None, "session") and status != 403:
            problems.append("a key registered a data voucher")
    if status >= 500:
        problems.append("a server error")
    if need != "public" and role == "anonymous" and status != 401:
        problems.append("anonymous is not refused with 401")
    if need == "public" and status in (401, 403):
        problems.append("the public catalog refused a caller")
    if role == rightful and status in (401, 403):
        problems.append("the rightful caller is refused")
    if role == rightful and has_object and not writes and status == 404:
        problems.append("the rightful caller cannot find its own organization's object")
    outside = role in ("outsider", "other_publisher", "other_buyer") or (
        role in ORGANIZATION and owner_side in ("provider", "buyer") and ORGANIZATION[role] != owner_side
    )
    if need in ("publish", "buy", "key") and has_object and outside and status not in (403, 404):
        problems.append("another organization's caller is not refused with 403/404 on this organization's object")
    if need == "admin" and role not in ("admin", "anonymous") and status != 403:
        problems.append("a caller who is not a platform admin is not refused with 403")
    if writes and need in ("publish", "buy", "admin") and role in SCOPES and need not in SCOPES[role] and status != 403:
        problems.append(f"a key without the {need} scope is not refused with 403 on a write")
    if PROVIDER_SECRET in text and ORGANIZATION.get(role) != "provider" and role != "admin":
        problems.append("the provider's draft is shown to someone outside it")
    if BUYER_SECRET in text and role in ("anonymous", "outsider", "other_publisher", "other_buyer"):
        problems.append("the buyer's order is shown to someone outside it")
    return problems


@pytest.mark.parametrize("operation", operations(), ids=operation_id)
def test_every_caller_gets_what_its_role_allows(client, world, operation, settings):
    settings.API_RATE_PER_TOKEN = settings.API_RATE_PER_IP = ""  # hundreds of calls: no 429 here
    method, route = operation
    need = need_of(method, route)
    if any(route.startswith(prefix) for prefix, _ in NEEDS):
        security = document()["paths"][route][method.lower()].get("security") or []
        assert ({} in security) == (need == "public"), f"the schema's security of {method} {route} disagrees"
    path, resolved = concrete_path(route, world, SIDE[need])
    has_object = "{" in route and resolved
    failures = []
    for role in ROLES:
        response = _call(client, world, role, method, path)
        body = b"".join(response.streaming_content) if response.streaming else response.content  # files stream
        text = body.decode(errors="replace")
        for problem in _problems(method, route, need, role, response.status_code, text, has_object):
            failures.append(f"{role}: {method} {path} → {response.status_code}: {problem}\n    {text[:300]}")
        if response.status_code >= 400 and response.get("Content-Type", "").startswith("application/json"):
            assert set(json.loads(text)) == {"error"}, f"{role}: {method} {path}: not the error shape"
    assert not failures, "\n".join(failures)


def test_the_world_names_real_objects(world):
    """The resolver finds the world's objects by the noun before a parameter or in its name."""
    path, resolved = concrete_path("/api/v1/api-keys/{id}/", world, "any")
    assert resolved and path == f"/api/v1/api-keys/{world.objects[('any', 'api_key')].pk}/"
    dataset = world.objects[("provider", "dataset")]
    path, resolved = concrete_path("/api/v1/provider/datasets/{slug}/versions/{version_id}/", world, "provider")
    draft = world.objects[("provider", "version")]
    assert resolved and path == f"/api/v1/provider/datasets/{dataset.slug}/versions/{draft.pk}/"
    assert draft.title_ko == PROVIDER_SECRET and draft.state in ("draft", "checking", "ready")
    path, resolved = concrete_path("/api/v1/orders/{number}/", world, "buyer")
    assert resolved and path == f"/api/v1/orders/{world.objects[('buyer', 'order')].number}/"
    assert concrete_path("/api/v1/widgets/{id}/", world, "buyer") == ("/api/v1/widgets/0/", False)


def test_a_refusal_is_caught(world):
    """The checks themselves bite: a key of another organization that got a 200 would be reported."""
    assert _problems("GET", "/api/v1/provider/x/{id}/", "publish", "other_publisher", 200, "{}", True)
    assert _problems("POST", "/api/v1/orders/", "buy", "buyer_reader", 201, "{}", False)
    assert _problems("GET", "/api/v1/me/", "key", "anonymous", 200, "{}", False)
    assert _problems("GET", "/api/v1/datasets/", "public", "anonymous", 200, PROVIDER_SECRET, False)
    assert not _problems("GET", "/api/v1/provider/x/{id}/", "publish", "publisher", 200, PROVIDER_SECRET, True)
