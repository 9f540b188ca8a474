"""Exact counts asked of the workers stay within a budget of matches per second (CATALOG_COUNT_BUDGET,
core.cache.spend_per_second): a burst of varied searches asked twice (a harvester, a script, launch day) must not turn
into a backlog of counts that takes the CPU the searches need. Measured before the budget: with bench/load.py's
never-seen searches at 50 connections the worker's counts took a quarter of the two cores (71.6 req/s; 94.3 with
no counts)."""

import random

import pytest
from django.http import QueryDict
from django.test.utils import override_settings

from catalog.discovery import catalog_search, exact_counts
from core import cache as core_cache
from core.cache import spend_per_second
from tests.catalog.test_discovery import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    now = [float(random.randrange(2 * 10**9, 3 * 10**9)) + 0.25]  # a second of its own: no test's counters in it
    monkeypatch.setattr(core_cache.time, "time", lambda: now[0])
    return now


def test_a_budget_holds_what_a_second_allows_and_starts_again_the_next(clock):
    assert spend_per_second("t", 6, 10) and spend_per_second("t", 4, 10)
    assert not spend_per_second("t", 1, 10)  # spent
    clock[0] += 1
    assert spend_per_second("t", 7, 10) and not spend_per_second("t", 7, 10)
    assert spend_per_second("t", 3, 10)  # a refused spend took nothing
    clock[0] += 1
    assert spend_per_second("t", 50, 10)  # the first of a second always fits, once
    assert not spend_per_second("t", 1, 10)
    assert spend_per_second("other", 5, 10)  # budgets are per name
    assert all(spend_per_second("t", 10**6, 0) for _ in range(3))  # 0: no budget


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1], CATALOG_COUNT_BUDGET=8)
def test_searches_asked_again_beyond_the_budget_keep_their_estimate_until_a_later_ask(publisher, monkeypatch, clock):
    from catalog import discovery, tasks

    for i in range(6):
        publish(publisher, f"미세먼지 대기질 자료 {i}")
    asked = []
    monkeypatch.setattr(tasks.catalog_counts_task, "delay", lambda params: asked.append(params))
    for q in ("미세먼지", "대기질"):  # each large (6 > 3), asked once: estimates, nothing to count yet
        assert not catalog_search(QueryDict(f"q={q}")).exact
    assert asked == []

    first = catalog_search(QueryDict("q=미세먼지"), page=2)  # asked again: 6 of this second's 8
    assert first.counting and asked == [{"q": ["미세먼지"]}]
    discovery.ESTIMATES_PENDING.set(False)
    second = catalog_search(QueryDict("q=대기질&sort=newest"))  # 6 more do not fit: the estimate stays
    assert not second.exact and not second.counting and second.total == 6
    assert not discovery.ESTIMATES_PENDING.get()  # an answer of a labelled estimate the page cache may keep
    assert len(asked) == 1

    clock[0] += 1  # the next second: the same search asked once more is counted
    third = catalog_search(QueryDict("q=대기질"))
    assert third.counting and asked[-1] == {"q": ["대기질"]}
    exact_counts(QueryDict("q=대기질"))  # what the worker's task does
    assert catalog_search(QueryDict("q=대기질")).exact


def test_a_counter_gone_between_calls_is_no_error(clock, monkeypatch):
    """The counter expires, is evicted or flushed between two calls (Django's incr raises ValueError for a missing
    key): the catalog page must not fail, and a refused spend's give-back finds nothing to give back to (review)."""
    from django.core.cache import cache

    real_add, real_incr = cache.add, cache.incr
    lose = {"add": True, "incr": False}

    def add_then_lost(key, *args, **kwargs):
        result = real_add(key, *args, **kwargs)
        if lose["add"]:
            cache.delete(key)
        return result

    def incr_then_lost(key, delta=1, **kwargs):
        value = real_incr(key, delta, **kwargs)
        if lose["incr"] and delta > 0:
            cache.delete(key)  # the counter's 5 seconds ran out before the refused spend is taken back
        return value

    monkeypatch.setattr(cache, "add", add_then_lost)
    monkeypatch.setattr(cache, "incr", incr_then_lost)
    assert spend_per_second("t", 5, 10)  # a new second's counter, lost at once: no error
    lose["add"] = False
    clock[0] += 1
    assert spend_per_second("t", 8, 10)
    lose["incr"] = True
    assert not spend_per_second("t", 8, 10)


@override_settings(CATALOG_EXACT_CAP=3, CATALOG_SAMPLE_LEVELS=[1], CATALOG_COUNT_BUDGET=8)
def test_an_ask_the_broker_refused_gives_its_budget_back(publisher, monkeypatch, clock):
    from catalog import tasks

    for i in range(6):
        publish(publisher, f"미세먼지 자료 {i}")

    def down(params):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.catalog_counts_task, "delay", down)
    catalog_search(QueryDict("q=미세먼지"))
    again = catalog_search(QueryDict("q=미세먼지&page=2"))  # asked again: the worker cannot be asked
    assert not again.counting and not again.exact
    assert spend_per_second("catalog-counts", 6, 8)  # nothing was queued this second: its 6 of 8 still fit


def test_twenty_spends_at_once_take_exactly_the_budget(clock):
    """Twenty web threads asking in the same second: the counter is one atomic INCRBY each, so exactly the budget's
    worth gets through, never more (and the refused ones leave nothing behind)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=20) as pool:
        granted = list(pool.map(lambda _i: spend_per_second("twenty", 1, 10) is not None, range(20)))
    assert sum(granted) == 10
    assert spend_per_second("twenty", 1, 10) is None  # spent, the refusals took nothing back out of it
    clock[0] += 1
    assert spend_per_second("twenty", 10, 10) is not None
