"""A malformed or unreachable source gives a report, never a crash: the whole source failing ends the run failed
with the reason in Korean and English (after the reader's retries, nothing removed); a broken record is one failed
line and the run goes on; huge values are clipped to what our fields hold."""

import json
import socket

import pytest

from catalog.harvest.models import HarvestRecord
from catalog.harvest.tasks import harvest_run
from catalog.models import DatasetVersion
from tests.interop.harvest_support import ANSAN_RULES, FakeSource, ckan_pages, make_run, make_source, recorded_packages

A = HarvestRecord.Action


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.HARVEST_CKAN_ROWS = 3
    settings.HARVEST_RETRY_BACKOFF_SECONDS = 0.01
    settings.HARVEST_HTTP_TIMEOUT_SECONDS = 2


@pytest.fixture
def world(official, admin_user, reference_data):
    return {"admin": admin_user, "org": official.active_organization}


def harvest(world, routes, *, kind="ckan", path="", mapping=ANSAN_RULES):
    with FakeSource(routes) as portal:
        source = make_source(world["admin"], world["org"], portal.url + path, kind=kind, mapping=mapping)
        run = make_run(source)
        assert harvest_run.apply(args=[run.pk]).get() in ("done", "failed")
        requests = list(portal.requests)
    run.refresh_from_db()
    return run, requests


def answer(status, content_type, body):
    return lambda path, query: (status, content_type, body)


@pytest.mark.django_db
def test_an_html_page_instead_of_json(world):
    run, requests = harvest(
        world, answer(200, "text/html", "<!doctype html><html><body>포털 점검 중</body></html>".encode())
    )
    assert run.state == "failed" and len(requests) == 1  # not worth retrying
    assert run.error_ko.startswith("CKAN API 응답이 JSON이 아닙니다 (시작: '<!doctype html>")
    assert run.error_en.startswith("The CKAN API did not answer JSON (it starts '<!doctype html>")
    assert "Check that the address is a CKAN portal." in run.error_en
    assert run.finished_at and run.lease is None and run.records.count() == 0


@pytest.mark.django_db
def test_a_server_error_is_retried_then_reported(world):
    run, requests = harvest(world, answer(500, "text/plain", b"boom"))
    assert run.state == "failed" and len(requests) == 3
    assert run.error_ko.startswith("원본이 오류로 응답했습니다 (HTTP 500)")
    assert run.error_en.startswith("The source answered with an error (HTTP 500)")


@pytest.mark.django_db
def test_a_refusal_is_not_retried(world):
    run, requests = harvest(world, answer(403, "application/json", b'{"success": false}'))
    assert run.state == "failed" and len(requests) == 1
    assert run.error_en.startswith("The source refused the request (HTTP 403)")
    assert run.error_ko.startswith("원본이 요청을 거절했습니다 (HTTP 403)")


@pytest.mark.django_db
def test_broken_json_and_the_wrong_shape(world):
    run, _ = harvest(world, answer(200, "application/json", b'{"help": "x", "success": true, "result": {"count": 3, '))
    assert run.state == "failed" and run.error_en.startswith("The CKAN API did not answer JSON")
    run, _ = harvest(world, answer(200, "application/json", b"[1, 2, 3]"))
    assert (run.state, run.error_en) == ("failed", "The answer is not in the CKAN API's shape.")
    run, _ = harvest(world, answer(200, "application/json", b'{"success": true, "result": {"count": 1, "results": 5}}'))
    assert (run.state, run.error_ko) == ("failed", "CKAN 응답에 results 목록이 없습니다.")
    error = {"success": False, "error": {"__type": "Authorization Error", "message": "Access denied"}}
    run, _ = harvest(world, answer(200, "application/json", json.dumps(error).encode()))
    assert run.error_en == "The CKAN API reported an error: Access denied"


@pytest.mark.django_db
def test_an_unreachable_source(world):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = make_source(world["admin"], world["org"], f"http://127.0.0.1:{port}", mapping=ANSAN_RULES)
    run = make_run(source)
    assert harvest_run.apply(args=[run.pk]).get() == "failed"
    run.refresh_from_db()
    assert run.state == "failed" and run.error_en.startswith("The source cannot be reached (ConnectError)")
    assert run.error_ko.startswith("원본에 연결할 수 없습니다 (ConnectError)")
    source.refresh_from_db()
    assert source.last_run_at is not None


@pytest.mark.django_db
def test_a_page_larger_than_the_limit_is_refused_while_it_streams(world, settings):
    settings.HARVEST_MAX_PAGE_BYTES = 1 << 20

    def chunked(path, query):
        return 200, "application/json", b'{"success": true, "result": {"results": [' + b" " * (3 << 20) + b"]}}"

    run, _ = harvest(world, chunked)
    assert run.state == "failed" and run.error_en == "A page of the source is larger than the limit (1 MB)."
    assert run.error_ko == "원본의 한 페이지가 한도(1 MB)보다 큽니다."


