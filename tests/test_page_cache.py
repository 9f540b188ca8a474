"""The anonymous page cache (marketplace/page_cache.py): repeats cost no SQL, a catalog change shows at once, and
nothing of one visitor (signed-in state, CSRF secret, CSP nonce, messages, cookies, language, Accept) reaches
another. A page is stored at its second request and served from the third on."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from catalog import services as catalog_services
from tests.transactions.conftest import offer_of, publish_dataset
from transactions.services import cart as cart_services

pytestmark = pytest.mark.django_db

NONCE_RE = re.compile(r'<script nonce="([^"]+)"')
TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
OWN_VALUES = re.compile(r'(nonce="|value="|"X-CSRFToken": ")[^"]+"')


def strip(body: bytes) -> str:
    """The page without what is each request's own: nonces and CSRF tokens."""
    return OWN_VALUES.sub(r"\1", body.decode())


@pytest.fixture(autouse=True)
def page_cache_on(settings):
    settings.PAGE_CACHE = True
    settings.PAGE_CACHE_SECONDS = 600


@pytest.fixture
def dataset(official, admin_user, reference_data):
    return publish_dataset(
        official,
        admin_user,
        offers=({"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용 (건당)"},),
    )


def warm(client, url, **extra):
    """Ask three times: stored at the second, so the third and later come from the cache."""
    for _ in range(2):
        response = client.get(url, **extra)
        assert response.status_code == 200, (url, response.status_code)
    return client.get(url, **extra)


def urls_of(dataset):
    return [
        "/",
        "/catalog/?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80",  # 미세먼지
        reverse("catalog:dataset", args=[dataset.slug]),
        "/api/3/action/package_search?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80",
        "/api/3/action/package_show?id=" + dataset.slug,
        "/api/v1/datasets/",
        "/api/v1/themes/",
        "/catalog.ttl",
        f"/dataset/{dataset.slug}.ttl",
    ]


def test_a_repeated_anonymous_page_costs_no_sql(client, dataset, django_assert_num_queries):
    for url in urls_of(dataset):
        first = client.get(url)
        client.get(url)
        with django_assert_num_queries(0):
            third = client.get(url)
        assert third.status_code == 200
        assert third["X-Page-Cache"] == "hit", url
        assert third["Content-Type"] == first["Content-Type"]
        # The same page, but for what is this request's own (the CSRF token and the nonce).
        assert strip(third.content) == strip(first.content), url


def test_a_catalog_change_is_visible_on_the_next_request(
    client, official, admin_user, dataset, django_capture_on_commit_callbacks
):
    search = "/catalog/?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80"
    page = reverse("catalog:dataset", args=[dataset.slug])
    api = "/api/3/action/package_search?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80"
    assert warm(client, search)["X-Page-Cache"] == "hit"
    assert warm(client, page)["X-Page-Cache"] == "hit"
    assert warm(client, api).json()["result"]["count"] == 1

    # Publish a second dataset with the same word: the search shows it on the very next request.
    # (The services bump the catalog generation on commit: the test's transaction runs those callbacks.)
    with django_capture_on_commit_callbacks(execute=True):
        second = publish_dataset(
            official, admin_user, title_ko="정왕동 미세먼지 시간별 측정값", title_en="Jeongwang dust"
        )
    assert "정왕동 미세먼지 시간별 측정값" in client.get(search).content.decode()
    assert client.get(api).json()["result"]["count"] == 2

    # An edit of an offer (a new price) shows on the dataset page at once.
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.offer_create(
            actor=official, dataset=dataset, kind="one_off", price_krw=77_000, cost_basis="건당 전송 비용"
        )
    assert "77,000" in client.get(page).content.decode()

    # Withdrawn: the page is gone on the next request, and the search no longer lists it.
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.version_withdraw(actor=official, version=second.versions.get(), reason="정정")
    assert client.get(reverse("catalog:dataset", args=[second.slug])).status_code == 404
    assert client.get(api).json()["result"]["count"] == 1


