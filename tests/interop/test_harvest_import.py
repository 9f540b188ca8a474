"""A harvest run imports another catalog as listings of an organization: from the recorded CKAN answer and a
DCAT-AP catalog, through the real task (in-process), real PostgreSQL and the real catalog search. Re-runs double
nothing, changes publish a new version, listings edited here are kept, records gone from the source are withdrawn
only after a complete read, and a harvested listing is free until a local offer says otherwise."""

import copy
import io
import json

import pytest
from django.http import QueryDict

from catalog import services
from catalog.discovery import catalog_search
from catalog.harvest.models import ExternalResource, HarvestedDataset, HarvestRecord, HarvestRun
from catalog.harvest.tasks import harvest_run
from catalog.models import CatalogEntry, DataFile, Dataset, DatasetVersion, Licence, Review
from catalog.tasks import datafile_check_task
from core.models import AuditEvent
from tests.interop.harvest_support import (
    ANSAN_RULES,
    FakeSource,
    ckan_pages,
    fixture_bytes,
    make_run,
    make_source,
    recorded_packages,
)

V = DatasetVersion.State
A = HarvestRecord.Action


@pytest.fixture(autouse=True)
def _small_pages(settings):
    settings.HARVEST_CKAN_ROWS = 3  # the recorded answer is two pages of package_search
    settings.HARVEST_RETRY_BACKOFF_SECONDS = 0.01


@pytest.fixture
def world(official, admin_user, reference_data):
    return {"official": official, "admin": admin_user, "org": official.active_organization}


def run_once(source, requested_by=None) -> HarvestRun:
    run = make_run(source, requested_by)
    assert harvest_run.apply(args=[run.pk]).get() in ("done", "failed")
    run.refresh_from_db()
    return run


def search(**params) -> list[str]:
    query = QueryDict(mutable=True)
    for key, value in params.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    return sorted(entry.title_ko for entry in catalog_search(query).entries)


def listing(source, name) -> Dataset:
    return HarvestedDataset.objects.get(source=source, source_url__endswith=f"/dataset/{name}").dataset


@pytest.mark.django_db
def test_the_recorded_ckan_answer_becomes_published_listings_of_the_organization(world):
    packages = recorded_packages()
    with FakeSource(ckan_pages(packages)) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        run = run_once(source, requested_by=world["admin"])
        starts = [int(q["start"]) for path, q in portal.requests]
    assert starts == [0, 3]  # two pages of three, read in turn
    assert (run.state, run.seen, run.added, run.failed, run.updated, run.removed) == ("done", 5, 4, 1, 0, 0)
    assert run.cursor["complete"] is True and run.lease is None and run.finished_at
    failed = run.records.get(action=A.FAILED)
    assert failed.message_ko == "제목이 없습니다." and failed.message_en == "The package has no title."

    air = listing(source, "ansan-air-quality")
    assert air.publisher == world["org"]
    version = air.versions.get()
    assert version.state == V.PUBLISHED and version.published_at
    assert (version.title_ko, version.theme.code, version.licence.code) == (
        "안산시 미세먼지 측정 자료",
        "environment",
        "kogl-1",
    )
    assert version.update_cadence == "daily" and version.spatial_area == "경기도 안산시"
    assert version.spatial_bbox == [126.75, 37.26, 126.93, 37.37]
    assert (str(version.temporal_start), str(version.temporal_end)) == ("2024-01-01", "2026-10-31")
    assert (version.contact_name, version.contact_email, version.contact_phone) == (
        "김하늘",
        "air@ansan.example.kr",
        "031-481-2114",
    )
    resources = list(version.external_resources.values_list("name", "format", "size", "url"))
    assert resources == [
        (
            "미세먼지 측정값 2026",
            "CSV",
            48213,
            "https://ckan.example.test/dataset/ansan-air-quality/resource/1/download/pm-2026.csv",
        ),
        (
            "측정소 목록",
            "JSON",
            3120,
            "https://ckan.example.test/dataset/ansan-air-quality/resource/2/download/stations.json",
        ),
    ]
    assert not version.files.exists()  # links: nothing fetched in link mode
    harvested = air.harvest
    assert harvested.source_url == f"{portal.url}/dataset/ansan-air-quality"
    assert harvested.identifier == packages[0]["id"] and len(harvested.imported_hash) == 64

    # Mapping: a rule (gyotong → transport), the CKAN licence id (cc-by), the EU frequency URI, the default theme.
    bus = listing(source, "ansan-bus-stops").versions.get()
    assert (bus.theme.code, bus.licence.code, bus.update_cadence) == ("transport", "cc-by-4.0", "monthly")
    parks = listing(source, "ansan-parks").versions.get()
    assert (parks.theme.code, parks.licence.code, parks.update_cadence) == ("administration", "kogl-3", "irregular")

    # Published automatically on behalf of the admin who asked, and said so in the decision and the audit trail.
    review = Review.objects.get(version=version)
    assert review.action == "approve" and review.actor == world["admin"]
    assert review.data["automatic"] is True and review.data["harvest_run"] == run.pk
    event = AuditEvent.objects.get(action="version.approve", object_id=str(version.pk))
    assert event.data["automatic"] is True and event.data["to"] == "published"
    assert AuditEvent.objects.filter(action="harvest.running", object_id=str(run.pk)).exists()
    assert AuditEvent.objects.filter(action="harvest.done", object_id=str(run.pk)).exists()

    # Ordinary catalog entries: found by Korean words, faceted by format, free at the source.
    entry = CatalogEntry.objects.get(dataset=air)
    assert entry.price_types == ["free"] and entry.formats == ["csv", "json"]
    assert search(q="미세먼지") == ["안산시 미세먼지 측정 자료"]
    assert search(price="free") == [
        "안산시 도시공원 현황",
        "안산시 동별 인구 통계",
        "안산시 미세먼지 측정 자료",
        "안산시 버스정류장 위치",
    ]
    assert "안산시 도시공원 현황" in search(format="xlsx")


