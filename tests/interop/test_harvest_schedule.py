"""The beat (harvest_due): scheduled sources get their run when due, through the contract's
catalog.harvest.services.harvest_run_request (the schedule as actor, one open run per source); a run whose lease
ran out is handed to a worker again; a run claimed too often ends failed with the reason; a finished run sets when
the source runs next."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from catalog.harvest import importer, services
from catalog.harvest.models import HarvestRun, HarvestSource
from catalog.harvest.tasks import harvest_due, harvest_run
from tests.interop.harvest_support import ANSAN_RULES, FakeSource, ckan_pages, make_run, make_source, recorded_packages
from tests.lock_support import a_backend_waits_for_a_lock, held_inside, started


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.HARVEST_CKAN_ROWS = 3
    settings.HARVEST_RETRY_BACKOFF_SECONDS = 0.01


@pytest.fixture
def world(official, admin_user, reference_data):
    return {"admin": admin_user, "org": official.active_organization}


@pytest.mark.django_db(transaction=True)
def test_a_due_source_is_harvested_by_the_schedule_once(world, celery_worker):
    with FakeSource(ckan_pages(recorded_packages())) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES, schedule="daily")
        make_source(world["admin"], world["org"], portal.url + "/manual", mapping=ANSAN_RULES, name="수동")
        paused = make_source(world["admin"], world["org"], portal.url + "/paused", schedule="hourly", active=False)
        first = harvest_due.apply().get()
        second = harvest_due.apply().get()  # the run is open (or done and not due again): nothing new
        assert len(first["started"]) == 1 and second["started"] == []
        assert first["fetched_published"] == []  # the beat also publishes checked fetches (test_harvest_fetch)
        run = HarvestRun.objects.get(pk=first["started"][0])
        assert run.source == source and run.requested_by is None
        deadline = timezone.now() + dt.timedelta(seconds=60)
        while timezone.now() < deadline:
            run.refresh_from_db()
            if run.state in ("done", "failed"):
                break
    assert run.state == "done" and run.added == 4
    source.refresh_from_db()
    assert source.last_run_at is not None
    assert source.next_run_at - source.last_run_at == dt.timedelta(days=1)
    assert not HarvestRun.objects.filter(source=paused).exists()
    assert HarvestRun.objects.count() == 1


@pytest.mark.django_db
def test_a_stale_run_is_found_and_taken_over_where_it_stopped(world):
    with FakeSource(ckan_pages(recorded_packages())) as portal:
        source = make_source(world["admin"], world["org"], portal.url, mapping=ANSAN_RULES)
        run = make_run(source)
        claimed = importer.harvest_run_claim(run_id=run.pk)
        assert importer.harvest_run_claim(run_id=run.pk) is None  # leased: a second worker does nothing
        # The worker read one page, then died: its lease runs out.
        from catalog.harvest.readers import read_source

        page = next(iter(read_source(source, cursor=None)))
        importer.harvest_page_import(run=claimed, page=page, cursor={})
        HarvestRun.objects.filter(pk=run.pk).update(leased_until=timezone.now() - dt.timedelta(seconds=1))
        assert run.pk in importer.harvest_runs_stale()
        assert harvest_run.apply(args=[run.pk]).get() == "done"
        starts = [int(q["start"]) for _p, q in portal.requests]
    run.refresh_from_db()
    assert starts == [0, 3]  # the second worker started at the page after the committed one
    assert (run.state, run.attempts, run.added, run.failed) == ("done", 2, 4, 1)
    # The first worker wakes up: it no longer holds the lease and writes nothing.
    with pytest.raises(importer.LeaseLost):
        importer.harvest_run_advance(run=claimed, cursor={"next": {"start": 99}})


@pytest.mark.django_db
def test_a_run_interrupted_too_often_ends_failed(world, settings):
    settings.HARVEST_MAX_ATTEMPTS = 2
    source = make_source(world["admin"], world["org"], "http://127.0.0.1:9/", mapping=ANSAN_RULES)
    run = make_run(source)
    HarvestRun.objects.filter(pk=run.pk).update(state="running", attempts=2, leased_until=timezone.now())
    assert importer.harvest_run_claim(run_id=run.pk) is None
    run.refresh_from_db()
    assert run.state == "failed"
    assert run.error_en.startswith("The harvest was interrupted 2 times and stopped.")
    assert run.error_ko.startswith("수집이 2번 중단되어 멈췄습니다.")


@pytest.mark.django_db
def test_a_manual_source_is_never_due(world):
    source = make_source(world["admin"], world["org"], "http://127.0.0.1:9/", schedule=HarvestSource.Schedule.MANUAL)
    assert source not in importer.harvest_sources_due()


@pytest.mark.django_db(transaction=True)
def test_a_schedule_changed_while_a_run_ends_is_not_overwritten_by_the_old_one(world, monkeypatch):
    """A run that ends sets when its source runs next from the source's schedule. An admin changing the schedule at
    that moment (the source's row locked, not yet committed) must not be overwritten by a next run computed from the
    old schedule: the ending run locks the source's row before it reads the schedule."""
    source = make_source(world["admin"], world["org"], "http://127.0.0.1:9/", schedule="daily")
    claimed = importer.harvest_run_claim(run_id=make_run(source).pk)
    failures = []

    def admin_change():
        services.harvest_source_update(
            actor=world["admin"], source=source, reason="원본이 주 1회 갱신됨", schedule="weekly"
        )

    # _duplicate_check: called by harvest_source_update once it holds the source's row.
    with held_inside(monkeypatch, services, "_duplicate_check", admin_change):
        ending = started(
            lambda: importer.harvest_run_fail(run=claimed, message_ko="실패", message_en="failed"), failures
        )
        try:
            with connection.cursor() as cursor:  # until the ending run waits for the admin's lock on the source
                a_backend_waits_for_a_lock(cursor, given_up=lambda: not ending.is_alive())
        except BaseException:
            ending.join(60)
            raise
    ending.join(60)
    assert not failures, failures
    source.refresh_from_db()
    assert source.schedule == "weekly"
    assert source.next_run_at - source.last_run_at == dt.timedelta(days=7)
