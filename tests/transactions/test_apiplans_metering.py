"""Metering of the data API (issue 16): quotas counted atomically in real Redis, headers, 429 + Retry-After, the
metered plan's cap, and the usage counters persisted to PostgreSQL exactly once."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import RequestFactory
from django.utils import translation

from catalog.models import Offer
from transactions.apiplans import services as plan_services
from transactions.apiplans import usage
from transactions.apiplans.models import ApiPlan, ApiUsage, ApiUsageFlush
from transactions.dataapi import metering
from transactions.dataapi.access import data_access

from .conftest import offer_of
from .test_apiplans_plans import API_OFFERS, take


@pytest.fixture(autouse=True)
def _clean_metering_keys():
    """The quota and usage keys of earlier tests (ids repeat between test databases) are removed."""
    r = metering.client()

    def clean():
        for key in r.scan_iter("dapi:*", count=1000):
            r.delete(key)

    clean()
    yield
    clean()


@pytest.fixture
def api_dataset(publish):
    return publish(offers=API_OFFERS)


def _request(ip="198.51.100.7"):
    return RequestFactory().get("/api/v1/data/x/latest/t", REMOTE_ADDR=ip)


def _dev_access(buyer, dataset, quota=1000):
    offer = offer_of(dataset, Offer.Kind.API_DEV)
    Offer.objects.filter(pk=offer.pk).update(daily_quota=quota)
    offer.refresh_from_db()
    take(buyer, offer)
    return data_access(user=buyer, organization=buyer.active_organization, dataset=dataset, version=None)


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_clients_never_get_more_than_the_quota_through(buyer, api_dataset):
    access = _dev_access(buyer, api_dataset, quota=1000)
    assert access.plan is not None and access.plan.daily_quota == 1000
    admitted, refused = [], []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def client_calls(_n):
        start.wait()
        for _ in range(30):  # 50 × 30 = 1,500 attempts at a quota of 1,000
            try:
                grant = metering.admit(request=_request(), access=access, dataset=api_dataset)
            except metering.RateLimited as exc:
                with lock:
                    refused.append(exc)
            else:
                with lock:
                    admitted.append(grant)

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(client_calls, range(50)))
    assert len(admitted) == 1000
    assert len(refused) == 500
    # Every remaining count from 999 down to 0 was handed out exactly once.
    assert sorted(g.remaining for g in admitted) == list(range(1000))
    assert all(exc.status_code == 429 and exc.code == "quota_exceeded" for exc in refused)
    assert metering.window_used(admitted[0].key) == 1000  # refused calls are not counted


@pytest.mark.django_db(transaction=True)
def test_headers_and_retry_after(buyer, api_dataset):
    access = _dev_access(buyer, api_dataset, quota=2)
    first = metering.admit(request=_request(), access=access, dataset=api_dataset)
    headers = metering.rate_headers(first)
    assert headers["X-RateLimit-Limit"] == "2"
    assert headers["X-RateLimit-Remaining"] == "1"
    reset = int(headers["X-RateLimit-Reset"])
    # The day ends at the next midnight in Korea.
    local = datetime.fromtimestamp(reset, tz=metering.SEOUL)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert 0 < reset - time.time() <= 86400
    second = metering.admit(request=_request(), access=access, dataset=api_dataset)
    assert metering.rate_headers(second)["X-RateLimit-Remaining"] == "0"
    with pytest.raises(metering.RateLimited) as refused:
        metering.admit(request=_request(), access=access, dataset=api_dataset)
    out = refused.value.headers()
    assert out["X-RateLimit-Remaining"] == "0"
    assert 0 < int(out["Retry-After"]) <= 86400
    assert int(out["Retry-After"]) == pytest.approx(reset - time.time(), abs=2)
    with translation.override("ko"):
        assert str(refused.value.message).startswith("1일 호출 한도 2건을 모두 썼습니다.")
    with translation.override("en"):
        assert str(refused.value.message).startswith("The daily quota of 2 calls is used up.")


@pytest.mark.django_db(transaction=True)
def test_default_allowance_per_organization_and_per_ip(settings, buyer, outsider, api_dataset):
    settings.DATA_API_DEFAULT_DAILY_QUOTA = 3
    anonymous = data_access(user=outsider, organization=None, dataset=api_dataset, version=None)
    assert anonymous.plan is None and not anonymous.full
    for _ in range(3):
        metering.admit(request=_request("198.51.100.1"), access=anonymous, dataset=api_dataset)
    with pytest.raises(metering.RateLimited):
        metering.admit(request=_request("198.51.100.1"), access=anonymous, dataset=api_dataset)
    # Another address has its own allowance; so has an organization.
    assert metering.admit(request=_request("198.51.100.2"), access=anonymous, dataset=api_dataset).remaining == 2
    org_access = data_access(user=buyer, organization=buyer.active_organization, dataset=api_dataset, version=None)
    assert org_access.plan is None
    grant = metering.admit(request=_request("198.51.100.1"), access=org_access, dataset=api_dataset)
    assert grant.remaining == 2 and grant.window == "day"


@pytest.mark.django_db(transaction=True)
def test_subscription_rate_limit_per_minute(buyer, api_dataset, eager_celery):
    from .test_apiplans_plans import buy_api_subscription

    plan = buy_api_subscription(buyer, api_dataset)
    ApiPlan.objects.filter(pk=plan.pk).update(rate_limit_per_minute=5)
    access = data_access(user=buyer, organization=buyer.active_organization, dataset=api_dataset, version=None)
    grants = [metering.admit(request=_request(), access=access, dataset=api_dataset) for _ in range(5)]
    assert grants[-1].window == "minute" and grants[-1].remaining == 0
    with pytest.raises(metering.RateLimited) as refused:
        metering.admit(request=_request(), access=access, dataset=api_dataset)
    assert 1 <= refused.value.retry_after <= 60


@pytest.mark.django_db(transaction=True)
def test_metered_cap_refuses_with_a_clear_message_and_the_cap_can_be_raised(buyer, api_dataset):
    offer = offer_of(api_dataset, Offer.Kind.API_METERED)  # 2,000 won per 1,000 calls
    plan = take(buyer, offer, monthly_cap_krw=10)  # 10 won buys 5 calls
    assert plan.monthly_call_cap == 5
    access = data_access(user=buyer, organization=buyer.active_organization, dataset=api_dataset, version=None)
    for _ in range(5):
        metering.admit(request=_request(), access=access, dataset=api_dataset)
    with pytest.raises(metering.RateLimited) as refused:
        metering.admit(request=_request(), access=access, dataset=api_dataset)
    assert refused.value.code == "monthly_cap_reached" and refused.value.status_code == 429
    with translation.override("ko"):
        text = str(refused.value.message)
    assert "월 상한액 10원(호출 5건)에 도달했습니다" in text
    # Raising the cap lets the next call through at once.
    plan_services.api_plan_cap_change(actor=buyer, plan=plan, monthly_cap_krw=20)
    access = data_access(user=buyer, organization=buyer.active_organization, dataset=api_dataset, version=None)
    assert metering.admit(request=_request(), access=access, dataset=api_dataset).remaining == 4


@pytest.mark.django_db(transaction=True)
def test_a_lost_month_counter_starts_again_from_the_persisted_calls(buyer, api_dataset):
    offer = offer_of(api_dataset, Offer.Kind.API_METERED)
    plan = take(buyer, offer, monthly_cap_krw=10)  # 5 calls
    access = data_access(user=buyer, organization=buyer.active_organization, dataset=api_dataset, version=None)
    for _ in range(4):
        grant = metering.admit(request=_request(), access=access, dataset=api_dataset)
        metering.finish(grant, dataset_id=api_dataset.pk, table="t", status=200, nbytes=10)
    usage.usage_flush()
    metering.client().delete(grant.key)  # Redis lost the counter
    assert metering.admit(request=_request(), access=access, dataset=api_dataset).remaining == 0
    with pytest.raises(metering.RateLimited):
        metering.admit(request=_request(), access=access, dataset=api_dataset)
    assert plan.pk


@pytest.mark.django_db(transaction=True)
def test_usage_is_persisted_exactly_once_even_when_two_flushes_run_at_once(buyer, api_dataset):
    access = _dev_access(buyer, api_dataset, quota=100_000)
    for i in range(300):
        grant = metering.admit(request=_request(), access=access, dataset=api_dataset)
        metering.finish(
            grant,
            dataset_id=api_dataset.pk,
            table="t1" if i % 3 else "t2",
            status=404 if i % 10 == 0 else 200,
            nbytes=100,
        )
    results = []
    start = threading.Barrier(4)

    def flush():
        start.wait()
        try:
            results.append(usage.usage_flush())
        finally:
            connection.close()

    threads = [threading.Thread(target=flush) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals = ApiUsage.objects.aggregate(calls=Sum("calls"), errors=Sum("errors"), bytes=Sum("bytes"))
    assert totals == {"calls": 300, "errors": 30, "bytes": 30_000}
    assert sum(r["calls"] for r in results) == 300
    assert dict(ApiUsage.objects.values_list("table", "calls")) == {"t1": 200, "t2": 100}
    assert ApiUsage.objects.get(table="t1").plan_id == access.plan.pk
    # Nothing left to persist; another run adds nothing.
    assert usage.usage_flush() == {"batches": 0, "calls": 0}
    assert not metering.client().exists(metering.USAGE_KEY)
    assert metering.client().scard(metering.PENDING_KEY) == 0


@pytest.mark.django_db(transaction=True)
def test_a_flush_killed_after_commit_or_before_it_neither_loses_nor_doubles(buyer, api_dataset):
    access = _dev_access(buyer, api_dataset, quota=100_000)
    r = metering.client()

    def calls(n):
        for _ in range(n):
            grant = metering.admit(request=_request(), access=access, dataset=api_dataset)
            metering.finish(grant, dataset_id=api_dataset.pk, table="t", status=200, nbytes=1)

    calls(10)
    # Killed after the commit, before the batch was deleted from Redis: rename + persist + flush row, no delete.
    batch = "dapi:usage:batch:killed-after-commit"
    r.eval(usage._ROTATE, 2, metering.USAGE_KEY, metering.PENDING_KEY, batch)
    ApiUsageFlush.objects.create(batch=batch)
    usage._persist(usage._rows(r.hgetall(batch)))
    # Killed before the commit: renamed, nothing persisted.
    calls(7)
    r.eval(usage._ROTATE, 2, metering.USAGE_KEY, metering.PENDING_KEY, "dapi:usage:batch:killed-before-commit")
    calls(5)
    usage.usage_flush()
    assert ApiUsage.objects.aggregate(n=Sum("calls"))["n"] == 22
    assert r.scard(metering.PENDING_KEY) == 0 and not r.exists(batch)


@pytest.mark.django_db
def test_data_access_costs_at_most_two_queries_per_call(buyer, api_dataset, django_assert_max_num_queries):
    take(buyer, offer_of(api_dataset, Offer.Kind.API_DEV))
    organization = buyer.active_organization
    version = api_dataset.versions.get()
    with django_assert_max_num_queries(1):  # the plan holder: one indexed query
        access = data_access(user=buyer, organization=organization, dataset=api_dataset, version=version)
    assert access.plan is not None
    started = time.perf_counter()
    for _ in range(200):
        data_access(user=buyer, organization=organization, dataset=api_dataset, version=version)
    per_call = (time.perf_counter() - started) / 200 * 1000
    print(f"data_access with a plan: {per_call:.2f} ms per call")