def test_signed_in_users_never_get_or_make_the_anonymous_page(client, buyer, dataset):
    url = reverse("catalog:dataset", args=[dataset.slug])
    anonymous = warm(client, url)
    assert anonymous["X-Page-Cache"] == "hit"
    assert "Log in to buy" in anonymous.content.decode() or "로그인" in anonymous.content.decode()

    offer = offer_of(dataset, "one_off")
    cart_services.cart_add(actor=buyer, organization=buyer.active_organization, offer=offer)
    member = Client()
    member.force_login(buyer)
    for _ in range(3):
        mine = member.get(url)
        assert "X-Page-Cache" not in mine
        assert f'id="in-cart-{offer.pk}"' in mine.content.decode()  # their own cart, not the anonymous page

    # …and what the buyer saw was not stored for anyone else.
    again = client.get(url)
    assert again["X-Page-Cache"] == "hit"
    assert f'id="in-cart-{offer.pk}"' not in again.content.decode()

    # An API key bypasses the cache too (its answer may show the organization's own rows).
    keyed = client.get("/api/v1/datasets/", HTTP_AUTHORIZATION="Token nope")
    assert keyed.status_code == 401 and "X-Page-Cache" not in keyed


def test_languages_do_not_mix(dataset):
    korean, english = Client(), Client()
    english.cookies["django_language"] = "en"
    for url in ("/", reverse("catalog:dataset", args=[dataset.slug])):
        ko = warm(korean, url)
        en = warm(english, url)
        assert ko["X-Page-Cache"] == en["X-Page-Cache"] == "hit"
        assert '<html lang="ko"' in ko.content.decode()
        assert '<html lang="en"' in en.content.decode()
        assert "Siheung Data Exchange" in en.content.decode() and "시흥 데이터거래소" in ko.content.decode()
    # The API follows Accept-Language when no cookie chose.
    api = "/api/3/action/package_show?id=" + dataset.slug
    ko = warm(Client(), api)
    en = warm(Client(), api, HTTP_ACCEPT_LANGUAGE="en")
    assert ko["Content-Language"] == "ko" and en["Content-Language"] == "en"


def test_accept_and_htmx_variants_do_not_mix(client, dataset):
    url = reverse("catalog:dataset", args=[dataset.slug])
    html = warm(client, url, HTTP_ACCEPT="text/html")
    turtle = warm(client, url, HTTP_ACCEPT="text/turtle")
    assert html["X-Page-Cache"] == turtle["X-Page-Cache"] == "hit"
    assert html["Content-Type"].startswith("text/html")
    assert turtle["Content-Type"].startswith("text/turtle") and b"dcat:Dataset" in turtle.content

    search = "/catalog/?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80"
    full = warm(client, search)
    partial = warm(client, search, HTTP_HX_REQUEST="true")
    assert full["X-Page-Cache"] == partial["X-Page-Cache"] == "hit"
    assert b"<html" in full.content and b"<html" not in partial.content
    # The catalog asked for RDF sends the reader to its document (a 303), even with the HTML page cached.
    rdf = client.get(search, HTTP_ACCEPT="text/turtle")
    assert rdf.status_code == 303 and rdf["Location"].endswith("/catalog.ttl")