@pytest.mark.django_db
def test_a_second_run_doubles_nothing_and_a_change_publishes_a_new_version(world):
    packages = recorded_packages()
    with FakeSource(ckan_pages(packages)) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        first = run_once(source)
        second = run_once(source)
        assert (second.state, second.unchanged, second.added, second.updated, second.failed) == ("done", 4, 0, 0, 1)
        assert Dataset.objects.filter(publisher=world["org"]).count() == 4
        assert DatasetVersion.objects.count() == 4 and ExternalResource.objects.count() == 5
        assert HarvestRecord.objects.filter(run=first).count() == HarvestRecord.objects.filter(run=second).count() == 5

        packages[0]["title"] = "안산시 미세먼지(PM2.5) 측정 자료"
        packages[0]["resources"] = packages[0]["resources"][:1]
        third = run_once(source)
    assert (third.updated, third.unchanged, third.added) == (1, 3, 0)
    air = listing(source, "ansan-air-quality")
    old, new = air.versions.order_by("number")
    assert (old.state, new.state, new.number) == (V.SUPERSEDED, V.PUBLISHED, 2)
    assert new.title_ko == "안산시 미세먼지(PM2.5) 측정 자료" and new.external_resources.count() == 1
    assert old.external_resources.count() == 2  # the superseded version keeps what it listed
    assert CatalogEntry.objects.get(dataset=air).version == new
    assert search(q="PM2.5") == ["안산시 미세먼지(PM2.5) 측정 자료"]


def _edit_here(official, admin, dataset, title):
    """A publisher of the organization edits the harvested listing through the normal flow: a new version with
    their title and a file of their own, a free offer, submission and an admin's approval."""
    draft = services.version_start_new(actor=official, dataset=dataset, change_note="설명 보완")
    services.version_update_metadata(actor=official, version=draft, title_ko=title)
    data = "측정소,PM10\n고잔동,41\n".encode()
    upload = services.upload_create(actor=official, version=draft, filename="보완.csv", length=len(data))
    services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(data))
    for datafile in DataFile.objects.filter(version=draft, check_state=DataFile.Check.PENDING):
        datafile_check_task.apply(args=[datafile.pk])
    services.offer_create(actor=official, dataset=dataset, kind="free")
    services.version_submit(actor=official, version=draft)
    services.version_approve(actor=admin, version=draft)
    return draft


@pytest.mark.django_db
def test_a_listing_edited_here_is_kept_and_the_report_says_so(world):
    packages = recorded_packages()
    with FakeSource(ckan_pages(packages)) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        run_once(source)
        air = listing(source, "ansan-air-quality")
        _edit_here(world["official"], world["admin"], air, "안산시 미세먼지 측정 자료 (시흥 보완)")

        packages[0]["title"] = "원본에서 바뀐 제목"
        packages[4]["title"] = "원본에서 바뀐 인구 통계"
        again = run_once(source)
    assert (again.kept, again.updated, again.unchanged) == (1, 1, 2)
    line = again.records.get(action=A.KEPT)
    assert line.dataset == air
    assert line.message_ko == "이 거래소에서 수정된 목록이라 원본의 변경으로 덮어쓰지 않았습니다."
    assert line.message_en == "The listing was edited here, so the source's change did not overwrite it."
    assert air.versions.get(state=V.PUBLISHED).title_ko == "안산시 미세먼지 측정 자료 (시흥 보완)"
    assert listing(source, "ansan-population").versions.get(state=V.PUBLISHED).title_ko == "원본에서 바뀐 인구 통계"