@pytest.mark.django_db
def test_records_without_identifier_title_or_object_shape_are_failed_lines(world):
    packages = recorded_packages()
    packages[1] = {**packages[1], "id": "", "name": ""}
    packages.insert(0, "not a package")
    packages.append({**packages[-1], "id": "x-1", "name": "x-1", "title": None, "resources": [{"url": None}]})
    run, _ = harvest(world, ckan_pages(packages))
    assert run.state == "done"
    failed = {(r.identifier, r.message_en) for r in run.records.filter(action=A.FAILED)}
    # Without an identifier of their own, lines are named by where they were on the source's page.
    assert ("?start=0#1", "The package is not an object.") in failed
    assert ("?start=0#3", "The package has no id or name.") in failed
    assert ("x-1", "The package has no title.") in failed
    assert run.added == 3 and run.failed == 4  # the untitled record of the fixture too


@pytest.mark.django_db
def test_huge_strings_are_clipped_not_fatal(world):
    package = recorded_packages()[0]
    package = {
        **package,
        "title": "미세먼지 " * 100_000,
        "notes": "설명 " * 1_000_000,
        "tags": [{"name": f"태그{i}" * 50} for i in range(5000)],
        "maintainer_email": "not an e-mail " * 1000,
        "extras": [{"key": "contact_phone", "value": "0" * 10_000}, {"key": "k" * 10_000, "value": "v" * 10_000}],
        "resources": [{"name": "자료 " * 10_000, "url": "https://ckan.example.test/r.csv", "format": "C" * 500,
                       "size": "12" * 50}] * 300,
    }  # fmt: skip
    run, _ = harvest(world, ckan_pages([package]))
    assert (run.state, run.added, run.failed) == ("done", 1, 0)
    version = DatasetVersion.objects.get(dataset__harvest__source__runs=run)
    assert len(version.title_ko) == 200 and len(version.description_ko) == 20_000
    assert len(version.tags) == 20 and all(len(t) == 40 for t in version.tags)  # our limits: 20 tags of 40
    assert version.contact_email == world["org"].contact_email and len(version.contact_phone) == 30
    resources = version.external_resources.all()
    assert resources.count() == 50 and all(len(r.format) == 40 and r.size is None for r in resources)


@pytest.mark.django_db
def test_a_broken_dcat_document_and_a_document_that_is_no_catalog(world):
    run, _ = harvest(world, answer(200, "text/turtle", b"@prefix dcat: <http://www.w3.org/ns/dcat#> .\n<a> dcat:x ."),
                     kind="dcat", path="/catalog.ttl")  # fmt: skip
    assert run.state == "failed" and run.error_en.startswith("The DCAT document cannot be read (")
    assert run.error_ko.startswith("DCAT 문서를 읽을 수 없습니다 (")
    run, _ = harvest(world, answer(200, "text/turtle", b"<http://a.test/x> <http://a.test/p> \"1\" ."),
                     kind="dcat", path="/catalog.ttl")  # fmt: skip
    assert run.error_en == "Not a DCAT catalog (neither a dcat:Catalog nor a dcat:Dataset)."


@pytest.mark.django_db
def test_a_dcat_dataset_without_title_is_a_failed_line_and_a_next_loop_ends(world):
    turtle = b"""@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    @prefix hydra: <http://www.w3.org/ns/hydra/core#> .
    <http://d.test/c> a dcat:Catalog . <http://d.test/view> hydra:next </catalog.ttl> .
    <http://d.test/ds/1> a dcat:Dataset ; dct:description "no title"@ko .
    <http://d.test/ds/2> a dcat:Dataset ; dct:title "\xec\xa0\x9c\xeb\xaa\xa9"@ko ;
        dct:license <http://creativecommons.org/licenses/by/4.0/> ."""
    run, requests = harvest(world, answer(200, "text/turtle", turtle), kind="dcat", path="/catalog.ttl")
    assert len(requests) == 1  # `next` names the page itself: read once
    assert (run.state, run.added, run.failed) == ("done", 1, 1)
    line = run.records.get(action=A.FAILED)
    assert (line.identifier, line.message_en) == ("http://d.test/ds/1", "The dataset has no title (dct:title).")


@pytest.mark.django_db
def test_no_theme_and_no_default_is_a_failed_line_with_the_reason(world):
    run, _ = harvest(world, ckan_pages(recorded_packages()[:2]), mapping={})
    assert run.state == "done" and run.failed == 2
    line = run.records.get(title="안산시 미세먼지 측정 자료")
    assert line.message_en.startswith("No theme could be chosen (source values: hwangyeong).")
    assert line.message_ko.startswith("분류(주제)를 정할 수 없습니다 (원본 값: hwangyeong).")
