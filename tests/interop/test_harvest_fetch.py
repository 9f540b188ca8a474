"""resource_mode "fetch": the listing is published with its links at once; its readable files are streamed from the
source into a draft through the normal upload services, checked like any upload, and published automatically once
they passed. A file over HARVEST_FETCH_MAX_BYTES stays a link."""

import copy

import pytest

from catalog.harvest.fetch import FETCH_NOTE, harvest_fetched_publish
from catalog.harvest.models import HarvestRun
from catalog.harvest.tasks import harvest_run
from catalog.models import CatalogEntry, DataFile, DatasetVersion
from catalog.tasks import datafile_check_task
from tests.interop.harvest_support import ANSAN_RULES, FakeSource, ckan_pages, make_run, make_source, recorded_packages

V = DatasetVersion.State
CSV = "측정소,일시,PM10,PM2.5\n고잔동,2026-11-01 01:00,41,22\n원곡동,2026-11-01 01:00,38,19\n".encode()


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.HARVEST_CKAN_ROWS = 3
    settings.HARVEST_RETRY_BACKOFF_SECONDS = 0.01


def one_package(base: str, size: int | None) -> list:
    package = copy.deepcopy(recorded_packages()[0])
    package["resources"] = [
        {**package["resources"][0], "url": f"{base}/files/pm.csv", "size": size},
        {**package["resources"][1], "url": f"{base}/files/stations.json", "format": "PDF"},  # not ours to check
    ]
    return [package]


def serve(holder):
    def routes(path, query):
        if path == "/files/pm.csv":
            return 200, "text/csv", CSV
        return ckan_pages(holder["packages"])(path, query)

    return routes


@pytest.mark.django_db
def test_fetched_files_are_checked_then_published(official, admin_user, reference_data):
    holder = {}
    with FakeSource(serve(holder)) as portal:
        holder["packages"] = one_package(portal.url, len(CSV))
        source = make_source(admin_user, official.active_organization, portal.url, mapping=ANSAN_RULES,
                             resource_mode="fetch")  # fmt: skip
        run = make_run(source)
        assert harvest_run.apply(args=[run.pk]).get() == "done"
        fetched = [p for p, _q in portal.requests if p.startswith("/files/")]
    assert fetched == ["/files/pm.csv"]  # the PDF stays a link
    run = HarvestRun.objects.get(pk=run.pk)
    dataset = run.records.get(action="added").dataset
    published = dataset.versions.get(state=V.PUBLISHED)
    assert not published.files.exists() and published.external_resources.count() == 2  # links at once
    draft = dataset.versions.get(change_note=FETCH_NOTE)
    datafile = draft.files.get()
    assert (datafile.original_name, datafile.size, datafile.format) == ("pm.csv", len(CSV), "csv")
    assert draft.created_by == official  # uploaded on behalf of a publisher of the organization
    assert draft.external_resources.count() == 2  # the links are kept beside the file
    assert harvest_fetched_publish() == []  # not before the checks passed
    # A run meanwhile leaves the listing to the fetch in progress, and says so.
    with FakeSource(serve(holder)) as portal:
        holder["packages"] = one_package(portal.url, len(CSV))
        source.url = portal.url
        source.save(update_fields=["url"])
        meanwhile = make_run(source)
        harvest_run.apply(args=[meanwhile.pk]).get()
    line = meanwhile.records.get()
    assert line.action == "kept" and line.message_en.startswith("The source's files are being fetched and checked")
    datafile_check_task.apply(args=[datafile.pk])
    datafile.refresh_from_db()
    assert datafile.check_state == DataFile.Check.PASSED and datafile.row_count == 2
    assert harvest_fetched_publish() == [draft.pk]
    draft.refresh_from_db()
    published.refresh_from_db()
    assert (draft.state, published.state) == (V.PUBLISHED, V.SUPERSEDED)
    entry = CatalogEntry.objects.get(dataset=dataset)
    assert entry.version == draft and entry.price_types == ["free"] and "csv" in entry.formats

    # The next run does not mistake the fetch for an edit made here.
    with FakeSource(serve(holder)) as portal:
        holder["packages"] = one_package(portal.url, len(CSV))
        source.url = portal.url
        source.save(update_fields=["url"])
        again = make_run(source)
        harvest_run.apply(args=[again.pk]).get()
    again.refresh_from_db()
    assert again.kept == 0 and again.updated == 1


@pytest.mark.django_db
def test_a_file_over_the_cap_stays_a_link(official, admin_user, reference_data, settings):
    settings.HARVEST_FETCH_MAX_BYTES = 10
    holder = {}
    with FakeSource(serve(holder)) as portal:
        holder["packages"] = one_package(portal.url, None)  # size not announced: counted while streaming
        source = make_source(admin_user, official.active_organization, portal.url, mapping=ANSAN_RULES,
                             resource_mode="fetch")  # fmt: skip
        run = make_run(source)
        assert harvest_run.apply(args=[run.pk]).get() == "done"
    dataset = HarvestRun.objects.get(pk=run.pk).records.get(action="added").dataset
    assert dataset.versions.count() == 1 and not DataFile.objects.filter(version__dataset=dataset).exists()