def test_a_cached_page_has_the_new_visitors_own_csrf_token(dataset):
    first = Client()
    warm(first, "/")  # stored from a request of the first visitor (with their CSRF cookie)
    first_secret_tokens = set(TOKEN_RE.findall(first.get("/").content.decode()))

    visitor = Client(enforce_csrf_checks=True)
    page = visitor.get("/")
    assert page["X-Page-Cache"] == "hit"
    tokens = set(TOKEN_RE.findall(page.content.decode()))
    assert tokens and not tokens & first_secret_tokens
    header_token = re.search(r'"X-CSRFToken": "(\w+)"', page.content.decode()).group(1)
    assert header_token in tokens  # htmx sends the same visitor's token
    assert page.cookies["csrftoken"].value != first.cookies["csrftoken"].value
    # The language switch works for the new visitor with the token of the page they got.
    switched = visitor.post(
        reverse("set_language"), {"language": "en", "next": "/", "csrfmiddlewaretoken": tokens.pop()}
    )
    assert switched.status_code == 302
    assert visitor.cookies["django_language"].value == "en"
    assert '<html lang="en"' in visitor.get("/").content.decode()


def test_each_answer_has_its_own_nonce_matching_its_header(client, dataset):
    warm(client, "/")
    seen = set()
    for _ in range(2):
        response = client.get("/")
        assert response["X-Page-Cache"] == "hit"
        nonces = set(NONCE_RE.findall(response.content.decode()))
        assert len(nonces) == 1
        nonce = nonces.pop()
        assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]
        seen.add(nonce)
    assert len(seen) == 2


def test_no_cookie_and_no_message_is_cached(client, buyer, dataset):
    # A visitor with no cookies at all: each is given a CSRF cookie of their own, never the storing visitor's.
    warm(client, "/")
    stranger, other = Client(), Client()
    a, b = stranger.get("/"), other.get("/")
    assert a["X-Page-Cache"] == b["X-Page-Cache"] == "hit"
    assert a.cookies["csrftoken"].value != b.cookies["csrftoken"].value != client.cookies["csrftoken"].value
    # A visitor who has their cookie already gets their own again (Django renews it whenever a page uses it).
    assert client.get("/").cookies["csrftoken"].value == client.cookies["csrftoken"].value

    # Signing out leaves a message for the next page: that page is not the cached one, and is not stored.
    member = Client()
    member.force_login(buyer)
    home = member.post(reverse("account_logout"), follow=True)
    assert "X-Page-Cache" not in home
    messages = home.content.decode().count("site-messages")
    assert messages == 1
    assert "site-messages" not in client.get("/").content.decode()
    assert "site-messages" not in member.get("/").content.decode()  # shown once


def test_an_answer_with_absolute_links_is_kept_per_host_and_scheme(settings, dataset):
    # The API's links are absolute (request.build_absolute_uri): an answer asked for under another host name the site
    # answers to (or over plain http behind the TLS proxy) must not be served to visitors of the public address.
    settings.ALLOWED_HOSTS = ["testserver", "internal"]
    url = "/api/v1/datasets/?page_size=1"
    warm(Client(), url, HTTP_HOST="internal")
    warm(Client(), url, secure=False)
    public = Client().get(url, secure=True)
    assert public.status_code == 200
    assert b"//internal/" not in public.content and b"http://testserver/" not in public.content
    assert b"https://testserver/" in public.content
    assert warm(Client(), url, secure=True)["X-Page-Cache"] == "hit"


def test_a_script_asking_every_url_twice_cannot_fill_redis(client, settings, dataset):
    # The marker keeps URLs asked once out, but a script asks each of its never-seen URLs twice: the bytes of the pages
    # stored per PAGE_CACHE_SECONDS are capped (PAGE_CACHE_BUDGET_BYTES), past that pages are served and not kept.
    from django.core.cache import cache

    from marketplace.page_cache import BUDGET_KEY, cache_key

    cache.delete(BUDGET_KEY)  # (what the earlier tests stored)
    page = reverse("catalog:dataset", args=[dataset.slug])
    size = len(client.get(page).content)
    settings.PAGE_CACHE_BUDGET_BYTES = 3 * size + size // 2
    urls = [f"{page}?v={n}" for n in range(8)]
    for url in urls:
        warm(client, url)
    stored = []
    for url in urls:
        request = client.get(url).wsgi_request
        entry = cache.get(cache_key(request, "rdf"))
        stored.append(bool(entry and "body" in entry))
    assert stored == [True] * 3 + [False] * 5
    # Still answered, just not from the cache.
    assert client.get(urls[-1]).status_code == 200 and client.get(urls[-1])["X-Page-Cache"] == "miss"


