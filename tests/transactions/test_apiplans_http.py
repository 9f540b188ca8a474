"""Quotas over HTTP (issue 16): 50 clients at once call the data API's table endpoint with a key of the `data` scope
under a development plan of 1,000 calls a day; exactly 1,000 get rows, every other call is 429 with Retry-After and
the X-RateLimit headers, and the calls are counted in the usage exactly once. A metered plan's cap refuses with its
message; an entitlement that ends closes the full data on the next call."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import Offer
from tests.api.data_world import publish_sensors
from transactions.apiplans import usage
from transactions.apiplans.models import ApiPlan, ApiUsage
from transactions.models import Entitlement

from .conftest import offer_of
from .test_apiplans_metering import _clean_metering_keys  # noqa: F401  (autouse: fresh Redis keys)
from .test_apiplans_plans import COST, take

OFFERS = (
    {"kind": "free"},
    {"kind": "api_dev", "daily_quota": 1000},
    {"kind": "api_metered", "price_per_1000_krw": 1000, "cost_basis": COST},
)


@pytest.fixture
def sensors(official, admin_user, reference_data):
    return publish_sensors(official, admin_user, offers=OFFERS, geojson=False)


def rows_url(version):
    return reverse("api-data-rows", args=(version.dataset.slug, "latest", "sensors"))


@pytest.mark.django_db(transaction=True)
def test_fifty_clients_over_http_never_get_more_than_the_quota(sensors, buyer, make_key):
    take(buyer, offer_of(sensors.dataset, Offer.Kind.API_DEV))
    key = make_key(buyer, scopes=("data",))
    url = rows_url(sensors) + "?limit=1"
    statuses, refused = [], []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def client_calls(_n):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        start.wait()
        try:
            for _ in range(22):  # 50 × 22 = 1,100 calls at a quota of 1,000
                response = api.get(url)
                with lock:
                    statuses.append(response.status_code)
                    if response.status_code == 429:
                        refused.append((response, time.time()))
                    elif response.status_code == 200:
                        assert response["X-RateLimit-Limit"] == "1000"
        finally:
            connection.close()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(client_calls, range(50)))
    elapsed = time.monotonic() - started
    assert statuses.count(200) == 1000, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(429) == 100
    sample, answered_at = refused[0]
    assert sample["X-RateLimit-Remaining"] == "0" and sample["X-RateLimit-Limit"] == "1000"
    assert 0 < int(sample["Retry-After"]) <= 86400
    # Reset is when the refusal was answered plus Retry-After (not the end of the run: on a loaded CI machine
    # the 1,100 calls take long enough for that to drift past the tolerance).
    assert int(sample["X-RateLimit-Reset"]) == pytest.approx(answered_at + int(sample["Retry-After"]), abs=3)
    error = sample.json()["error"]
    assert error["code"] == "quota_exceeded" and "1일 호출 한도 1,000건" in error["message_ko"]
    assert "daily quota of 1,000 calls" in error["message_en"]
    # Counted once in the usage (the refused calls are not calls made).
    usage.usage_flush()
    row = ApiUsage.objects.get()
    assert (row.calls, row.errors, row.table) == (1000, 0, "sensors")
    assert row.bytes > 0 and row.plan.kind == "api_dev"
    print(f"1,100 calls by 50 clients in {elapsed:.1f} s")


@pytest.mark.django_db(transaction=True)
def test_the_metered_cap_refuses_over_http_and_an_ended_plan_reads_the_sample(sensors, buyer, make_key, api):
    plan = take(buyer, offer_of(sensors.dataset, Offer.Kind.API_METERED), monthly_cap_krw=3)  # 3 calls
    api.credentials(HTTP_AUTHORIZATION=f"Token {make_key(buyer, scopes=('data',))}")
    url = rows_url(sensors) + "?limit=100"
    for remaining in ("2", "1", "0"):
        ok = api.get(url)
        assert ok.status_code == 200 and ok["X-RateLimit-Remaining"] == remaining
        assert ok.json()["count"] == 60  # the full data, not the sample
    refused = api.get(url)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "monthly_cap_reached"
    assert "월 상한액 3원" in refused.json()["error"]["message_ko"]
    # The plan's entitlement ends (a refund): the next call reads the sample only (default allowance).
    Entitlement.objects.filter(pk=plan.entitlement_id).update(revoked_at=plan.created_at)
    after = api.get(url)
    assert after.status_code == 403, after.content[:300]
    assert ApiPlan.objects.get(pk=plan.pk).state == "active"  # the beat ends it later; access ended at once