@pytest.mark.django_db
def test_a_listing_with_a_version_in_progress_here_is_kept(world):
    packages = recorded_packages()
    with FakeSource(ckan_pages(packages)) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        run_once(source)
        air = listing(source, "ansan-air-quality")
        draft = services.version_start_new(actor=world["official"], dataset=air, change_note="작성 중")
        packages[0]["notes"] = "원본의 새 설명"
        again = run_once(source)
    line = again.records.get(action=A.KEPT)
    assert line.message_en == "A new version is being written here, so the source's change was not applied."
    draft.refresh_from_db()
    assert draft.state in (V.DRAFT, V.READY) and air.versions.count() == 2  # nothing added beside the draft


@pytest.mark.django_db
def test_records_gone_from_the_source_are_withdrawn_after_a_complete_read(world):
    packages = recorded_packages()
    with FakeSource(ckan_pages(packages)) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        run_once(source)
        parks = listing(source, "ansan-parks")
        del packages[2]
        again = run_once(source)
        assert (again.removed, again.unchanged) == (1, 3)
        line = again.records.get(action=A.REMOVED)
        assert line.dataset == parks and line.message_en == "Gone from the source: the listing was withdrawn."
        assert parks.versions.get().state == V.WITHDRAWN
        assert not CatalogEntry.objects.filter(dataset=parks).exists()
        assert HarvestedDataset.objects.get(dataset=parks).removed_at is not None
        assert Review.objects.filter(version__dataset=parks, action="withdraw", data__automatic=True).exists()

        third = run_once(source)  # gone is gone: not reported again
        assert third.removed == 0 and third.records.filter(action=A.REMOVED).count() == 0

        packages.insert(2, recorded_packages()[2])  # back at the source: published again
        fourth = run_once(source)
    assert fourth.added == 1
    assert fourth.records.get(action=A.ADDED).message_en == "It is back at the source and was published again."
    assert parks.versions.get(state=V.PUBLISHED).number == 2
    assert CatalogEntry.objects.filter(dataset=parks).exists()


@pytest.mark.django_db
def test_nothing_is_removed_when_the_source_fails_midway(world):
    packages = recorded_packages()
    healthy = ckan_pages(packages)
    with FakeSource(healthy) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        run_once(source)

    def broken(path, query):
        if int(query.get("start", 0)) > 0:
            return 500, "text/html", b"<html><body>Internal Server Error</body></html>"
        return ckan_pages(packages[:3], count=5)(path, query)

    with FakeSource(broken) as portal:
        source.url = portal.url
        source.save(update_fields=["url"])
        failed = run_once(source)
        second_page_tries = [q for _p, q in portal.requests if q.get("start") == "3"]
    assert failed.state == "failed" and failed.removed == 0
    assert len(second_page_tries) == 3  # the first try and HARVEST_FETCH_RETRIES more
    assert failed.error_ko.startswith("원본이 오류로 응답했습니다 (HTTP 500)")
    assert failed.error_en.startswith("The source answered with an error (HTTP 500)")
    assert HarvestedDataset.objects.filter(source=source, removed_at__isnull=False).count() == 0
    assert CatalogEntry.objects.filter(dataset__harvest__source=source).count() == 4


@pytest.mark.django_db
def test_a_source_that_announces_more_than_it_lists_removes_nothing(world):
    packages = recorded_packages()
    with FakeSource(ckan_pages(packages)) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        run_once(source)
    with FakeSource(ckan_pages(packages[:2], count=5)) as portal:
        source.url = portal.url
        source.save(update_fields=["url"])
        run = run_once(source)
    assert run.state == "done" and run.cursor["complete"] is False and run.removed == 0
    assert HarvestedDataset.objects.filter(source=source, removed_at__isnull=False).count() == 0