def test_one_address_asking_never_seen_urls_twice_cannot_spend_everyones_budget(settings, dataset):
    """A script at one address asks dataset pages with query strings of its own making, each twice (the marker is
    no defence): it may store only its share (PAGE_CACHE_ADDRESS_BUDGET_BYTES). Before the share, it spent the whole
    budget and no page was kept for anyone until the window ended: the home page stayed a miss for every visitor."""
    from django.core.cache import cache

    from marketplace.page_cache import address_budget_key

    page = reverse("catalog:dataset", args=[dataset.slug])
    script = Client(REMOTE_ADDR="203.0.113.7")
    visitor = Client(REMOTE_ADDR="198.51.100.9")
    cache.delete_many([address_budget_key("203.0.113.7"), address_budget_key("198.51.100.9")])  # (an earlier run's)
    largest = max(len(script.get(f"{page}?junk=0").content), len(visitor.get("/").content)) + 100
    settings.PAGE_CACHE_BUDGET_BYTES = 6 * largest
    settings.PAGE_CACHE_ADDRESS_BUDGET_BYTES = 3 * largest
    kept = []
    for n in range(1, 9):
        script.get(f"{page}?junk={n}")
        script.get(f"{page}?junk={n}")
        again = script.get(f"{page}?junk={n}")
        assert again.status_code == 200  # always answered, kept or not
        kept.append(again["X-Page-Cache"] == "hit")
    assert kept == [True] * 3 + [False] * 5
    # (the visitor asked for it once above: stored at this first ask, served from the next)
    assert [visitor.get("/")["X-Page-Cache"] for _ in range(3)] == ["miss", "hit", "hit"]


def test_an_ipv6_client_spends_the_share_of_its_64():
    """One subscriber holds a /64: its addresses share one part of the budget (or rotating them would be a way round)."""
    from django.test import RequestFactory

    from marketplace.page_cache import _address_of

    factory = RequestFactory()
    one = _address_of(factory.get("/", REMOTE_ADDR="2001:db8:1:2::10"))
    assert one == _address_of(factory.get("/", REMOTE_ADDR="2001:db8:1:2:ffff::99")) == "2001:db8:1:2::/64"
    assert one != _address_of(factory.get("/", REMOTE_ADDR="2001:db8:1:3::10"))
    assert _address_of(factory.get("/", REMOTE_ADDR="203.0.113.7")) == "203.0.113.7"
    # An IPv4 client seen through a dual-stack socket is its IPv4 address (not every such client in one ::/64).
    assert _address_of(factory.get("/", REMOTE_ADDR="::ffff:203.0.113.7")) == "203.0.113.7"


def test_a_store_the_whole_budget_refuses_does_not_spend_the_addresss_share(settings):
    """When everyone's budget is spent, the stores refused are not charged to the address that asked: its share is
    whole again when the window of the whole budget ends (a reviewer saw it stay spent for a window of its own)."""
    from django.core.cache import cache
    from django.test import RequestFactory

    from marketplace.page_cache import BUDGET_KEY, address_budget_key, within_budget

    cache.delete_many([BUDGET_KEY, address_budget_key("203.0.113.7"), address_budget_key("198.51.100.9")])
    settings.PAGE_CACHE_BUDGET_BYTES = 1000
    settings.PAGE_CACHE_ADDRESS_BUDGET_BYTES = 5000
    factory = RequestFactory()
    assert within_budget(factory.get("/", REMOTE_ADDR="198.51.100.9"), 900)  # another address spends the budget
    asking = factory.get("/", REMOTE_ADDR="203.0.113.7")
    assert [within_budget(asking, 900) for _ in range(6)] == [False] * 6
    assert cache.get(address_budget_key("203.0.113.7")) == 0
    cache.delete(BUDGET_KEY)  # the whole budget's window ends
    assert within_budget(asking, 900)


