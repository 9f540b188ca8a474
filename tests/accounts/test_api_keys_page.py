"""The API keys page (/me/api-keys/): the user's keys with their state, a form that offers only the scopes the
user may give, a new key shown once (in the answer to the POST, never stored or cached), and revocation."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken
from accounts.selectors import api_scopes_allowed
from core.errors import DomainError, NotAllowed
from core.models import AuditEvent
from tests.conftest import make_org, make_user

pytestmark = pytest.mark.django_db
URL = "/me/api-keys/"


def _page(client) -> str:
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    return response.content.decode()


def _scope_box(page: str, scope: str) -> str:
    match = re.search(rf'<input type="checkbox" name="scopes" value="{scope}"[^>]*>', page)
    assert match, f"no box for {scope}"
    return match.group(0)


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_the_list_shows_each_keys_details_and_state(login, buyer, make_key):
    make_key(buyer, scopes=["read", "buy"], name="ERP 연동")
    used = ApiToken.objects.get(name="ERP 연동")
    ApiToken.objects.filter(pk=used.pk).update(last_used_at=timezone.now(), last_used_ip="203.0.113.9")
    make_key(buyer, scopes=["read"], name="오래된 키", days=1)
    ApiToken.objects.filter(name="오래된 키").update(
        created_at=timezone.now() - timedelta(days=3), expires_at=timezone.now() - timedelta(days=2)
    )
    make_key(buyer, scopes=["read"], name="버린 키")
    ApiToken.objects.filter(name="버린 키").update(revoked_at=timezone.now())
    page = _page(login(buyer))
    row = page.split(f'id="api-key-{used.pk}"')[1].split("</tr>")[0]
    assert "ERP 연동" in row and "(주)에어데이터랩" in row
    assert "조회" in row and "구매" in row  # the scopes
    assert f"{used.prefix}…" in row and "203.0.113.9" in row
    states = dict(re.findall(r'data-state="(\w+)">\s*<th scope="row">([^<]+)<', page))
    assert states == {"active": "ERP 연동", "expired": "오래된 키", "revoked": "버린 키"}
    assert "사용 중" in row and "만료됨" in page and "폐기됨" in page
    assert page.count("/revoke/") == 1  # only the active key can be revoked


def test_only_the_scopes_a_buyer_may_give_are_enabled(login, buyer):
    page = _page(login(buyer))
    assert "disabled" not in _scope_box(page, "read") and "disabled" not in _scope_box(page, "buy")
    assert "disabled" in _scope_box(page, "publish") and "disabled" in _scope_box(page, "admin")
    assert 'value="365"' in page and f'max="{settings.API_TOKEN_MAX_DAYS}"' in page
    # Each scope has its one-line explanation in Korean.
    assert "장바구니" in page and "심사" in page


def test_an_official_may_give_publish_and_an_admin_a_key_for_no_organization(login, official, admin_user):
    page = _page(login(official))
    assert "disabled" not in _scope_box(page, "publish") and "disabled" in _scope_box(page, "buy")
    assert "기관 없음" not in page
    page = _page(login(admin_user))
    assert '<option value="" selected>기관 없음 (플랫폼 관리)</option>' in page
    assert "disabled" not in _scope_box(page, "admin") and "disabled" in _scope_box(page, "publish")


def test_a_new_key_is_shown_once_in_the_answer_and_works(login, buyer, api):
    client = login(buyer)
    org = buyer.active_organization
    response = client.post(
        URL, {"name": "정산 시스템", "organization": org.pk, "scopes": ["read", "buy"], "expires_in_days": 30}
    )
    assert response.status_code == 200  # no redirect: the key exists only in this answer
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    key = re.search(r'id="new-api-key"[^>]*value="(sdx_[^"]+)"', page).group(1)
    assert "한 번만" in page  # the warning that it is shown only this once
    token = ApiToken.objects.get(name="정산 시스템")
    assert token.scopes == ["buy", "read"] and token.organization == org
    assert (token.expires_at - token.created_at).days == 30
    assert key not in str(dict(client.session))
    me = api.with_key(key).get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["api_key"]["name"] == "정산 시스템"
    again = _page(client)
    assert key not in again and f"{token.prefix}…" in again
    assert AuditEvent.objects.filter(action="api_token.created", object_id=str(token.pk)).exists()


def test_a_scope_the_user_may_not_give_is_refused(login, buyer):
    org = buyer.active_organization
    response = login(buyer).post(
        URL, {"name": "게시용", "organization": org.pk, "scopes": ["read", "publish"], "expires_in_days": 365}
    )
    assert response.status_code == 200 and not ApiToken.objects.exists()
    page = response.content.decode()
    assert 'id="new-api-key"' not in page and "form-alert" in page


def test_the_form_checks_its_fields(login, buyer):
    client = login(buyer)
    org = buyer.active_organization
    too_long = client.post(
        URL,
        {"name": "x", "organization": org.pk, "scopes": ["read"], "expires_in_days": settings.API_TOKEN_MAX_DAYS + 1},
    )
    assert "id_expires_in_days_error" in too_long.content.decode()
    elsewhere = make_org(
        make_user("owner@else.test"), name_ko="다른 회사", name_en="Else", kind="consumer", brn="1078155843"
    )
    foreign = client.post(URL, {"name": "x", "organization": elsewhere.pk, "scopes": ["read"], "expires_in_days": 5})
    assert "id_organization_error" in foreign.content.decode()
    nothing = client.post(URL, {"name": "", "organization": org.pk, "expires_in_days": 5})
    assert "id_name_error" in nothing.content.decode() and "id_scopes_error" in nothing.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_asks_first_and_stops_the_key(login, buyer, make_key, api):
    key = make_key(buyer, scopes=["read"], name="버릴 키")
    token = ApiToken.objects.get()
    client = login(buyer)
    page = _page(client)
    form = page.split(f'action="/me/api-keys/{token.pk}/revoke/"')[1].split(">")[0]
    assert "data-pg-confirm=" in form and "버릴 키" in form
    assert client.get(f"/me/api-keys/{token.pk}/revoke/").status_code == 405
    response = client.post(f"/me/api-keys/{token.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == URL
    token.refresh_from_db()
    assert token.state == "revoked" and token.revoked_by == buyer
    assert api.with_key(key).get("/api/v1/me/").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_another_users_key_cannot_be_revoked_here(login, buyer, official, make_key):
    make_key(official, scopes=["read"], name="남의 키")
    token = ApiToken.objects.get()
    assert login(buyer).post(f"/me/api-keys/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert "남의 키" not in _page(login(buyer))


def test_someone_without_an_organization_is_told_how_to_get_one(login, outsider):
    page = _page(login(outsider))
    assert 'id="api-key-form"' not in page and reverse("accounts:organization_register") in page


def test_the_page_is_linked_from_my_page_the_menu_and_links_the_api_docs(login, buyer):
    client = login(buyer)
    dashboard = client.get(reverse("accounts:dashboard")).content.decode()
    assert 'id="dashboard-api-keys"' in dashboard and f'href="{URL}"' in dashboard
    assert dashboard.count(f'href="{URL}"') >= 2  # My page's list and the account menu
    page = _page(client)
    assert 'href="/api/docs/"' in page and 'href="/api/docs/redoc/"' in page
    assert 'src="/static/js/api-keys.js"' in page and " onclick=" not in page


def test_the_page_in_english(login, buyer):
    client = login(buyer)
    client.cookies["django_language"] = "en"
    page = _page(client)
    assert '<h1 class="pg-title">API keys</h1>' in page
    assert "Use the cart, order and pay" in page
    response = client.post(
        URL, {"name": "k", "organization": buyer.active_organization_id, "scopes": ["read"], "expires_in_days": 9}
    )
    assert "Copy it now: it is shown only this once." in response.content.decode()


def test_the_scopes_a_user_may_give_are_what_the_service_accepts(buyer, official, admin_user, outsider):
    """One rule for the page and the service: a key never has more power than its maker has today."""
    company, department = buyer.active_organization, official.active_organization
    # `data` (issue 16): calling the data API within the organization's plans, which any member may give.
    assert api_scopes_allowed(buyer, company) == ["read", "buy", "data"]
    assert api_scopes_allowed(official, department) == ["read", "publish", "data"]
    assert api_scopes_allowed(official, company) == []  # not a member
    assert api_scopes_allowed(admin_user, None) == ["read", "admin"]
    assert api_scopes_allowed(outsider, None) == []
    cases = [(buyer, company), (official, department), (admin_user, None)]
    for user, organization in cases:
        allowed = api_scopes_allowed(user, organization)
        for scope in ApiToken.Scope.values:
            try:
                services.api_token_create(actor=user, organization=organization, name="t", scopes=["read", scope])
                made = True
            except (DomainError, NotAllowed):
                made = False
            assert made == (scope in allowed), (user.email, scope)
