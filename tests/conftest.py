"""Shared fixtures: personas, a real Celery worker, and test-only settings.

The database and Redis are real servers (embedded, or DATABASE_URL / REDIS_URL); nothing of
ours is mocked. `make test` (scripts/stack.py test) provides them.
"""

import os
import shutil
import tempfile
import uuid

import pytest
from django.conf import settings
from django.test.signals import setting_changed
from pytest_django.plugin import blocking_manager_key

from accounts.models import Membership, Organization, PolicyAgreement, PolicyVersion, User
from accounts.selectors import policy_ids_in_force
from catalog import services as catalog_services
from catalog.models import Theme
from catalog.reference_data import ensure_reference_data

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True, scope="session")
def _test_settings():
    """Static files by their plain names (the live server finds them without collectstatic; the
    manifest build has its own test), private files in a temporary folder, no login throttling."""
    private = tempfile.mkdtemp(prefix="mkt-private-")
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": private}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Storages already built (something imported at collection may have touched default_storage) would keep
    # writing under var/private while the real workers of the kill tests read the folder above: rebuild them
    # the way override_settings does.
    setting_changed.send(sender=type(settings), setting="STORAGES", value=settings.STORAGES, enter=True)
    # The live server serves static files through WhiteNoise, from the finders (no collectstatic).
    settings.WHITENOISE_USE_FINDERS = True
    settings.ACCOUNT_RATE_LIMITS = False
    settings.SITE_URL = "http://testserver"
    settings.HARVEST_ALLOW_PRIVATE = True  # the fake harvest sources run on 127.0.0.1; refusal tests turn it off
    # The anonymous page cache is off in tests (many change rows with the ORM between two requests, as no user can);
    # tests/test_page_cache.py and tests/browser/test_page_cache_browser.py turn it on.
    settings.PAGE_CACHE = False
    yield
    shutil.rmtree(private, ignore_errors=True)


@pytest.fixture(scope="session")
def celery_worker_session():
    """A real Celery worker (in a thread, solo pool) consuming from the real Redis broker.

    Tasks go to a queue of this run only, so a developer's running worker on the same Redis
    cannot steal them. Tests using it need `django_db(transaction=True)`: the worker has its
    own database connection and sees only committed rows.
    """
    from celery.contrib.testing.worker import start_worker

    from marketplace.celery import app

    global _WORKER_QUEUE
    queue = f"test-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], loglevel="WARNING") as worker:
        _WORKER_QUEUE = queue
        try:
            yield worker
        finally:
            _WORKER_QUEUE = None


@pytest.fixture
def celery_worker(celery_worker_session, transactional_db):
    yield celery_worker_session
    _drain(celery_worker_session)