def test_text_that_unmasks_to_the_storing_visitors_secret_is_not_taken_for_a_token(dataset):
    # A script chooses its own CSRF cookie, so it can make text (a search word, echoed in the page) that unmasks to that
    # secret. Replacing it would write each later visitor's own token into the search box and every link of the page.
    from django.middleware.csrf import _mask_cipher_secret

    secret = "a" * 32
    planted = _mask_cipher_secret(secret)
    url = f"/catalog/?q={planted}"
    script = Client()
    script.cookies["csrftoken"] = secret
    for _ in range(3):
        script.get(url)

    visitor = Client()
    page = visitor.get(url)
    own = set(TOKEN_RE.findall(page.content.decode()))
    assert own and planted not in own
    assert f'value="{planted}"' in page.content.decode()  # the search box shows what was searched
    for token in own:
        assert token not in page.content.decode().replace(f'name="csrfmiddlewaretoken" value="{token}"', "").replace(
            f'"X-CSRFToken": "{token}"', ""
        )


def test_estimated_counts_are_not_kept_while_a_worker_counts(settings, official, admin_user, reference_data):
    # Above the cap the figures are estimates until a worker has counted (seconds); the answer saying so is not kept,
    # or the exact figures would wait PAGE_CACHE_SECONDS for the next visitor.
    from django.http import QueryDict

    from catalog.discovery import exact_counts

    settings.CATALOG_EXACT_CAP = 2
    settings.CATALOG_SAMPLE_LEVELS = [1]
    for n in range(3):
        publish_dataset(official, admin_user, title_ko=f"미세먼지 자료 {n}", title_en=f"Dust {n}")
    api = "/api/v1/datasets/?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80"
    page = "/catalog/?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80"
    ckan = "/api/3/action/package_search?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80"
    estimate = warm(Client(), api).json()
    assert not estimate["exact"] and estimate["counting"]
    assert warm(Client(), page)["X-Page-Cache"] == "miss"
    assert warm(Client(), ckan)["X-Page-Cache"] == "miss"

    exact_counts(QueryDict("q=미세먼지"))  # what the worker's task does
    assert Client().get(api).json()["exact"]
    assert warm(Client(), api)["X-Page-Cache"] == "hit"  # exact figures are kept as usual


def test_an_organization_sent_back_to_verification_loses_its_badge_at_once(
    client, official, dataset, django_capture_on_commit_callbacks
):
    """The publisher changes its registered Korean name: it goes back to verification, and the cached dataset page
    stops calling it a verified organization on the very next request (not PAGE_CACHE_SECONDS later)."""
    from accounts import services as account_services

    page = reverse("catalog:dataset", args=[dataset.slug])
    assert "ds-verified" in warm(client, page).content.decode()
    organization = dataset.publisher
    with django_capture_on_commit_callbacks(execute=True):
        account_services.organization_update(
            actor=official, organization=organization, brn=organization.brn, name_ko="시흥시 다른 부서"
        )
    organization.refresh_from_db()
    assert not organization.is_verified
    assert "ds-verified" not in client.get(page).content.decode()


# --- What other parts of the site change on catalog pages (each shows on the very next request) ---------------------

SEARCH = "/catalog/?q=%EB%AF%B8%EC%84%B8%EB%A8%BC%EC%A7%80"


@pytest.fixture
def superuser_client(admin_user):
    """A platform admin signed in to the Django admin (/django-admin/)."""
    admin_user.is_superuser = True
    admin_user.save(update_fields=["is_superuser"])
    browser = Client()
    browser.force_login(admin_user)
    return browser


