"""The provider API (/api/v1/provider/) and the tus endpoint with API keys: a department publishes by program
through the same services as its officials' pages; other organizations' ids are not found; scopes, roles and
verification are enforced; refusals come in the one error shape, in Korean and English."""

import base64
import hashlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Membership, Organization
from catalog import services
from catalog.models import DataFile, Dataset, DatasetVersion, Licence, Offer, Upload
from core.models import AuditEvent
from tests.conftest import make_org, make_user

S = DatasetVersion.State
API = "/api/v1/provider"
TUS = {"Tus-Resumable": "1.0.0"}

METADATA = {
    "title_ko": "시흥시 대기질 측정 자료 (API)",
    "title_en": "Siheung air quality (API)",
    "description_ko": "정왕동 측정소의 시간별 미세먼지 자료입니다.",
    "theme": "environment",
    "tags": ["미세먼지", "대기질"],
    "contact_name": "정민준",
    "contact_phone": "031-310-2114",
    "contact_email": "official@siheung.test",
    "update_cadence": "monthly",
    "data_kind": "public",
}

CSV_ROWS = ["측정소명,측정일시,미세먼지,연락처"] + [
    f"정왕동,2024-01-{day:02d} 10:00,{20 + day},{'010-1234-5678' if day == 3 else ''}" for day in range(1, 29)
]
CP949_CSV = ("\r\n".join(CSV_ROWS) + "\r\n").encode("cp949")
SCHEMA = {"fields": [{"name": "측정소명", "type": "string"}, {"name": "등급", "type": "integer"}]}


def _error(response, status):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status
    return error


def _bilingual(error):
    assert error["message_ko"] and error["message_en"] and error["message_ko"] != error["message_en"], error
    return error


def _file(version, name="대기질.csv", *, state="passed", schema=SCHEMA, pii=()):
    """A checked file row, written directly (the worker tests run real checks)."""
    return DataFile.objects.create(
        version=version,
        file=f"datasets/test/{name}",
        original_name=name,
        format="csv",
        size=10,
        sha256="a" * 64,
        check_state=state,
        row_count=100,
        table_schema=schema,
        pii_findings=list(pii),
    )


def _ready(version):
    _file(version)
    Offer.objects.get_or_create(dataset=version.dataset, kind="free")
    version.licence = Licence.objects.get(code="kogl-1")
    version.save()
    services._refresh_version_state(version)
    version.refresh_from_db()
    return version


def _published(official, admin_user, version):
    _ready(version)
    services.version_submit(actor=official, version=version)
    return services.version_approve(actor=admin_user, version=version)


@pytest.fixture(scope="module")
def openapi():
    """The OpenAPI document as /api/schema/ serves it (JSON)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def _conforms(openapi, response, path, method):
    """The response body is exactly what the schema says for its path, method and status (OpenAPI 3.1 is JSON
    Schema 2020-12)."""
    from jsonschema import Draft202012Validator

    content = openapi["paths"][path][method]["responses"][str(response.status_code)]["content"]
    schema = {**content["application/json"]["schema"], "components": openapi["components"]}
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(response.json())
    ]
    assert not errors, errors


def _wait_checked(api, url, timeout=60):
    """Poll the file endpoint as a program would until its checks finish."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(url)
        assert response.status_code == 200, response.content
        check = response.json()["check"]
        assert 0 <= check["progress"] <= 100
        if check["finished"]:
            return response.json()
        time.sleep(0.2)
    raise AssertionError(f"checks did not finish: {response.json()['check']}")


@pytest.fixture
def other_provider(db):
    """Another verified city department with a draft of its own."""
    owner = make_user("other@siheung.test", name="다른과")
    make_org(owner, name_ko="교통정책과", name_en="Transport Policy Division", kind="provider", brn="1348310016")
    return owner


@pytest.fixture
def other_draft(other_provider, reference_data):
    from catalog.models import Theme

    return services.dataset_create(
        actor=other_provider,
        organization=other_provider.active_organization,
        title_ko="교통량 비밀 자료",
        description_ko="다른 기관의 초안",
        theme=Theme.objects.get(code="transport"),
        contact_name="다른과",
        contact_phone="031-310-2000",
        contact_email="other@siheung.test",
        update_cadence="monthly",
        data_kind="public",
    )


# --- the journey ---------------------------------------------------------------------------------------------


