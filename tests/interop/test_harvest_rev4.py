"""Reviewer rev4: regressions of the harvester's last fixes (batching, in-memory hashes, outbound guard)."""

import pytest

from catalog.harvest.importer import listing_hash
from catalog.harvest.models import HarvestedDataset, HarvestRun
from catalog.harvest.tasks import harvest_run
from catalog.models import DatasetVersion
from tests.interop.harvest_support import ANSAN_RULES, FakeSource, make_run, make_source
from tests.interop.test_harvest_fetch import one_package, serve

V = DatasetVersion.State
SIZE = True  # what a CKAN portal may answer; Python takes a bool for an int


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.HARVEST_CKAN_ROWS = 3
    settings.HARVEST_RETRY_BACKOFF_SECONDS = 0.01


def _harvest(source, holder, packages):
    with FakeSource(serve(holder)) as portal:
        holder["packages"] = packages(portal.url)
        source.url = portal.url
        source.save(update_fields=["url"])
        run = make_run(source)
        assert harvest_run.apply(args=[run.pk]).get() == "done"
    return HarvestRun.objects.get(pk=run.pk)


@pytest.mark.django_db
def test_a_listing_whose_source_gives_a_boolean_size_is_updated_at_the_sources_next_change(
    official, admin_user, reference_data
):
    """CKAN answers "size": true (bool is an int in Python): the link resource stores 1. The imported hash must be
    the hash of what was stored, else the next change of the source finds the listing "edited here" and keeps it
    stale forever (the hash is now computed from the objects in memory, not re-read)."""

    def packages(title=None):
        def make(base):
            found = one_package(base, None)
            found[0]["resources"][0]["size"] = SIZE
            if title:
                found[0]["title"] = title
                found[0].pop("title_translated", None)
            return found

        return make

    holder = {}
    source = make_source(admin_user, official.active_organization, "http://127.0.0.1:9", mapping=ANSAN_RULES)
    first = _harvest(source, holder, packages())
    dataset = first.records.get(action="added").dataset
    harvested = HarvestedDataset.objects.get(dataset=dataset)
    assert harvested.imported_hash == listing_hash(dataset.versions.get(state=V.PUBLISHED))

    second = _harvest(source, holder, packages("미세먼지 측정 결과 (개정)"))
    line = second.records.get()
    assert line.action == "updated", (line.action, line.message_en)


def test_a_redirect_to_a_malformed_address_is_a_source_error_not_a_crash():
    """A source's Location header is the source's to write: "http://[::1" makes urlsplit raise ValueError, which
    must become the run's reason (SourceError, ko/en) as an invalid address did before, not a task crash retried
    with backoff (then "kept failing"), nor a 500 from the admin's source check."""
    from catalog.harvest.probe import source_probe
    from catalog.harvest.readers import http
    from catalog.harvest.records import SourceError
    from tests.interop.test_harvest_guard import _redirecting

    with _redirecting(lambda path: "http://[::1") as portal:
        with pytest.raises(SourceError) as error:
            http.get(f"{portal.url}/start")
        probe = source_probe("dcat", f"{portal.url}/catalog.ttl")
    assert "주소" in error.value.message_ko and "address" in error.value.message_en
    assert probe.ok is False