def test_an_organizations_new_english_name_shows_at_once(official, dataset, django_capture_on_commit_callbacks):
    """The owner renames the organization in English (not a verified field: no new verification): the English dataset
    page, the catalog's results (each result's byline and the publisher facet) and the home page show the new name."""
    from accounts import services as account_services

    english = Client()
    english.cookies["django_language"] = "en"
    urls = ("/", SEARCH, reverse("catalog:dataset", args=[dataset.slug]))
    for url in urls:
        assert "Environmental Policy Division" in warm(english, url).content.decode(), url
    organization = dataset.publisher
    with django_capture_on_commit_callbacks(execute=True):
        account_services.organization_update(
            actor=official, organization=organization, brn=organization.brn, name_en="Climate Action Division"
        )
    organization.refresh_from_db()
    assert organization.is_verified  # the English name is not what the admin verified
    for url in urls:
        page = english.get(url).content.decode()
        assert "Climate Action Division" in page and "Environmental Policy Division" not in page, url


def test_an_organization_renamed_in_the_django_admin_shows_at_once(
    client, superuser_client, dataset, django_capture_on_commit_callbacks
):
    from tests.admin_forms import admin_change

    urls = ("/", SEARCH, reverse("catalog:dataset", args=[dataset.slug]))
    for url in urls:
        assert "환경정책과" in warm(client, url).content.decode(), url
    with django_capture_on_commit_callbacks(execute=True):
        admin_change(superuser_client, dataset.publisher, name_ko="기후환경정책과")
    for url in urls:
        page = client.get(url).content.decode()
        assert "기후환경정책과" in page, url


def test_a_theme_and_a_licence_edited_in_the_django_admin_show_at_once(
    client, superuser_client, dataset, django_capture_on_commit_callbacks
):
    """Names and codes of themes and licences: the pages cached per generation and this process's labels of facet
    values (catalog.discovery keeps them a minute) both follow an admin's edit on the next request."""
    from catalog.models import Licence, Theme
    from tests.admin_forms import admin_change

    page = reverse("catalog:dataset", args=[dataset.slug])
    for url in ("/", "/catalog/", page, "/catalog/?theme=environment"):
        warm(client, url)
    assert "시흥시 대기질 측정 자료" in client.get("/catalog/?theme=environment").content.decode()
    theme, licence = Theme.objects.get(code="environment"), Licence.objects.get(code="kogl-1")
    with django_capture_on_commit_callbacks(execute=True):
        admin_change(superuser_client, theme, name_ko="환경·기후", code="climate")
    with django_capture_on_commit_callbacks(execute=True):
        admin_change(superuser_client, licence, name_ko="공공누리 1유형 (출처표시만)")
    for url in ("/", "/catalog/", page):
        body = client.get(url).content.decode()
        assert "환경·기후" in body and "환경기상" not in body, url
    for url in ("/catalog/", page):
        assert "공공누리 1유형 (출처표시만)" in client.get(url).content.decode(), url
    # The new code filters the catalog at once; the old one no longer names a theme.
    assert "시흥시 대기질 측정 자료" in client.get("/catalog/?theme=climate").content.decode()
    assert "시흥시 대기질 측정 자료" not in client.get("/catalog/?theme=environment").content.decode()


