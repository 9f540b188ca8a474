"""Shared fixtures of the purchase tests: published datasets with real (tiny) checked files, offers
made through the real services, and a helper that buys through cart and checkout.

Other test modules of transactions may ADD fixtures here (small edits)."""

import io
import time
import uuid

import pytest

from catalog import services as catalog_services
from catalog.models import DataFile, Licence, Theme
from transactions import selectors
from transactions.services import cart as cart_services
from transactions.services import orders as order_services

CSV = "측정소명,측정일시,미세먼지\n" + "".join(f"정왕동,2024-06-01 {h:02d}:00,{20 + h}\n" for h in range(24))


def publish_dataset(
    official,
    admin,
    *,
    title_ko="시흥시 대기질 측정 자료",
    title_en="Siheung air quality",
    data_kind="public",
    licence="kogl-1",
    offers=({"kind": "free"},),
    csv_text=CSV,
):
    """A dataset of the official's organization, published through the real services: described, a CSV
    uploaded to private storage and checked in-process, offers made, submitted and approved."""
    from catalog.tasks import datafile_check_task

    version = catalog_services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko=title_ko,
        title_en=title_en,
        description_ko="정왕동 측정소의 시간별 미세먼지 자료입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email=official.email,
        update_cadence="daily",
        data_kind=data_kind,
        licence=Licence.objects.get(code=licence),
    )
    data = csv_text.encode("utf-8")
    upload = catalog_services.upload_create(actor=official, version=version, filename="대기질.csv", length=len(data))
    catalog_services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(data))
    for datafile in DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING):
        datafile_check_task.apply(args=[datafile.pk])
    # With a real worker (transactional tests) the worker may have claimed the check first: wait for it.
    for _ in range(300):
        if all(f.is_checked for f in DataFile.objects.filter(version=version)):
            break
        time.sleep(0.1)
    for offer in offers:
        catalog_services.offer_create(actor=official, dataset=version.dataset, **offer)
    catalog_services.version_submit(actor=official, version=version, pii_justification="-")
    catalog_services.version_approve(actor=admin, version=version)
    version.refresh_from_db()
    return version.dataset


@pytest.fixture
def publish(official, admin_user, reference_data):
    """publish(**kwargs) → a published dataset of the official's department (see publish_dataset)."""

    def _publish(**kwargs):
        return publish_dataset(official, admin_user, **kwargs)

    return _publish


@pytest.fixture
def free_dataset(publish):
    """공공데이터 under 공공누리 제1유형, offered free and as a cost-recovery one-off (30,000 won + VAT)."""
    return publish(
        offers=({"kind": "free"}, {"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용 (건당)"})
    )


@pytest.fixture
def private_dataset(publish):
    """민간·가공 데이터 under CC BY-NC: a one-off for 300,000 won and a 90-day subscription, 제공형 contract."""
    return publish(
        title_ko="스마트폴 환경 센서(가공)",
        title_en="Smart pole sensors (processed)",
        data_kind="private",
        licence="cc-by-nc-4.0",
        offers=(
            {"kind": "one_off", "price_krw": 300_000, "contract_type": "provision"},
            {"kind": "subscription", "price_krw": 900_000, "subscription_days": 90, "contract_type": "provision"},
        ),
    )


def offer_of(dataset, kind):
    return dataset.offers.filter(kind=kind, active=True, buyer__isnull=True).get()


def place_order(user, *offers, method="card", ip="203.0.113.7", token=None, billing=None):
    """Buy through the real services: the offers go into the user's cart, then checkout with every
    licence accepted as shown. Returns the order."""
    organization = user.active_organization
    for offer in offers:
        cart_services.cart_add(actor=user, organization=organization, offer=offer)
    lines = selectors.cart_lines(selectors.cart_get(user, organization), organization)
    return order_services.checkout_place(
        actor=user,
        organization=organization,
        checkout_token=token or uuid.uuid4(),
        method=method,
        billing=billing or order_services.billing_defaults(organization),
        accepted={line.offer.pk: line.licence_sha256 for line in lines},
        expected_total_krw=selectors.lines_total(lines).total_krw,
        ip=ip,
    )


@pytest.fixture
def buy():
    return place_order


@pytest.fixture
def eager_celery():
    """Tasks queued inside the test run in-process (e.g. to read an e-mail sent after commit)."""
    from marketplace.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def parked_package_builds():
    """Tasks enqueued during the test go to a queue no worker reads, dropped afterwards: a session worker
    started by an earlier test cannot take them (e.g. build a package the test means to build itself)."""
    import uuid

    from marketplace.celery import app

    previous, parked = app.conf.task_default_queue, f"parked-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = parked
    yield
    app.conf.task_default_queue = previous
    # Through the broker connection: its URL may be kombu's redis+socket:// (the embedded Redis of `make test`),
    # which redis-py's from_url does not read.
    with app.connection_for_write() as connection:
        connection.default_channel.client.delete(parked, f"_kombu.binding.{parked}")


def wait_for_download_records(timeout: float = 10.0) -> None:
    """A live server records the end of a streamed download just after the last byte left (the response's close):
    the client may be done first. Wait for it, or the test database's flush would meet that write (a deadlock)."""
    from transactions.models import DownloadEvent

    deadline = time.monotonic() + timeout
    while DownloadEvent.objects.filter(completed=False).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
