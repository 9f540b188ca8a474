"""The parts of every page kept in each process's template fragment cache (templates/base.html's {% cache %}: the
head's links, the logo, the sign-in links, the menu, the footer) are per language, per view and per what the user
may do: a page made for one visitor never shows another's menu, and a changed setting shows at once."""

import pytest
from django.core.cache import caches
from django.core.cache.utils import make_template_fragment_key
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _page(client, url, lang="ko"):
    client.cookies["django_language"] = lang
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_menus_follow_the_visitor_from_page_to_page(client, buyer, official, admin_user, outsider):
    catalog = reverse("catalog:index")
    pages = {"anonymous": _page(client, catalog)}
    for name, user in (("buyer", buyer), ("official", official), ("staff", admin_user), ("outsider", outsider)):
        client.force_login(user)
        pages[name] = _page(client, catalog)
    client.logout()
    pages["anonymous again"] = _page(client, catalog)

    links = {
        "cart": 'id="menu-cart"',
        "workspace": f'href="{reverse("catalog:provider_home")}"',
        "staff": f'href="{reverse("staff:home")}"',
        "login": f'href="{reverse("account_login")}"',
        "my page": f'href="{reverse("accounts:dashboard")}" class="gnb-main-trigger',
    }
    shown = {
        "anonymous": {"login"},
        "buyer": {"cart", "my page"},
        "official": {"workspace", "my page"},
        "staff": {"staff", "my page"},
        "outsider": {"my page"},
        "anonymous again": {"login"},
    }
    for name, html in pages.items():
        assert {link for link, text in links.items() if text in html} == shown[name], name
    assert 'class="who-name">문지호<' in pages["buyer"] and "(주)에어데이터랩" in pages["buyer"]
    assert 'class="who-name"' not in pages["anonymous again"]


def test_the_menu_marks_the_page_it_is_on(client, official):
    catalog = reverse("catalog:index")
    current = f'<a href="{catalog}" class="gnb-main-trigger is-link active" aria-current="page">'
    assert current in _page(client, catalog)
    home = _page(client, reverse("home"))
    assert current not in home and f'<a href="{catalog}" class="gnb-main-trigger is-link">' in home
    # Two pages of one namespace: the catalog and the provider's workspace.
    client.force_login(official)
    workspace = reverse("catalog:provider_home")
    assert current in _page(client, catalog)
    html = _page(client, workspace)
    assert current not in html
    assert f'<a href="{workspace}" class="gnb-main-trigger is-link active" aria-current="page">' in html


def test_the_footer_is_in_the_page_language_and_kept(client, settings):
    korean, english = _page(client, reverse("home"), "ko"), _page(client, reverse("home"), "en")
    assert settings.OPERATOR["name_ko"] in korean and settings.OPERATOR["name_en"] not in korean
    assert settings.OPERATOR["name_en"] in english and "<dt>Operator</dt>" in english
    for lang in ("ko", "en"):  # what makes the second page cheap
        assert caches["template_fragments"].get(make_template_fragment_key("footer", [lang, False])) is not None


def test_the_dev_mailbox_link_shows_only_to_those_who_may_open_it(client, settings, buyer, admin_user):
    settings.DEV_MAILBOX = True
    link = f'href="{reverse("dev_mailbox")}"'
    assert link not in _page(client, reverse("home"))
    client.force_login(admin_user)
    assert link in _page(client, reverse("home"))
    client.force_login(buyer)
    assert link not in _page(client, reverse("home"))


def test_a_changed_setting_shows_in_a_kept_part(client, settings):
    assert settings.OPERATOR["name_ko"] in _page(client, reverse("home"))
    settings.OPERATOR = {**settings.OPERATOR, "name_ko": "새 운영 부서"}
    assert "새 운영 부서" in _page(client, reverse("home"))


def test_a_test_may_override_caches_without_the_fragments_alias():
    """Emptying the kept parts on a setting change must not fail when the overridden CACHES has no such alias (found
    in review: the receiver raised InvalidCacheBackendError entering and leaving the override)."""
    from django.test.utils import override_settings  # (only this test needs it)

    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=locmem):
        assert caches["default"].get("missing") is None