# The queue of the session worker once a test has started it (tests that do not ask for the worker still send the
# tasks they queue after commit to it).
_WORKER_QUEUE = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Before any fixture is torn down (the test database's flush among them): once the session worker runs, let it
    finish what this test queued, whether or not the test asked for the worker. A task it was still running met the
    flush's TRUNCATE in a deadlock (seen in CI after a transactional test that queued a task on commit).

    After every fixture is torn down: a transactional test's flush emptied every table, the themes and licences
    that migrations load among them; put those back, so the next test finds them whatever ran before it, in any order
    (other rows migrations load, such as the policy versions, are made by the fixtures of the tests that need them)."""
    if _WORKER_QUEUE is not None:
        _drain(None, queue=_WORKER_QUEUE)
    yield
    if nextitem is None or not _flushed_after(item):
        return  # (after the last test the test database is gone already)
    with item.config.stash[blocking_manager_key].unblock():
        if not Theme.objects.exists():
            ensure_reference_data()


def _flushed_after(item) -> bool:
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    fixtures = getattr(item, "fixturenames", ())
    return transactional or "transactional_db" in fixtures or "live_server" in fixtures


def _drain(worker, timeout: float = 30.0, queue: str | None = None):
    """Before the test database is flushed, let the worker finish what the test queued (a task still
    running would hold row locks that deadlock the flush, or write into the next test's tables); what is
    still queued after the timeout is purged."""
    import time

    from celery.worker import state

    from marketplace.celery import app

    queue = queue or app.conf.task_default_queue
    deadline = time.monotonic() + timeout
    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        while time.monotonic() < deadline:
            if not state.active_requests and not state.reserved_requests and not client.llen(queue):
                break
            time.sleep(0.05)
        else:
            app.control.purge()


@pytest.fixture(autouse=True)
def _session_worker_only_for_its_tests(request):
    """Once a test has started the session worker it keeps running; a later test that did not ask for it must not
    have its tasks taken (a worker sees only committed rows: a count task run for a test's uncommitted catalog
    stored zero counts the test then read). Such a test's tasks wait in a queue nobody consumes, as when it runs
    alone, and are dropped after it."""
    if _WORKER_QUEUE is None or "celery_worker_session" in request.fixturenames:
        yield
        return
    from marketplace.celery import app

    parked = f"{_WORKER_QUEUE}-parked"
    app.conf.task_default_queue = parked
    try:
        yield
    finally:
        app.conf.task_default_queue = _WORKER_QUEUE
        with app.connection_for_write() as connection:
            connection.default_channel.client.delete(parked)


@pytest.fixture
def reference_data(db):
    """Themes and licences. Migrations load them, but the flush after a transactional test empties
    every table, so tests that need them ask for this fixture."""
    ensure_reference_data()


def make_user(email, *, name="", staff=False, verified=True):
    from allauth.account.models import EmailAddress

    user = User.objects.create_user(email=email, password=PASSWORD, name=name or email.split("@")[0], is_staff=staff)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    # Like a sign-up: the user agreed to the terms and the privacy policy in force (seeded by a migration).
    for policy in PolicyVersion.objects.filter(pk__in=policy_ids_in_force().values()):
        PolicyAgreement.objects.create(user=user, policy=policy)
    return user


def make_org(owner, *, name_ko, name_en, kind, brn, verified=True, org_type=None, role=Membership.Role.OWNER, **extra):
    org = Organization.objects.create(
        name_ko=name_ko,
        name_en=name_en,
        slug=f"org-{uuid.uuid4().hex[:8]}",
        kind=kind,
        org_type=org_type or ("city_department" if kind == "provider" else "company"),
        brn=brn,
        brn_checksum_ok=True,
        verification=Organization.Verification.VERIFIED if verified else Organization.Verification.REQUESTED,
        contact_email=owner.email,
        **extra,
    )
    Membership.objects.create(user=owner, organization=org, role=role)
    owner.active_organization = org
    owner.save(update_fields=["active_organization"])
    return org


@pytest.fixture
def admin_user(db):
    """A platform admin (reviewer)."""
    return make_user("admin@test.example", name="관리자", staff=True)


@pytest.fixture
def official(db):
    """A city official: owner of a verified provider department."""
    user = make_user("official@siheung.test", name="정민준")
    make_org(user, name_ko="환경정책과", name_en="Environmental Policy Division", kind="provider", brn="1348310008")
    return user


@pytest.fixture
def buyer(db):
    """A company buyer: buyer role in a verified consumer company."""
    owner = make_user("owner@company.test", name="김하늘")
    org = make_org(owner, name_ko="(주)에어데이터랩", name_en="AirDataLab", kind="consumer", brn="1168200276")
    user = make_user("buyer@company.test", name="문지호")
    Membership.objects.create(user=user, organization=org, role=Membership.Role.BUYER)
    user.active_organization = org
    user.save(update_fields=["active_organization"])
    return user


@pytest.fixture
def outsider(db):
    """A signed-up user with no organization."""
    return make_user("outsider@test.example", name="외부인")


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def draft(official, reference_data):
    """A draft dataset version of the official's department."""
    return catalog_services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko="시흥시 대기질 측정 자료",
        title_en="Siheung air quality measurements",
        description_ko="정왕동 측정소의 시간별 미세먼지 자료입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지, 대기질",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email="official@siheung.test",
        update_cadence="monthly",
        data_kind="public",
    )


@pytest.fixture(autouse=True)
def _korean_by_default():
    from django.utils import translation

    translation.activate("ko")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_catalog_counts():
    """Redis outlives tests: a new catalog generation makes counts cached by an earlier test unreachable.
    (Not cache.clear(): it would FLUSHDB the Celery broker's bindings when they share a database.)"""
    from django.core.cache import cache

    from accounts.selectors import POLICY_INDEX_KEY
    from catalog import discovery, lexemes
    from marketplace.page_cache import BUDGET_KEY as PAGE_BUDGET_KEY
    from marketplace.page_cache import address_budget_key

    discovery.catalog_changed()
    # The per-process labels (theme and licence ids, publishers) are of an earlier test's rows: a flush after a
    # transactional test and the reference data loaded again give the same codes new ids.
    discovery.forget_reference_labels()
    cache.delete(POLICY_INDEX_KEY)  # the policy versions of this test's database, not an earlier one's
    # The page cache's byte budgets (marketplace.page_cache.within_budget) of the window: the whole and the loopback
    # client's share, which every test client and live server is (earlier tests' pages are not this test's).
    cache.delete_many([PAGE_BUDGET_KEY, address_budget_key("127.0.0.1")])
    # The lexeme counts (catalog.lexemes) are of the database they were made of: none carried into a test, and none
    # asked for (a worker's count landing in the middle of a test would change which statements its searches run);
    # tests/catalog/test_lexeme_counts.py makes its own.
    lexemes.drop_counts(ask_none_for=3600)
    yield
    cache.delete(POLICY_INDEX_KEY)


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


@pytest.fixture
def api():
    """A DRF test client for /api/ (JSON by default); `api.with_key(key)` sends an API key."""
    from rest_framework.test import APIClient

    class Api(APIClient):
        def with_key(self, key, keyword="Token"):
            self.credentials(HTTP_AUTHORIZATION=f"{keyword} {key}")
            return self

    return Api(enforce_csrf_checks=True)


@pytest.fixture
def make_key():
    """Make an API key through the service: make_key(user, scopes=("read",), organization=<active>) → key."""
    from accounts.services import api_token_create

    def _make(user, scopes=("read",), organization="active", name="test key", days=None):
        org = user.active_organization if organization == "active" else organization
        _token, key = api_token_create(
            actor=user, organization=org, name=name, scopes=list(scopes), expires_in_days=days
        )
        return key

    return _make
