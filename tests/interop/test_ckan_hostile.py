"""CKAN Action API under hostile or malformed input (review rev1): every request is answered with CKAN's error shapes
(never a 500), JSONP cannot be made to serve a script of the caller's choosing, and search errors say what is wrong
in English in `message` and in Korean in `message_ko`, whatever the request's language."""

import json
import re

import pytest

from tests.interop.test_ckan_api import build_world, call

pytestmark = pytest.mark.django_db
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture
def world(official, admin_user, reference_data):
    return build_world(official, admin_user)


def post(client, action_name, body: str):
    return client.post(f"/api/3/action/{action_name}", body, content_type="application/json")


@pytest.mark.parametrize(
    ("action_name", "params"),
    [
        ("package_search", {"start": "100000000000000000000"}),  # beyond PostgreSQL's bigint OFFSET
        ("package_list", {"offset": "100000000000000000000"}),
        ("package_list", {"limit": "100000000000000000000"}),
        ("current_package_list_with_resources", {"offset": "100000000000000000000"}),
        ("current_package_list_with_resources", {"page": "100000000000000000000", "limit": "5"}),
        ("organization_list", {"sort": " "}),
        ("package_show", {"id": "air\x00quality"}),
        ("organization_show", {"id": "\x00"}),
        ("group_show", {"id": "\x00"}),
        ("package_search", {"fq": "name:\x00a"}),
    ],
)
def test_odd_get_parameters_get_ckan_errors_or_results_never_a_500(client, world, action_name, params):
    response = client.get(f"/api/3/action/{action_name}", params)
    assert response.status_code in (200, 400, 404, 409), response.content[:300]
    body = response.json()
    assert isinstance(body, str) or body["success"] is (response.status_code == 200)


@pytest.mark.parametrize(
    ("action_name", "body"),
    [
        ("package_search", '{"fl": 5}'),
        ("package_search", '{"fl": {"name": 1}}'),
        ("organization_list", '{"sort": 5}'),
        ("group_list", '{"sort": ["name"]}'),
        ("package_search", '{"q": "\\ud800"}'),  # a lone surrogate: valid JSON, not text
        ("package_show", '{"id": "\\ud800"}'),
        ("package_search", '{"\\ud800": "x"}'),
    ],
)
def test_odd_json_bodies_get_ckan_errors_never_a_500(client, world, action_name, body):
    response = post(client, action_name, body)
    assert response.status_code in (400, 404, 409), response.content[:300]
    answer = response.json()
    assert isinstance(answer, str) or (answer["success"] is False and "__type" in answer["error"])


def test_a_huge_start_is_an_empty_page_with_the_count(client, world):
    body = call(client, "package_search", start=str(10**20), rows="5")
    assert body["result"]["results"] == [] and body["result"]["count"] == len(world["public"])


def test_jsonp_callbacks_are_javascript_names_only(client, world):
    ok = client.get("/api/3/action/status_show", {"callback": "jQuery123_456.cb"})
    assert ok.status_code == 200 and ok.content.decode().startswith("jQuery123_456.cb({")
    for callback in ("alert(document.domain)//", "x;fetch('//evil.example')", "a b", "</script>", "1abc"):
        response = client.get("/api/3/action/status_show", {"callback": callback})
        # Never a script that runs what the caller wrote (CSP's script-src 'self' trusts this site's scripts).
        assert not response["Content-Type"].startswith("application/javascript"), callback
        assert callback not in response.content.decode(), callback


@pytest.mark.parametrize("accept_language", ["ko", "en"])
def test_search_errors_are_english_in_message_and_korean_in_message_ko(client, world, accept_language):
    values = " OR ".join(f"t{i}" for i in range(25))  # more values than a filter takes
    response = client.get(
        "/api/3/action/package_search", {"fq": f"tags:({values})"}, HTTP_ACCEPT_LANGUAGE=accept_language
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["__type"] == "Search Error"
    assert not HANGUL.search(error["message"]), error["message"]
    assert "20" in error["message"] and "20" in error["message_ko"]
    assert not re.search(r"[A-Za-z]{4,}", error["message_ko"].replace("tag", "")), error["message_ko"]


def test_a_null_character_is_a_validation_error_naming_the_field(client, world):
    body = call(client, "package_show", status=409, id="air\x00")
    assert body["error"]["__type"] == "Validation Error" and body["error"]["id"]
    body = json.loads(post(client, "package_search", '{"q": "\\ud800"}').content)
    assert body["error"]["__type"] == "Validation Error" and body["error"]["q"]


@pytest.mark.parametrize(
    "q",
    [
        "NOT tags:미세먼지",  # answered with the datasets tagged 미세먼지: NOT was dropped
        "tags:주차 AND NOT organization:x",
        "미세먼지 -대기",  # "-대기" was searched for as the word 대기
        "!미세먼지",
        "title:미세먼지 OR title:주차",  # answered with the datasets holding both words
        "미세먼지 OR 주차",
        "text:(미세먼지 OR 주차)",
    ],
)
def test_negation_and_or_between_words_are_refused_not_answered_wrongly(client, world, q):
    error = call(client, "package_search", status=409, q=q)["error"]
    assert error["__type"] == "Search Error" and error["message_ko"]


def test_words_with_hyphens_and_and_still_search(client, world):
    assert result_names(client, q="미세먼지 AND 대기질") == result_names(client, q="미세먼지 대기질")
    call(client, "package_search", q="PM-10 미세먼지")  # a hyphen inside a word is no negation


def result_names(client, **data):
    return [p["name"] for p in call(client, "package_search", **data)["result"]["results"]]


def test_a_facet_field_named_many_times_is_counted_once(client, world, django_assert_max_num_queries):
    once = call(client, "package_search", "POST", rows=0, **{"facet.field": ["organization", "groups", "license_id"]})
    with django_assert_max_num_queries(40):  # 3,000 copies cost 3,000 label queries (9,000 fields: 3.4 s) before
        many = call(
            client, "package_search", "POST", rows=0, **{"facet.field": ["organization", "groups", "license_id"] * 1000}
        )
    assert many["result"]["facets"] == once["result"]["facets"]
    assert many["result"]["search_facets"] == once["result"]["search_facets"]
