"""A listing is withdrawn only when its record is gone from the source: a read whose total changed while it was
read removes nothing (rev2 bug 5), and a CKAN record missing from a complete read is confirmed with the source
first (one deleted and one added meanwhile keep the total, yet hide a living record from offset paging)."""

import json

import pytest

from catalog.harvest.models import HarvestedDataset, HarvestRecord
from catalog.harvest.tasks import harvest_run
from tests.interop.harvest_support import ANSAN_RULES, FakeSource, ckan_pages, make_run, make_source, recorded_packages

A = HarvestRecord.Action


@pytest.fixture(autouse=True)
def _small_pages(settings):
    settings.HARVEST_CKAN_ROWS = 2
    settings.HARVEST_RETRY_BACKOFF_SECONDS = 0.01


def run_once(source):
    run = make_run(source)
    assert harvest_run.apply(args=[run.pk]).get() == "done"
    run.refresh_from_db()
    return run


def portal_of(holder):
    """A CKAN portal paging `holder["packages"]` that answers a search for one id (q=id:"…") as CKAN does."""

    def routes(path, query):
        q = query.get("q", "*:*")
        if q != "*:*":
            wanted = q.split('"')[1]
            found = [p for p in holder["packages"] if wanted in (p["id"], p["name"])]
            body = {"success": True, "result": {"count": len(found), "results": found}}
            return 200, "application/json", json.dumps(body, ensure_ascii=False).encode()
        if int(query.get("start", 0)) > 0 and holder.get("swap"):
            holder["packages"] = holder.pop("swap")  # the source changes between two pages of the read
        return ckan_pages(holder["packages"])(path, query)

    return routes


def packages():
    titled = [p for p in recorded_packages() if p.get("title")]
    assert len(titled) >= 4
    return titled[:4]


@pytest.mark.django_db
def test_a_record_hidden_by_a_deletion_and_an_addition_mid_read_is_not_withdrawn(official, admin_user,
                                                                                reference_data):  # fmt: skip
    a, b, c, d = sorted(packages(), key=lambda x: x["name"])  # the source's order: name asc
    holder = {"packages": [a, b, c]}
    with FakeSource(portal_of(holder)) as portal:
        source = make_source(admin_user, official.active_organization, portal.url, mapping=ANSAN_RULES)
        first = run_once(source)
        assert first.added == 3
        # After page 1 (a, b) is read, a is deleted and d added: the total stays 3, page 2 (start=2) brings d only,
        # and c, still at the source, is not seen by this read.
        holder["swap"] = [b, c, d]
        second = run_once(source)
        third = run_once(source)  # the source as it is now, read whole
    lines = dict(second.records.values_list("identifier", "action"))
    assert (lines[a["id"]], lines[b["id"]], lines[d["id"]]) == (A.UNCHANGED, A.UNCHANGED, A.ADDED)
    assert lines[c["id"]] == A.KEPT, lines  # confirmed still at the source: not withdrawn
    assert second.records.get(identifier=c["id"]).message_en.startswith("Not seen in this read")
    assert not HarvestedDataset.objects.filter(identifier=c["id"], removed_at__isnull=False).exists()
    # a is gone at the source: the next read misses it, the source confirms it, and it is withdrawn.
    assert dict(third.records.values_list("identifier", "action"))[a["id"]] == A.REMOVED
    assert HarvestedDataset.objects.filter(identifier=a["id"], removed_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_read_whose_total_changed_removes_nothing(official, admin_user, reference_data):
    p = packages()
    holder = {"packages": p[:3]}
    with FakeSource(portal_of(holder)) as portal:
        source = make_source(admin_user, official.active_organization, portal.url, mapping=ANSAN_RULES)
        run_once(source)
        holder["packages"] = sorted(p[:3], key=lambda x: x["name"])
        holder["swap"] = holder["packages"][1:]  # one deleted between two pages: the total goes 3 → 2
        second = run_once(source)
    assert second.removed == 0 and second.cursor["complete"] is False and second.cursor["shifted"] is True


@pytest.mark.django_db
def test_a_listing_offered_here_stays_when_gone_from_the_source(official, admin_user, reference_data):
    """A listing the organization sells here (a local paid offer) is its own, as an edit here: gone from the source,
    it stays published (buyers keep finding and buying it) and the report says why; one not offered here goes."""
    from catalog import services
    from catalog.models import CatalogEntry

    a, b, _c, _d = sorted(packages(), key=lambda x: x["name"])
    holder = {"packages": [a, b]}
    with FakeSource(portal_of(holder)) as portal:
        source = make_source(admin_user, official.active_organization, portal.url,
                             mapping={**ANSAN_RULES, "data_kind": "private"})  # fmt: skip
        run_once(source)
        sold = HarvestedDataset.objects.get(identifier=a["id"]).dataset
        services.offer_create(actor=official, dataset=sold, kind="one_off", price_krw=50000,
                              contract_type="provision")  # fmt: skip
        holder["packages"] = []
        gone = run_once(source)
    lines = {r.identifier: r for r in gone.records.all()}
    assert lines[a["id"]].action == A.KEPT and "offered here" in lines[a["id"]].message_en
    assert lines[b["id"]].action == A.REMOVED
    assert CatalogEntry.objects.filter(dataset=sold).exists()
    assert not CatalogEntry.objects.filter(dataset=HarvestedDataset.objects.get(identifier=b["id"]).dataset).exists()