def test_a_harvest_source_renamed_shows_at_once_on_its_listings_pages(
    client, admin_user, dataset, django_capture_on_commit_callbacks
):
    """A listing's dataset page names its harvest source ("Data harvested from …") and the source's organization: an
    admin's rename of the source or its move to another organization bumps the generation (before, the cached page
    kept the old name for PAGE_CACHE_SECONDS)."""
    from django.utils import timezone

    from catalog.harvest import services as harvest_services
    from catalog.harvest.models import HarvestedDataset
    from tests.interop.harvest_support import make_source

    source = make_source(
        admin_user, dataset.publisher, "https://data.gg.example", name="경기데이터드림", schedule="daily"
    )
    HarvestedDataset.objects.create(
        dataset=dataset, source=source, identifier="x", imported_hash="a", source_hash="a", harvested_at=timezone.now()
    )
    page = reverse("catalog:dataset", args=[dataset.slug])
    assert "경기데이터드림" in warm(client, page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        harvest_services.harvest_source_update(actor=admin_user, source=source, name="새 이름 포털", reason="개명")
    fresh = Client().get(page)
    assert "새 이름 포털" in fresh.content.decode() and "경기데이터드림" not in fresh.content.decode()
    # Its address moved: CKAN's answers name it (harvest_source_url).
    from core.generation import catalog_generation

    before = catalog_generation()
    with django_capture_on_commit_callbacks(execute=True):
        harvest_services.harvest_source_update(
            actor=admin_user, source=source, url="https://data2.gg.example", reason="이전"
        )
    assert catalog_generation() > before
    # A change no page shows (its schedule) keeps the cached pages.
    assert warm(client, page)["X-Page-Cache"] == "hit"
    with django_capture_on_commit_callbacks(execute=True):
        harvest_services.harvest_source_update(actor=admin_user, source=source, schedule="weekly", reason="주기")
    assert client.get(page)["X-Page-Cache"] == "hit"


def test_a_live_table_switched_on_or_paused_and_its_rows_show_at_once(
    client, official, dataset, django_capture_on_commit_callbacks
):
    """The dataset page's live section: a table made live or paused shows on the next request, and a page that shows
    live tables (their last row's age and row count change with every push) is never kept in the page cache."""
    from catalog.live import services as live

    page = reverse("catalog:dataset", args=[dataset.slug])
    assert 'id="live"' not in warm(client, page).content.decode()
    datafile = dataset.versions.get(state="published").files.get()
    with django_capture_on_commit_callbacks(execute=True):
        table = live.live_table_enable(actor=official, dataset=dataset, datafile=datafile, cadence="daily")
    shown = client.get(page)
    assert 'id="live"' in shown.content.decode() and 'data-count="0"' in shown.content.decode()
    for _ in range(2):
        assert client.get(page)["X-Page-Cache"] == "miss"  # not kept
    with django_capture_on_commit_callbacks(execute=True):
        live.live_rows_append(
            actor=official,
            table=table,
            rows=[{"측정소명": "정왕동", "측정일시": "2026-12-05T14:00:00+09:00", "미세먼지": 31}],
            idempotency_key="k1",
        )
    assert 'data-count="1"' in client.get(page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        live.live_table_pause(actor=official, table=table)
    assert "bg-light-warning" in client.get(page).content.decode()  # the "Paused" badge


@pytest.mark.parametrize("page_cache", [True, False])
@pytest.mark.parametrize("url", [SEARCH, "/catalog/?theme=environment", "/"])
def test_a_page_reads_the_catalog_generation_from_redis_once(settings, monkeypatch, dataset, page_cache, url):
    """The generation is read once per request (the page cache's own read of it, or the first use): the labels of facet
    values, the cached counts and the key frequencies reuse it, so checking the labels' generation costs no round trip
    of its own on the catalog's hot path. Counted at the Redis client (redis-py, not project code)."""
    import redis

    from core.generation import GENERATION_KEY

    settings.PAGE_CACHE = page_cache
    browser = Client()
    for n in range(3):
        assert browser.get(f"{url}{'&' if '?' in url else '?'}warm={n}").status_code == 200  # labels and counts kept
    commands = []
    send = redis.Redis.execute_command

    def counted(self, *args, **options):
        commands.append(args)
        return send(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counted)
    response = browser.get(f"{url}{'&' if '?' in url else '?'}new=1")  # a miss: the view runs
    assert response.status_code == 200
    generation_reads = [c for c in commands if c[0] in ("GET", "MGET") and any(GENERATION_KEY in str(k) for k in c[1:])]
    assert len(generation_reads) == 1, commands
