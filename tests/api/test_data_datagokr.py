"""The data.go.kr flavour of the table API (…/<table>/datagokr): serviceKey in the URL (encoded once or twice)
works the moment the key is made, pageNo/numOfRows page the table in its order, type=json|xml answers the portal's
envelope, and each refusal carries the portal's result code with the reason in Korean and English."""

import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
from django.urls import reverse

from tests.api.data_world import SAMPLE_ROWS, fresh_quotas, publish_sensors, sensor_rows  # noqa: F401 (a fixture)
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, place_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_quotas")]


@pytest.fixture
def sensors(official, admin_user, reference_data):
    return publish_sensors(official, admin_user, geojson=False)


@pytest.fixture
def key(sensors, buyer, make_key):
    place_order(buyer, offer_of(sensors.dataset, "free"), method="free")
    return make_key(buyer, scopes=("read", "data"))


def url(version):
    return reverse("api-data-datagokr", args=(version.dataset.slug, "latest", "sensors"))


def test_a_new_key_works_at_once_as_service_key_in_json(client, sensors, key):
    response = client.get(url(sensors), {"serviceKey": key, "pageNo": "2", "numOfRows": "25", "type": "json"})
    assert response.status_code == 200, response.content.decode()
    body = response.json()["response"]
    assert body["header"] == {"resultCode": "00", "resultMsg": "NORMAL_SERVICE"}
    assert body["body"]["totalCount"] == 60 and body["body"]["pageNo"] == 2 and body["body"]["numOfRows"] == 25
    items = body["body"]["items"]["item"]
    assert [i["note"] for i in items] == [r["note"] for r in sensor_rows()[25:50]]
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response[name]


def test_xml_is_the_default_and_a_twice_encoded_key_is_accepted(client, sensors, key):
    encoded = quote(quote(key, safe=""), safe="")  # what a client that encodes the encoded key sends
    response = client.get(f"{url(sensors)}?serviceKey={encoded}&numOfRows=3")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.findtext("header/resultCode") == "00"
    assert root.findtext("body/totalCount") == "60"
    items = root.findall("body/items/item")
    assert [i.findtext("station") for i in items] == ["ST00", "ST01", "ST02"]
    assert items[2].findtext("note") == '=HYPERLINK("http://evil.example")'


def test_past_the_last_page_is_nodata(client, sensors, key):
    response = client.get(url(sensors), {"serviceKey": key, "pageNo": "7", "numOfRows": "10", "type": "json"})
    body = response.json()["response"]
    assert response.status_code == 200 and body["header"]["resultCode"] == "03"
    assert body["body"]["items"]["item"] == []


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 401, "11"),  # no serviceKey for the full data
        ({"serviceKey": "wrong-key"}, 401, "30"),
        ({"serviceKey": "KEY", "numOfRows": "0"}, 400, "10"),
        ({"serviceKey": "KEY", "pageNo": "x"}, 400, "10"),
    ],
)
def test_refusals_carry_the_portals_result_codes(client, sensors, key, params, status, code):
    params = {k: (key if v == "KEY" else v) for k, v in params.items()}
    response = client.get(url(sensors), {**params, "type": "json"})
    assert response.status_code == status
    header = response.json()["response"]["header"]
    assert header["resultCode"] == code
    assert header["resultDetailKo"] and header["resultDetailEn"]


def test_another_organization_is_denied_and_the_sample_needs_no_key(client, sensors, make_key):
    other = make_user("other@company2.test")
    make_org(other, name_ko="(주)다른회사", name_en="Other Co", kind="consumer", brn="2208139938")
    response = client.get(url(sensors), {"serviceKey": make_key(other, scopes=("read", "data")), "type": "json"})
    assert response.status_code == 403
    assert response.json()["response"]["header"]["resultCode"] == "20"
    response = client.get(url(sensors), {"sample": "1", "numOfRows": "100", "type": "json"})
    assert response.status_code == 200
    assert response.json()["response"]["body"]["totalCount"] == SAMPLE_ROWS


def test_an_unknown_table_is_no_openapi_service(client, sensors):
    response = client.get(
        reverse("api-data-datagokr", args=(sensors.dataset.slug, "latest", "nosuch")), {"type": "json"}
    )
    assert response.status_code == 404
    assert response.json()["response"]["header"]["resultCode"] == "12"


def test_xml_stays_well_formed_with_control_characters_in_a_value():
    """A cell with a control character (Excel's vertical tab, a NUL) made the page not XML at all: the client's
    parser refused every row of it. Such characters become U+FFFD."""
    from transactions.dataapi import datagokr

    body = datagokr.envelope("ok", items=[{"비고": "줄\x0b바꿈\x00끝", "값": 1}], page_no=1, num_of_rows=10, total=1)
    root = ET.fromstring(datagokr.to_xml(body).encode("utf-8"))
    assert root.find("body/items/item/비고").text == "줄\ufffd바꿈\ufffd끝"