@pytest.mark.django_db
def test_a_harvested_listing_is_free_until_a_local_offer_is_added(world):
    rules = {**ANSAN_RULES, "data_kind": "private"}
    with FakeSource(ckan_pages(recorded_packages())) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=rules)
        run_once(source)
    air = listing(source, "ansan-air-quality")
    assert CatalogEntry.objects.get(dataset=air).price_types == ["free"]
    services.offer_create(
        actor=world["official"], dataset=air, kind="one_off", price_krw=50000, contract_type="provision"
    )
    entry = CatalogEntry.objects.get(dataset=air)
    assert entry.price_types == ["paid"] and entry.price_from_krw == 50000
    assert "안산시 미세먼지 측정 자료" not in search(price="free")
    assert "안산시 미세먼지 측정 자료" in search(price="paid")


@pytest.mark.django_db
def test_a_dcat_catalog_paged_by_hydra_is_harvested(world):
    pages = {"1": fixture_bytes("dcat_catalog_page1.ttl"), "2": fixture_bytes("dcat_catalog_page2.ttl")}

    def routes(path, query):
        if path != "/catalog.ttl":
            return 404, "text/plain", b"not here"
        body = pages[query.get("page", "1")].replace(
            b"http://dcat.example.test/catalog.ttl", portal.url.encode() + b"/catalog.ttl"
        )
        return 200, "text/turtle; charset=utf-8", body

    with FakeSource(routes) as portal:
        source = make_source(world["admin"], world["org"], f"{portal.url}/catalog.ttl", kind="dcat", name="부천시 DCAT")
        run = run_once(source)
        assert [q.get("page") for _p, q in portal.requests] == [None, "2"]
    assert (run.state, run.added, run.failed, run.cursor["complete"]) == ("done", 3, 0, True)
    cctv = HarvestedDataset.objects.get(identifier="http://dcat.example.test/dataset/bucheon-cctv")
    version = cctv.dataset.versions.get()
    assert (version.title_ko, version.title_en) == ("부천시 방범 CCTV 설치 현황", "Bucheon crime-prevention CCTV")
    assert (version.theme.code, version.licence.code, version.update_cadence) == ("law", "kogl-1", "quarterly")
    assert (version.contact_email, version.contact_phone, version.spatial_area) == (
        "safety@bucheon.example.kr",
        "032-625-2114",
        "경기도 부천시",
    )
    assert version.spatial_bbox == [126.74, 37.46, 126.83, 37.54]
    assert cctv.source_url == "http://dcat.example.test/datasets/bucheon-cctv"
    resource = version.external_resources.get()
    assert (resource.format, resource.size, resource.media_type) == ("CSV", 120533, "text/csv")
    assert resource.checksum == "sha256:9a1f0e5b7c3d2e4f6a8b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f"
    libraries = HarvestedDataset.objects.get(identifier__endswith="bucheon-libraries").dataset.versions.get()
    assert (libraries.theme.code, libraries.licence.code, libraries.update_cadence) == (
        "education",
        "cc-by-4.0",
        "yearly",
    )
    parking = HarvestedDataset.objects.get(identifier__endswith="bucheon-parking").dataset.versions.get()
    assert (parking.theme.code, parking.licence.code) == ("transport", "cc-by-4.0")


@pytest.mark.django_db
def test_changed_mapping_rules_remap_every_record_on_the_next_run(world):
    with FakeSource(ckan_pages(recorded_packages())) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        run_once(source)
        source.mapping = {**ANSAN_RULES, "default_theme": "welfare"}
        source.save(update_fields=["mapping"])
        again = run_once(source)
    assert again.updated == 4
    assert listing(source, "ansan-parks").versions.get(state=V.PUBLISHED).theme.code == "welfare"


@pytest.mark.django_db
def test_licence_rules_and_unmappable_records(world):
    packages = copy.deepcopy(recorded_packages())
    packages[0]["license_id"] = "ansan-open-licence"
    packages[1]["license_id"] = "notspecified"
    packages[2]["license_id"] = "kogl-type2"  # forbids commercial use: not for public data
    with FakeSource(ckan_pages(packages)) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping={
            **ANSAN_RULES, "licences": {"ansan-open-licence": "kogl-1"},
        })  # fmt: skip
        run = run_once(source)
    assert listing(source, "ansan-air-quality").versions.get().licence == Licence.objects.get(code="kogl-1")
    by_name = {r.title: r for r in run.records.filter(action=A.FAILED)}
    assert by_name["안산시 버스정류장 위치"].message_en.startswith(
        "No licence could be chosen (source value: notspecified)"
    )
    assert by_name["안산시 버스정류장 위치"].message_ko.startswith("이용허락(라이선스)을 정할 수 없습니다")
    assert by_name["안산시 도시공원 현황"].message_en.startswith("Public data may not carry a licence that forbids")
    assert json.dumps(run.records.count()) == "5"
