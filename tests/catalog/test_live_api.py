"""The provider's live API: make a table live, push rows with an Idempotency-Key (201, then 200 for the same batch,
409 for another body), a bad row answers 400 with the row number, the column and the reason in Korean and English,
a too-large body 413, a paused table 409; keys need the publish scope."""

import json

import pytest

from catalog.live.models import LiveRow
from tests.catalog.live_fixtures import SUBSCRIPTION, row
from tests.transactions.conftest import publish_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(official, admin_user, reference_data):
    return publish_dataset(official, admin_user, offers=(SUBSCRIPTION,))


def _post(api, url, payload, key="k1"):
    return api.post(url, data=json.dumps(payload), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def test_make_live_and_push_rows_by_api(api, official, dataset, make_key):
    api.with_key(make_key(official, scopes=("publish",)))
    datafile = dataset.versions.get(state="published").files.get()
    made = api.post(
        f"/api/v1/provider/datasets/{dataset.slug}/live/", {"file": datafile.pk, "cadence": "daily"}, format="json"
    )
    assert made.status_code == 201, made.content
    rows_url = made.json()["rows_url"]
    assert rows_url.endswith(f"/api/v1/provider/datasets/{dataset.slug}/live/daegijil/rows")

    first = _post(api, rows_url, {"rows": [row(pm=1), row(pm=2)]})
    assert (
        first.status_code == 201 and first.json()["batch"]["first_seq"] == 1 and first.json()["batch"]["last_seq"] == 2
    )
    again = _post(api, rows_url, {"rows": [row(pm=1), row(pm=2)]})
    assert again.status_code == 200 and again.json()["replayed"] is True
    other = _post(api, rows_url, {"rows": [row(pm=5)]})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert LiveRow.objects.count() == 2

    bad = _post(api, rows_url, {"rows": [row(), row(), {**row(), "미세먼지": "abc"}]}, key="k2")
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert (error["row"], error["column"]) == (3, "미세먼지")
    assert "3번째 행" in error["message_ko"] and "정수가 아" in error["message_ko"]
    assert "Row 3" in error["message_en"] and "not a whole number" in error["message_en"]
    assert LiveRow.objects.count() == 2

    missing_key = api.post(rows_url, data=json.dumps({"rows": [row()]}), content_type="application/json")
    assert missing_key.status_code == 400 and missing_key.json()["error"]["code"] == "idempotency_key_missing"

    detail = api.get(f"/api/v1/provider/datasets/{dataset.slug}/live/daegijil")
    assert detail.json()["row_count"] == 2 and [r["seq"] for r in detail.json()["last_rows"]] == [2, 1]

    assert api.post(f"/api/v1/provider/datasets/{dataset.slug}/live/daegijil/pause").status_code == 200
    paused = _post(api, rows_url, {"rows": [row()]}, key="k3")
    assert paused.status_code == 409 and paused.json()["error"]["code"] == "live_paused"
    assert api.post(f"/api/v1/provider/datasets/{dataset.slug}/live/daegijil/resume").status_code == 200
    assert _post(api, rows_url, {"rows": [row()]}, key="k3").status_code == 201


def test_body_and_batch_caps(api, official, dataset, make_key, settings):
    from catalog.live import services as live

    table = live.live_table_enable(
        actor=official, dataset=dataset, datafile=dataset.versions.get(state="published").files.get()
    )
    api.with_key(make_key(official, scopes=("publish",)))
    url = f"/api/v1/provider/datasets/{dataset.slug}/live/{table.name}/rows"
    settings.LIVE_BODY_MAX_BYTES = 1000
    big = _post(api, url, {"rows": [row()] * 30})
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    settings.LIVE_BODY_MAX_BYTES = 10**6
    settings.LIVE_BATCH_MAX_ROWS = 10
    many = _post(api, url, {"rows": [row()] * 11})
    assert many.status_code == 400 and many.json()["error"]["code"] == "batch_too_large"
    assert not LiveRow.objects.exists()


def test_a_read_key_or_another_organization_cannot_push(api, official, buyer, dataset, make_key):
    from catalog.live import services as live

    table = live.live_table_enable(
        actor=official, dataset=dataset, datafile=dataset.versions.get(state="published").files.get()
    )
    url = f"/api/v1/provider/datasets/{dataset.slug}/live/{table.name}/rows"
    api.with_key(make_key(official, scopes=("read",)))
    assert _post(api, url, {"rows": [row()]}).status_code == 403
    api.with_key(make_key(buyer, scopes=("buy",)))
    assert _post(api, url, {"rows": [row()]}).status_code == 403
    assert not LiveRow.objects.exists()


def test_the_provider_page_makes_a_table_live_and_pauses_it(login, official, buyer, dataset):
    from catalog.live.models import LiveTable

    version = dataset.versions.get(state="published")
    datafile = version.files.get()
    client = login(official)
    page = client.get(f"/catalog/provider/versions/{version.pk}/")
    assert "live-enable-form" in page.content.decode()
    answer = client.post(f"/catalog/provider/versions/{version.pk}/live/", {"file": datafile.pk, "cadence": "weekly"})
    assert answer.status_code == 302
    table = LiveTable.objects.get(dataset=dataset)
    assert (table.name, table.cadence, table.state) == ("daegijil", "weekly", "active")
    page = client.get(f"/catalog/provider/versions/{version.pk}/").content.decode()
    assert "Idempotency-Key" in page and f"/api/v1/provider/datasets/{dataset.slug}/live/daegijil/rows" in page
    assert "live-enable-form" not in page  # the only table is live already
    client.post(f"/catalog/provider/versions/{version.pk}/live/daegijil/state/", {"action": "pause"})
    assert LiveTable.objects.get(pk=table.pk).state == "paused"
    client.post(f"/catalog/provider/versions/{version.pk}/live/daegijil/state/", {"action": "resume"})
    assert LiveTable.objects.get(pk=table.pk).state == "active"
    # Another organization's member cannot.
    other = login(buyer)
    assert other.post(
        f"/catalog/provider/versions/{version.pk}/live/daegijil/state/", {"action": "pause"}
    ).status_code in (
        403,
        404,
    )
    assert LiveTable.objects.get(pk=table.pk).state == "active"


def test_the_dataset_page_shows_freshness_beside_the_cadence(client, official, dataset, settings):
    import datetime as dt

    from django.utils import timezone

    from catalog.live import services as live

    table = live.live_table_enable(
        actor=official, dataset=dataset, datafile=dataset.versions.get(state="published").files.get()
    )
    html = client.get(f"/catalog/datasets/{dataset.slug}/").content.decode()
    assert "실시간 데이터" in html and "아직 행이 없음" in html
    live.live_rows_append(actor=official, table=table, idempotency_key="k", rows=[row()])
    LiveTable = type(table)
    LiveTable.objects.filter(pk=table.pk).update(last_row_at=timezone.now() - dt.timedelta(minutes=2, seconds=5))
    html = client.get(f"/catalog/datasets/{dataset.slug}/").content.decode()
    assert "마지막 행 2분 전" in html and "공지 주기: 일간" in html
    assert "live-rows-daegijil" not in html  # rows are for signed-in buyers with access (the stream decides)
