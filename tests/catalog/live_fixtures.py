"""Shared fixtures of the live-table tests: a published air-quality dataset with a live table made from its CSV."""

import pytest

from catalog.live import services as live
from tests.transactions.conftest import publish_dataset

SUBSCRIPTION = {
    "kind": "subscription",
    "price_krw": 90_000,
    "subscription_days": 30,
    "cost_basis": "월별 자료 가공·전송 비용",
}


def make_live_table(official, admin, *, offers=(SUBSCRIPTION,)):
    dataset = publish_dataset(official, admin, offers=offers)
    version = dataset.versions.get(state="published")
    datafile = version.files.get()
    return live.live_table_enable(actor=official, dataset=dataset, datafile=datafile, cadence="daily")


def row(station="정왕동", when="2026-12-05T14:00:00+09:00", pm=31):
    return {"측정소명": station, "측정일시": when, "미세먼지": pm}


@pytest.fixture
def live_table(official, admin_user, reference_data):
    return make_live_table(official, admin_user)