def test_a_department_publishes_a_cp949_file_by_api(celery_worker, api, official, reference_data, make_key, openapi):
    api.with_key(make_key(official, scopes=["publish"]))

    created = api.post(f"{API}/datasets/", METADATA, format="json")
    assert created.status_code == 201, created.content
    dataset = created.json()
    version_id = dataset["open_version"]["id"]
    assert dataset["open_version"]["state"] == "draft" and dataset["published_version"] is None
    assert created["Location"] == f"{API}/versions/{version_id}/"
    _conforms(openapi, created, "/api/v1/provider/datasets/", "post")

    upload = api.post(
        f"{API}/versions/{version_id}/files/",
        {"file": SimpleUploadedFile("대기질_2024.csv", CP949_CSV, content_type="text/csv")},
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    file_out = upload.json()
    assert file_out["name"] == "대기질_2024.csv" and file_out["size"] == len(CP949_CSV)
    assert file_out["sha256"] == hashlib.sha256(CP949_CSV).hexdigest()
    assert file_out["check"]["state"] in ("pending", "running")
    _conforms(openapi, upload, "/api/v1/provider/versions/{id}/files/", "post")
    assert api.get(f"{API}/versions/{version_id}/").json()["state"] == "checking"

    checked = _wait_checked(api, upload["Location"])
    _conforms(openapi, api.get(upload["Location"]), "/api/v1/provider/versions/{id}/files/{file_id}/", "get")
    assert checked["check"]["state"] == "warning"  # a mobile number: submitting needs a justification
    assert checked["encoding"] == "cp949" and checked["row_count"] == 28 and checked["column_count"] == 4
    assert {f["name"] for f in checked["table_schema"]["fields"]} == {"측정소명", "측정일시", "미세먼지", "연락처"}
    assert [row[3] for row in checked["preview"]["rows"] if row[3]] == ["010-****-5678"]  # masked as on the page
    assert [(f["kind"], f["column"]) for f in checked["pii_findings"]] == [("mobile_phone", "연락처")]

    version = api.get(f"{API}/versions/{version_id}/")
    _conforms(openapi, version, "/api/v1/provider/versions/{id}/", "get")
    version = version.json()
    assert version["state"] == "ready" and version["needs_pii_justification"] is True
    assert len(version["submission_problems"]) == 3  # justification, offer, licence
    refused = api.post(f"{API}/versions/{version_id}/submit/", {}, format="json")
    error = _bilingual(_error(refused, 400))
    assert error["code"] == "not_submittable" and len(error["problems"]) == 3
    _conforms(openapi, refused, "/api/v1/provider/versions/{id}/submit/", "post")
    assert any("Personal data was found" in p["message_en"] for p in error["problems"])
    assert any("개인정보" in p["message_ko"] for p in error["problems"])

    licence = api.put(f"{API}/versions/{version_id}/licence/", {"licence": "kogl-1"}, format="json")
    assert licence.status_code == 200 and licence.json()["licence"]["code"] == "kogl-1"
    offer = api.post(f"{API}/versions/{version_id}/offers/", {"kind": "free"}, format="json")
    assert offer.status_code == 201, offer.content
    assert offer.json()["rule"] == "공공데이터법" and offer.json()["price_krw"] == 0
    _conforms(openapi, offer, "/api/v1/provider/versions/{id}/offers/", "post")

    submitted = api.post(
        f"{API}/versions/{version_id}/submit/", {"pii_justification": "연락처는 공용 민원 번호입니다."}, format="json"
    )
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["state"] == "submitted" and submitted.json()["submission_problems"] == []
    _conforms(openapi, submitted, "/api/v1/provider/versions/{id}/submit/", "post")
    reviews = api.get(f"{API}/versions/{version_id}/reviews/")
    _conforms(openapi, reviews, "/api/v1/provider/versions/{id}/reviews/", "get")
    reviews = reviews.json()
    assert reviews["count"] == 1
    assert reviews["results"][0] | {"created_at": None} == {
        "id": reviews["results"][0]["id"],
        "version": version_id,
        "action": "submit",
        "reason": "",
        "actor_role": "publisher",
        "actor_name": official.name,
        "pii_justification": "연락처는 공용 민원 번호입니다.",
        "created_at": None,
    }
    listed = api.get(f"{API}/datasets/")
    _conforms(openapi, listed, "/api/v1/provider/datasets/", "get")
    listed = listed.json()
    assert listed["count"] == 1 and listed["results"][0]["open_version"]["state"] == "submitted"
    # Every write of the key is in the audit trail with the key's name.
    for action in ("dataset.created", "offer.created", "version.submit"):
        event = AuditEvent.objects.filter(action=action).latest("id")
        assert event.data["api_token"]["name"] == "test key", action


def test_a_session_publisher_uses_the_api_with_its_csrf_token(api, official, reference_data):
    api.force_login(official)
    assert api.post(f"{API}/datasets/", METADATA, format="json").status_code == 403  # no CSRF token
    api.get("/me/")
    csrf = api.cookies["csrftoken"].value
    created = api.post(f"{API}/datasets/", METADATA, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert created.status_code == 201, created.content
    assert Dataset.objects.get().publisher == official.active_organization


# --- who may publish -------------------------------------------------------------------------------------------


def test_other_organizations_ids_are_not_found(api, official, draft, other_draft, make_key):
    other_file = _file(other_draft, name="비밀.csv")
    other_offer = services.offer_create(actor=other_draft.created_by, dataset=other_draft.dataset, kind="free")
    api.with_key(make_key(official, scopes=["publish"]))
    v, f = other_draft.pk, other_file.pk
    responses = [
        api.get(f"{API}/datasets/{other_draft.dataset.slug}/"),
        api.post(f"{API}/datasets/{other_draft.dataset.slug}/versions/", {"change_note": "x"}, format="json"),
        api.get(f"{API}/versions/{v}/"),
        api.patch(f"{API}/versions/{v}/", {"title_ko": "빼앗음"}, format="json"),
        api.get(f"{API}/versions/{v}/files/"),
        api.post(
            f"{API}/versions/{v}/files/", {"file": SimpleUploadedFile("a.csv", b"a,b\n1,2\n")}, format="multipart"
        ),
        api.get(f"{API}/versions/{v}/files/{f}/"),
        api.delete(f"{API}/versions/{v}/files/{f}/"),
        api.patch(f"{API}/versions/{v}/files/{f}/dictionary/", {"columns": {}}, format="json"),
        api.get(f"{API}/versions/{draft.pk}/files/{f}/"),  # a file id of theirs under a version of ours
        api.put(f"{API}/versions/{v}/licence/", {"licence": "kogl-1"}, format="json"),
        api.get(f"{API}/versions/{v}/offers/"),
        api.post(f"{API}/versions/{v}/offers/", {"kind": "free"}, format="json"),
        api.post(f"{API}/versions/{v}/submit/", {}, format="json"),
        api.post(f"{API}/versions/{v}/withdraw/", {"reason": "x"}, format="json"),
        api.post(f"{API}/versions/{v}/reopen/"),
        api.get(f"{API}/versions/{v}/reviews/"),
        api.get(f"{API}/offers/{other_offer.pk}/"),
        api.delete(f"{API}/offers/{other_offer.pk}/"),
    ]
    for response in responses:
        assert response.status_code == 404, (response.request["PATH_INFO"], response.content)
        assert "비밀" not in response.content.decode()
        assert response.json()["error"]["code"] == "not_found"
    listed = api.get(f"{API}/datasets/").json()
    assert [d["slug"] for d in listed["results"]] == [draft.dataset.slug]
    other_draft.refresh_from_db()
    assert other_draft.title_ko == "교통량 비밀 자료" and DataFile.objects.filter(pk=f).exists()
    assert Offer.objects.get(pk=other_offer.pk).active


def test_a_read_key_reads_but_cannot_publish(api, official, draft, make_key):
    api.with_key(make_key(official, scopes=["read"]))
    assert api.get(f"{API}/datasets/").status_code == 200
    assert api.get(f"{API}/versions/{draft.pk}/").status_code == 200
    for response in (
        api.post(f"{API}/datasets/", METADATA, format="json"),
        api.patch(f"{API}/versions/{draft.pk}/", {"title_ko": "바꿈"}, format="json"),
        api.post(f"{API}/versions/{draft.pk}/offers/", {"kind": "free"}, format="json"),
    ):
        error = _bilingual(_error(response, 403))
        assert "publish" in error["message_en"] and "publish" in error["message_ko"]
    assert Dataset.objects.count() == 1 and not Offer.objects.exists()


def test_a_buy_key_cannot_publish(api, official, buyer, draft, make_key):
    Organization.objects.filter(pk=official.active_organization_id).update(kind=Organization.Kind.BOTH)
    official.active_organization.refresh_from_db()
    api.with_key(make_key(official, scopes=["buy"]))
    for response in (api.post(f"{API}/datasets/", METADATA, format="json"), api.get(f"{API}/datasets/")):
        assert "publish" in _error(response, 403)["message_en"]
    # A company's key, whatever its scope, is no publisher: its organization does not provide data.
    api.with_key(make_key(buyer, scopes=["read", "buy"]))
    error = _bilingual(_error(api.get(f"{API}/datasets/"), 403))
    assert error["code"] == "permission_denied"


def test_a_publisher_who_lost_the_role_is_refused_at_once(api, official, draft, make_key):
    key = make_key(official, scopes=["read", "publish"])
    Membership.objects.filter(user=official).update(role=Membership.Role.BUYER)
    api.with_key(key)
    for response in (
        api.get(f"{API}/datasets/"),
        api.get(f"{API}/versions/{draft.pk}/"),
        api.patch(f"{API}/versions/{draft.pk}/", {"title_ko": "바꿈"}, format="json"),
    ):
        _bilingual(_error(response, 403))
    api.credentials()
    api.force_login(official)
    _error(api.get(f"{API}/datasets/"), 403)  # the session too


def test_an_official_of_a_not_verified_organization_is_refused(api, official, draft, make_key):
    key = make_key(official, scopes=["publish"])
    Organization.objects.filter(pk=official.active_organization_id).update(
        verification=Organization.Verification.REQUESTED
    )
    api.with_key(key)
    for response in (api.get(f"{API}/datasets/"), api.post(f"{API}/datasets/", METADATA, format="json")):
        error = _bilingual(_error(response, 403))
        assert "verified" in error["message_en"] and "환경정책과" in error["message_ko"]
    assert Dataset.objects.count() == 1


def test_without_credentials_it_is_401(api, draft):
    for response in (api.get(f"{API}/datasets/"), api.get(f"{API}/versions/{draft.pk}/")):
        assert _error(response, 401)["code"] == "not_authenticated"


def test_a_session_without_an_organization_is_told_to_choose_one(api, outsider):
    api.force_login(outsider)
    error = _bilingual(_error(api.get(f"{API}/datasets/"), 403))
    assert "organization" in error["message_en"]


# --- refusals of the services ------------------------------------------------------------------------------------


def test_domain_errors_come_back_with_their_code_in_both_languages(api, official, admin_user, draft, make_key):
    api.with_key(make_key(official, scopes=["publish"]))
    # A paid offer of public data without its cost basis: the law of the data, applied by offer_create.
    error = _bilingual(
        _error(api.post(f"{API}/versions/{draft.pk}/offers/", {"kind": "one_off", "price_krw": 50000}), 400)
    )
    assert error["code"] == "offer_cost_basis" and "공공데이터법" in error["message_ko"]
    # A new version of a dataset never published.
    error = _bilingual(
        _error(api.post(f"{API}/datasets/{draft.dataset.slug}/versions/", {"change_note": "2025년"}), 400)
    )
    assert error["code"] == "not_published"
    # Withdrawing a draft is not a move of the state machine: 409.
    assert _bilingual(_error(api.post(f"{API}/versions/{draft.pk}/withdraw/", {"reason": "잘못"}), 409))["code"] == (
        "illegal_transition"
    )
    # A submitted version is frozen.
    _ready(draft)
    assert api.post(f"{API}/versions/{draft.pk}/submit/", {}).status_code == 200
    error = _bilingual(_error(api.patch(f"{API}/versions/{draft.pk}/", {"title_ko": "바꿈"}, format="json"), 400))
    assert error["code"] == "version_frozen"
    upload = api.post(
        f"{API}/versions/{draft.pk}/files/", {"file": SimpleUploadedFile("b.csv", b"a,b\n1,2\n")}, format="multipart"
    )
    assert _bilingual(_error(upload, 400))["code"] == "version_frozen"
    assert not Upload.objects.filter(state=Upload.State.UPLOADING).exists()


def test_submitting_with_problems_lists_them_all(api, official, draft, make_key):
    api.with_key(make_key(official, scopes=["publish"]))
    version = api.get(f"{API}/versions/{draft.pk}/").json()
    expected = {
        "Upload at least one data file.",
        "Say how the dataset is offered: free, or with a price.",
        "Choose a licence.",
    }
    assert {p["message_en"] for p in version["submission_problems"]} == expected
    error = _bilingual(_error(api.post(f"{API}/versions/{draft.pk}/submit/", {}), 400))
    assert error["code"] == "not_submittable"
    assert {p["message_en"] for p in error["problems"]} == expected
    assert all(p["message_ko"] != p["message_en"] for p in error["problems"])
    draft.refresh_from_db()
    assert draft.state == S.DRAFT


def test_the_description_is_checked_as_the_form_checks_it(api, official, draft, make_key):
    api.with_key(make_key(official, scopes=["publish"]))
    url = f"{API}/versions/{draft.pk}/"
    bad = api.patch(url, {"spatial_bbox": [127, 37.5, 126, 37.3], "temporal_start": "2024-12-31"}, format="json")
    fields = _error(bad, 400)["fields"]
    assert set(fields) == {"spatial_bbox"}
    assert fields["spatial_bbox"][0]["message_ko"] != fields["spatial_bbox"][0]["message_en"]
    dates = api.patch(url, {"temporal_start": "2024-12-31", "temporal_end": "2024-01-01"}, format="json")
    assert set(_error(dates, 400)["fields"]) == {"temporal_end"}
    # Public data with a licence that forbids commercial use: refused on the field, by submission's own rule.
    licence = _error(api.patch(url, {"licence": "kogl-2"}, format="json"), 400)["fields"]["licence"][0]
    assert "공공데이터법" in licence["message_ko"] and licence["message_ko"] != licence["message_en"]
    assert _error(api.put(f"{url}licence/", {"licence": "kogl-2"}, format="json"), 400)["fields"]["licence"]
    missing = _error(api.post(f"{API}/datasets/", {"title_ko": "제목"}, format="json"), 400)["fields"]
    assert {"description_ko", "theme", "contact_name", "data_kind", "update_cadence"} <= set(missing)

    changed = api.patch(
        url,
        {"title_en": "Air quality", "tags": "미세먼지, 대기질", "spatial_bbox": [126.7, 37.3, 126.9, 37.45]},
        format="json",
    )
    assert changed.status_code == 400  # tags are a list, not the form's comma-separated text
    changed = api.patch(
        url,
        {"title_en": "Air quality", "tags": [" 시흥 ", "시흥", "대기"], "spatial_bbox": [126.7, 37.3, 126.9, 37.45]},
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["title_en"] == "Air quality" and body["title_ko"] == draft.title_ko  # only what was sent changes
    assert body["tags"] == ["시흥", "대기"] and body["spatial_bbox"] == [126.7, 37.3, 126.9, 37.45]


# --- files --------------------------------------------------------------------------------------------------------


def test_multipart_uploads_follow_the_upload_services(api, official, draft, make_key, settings):
    api.with_key(make_key(official, scopes=["publish"]))
    url = f"{API}/versions/{draft.pk}/files/"
    first = api.post(url, {"file": SimpleUploadedFile("측정.csv", b"a,b\n1,2\n")}, format="multipart")
    assert first.status_code == 201, first.content
    # Replace: the new file takes the old one's place, as the browser's Replace button does.
    second = api.post(
        url,
        {"file": SimpleUploadedFile("측정_수정.csv", b"a,b\n1,3\n"), "replaces": first.json()["id"]},
        format="multipart",
    )
    assert second.status_code == 201, second.content
    assert list(DataFile.objects.values_list("original_name", flat=True)) == ["측정_수정.csv"]
    listed = api.get(url).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == second.json()["id"]
    wrong = api.post(
        url, {"file": SimpleUploadedFile("c.csv", b"a\n1\n"), "replaces": first.json()["id"]}, format="multipart"
    )
    assert _bilingual(_error(wrong, 400))["code"] == "replaces_invalid"  # that file is gone
    assert (
        _bilingual(_error(api.post(url, {"file": SimpleUploadedFile("virus.exe", b"MZ")}, format="multipart"), 400))[
            "code"
        ]
        == "format_unsupported"
    )
    assert "file" in _error(api.post(url, {}, format="multipart"), 400)["fields"]

    settings.API_UPLOAD_MAX_BYTES = 1024**2
    too_big = api.post(url, {"file": SimpleUploadedFile("big.csv", b"a\n" + b"1\n" * 600_000)}, format="multipart")
    error = _bilingual(_error(too_big, 413))
    assert error["code"] == "too_large" and "tus" in error["message_en"]
    settings.UPLOAD_MAX_BYTES = 5  # the limit of every upload, tus included, is lower still
    over = api.post(url, {"file": SimpleUploadedFile("small.csv", b"a,b\n1,2\n")}, format="multipart")
    assert _bilingual(_error(over, 413))["code"] == "too_large"
    assert DataFile.objects.count() == 1 and not Upload.objects.filter(state=Upload.State.UPLOADING).exists()


def test_a_file_is_described_and_removed(api, official, draft, make_key, openapi):
    datafile = _file(draft)
    api.with_key(make_key(official, scopes=["publish"]))
    url = f"{API}/versions/{draft.pk}/files/{datafile.pk}/"
    described = api.patch(
        f"{url}dictionary/",
        {
            "columns": {
                "등급": {
                    "description_ko": "대기질 등급",
                    "unit": "",
                    "codes": [{"code": "1", "label_ko": "좋음", "label_en": "Good"}],
                }
            }
        },
        format="json",
    )
    assert described.status_code == 200, described.content
    assert described.json()["columns_described"] == 1
    _conforms(openapi, described, "/api/v1/provider/versions/{id}/files/{file_id}/dictionary/", "patch")
    more = api.patch(f"{url}dictionary/", {"columns": {"측정소명": {"description_ko": "측정소 이름"}}}, format="json")
    assert set(more.json()["dictionary"]) == {"등급", "측정소명"}  # the columns not sent are kept
    unknown = api.patch(f"{url}dictionary/", {"columns": {"없는열": {"description_ko": "?"}}}, format="json")
    error = _bilingual(_error(unknown, 400))
    assert error["code"] == "dictionary_column" and "없는열" in error["message_ko"] and "없는열" in error["message_en"]
    twice = api.patch(
        f"{url}dictionary/",
        {"columns": {"등급": {"codes": [{"code": "1", "label_ko": "a"}, {"code": "1", "label_ko": "b"}]}}},
        format="json",
    )
    assert _bilingual(_error(twice, 400))["code"] == "dictionary_codes"

    assert api.delete(url).status_code == 204
    assert not DataFile.objects.exists()
    assert _error(api.get(url), 404)["code"] == "not_found"
    event = AuditEvent.objects.get(action="datafile.removed")
    assert event.data["api_token"]["name"] == "test key"


# --- versions, offers and decisions --------------------------------------------------------------------------------


def test_new_versions_withdrawal_offers_and_decisions(api, official, admin_user, draft, make_key, openapi):
    _published(official, admin_user, draft)
    api.with_key(make_key(official, scopes=["publish"]))
    slug = draft.dataset.slug
    started = api.post(f"{API}/datasets/{slug}/versions/", {"change_note": "2025년 자료 추가"}, format="json")
    assert started.status_code == 201, started.content
    _conforms(openapi, started, "/api/v1/provider/datasets/{slug}/versions/", "post")
    new = started.json()
    assert new["number"] == 2 and new["state"] == "ready" and new["change_note"] == "2025년 자료 추가"
    assert new["lineage"] == {"from_number": 1, "carried": 1, "replaced": 0}
    assert [f["carried"] for f in new["files"]] == [True]
    again = api.post(f"{API}/datasets/{slug}/versions/", {"change_note": "두 번 누름"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == new["id"]  # idempotent, as the service is
    dataset = api.get(f"{API}/datasets/{slug}/")
    _conforms(openapi, dataset, "/api/v1/provider/datasets/{slug}/", "get")
    dataset = dataset.json()
    assert dataset["open_version"]["id"] == new["id"] and dataset["published_version"]["id"] == draft.pk
    assert [v["number"] for v in dataset["versions"]] == [2, 1]

    reviews = api.get(f"{API}/versions/{draft.pk}/reviews/").json()["results"]
    assert [(r["action"], r["actor_role"]) for r in reviews] == [("approve", "platform_admin"), ("submit", "publisher")]

    private = api.post(
        f"{API}/versions/{draft.pk}/offers/",
        {"kind": "one_off", "price_krw": 10000, "cost_basis": "파일 준비 비용", "version": new["id"]},
        format="json",
    )
    assert _bilingual(_error(private, 400))["code"] == "offer_version"  # only a published version can be sold alone
    pinned = api.post(
        f"{API}/versions/{draft.pk}/offers/",
        {"kind": "one_off", "price_krw": 10000, "cost_basis": "파일 준비 비용", "version": draft.pk},
        format="json",
    )
    assert pinned.status_code == 201, pinned.content
    assert pinned.json()["version"]["id"] == draft.pk and pinned.json()["rule"] == "공공데이터법"
    _conforms(openapi, pinned, "/api/v1/provider/versions/{id}/offers/", "post")
    assert (
        "version"
        in _error(api.post(f"{API}/versions/{draft.pk}/offers/", {"kind": "free", "version": 999999}), 400)["fields"]
    )
    unknown_buyer = api.post(f"{API}/versions/{draft.pk}/offers/", {"kind": "free", "buyer_brn": "999-99-99999"})
    assert "buyer_brn" in _error(unknown_buyer, 400)["fields"]
    offers = api.get(f"{API}/versions/{new['id']}/offers/").json()
    assert offers["count"] == 2  # the dataset's offers: the free one and the pinned one
    stopped = api.delete(f"{API}/offers/{pinned.json()['id']}/")
    assert stopped.status_code == 200 and stopped.json()["active"] is False
    _conforms(openapi, stopped, "/api/v1/provider/offers/{id}/", "delete")
    assert api.get(f"{API}/versions/{new['id']}/offers/").json()["count"] == 1

    withdrawn = api.post(f"{API}/versions/{draft.pk}/withdraw/", {"reason": "측정기 오류"}, format="json")
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert api.get(f"{API}/versions/{draft.pk}/reviews/").json()["results"][0] | {"created_at": None, "id": 0} == {
        "id": 0,
        "version": draft.pk,
        "action": "withdraw",
        "reason": "측정기 오류",
        "actor_role": "publisher",
        "actor_name": official.name,
        "pii_justification": "",
        "created_at": None,
    }
    assert _error(api.post(f"{API}/versions/{draft.pk}/withdraw/", {}, format="json"), 400)["fields"]["reason"]


def test_a_rejected_version_is_reopened(api, official, admin_user, draft, make_key):
    _ready(draft)
    services.version_submit(actor=official, version=draft)
    services.version_reject(actor=admin_user, version=draft, reason="단위가 없습니다")
    api.with_key(make_key(official, scopes=["publish"]))
    reviews = api.get(f"{API}/versions/{draft.pk}/reviews/").json()["results"]
    assert (reviews[0]["action"], reviews[0]["reason"], reviews[0]["actor_role"]) == (
        "reject",
        "단위가 없습니다",
        "platform_admin",
    )
    reopened = api.post(f"{API}/versions/{draft.pk}/reopen/")
    assert reopened.status_code == 200 and reopened.json()["state"] == "ready"
    assert _error(api.post(f"{API}/versions/{draft.pk}/reopen/"), 409)["code"] == "illegal_transition"


# --- the tus endpoint with a key -----------------------------------------------------------------------------------


def _meta(**values):
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in values.items())


def _tus_create(api, version, name, length):
    return api.post(
        "/catalog/uploads/",
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": _meta(filename=name, version=version.pk)},
    )


def _tus_patch(api, location, offset, body, **extra):
    return api.generic(
        "PATCH",
        location,
        body,
        content_type="application/offset+octet-stream",
        headers={**TUS, "Upload-Offset": str(offset)},
        **extra,
    )


class _DroppedConnection:
    """A request body whose connection drops after `keep` bytes (wsgi.input)."""

    def __init__(self, data: bytes, keep: int):
        self.data, self.keep, self.sent = data, keep, 0

    def readline(self, size=-1):
        return self.read(size)

    def read(self, size=-1):
        if self.sent >= self.keep:
            raise OSError("connection reset by peer")
        size = self.keep - self.sent if size is None or size < 0 else min(size, self.keep - self.sent)
        chunk = self.data[self.sent : self.sent + size]
        self.sent += len(chunk)
        return chunk


def test_tus_with_a_key_resumes_after_an_interruption_and_the_checks_run(celery_worker, api, official, draft, make_key):
    api.with_key(make_key(official, scopes=["publish"]))  # the client enforces CSRF: a key needs none
    data = CP949_CSV
    created = _tus_create(api, draft, "대기질_tus.csv", len(data))
    assert created.status_code == 201, created.content
    location = created["Location"]
    assert created["Tus-Resumable"] == "1.0.0" and location.startswith("/catalog/uploads/")

    first = _tus_patch(api, location, 0, data[:300])
    assert first.status_code == 204 and first["Upload-Offset"] == "300"
    # The connection drops in the middle of the second chunk: the bytes that arrived are kept.
    cut = _tus_patch(
        api,
        location,
        300,
        b"",
        CONTENT_LENGTH=str(len(data) - 300),
        **{"wsgi.input": _DroppedConnection(data[300:], keep=200)},
    )
    assert cut.status_code == 204 and cut["Upload-Offset"] == "500"
    head = api.head(location, headers=TUS)
    assert head.status_code == 200 and head["Upload-Offset"] == "500" and head["Upload-Length"] == str(len(data))
    assert _tus_patch(api, location, 300, data[300:]).status_code == 409  # a stale offset is refused
    last = _tus_patch(api, location, 500, data[500:])
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(data))
    assert "Data-File-Id" not in cut and "Data-File-Id" not in head

    datafile = DataFile.objects.get()
    assert last["Data-File-Id"] == str(datafile.pk) == api.head(location, headers=TUS)["Data-File-Id"]
    assert datafile.sha256 == hashlib.sha256(data).hexdigest() and Upload.objects.get().state == "complete"
    checked = _wait_checked(api, f"{API}/versions/{draft.pk}/files/{datafile.pk}/")
    assert checked["encoding"] == "cp949" and checked["row_count"] == 28
    assert api.get(f"{API}/versions/{draft.pk}/").json()["state"] == "ready"


def test_tus_refuses_no_key_a_read_key_and_another_organizations_key(
    api, official, draft, other_provider, make_key, client
):
    assert _tus_create(api, draft, "a.csv", 10).status_code == 401
    api.with_key("sdx_not-a-key")
    refused = _tus_create(api, draft, "a.csv", 10)
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Token")
    api.with_key(make_key(official, scopes=["read"]))
    read = _tus_create(api, draft, "a.csv", 10)
    assert read.status_code == 403 and "publish" in read.content.decode()
    api.with_key(make_key(other_provider, scopes=["publish"]))
    assert _tus_create(api, draft, "a.csv", 10).status_code == 403  # the key's organization is not the draft's
    # A key may resume only its own user's uploads (another user's is not found: no hint that it exists).
    api.with_key(make_key(official, scopes=["publish"]))
    location = _tus_create(api, draft, "a.csv", 10)["Location"]
    api.with_key(make_key(other_provider, scopes=["publish"], name="other"))
    assert api.head(location, headers=TUS).status_code == 404
    assert _tus_patch(api, location, 0, b"0123456789").status_code == 404
    assert api.delete(location, headers=TUS).status_code == 404
    assert not Upload.objects.exclude(offset=0).exists() and not DataFile.objects.exists()


def test_tus_in_the_browser_still_needs_the_session_and_its_csrf_token(api, official, draft):
    api.force_login(official)
    assert _tus_create(api, draft, "a.csv", 10).status_code == 403  # no CSRF token
    api.get("/me/")
    csrf = {"X-CSRFToken": api.cookies["csrftoken"].value}
    created = api.post(
        "/catalog/uploads/",
        headers={**TUS, **csrf, "Upload-Length": "8", "Upload-Metadata": _meta(filename="a.csv", version=draft.pk)},
    )
    assert created.status_code == 201, created.content
    location = created["Location"]
    without = api.generic(
        "PATCH",
        location,
        b"a,b\n1,2\n",
        content_type="application/offset+octet-stream",
        headers={**TUS, "Upload-Offset": "0"},
    )
    assert without.status_code == 403
    sent = api.generic(
        "PATCH",
        location,
        b"a,b\n1,2\n",
        content_type="application/offset+octet-stream",
        headers={**TUS, **csrf, "Upload-Offset": "0"},
    )
    assert sent.status_code == 204 and DataFile.objects.get().size == 8


def test_the_documented_curl_example_resumes_and_finishes_an_upload(
    live_server, celery_worker, api, official, draft, make_key, tmp_path
):
    """docs/api.md "큰 파일 올리기 (tus)", run as written against a real server: it picks up an upload a dropped
    connection left half-sent, sends the rest in small pieces and prints the file with its checks."""
    section = (Path(__file__).resolve().parents[2] / "docs/api.md").read_text().split("## 큰 파일 올리기 (tus)")[1]
    setup, script = re.findall(r"```bash\n(.*?)```", section, re.S)[:2]
    assert all(f"export {name}=" in setup for name in ("BASE", "KEY", "VERSION", "FILE"))
    key = make_key(official, scopes=["publish"])
    source = tmp_path / "대기질_2024.csv"
    source.write_bytes(CP949_CSV)
    api.with_key(key)
    location = _tus_create(api, draft, source.name, len(CP949_CSV))["Location"]
    assert _tus_patch(api, location, 0, CP949_CSV[:300]).status_code == 204  # then the connection dropped
    (tmp_path / f"{source.name}.tus").write_text(location + "\n")

    env = {**os.environ, "BASE": live_server.url, "KEY": key, "VERSION": str(draft.pk), "FILE": str(source)}
    result = subprocess.run(
        ["bash", "-c", script], env={**env, "CHUNK": "400"}, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    datafile = DataFile.objects.get()
    assert printed["id"] == datafile.pk and printed["name"] == "대기질_2024.csv"
    assert printed["sha256"] == datafile.sha256 == hashlib.sha256(CP949_CSV).hexdigest()
    assert Upload.objects.get().state == "complete"  # the same upload, resumed at byte 300
    assert not (tmp_path / f"{source.name}.tus").exists()
    assert _wait_checked(api, f"{API}/versions/{draft.pk}/files/{datafile.pk}/")["encoding"] == "cp949"


def test_a_key_of_another_organization_cannot_look_at_or_cancel_its_users_uploads_there(
    api, official, reference_data, make_key
):
    """The same person publishes for two departments: a key for one cannot reach an upload made for the other."""
    from accounts.models import Membership

    second = make_org(official, name_ko="교통정책과", name_en="Transport Policy", kind="provider", brn="1348310016")
    first_org = Membership.objects.exclude(organization=second).get(user=official).organization
    official.active_organization = first_org
    official.save(update_fields=["active_organization"])
    api.with_key(make_key(official, scopes=["publish"], organization=first_org))
    created = api.post(f"{API}/datasets/", METADATA, format="json")
    draft = DatasetVersion.objects.get(pk=created.json()["open_version"]["id"])
    location = _tus_create(api, draft, "a.csv", 10)["Location"]
    api.with_key(make_key(official, scopes=["publish"], organization=second, name="second"))
    assert api.head(location, headers=TUS).status_code == 403  # their own upload, but not this key's organization
    assert api.delete(location, headers=TUS).status_code == 403
    assert Upload.objects.get().state == Upload.State.UPLOADING
    writes = AuditEvent.objects.filter(action="api.write", data__path__startswith="/catalog/uploads/")
    assert {(w.data["method"], w.data["status"], w.data["api_token"]["name"]) for w in writes} >= {
        ("POST", 201, "test key"),
        ("DELETE", 403, "second"),
    }
