"""rev2 bug 7 and the fetch drafts left behind (bug 6): a harvested listing's files (a provider's upload, or the files
fetched from the source) survive the source's next change, and a fetch draft whose worker was killed does not
freeze the listing."""

import datetime as dt

import pytest
from django.utils import timezone

from catalog.harvest.fetch import FETCH_NOTE, harvest_fetched_publish
from catalog.harvest.models import HarvestRun
from catalog.harvest.tasks import harvest_run
from catalog.models import DataFile, DatasetVersion, Upload
from catalog.tasks import datafile_check_task
from tests.interop.harvest_support import ANSAN_RULES, FakeSource, make_run, make_source
from tests.interop.test_harvest_fetch import CSV, one_package, serve

V = DatasetVersion.State


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.HARVEST_CKAN_ROWS = 3
    settings.HARVEST_RETRY_BACKOFF_SECONDS = 0.01


def harvest(source, holder, title=None):
    with FakeSource(serve(holder)) as portal:
        holder["packages"] = one_package(portal.url, len(CSV))
        if title:
            holder["packages"][0]["title"] = title
            holder["packages"][0].pop("title_translated", None)
        source.url = portal.url
        source.save(update_fields=["url"])
        run = make_run(source)
        assert harvest_run.apply(args=[run.pk]).get() == "done"
    return HarvestRun.objects.get(pk=run.pk)


def check_and_publish(dataset):
    draft = dataset.versions.get(change_note=FETCH_NOTE, state__in=(V.CHECKING, V.READY, V.DRAFT))
    for datafile in draft.files.filter(check_state=DataFile.Check.PENDING):
        datafile_check_task.apply(args=[datafile.pk])
    assert harvest_fetched_publish() == [draft.pk]
    return draft


@pytest.mark.django_db
def test_the_files_of_a_harvested_listing_survive_the_sources_next_change(official, admin_user, reference_data):
    """The published version has a DataFile (fetched here; a provider's upload is the same row): the source changes
    its title, the harvester publishes a new version with the new description, and the file is still there
    (carried, the same stored object), not dropped until it is fetched again."""
    holder = {}
    with FakeSource(serve(holder)) as portal:
        holder["packages"] = one_package(portal.url, len(CSV))
        source = make_source(admin_user, official.active_organization, portal.url, mapping=ANSAN_RULES,
                             resource_mode="fetch")  # fmt: skip
    first = harvest(source, holder)
    dataset = first.records.get(action="added").dataset
    fetched = check_and_publish(dataset).files.get()

    second = harvest(source, holder, title="미세먼지 측정 결과 (개정)")
    assert second.records.get().action == "updated"
    published = dataset.versions.get(state=V.PUBLISHED)
    assert published.title_ko == "미세먼지 측정 결과 (개정)"
    carried = published.files.get()  # the file was not dropped with the new description
    assert (carried.original_name, carried.file.name, carried.check_state) == (
        "pm.csv", fetched.file.name, DataFile.Check.PASSED,
    )  # fmt: skip
    assert "csv" in dataset.entry.formats
    # The files are fetched again into a draft that replaces the carried file of the same name, not beside it.
    draft = check_and_publish(dataset)
    assert list(draft.files.values_list("original_name", flat=True)) == ["pm.csv"]
    # …and the next run (a new port of the fake portal: a changed source) does not take the files for a local edit.
    third = harvest(source, holder, title="미세먼지 측정 결과 (개정)")
    assert (third.updated, third.kept) == (1, 0)
    assert dataset.versions.get(state=V.PUBLISHED).files.get().original_name == "pm.csv"


@pytest.mark.django_db
def test_a_fetch_draft_left_behind_by_a_killed_worker_is_discarded(official, admin_user, reference_data, settings):
    """The worker was killed while a fetched file's bytes were being written: the draft has an unfinished upload.
    It is never published, and once the lease has run out the next run discards it and applies the change."""
    holder = {}
    with FakeSource(serve(holder)) as portal:
        holder["packages"] = one_package(portal.url, len(CSV))
        source = make_source(admin_user, official.active_organization, portal.url, mapping=ANSAN_RULES,
                             resource_mode="fetch")  # fmt: skip
    first = harvest(source, holder)
    dataset = first.records.get(action="added").dataset
    draft = dataset.versions.get(change_note=FETCH_NOTE)
    # As a killed worker leaves it: the upload opened with the draft, its bytes never all written.
    draft.files.all().delete()
    Upload.objects.create(version=draft, created_by=draft.created_by, filename="pm.csv", length=len(CSV))
    DatasetVersion.objects.filter(pk=draft.pk).update(state=V.READY)
    assert harvest_fetched_publish() == []  # a file still arriving is never published

    young = harvest(source, holder, title="미세먼지 (1)")
    assert young.records.get().action == "kept"  # within the lease the fetch may still be going on
    DatasetVersion.objects.filter(pk=draft.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=settings.HARVEST_LEASE_SECONDS + 1)
    )
    later = harvest(source, holder, title="미세먼지 (2)")
    assert later.records.get().action == "updated"
    assert not DatasetVersion.objects.filter(pk=draft.pk).exists()
    assert dataset.versions.get(state=V.PUBLISHED).title_ko == "미세먼지 (2)"
    assert dataset.versions.filter(change_note=FETCH_NOTE, state=V.CHECKING).count() == 1  # fetched again
