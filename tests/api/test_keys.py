"""API keys: made once and shown once, stored hashed, scoped, expiring, revocable, and powerless for a member who
left; the one error shape in both languages; throttling with Retry-After; key writes in the audit trail."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiToken, Membership
from accounts.permissions import can
from core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_a_key_is_shown_once_and_stored_only_as_its_hash(api, buyer, login, client):
    api.force_authenticate(None)
    api.force_login(buyer)
    response = api.post(
        "/api/v1/api-keys/", {"name": "ERP 연동", "scopes": ["read", "buy"]}, HTTP_X_CSRFTOKEN=_csrf(api)
    )
    assert response.status_code == 201, response.content
    key = response.json()["key"]
    assert key.startswith("sdx_") and len(key) > 40
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(pk=response.json()["id"])
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert token.organization == buyer.active_organization
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(t)::text FROM accounts_apitoken t")
        assert key not in cursor.fetchone()[0]
    listed = api.get("/api/v1/api-keys/").json()
    assert listed["count"] == 1 and "key" not in listed["results"][0]
    assert api.get(f"/api/v1/api-keys/{token.pk}/").json()["prefix"] == key[:10]


def _csrf(api):
    """The CSRF token a portal page gives the browser (every page carries it for htmx)."""
    api.get("/me/")
    return api.cookies["csrftoken"].value


def test_session_writes_need_the_csrf_token(api, buyer):
    api.force_login(buyer)
    response = api.post("/api/v1/api-keys/", {"name": "x", "scopes": ["read"]})
    assert response.status_code == 403
    error = response.json()["error"]
    assert (
        error["code"] == "csrf_failed" and "CSRF" in error["message_ko"] and error["message_ko"] != error["message_en"]
    )


def test_token_and_bearer_both_authenticate_and_record_use(api, buyer, make_key):
    key = make_key(buyer, scopes=["read"])
    for keyword in ("Token", "Bearer"):
        me = api.with_key(key, keyword).get("/api/v1/me/", REMOTE_ADDR="203.0.113.9")
        assert me.status_code == 200, me.content
        assert me.json()["email"] == buyer.email
        assert me.json()["acting_organization"]["id"] == buyer.active_organization_id
    token = ApiToken.objects.get()
    assert token.last_used_ip == "203.0.113.9" and token.last_used_at is not None


def test_an_unknown_key_is_401_in_the_error_shape_in_both_languages(api):
    response = api.with_key("sdx_nope").get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    error = response.json()["error"]
    assert error["code"] == "authentication_failed" and error["status"] == 401
    assert error["message_ko"] != error["message_en"]
    assert "API" in error["message_en"] and error["message"] == error["message_ko"]
    english = api.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["error"]["message"] == english.json()["error"]["message_en"]


def test_no_credentials_is_401(api):
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_an_expired_key_is_refused(api, buyer, make_key):
    key = make_key(buyer, scopes=["read"], days=1)
    ApiToken.objects.update(
        expires_at=timezone.now() - timedelta(seconds=1), created_at=timezone.now() - timedelta(days=2)
    )
    response = api.with_key(key).get("/api/v1/me/")
    assert response.status_code == 401
    assert "만료" in response.json()["error"]["message_ko"]


def test_a_revoked_key_is_refused_from_the_next_request(api, buyer, make_key):
    key = make_key(buyer, scopes=["read"])
    token = ApiToken.objects.get()
    assert api.with_key(key).get("/api/v1/me/").status_code == 200
    other = make_key(buyer, scopes=["read"], name="other")
    api.credentials()
    api.force_login(buyer)
    revoked = api.delete(f"/api/v1/api-keys/{token.pk}/", HTTP_X_CSRFTOKEN=_csrf(api))
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    api.logout()
    assert api.with_key(key).get("/api/v1/me/").status_code == 401
    # A key can revoke itself (a leaked key's holder need not find a browser); that only lowers power.
    itself = ApiToken.objects.get(name="other")
    assert api.with_key(other).delete(f"/api/v1/api-keys/{itself.pk}/").status_code == 200
    assert api.with_key(other).get("/api/v1/me/").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 2
    by_key = AuditEvent.objects.get(action="api_token.revoked", data__name="other")
    assert by_key.data["api_token"]["name"] == "other"


def test_a_member_who_leaves_loses_the_keys_power_at_once(api, buyer, make_key):
    key = make_key(buyer, scopes=["read", "buy"])
    membership = Membership.objects.get(user=buyer)
    owner = Membership.objects.get(organization=membership.organization, role="owner").user
    account_services.membership_remove(actor=owner, membership=membership)
    response = api.with_key(key).get("/api/v1/me/")
    assert response.status_code == 401
    assert ApiToken.objects.get().revoked_at is not None


def test_a_member_whose_role_changes_loses_the_scope_power_at_once(buyer, make_key):
    from rest_framework.test import APIRequestFactory

    from accounts.api.authentication import ApiTokenAuthentication

    key = make_key(buyer, scopes=["read", "buy"])
    org = buyer.active_organization

    def user_of_key():
        request = APIRequestFactory().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
        return ApiTokenAuthentication().authenticate(request)[0]

    assert can(user_of_key(), "accounts.buy_for_org", org)
    Membership.objects.filter(user=buyer).update(role=Membership.Role.PUBLISHER)
    assert not can(user_of_key(), "accounts.buy_for_org", org)


def test_scopes_bound_every_service_through_can(buyer, official, make_key):
    from rest_framework.test import APIRequestFactory

    from accounts.api.authentication import ApiTokenAuthentication

    def user_of(key):
        request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}")
        return ApiTokenAuthentication().authenticate(request)[0]

    read = user_of(make_key(buyer, scopes=["read"]))
    assert not can(read, "accounts.buy_for_org", buyer.active_organization)  # a read key cannot buy
    buy = user_of(make_key(buyer, scopes=["buy"]))
    assert can(buy, "accounts.buy_for_org", buyer.active_organization)
    publish_denied = user_of(make_key(official, scopes=["read"]))
    assert not can(publish_denied, "accounts.publish_for_org", official.active_organization)
    publish = user_of(make_key(official, scopes=["publish"]))
    assert can(publish, "accounts.publish_for_org", official.active_organization)
    assert not can(publish, "accounts.buy_for_org", official.active_organization)  # a publish key cannot buy


def test_a_key_cannot_be_given_power_its_maker_lacks(buyer, official, admin_user):
    from core.errors import DomainError

    with pytest.raises(DomainError) as publish:
        account_services.api_token_create(
            actor=buyer, organization=buyer.active_organization, name="x", scopes=["publish"]
        )
    assert publish.value.code == "scope_not_allowed"
    with pytest.raises(DomainError):
        account_services.api_token_create(
            actor=buyer, organization=buyer.active_organization, name="x", scopes=["admin"]
        )
    token, _key = account_services.api_token_create(
        actor=admin_user, organization=None, name="심사 봇", scopes=["admin"]
    )
    assert token.organization is None


def test_expiry_defaults_to_a_year_and_is_capped(buyer, settings):
    from core.errors import DomainError

    token, _key = account_services.api_token_create(
        actor=buyer, organization=buyer.active_organization, name="x", scopes=["read"]
    )
    assert abs((token.expires_at - token.created_at) - timedelta(days=365)) < timedelta(seconds=1)
    with pytest.raises(DomainError) as too_long:
        account_services.api_token_create(
            actor=buyer,
            organization=buyer.active_organization,
            name="x",
            scopes=["read"],
            expires_in_days=settings.API_TOKEN_MAX_DAYS + 1,
        )
    assert too_long.value.code == "expiry_out_of_range"


def test_a_key_cannot_make_keys_nor_revoke_other_keys(api, buyer, make_key):
    """A leaked key must not renew itself nor outlive its revocation through a child key."""
    key = make_key(buyer, scopes=["read", "buy"])
    other = make_key(buyer, scopes=["read"], name="other")
    for scopes in (["read"], ["read", "buy"]):
        refused = api.with_key(key).post("/api/v1/api-keys/", {"name": "child", "scopes": scopes})
        assert (
            refused.status_code == 403
            and refused.json()["error"]["message_ko"] != refused.json()["error"]["message_en"]
        )
    assert ApiToken.objects.count() == 2
    other_id = ApiToken.objects.get(name="other").pk
    assert api.with_key(key).delete(f"/api/v1/api-keys/{other_id}/").status_code == 403
    assert api.with_key(other).get("/api/v1/me/").status_code == 200
    event = AuditEvent.objects.filter(action="api.write", data__status=403).first()
    assert event.data["api_token"]["name"] == "test key"  # the refused writes name the key that tried


def test_field_errors_come_in_both_languages(api, buyer):
    api.force_login(buyer)
    response = api.post("/api/v1/api-keys/", {"scopes": ["superuser"]}, HTTP_X_CSRFTOKEN=_csrf(api))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"name", "scopes.0"} or set(error["fields"]) == {"name", "scopes"}
    name_error = error["fields"]["name"][0]
    assert name_error["code"] == "required"
    assert name_error["message_ko"] != name_error["message_en"]


@override_settings(API_RATE_PER_TOKEN="3/minute", API_RATE_PER_IP="2/minute")
def test_throttling_answers_429_with_retry_after_per_key_and_per_ip(api, buyer, make_key):
    from django.core.cache import cache

    cache.clear()
    key = make_key(buyer, scopes=["read"])
    codes = [api.with_key(key).get("/api/v1/me/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    writes = [
        api.with_key(key).post("/api/v1/api-keys/", {"name": "x", "scopes": ["read"]}).status_code for _ in range(3)
    ]
    assert writes == [429, 429, 429]
    assert not AuditEvent.objects.filter(action="api.write").exists()  # refused by the throttle: no row each time
    limited = api.with_key(key).get("/api/v1/me/")
    assert int(limited["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "throttled"
    api.credentials()
    anonymous = [api.get("/api/v1/me/", REMOTE_ADDR="198.51.100.7").status_code for _ in range(3)]
    assert anonymous == [401, 401, 429]
    assert api.get("/api/v1/me/", REMOTE_ADDR="198.51.100.8").status_code == 401  # another address has its own
    # Guessing keys counts against the address too.
    guesses = [api.with_key("sdx_guess").get("/api/v1/me/", REMOTE_ADDR="198.51.100.9").status_code for _ in range(3)]
    assert guesses == [401, 401, 429]


def test_every_write_with_a_key_is_audited_with_the_keys_name_even_when_refused(api, buyer, make_key):
    key = make_key(buyer, scopes=["read"], name="정산 스크립트")
    api.with_key(key).post("/api/v1/api-keys/", {"name": "x", "scopes": ["read"]})  # refused: keys make no keys
    api.with_key(key).get("/api/v1/me/")  # reads are not audited
    rows = AuditEvent.objects.filter(action="api.write")
    assert [(r.data["method"], r.data["path"], r.data["status"], r.data["api_token"]["name"]) for r in rows] == [
        ("POST", "/api/v1/api-keys/", 403, "정산 스크립트")
    ]
    assert rows[0].organization_id == buyer.active_organization_id


def test_an_admin_key_made_for_an_organization_still_acts_on_others(admin_user, official, buyer):
    from rest_framework.test import APIRequestFactory

    from accounts.api.authentication import ApiTokenAuthentication
    from accounts.models import Organization

    Membership.objects.create(user=admin_user, organization=official.active_organization, role="owner")
    _token, key = account_services.api_token_create(
        actor=admin_user, organization=official.active_organization, name="심사", scopes=["admin", "read"]
    )
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}")
    user = ApiTokenAuthentication().authenticate(request)[0]
    other = Organization.objects.get(pk=buyer.active_organization_id)
    assert can(user, "accounts.verify_org", other)
    assert not can(user, "accounts.view_org", other) or user.is_staff  # staff may view any organization


def test_the_key_lookup_loads_key_user_and_organization_in_one_query(buyer, make_key, django_assert_num_queries):
    from accounts.selectors import api_token_for_digest

    key = make_key(buyer, scopes=["read", "buy"])
    with django_assert_num_queries(1):
        token, member = api_token_for_digest(account_services.api_token_digest(key))
        assert (token.user.email, token.organization.pk, member) == (buyer.email, buyer.active_organization_id, True)
        assert token.scopes == ["buy", "read"] and token.is_active
    assert api_token_for_digest("0" * 64) is None


@pytest.mark.parametrize("headers", [{"HTTP_ACCEPT": "application/xml"}, {"HTTP_ACCEPT": "text/html"}])
def test_a_bad_key_with_an_unacceptable_format_is_an_error_not_a_crash(api, headers):
    response = api.with_key("sdx_nope").post("/api/v1/api-keys/", {}, **headers)
    assert response.status_code in (401, 406)


def test_a_platform_admins_key_without_the_admin_scope_cannot_read_other_users_keys(api, admin_user, buyer, make_key):
    make_key(buyer, scopes=["read"], name="buyer's")
    buyers = ApiToken.objects.get(name="buyer's").pk
    read_only = make_key(admin_user, scopes=["read"], organization=None)
    assert api.with_key(read_only).get(f"/api/v1/api-keys/{buyers}/").status_code == 404
    admin = make_key(admin_user, scopes=["read", "admin"], organization=None)
    assert api.with_key(admin).get(f"/api/v1/api-keys/{buyers}/").status_code == 200


@pytest.mark.parametrize(
    "call,status",
    [
        (lambda api: api.put("/api/v1/me/", {}), 405),
        (lambda api: api.post("/api/v1/api-keys/", "x", content_type="application/xml"), 415),
        (lambda api: api.post("/api/v1/api-keys/", "{not json", content_type="application/json"), 400),
    ],
)
def test_drf_refusals_come_in_both_languages(api, buyer, call, status):
    api.force_login(buyer)
    api.handler.enforce_csrf_checks = False
    response = call(api)
    error = response.json()["error"]
    assert response.status_code == status
    assert error["message_ko"] != error["message_en"], error
