"""The synthetic catalog (devtools.seed.catalog, manage.py seed_catalog) and the search benchmark (bench/search.py).

The seeded rows must be exactly what the services would have written: the same catalog entry (and
search vector, byte for byte) as catalog_entry_refresh computes, versions that would pass submission,
offers that follow the pricing rules.
"""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.http import QueryDict
from django.urls import reverse

from accounts.models import Organization, User
from catalog import selectors
from catalog.models import CatalogEntry, DataFile, Dataset, DatasetVersion, Offer
from catalog.search import parse_query
from catalog.services.entries import catalog_entry_refresh
from catalog.services.review import submission_problems
from devtools.seed import catalog as seeding

ROOT = Path(__file__).resolve().parents[2]
ENTRY_FIELDS = [
    "version_id",
    "title_ko",
    "title_en",
    "publisher_id",
    "theme_id",
    "licence_id",
    "formats",
    "price_types",
    "tags",
    "update_cadence",
    "area",
    "published_at",
    "download_count",
    "search_vector",
    "facet_keys",
    "sort_keys",
    "price_from_krw",
    "subscription_prices",
]

pytestmark = pytest.mark.django_db


def seeded_entries():
    return CatalogEntry.objects.filter(publisher__slug__startswith=seeding.SEED_PREFIX)


@pytest.fixture
def seeded(reference_data):
    result = seeding.seed(200, seed=3, files_ratio=0.1, batch_size=64, workers=0, log=lambda *_: None)
    assert result.rows["datasets"] == 200
    return result


def test_seeding_publishes_n_visible_datasets(seeded):
    assert seeded_entries().count() == 200
    assert Dataset.objects.filter(publisher__slug__startswith="seed-", listing="active").count() == 200
    assert DatasetVersion.objects.filter(dataset__publisher__slug__startswith="seed-", state="published").count() == 200
    # Every one is what buyers can see: the catalog search lists every entry.
    assert selectors.catalog_search(QueryDict("sort=newest")).total == CatalogEntry.objects.count() >= 200
    publishers = Organization.objects.filter(slug__startswith="seed-")
    assert publishers.count() >= 290
    assert not publishers.exclude(verification="verified").exists()
    assert not publishers.exclude(kind="provider").exists()
    for slug in publishers.values_list("slug", flat=True):
        reverse("catalog:organization", args=[slug])  # every publisher has a valid public address


def test_every_stored_entry_and_vector_equals_what_catalog_entry_refresh_writes(seeded):
    stored = {e["pk"]: e for e in seeded_entries().values("pk", *ENTRY_FIELDS)}
    assert all(e["search_vector"] for e in stored.values())
    assert all(f"t:{e['theme_id']}" in e["facet_keys"] for e in stored.values())
    for pk, before in stored.items():
        with transaction.atomic():
            catalog_entry_refresh(Dataset.objects.get(pk=pk))
            after = CatalogEntry.objects.values("pk", *ENTRY_FIELDS).get(pk=pk)
            transaction.set_rollback(True)
        assert after == before, pk


def test_seeded_vectors_are_searchable_like_real_ones(seeded):
    """Ground truth by substring: every seeded title containing 주차 / 미세먼지 is found by the search."""
    for word in ("주차", "미세먼지", "현황"):
        expected = set(seeded_entries().filter(title_ko__contains=word).values_list("pk", flat=True))
        found = set(seeded_entries().filter(search_vector=parse_query(word)).values_list("pk", flat=True))
        assert expected <= found, word
    assert seeded_entries().filter(title_ko__contains="현황").exists()


def test_seeded_versions_would_pass_submission_and_offers_follow_the_law(seeded):
    versions = DatasetVersion.objects.filter(dataset__publisher__slug__startswith="seed-").select_related(
        "licence", "dataset"
    )
    for version in versions[:60]:
        assert submission_problems(version, pii_justification="-") == [], version.title_ko
    offers = Offer.objects.filter(dataset__publisher__slug__startswith="seed-").select_related("dataset")
    assert offers.filter(kind="free").exists() and offers.exclude(kind="free").exists()
    kinds = dict(versions.values_list("dataset_id", "data_kind"))
    licences = dict(versions.values_list("dataset_id", "licence__code"))
    for offer in offers:
        if offer.kind == "free":
            assert offer.price_krw == 0
            continue
        assert licences[offer.dataset_id] not in ("kogl-2", "kogl-4")
        if kinds[offer.dataset_id] == "public":
            assert offer.cost_basis and offer.rule == "공공데이터법" and not offer.contract_type
        else:
            assert offer.contract_type in Offer.Contract.values and offer.rule == "데이터산업법"
        if offer.kind == "subscription":
            assert offer.subscription_days in (30, 90, 365)


def test_dataset_pages_of_seeded_datasets_render(seeded, client):
    rich = DataFile.objects.filter(version__dataset__publisher__slug__startswith="seed-", profile__isnull=False).first()
    assert rich is not None and rich.preview["rows"] and len(rich.preview["columns"]) == rich.column_count
    plain = CatalogEntry.objects.filter(publisher__slug__startswith="seed-").exclude(version=rich.version).first()
    for version in (rich.version, plain.version):
        response = client.get(reverse("catalog:dataset", args=[version.dataset.slug]))
        assert response.status_code == 200
        assert version.title_ko in response.content.decode()
    assert (
        rich.preview["columns"][0]
        in client.get(reverse("catalog:dataset", args=[rich.version.dataset.slug])).content.decode()
    )


def test_generation_is_deterministic(reference_data):
    user, publishers = seeding.ensure_publishers(5)
    from datetime import datetime

    from catalog.models import Licence, Theme

    ctx = seeding.Context(
        seed=5,
        user_id=user.pk,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        publishers=publishers,
        themes={t.code: (t.pk, t.name_ko) for t in Theme.objects.all()},
        licences=dict(Licence.objects.values_list("code", "id")),
        rich_files_ratio=0.2,
    )
    job = (ctx, seeding._tables(), 0, [(10**9 + i, 10**9 + i) for i in range(50)])
    assert seeding.generate_batch(job) == seeding.generate_batch(job)
    assert seeding.generate_batch(job) != seeding.generate_batch((ctx, job[1], 1, job[3]))


def test_deferred_indexes_are_rebuilt(reference_data):
    seeding.seed(30, seed=2, workers=0, defer_indexes=True, log=lambda *_: None)
    with connection.cursor() as cursor:
        present = seeding._existing_indexes(cursor, CatalogEntry._meta.db_table)
    assert {index.name for index in CatalogEntry._meta.indexes} <= present


def test_clear_removes_only_seeded_data(draft, reference_data):
    seeding.seed(40, seed=4, workers=0, log=lambda *_: None)
    assert seeded_entries().count() == 40
    seeding.clear(log=lambda *_: None)
    assert not Dataset.objects.filter(publisher__slug__startswith="seed-").exists()
    assert not Organization.objects.filter(slug__startswith="seed-").exists()
    assert not User.objects.filter(email=seeding.SEED_USER_EMAIL).exists()
    assert not DataFile.objects.filter(file__startswith="seed/").exists()
    assert Dataset.objects.filter(pk=draft.dataset_id).exists()  # the real dataset stays


def test_command_refuses_a_database_with_real_datasets_unless_forced(draft, reference_data):
    with pytest.raises(CommandError, match="real"):
        call_command("seed_catalog", n=10, stdout=open(os.devnull, "w"))
    assert not seeded_entries().exists()
    call_command("seed_catalog", n=10, force=True, workers=0, stdout=open(os.devnull, "w"))
    assert seeded_entries().count() == 10
    call_command("seed_catalog", clear=True, stdout=open(os.devnull, "w"))
    assert not seeded_entries().exists()
    with pytest.raises(CommandError):
        call_command("seed_catalog", stdout=open(os.devnull, "w"))  # neither --n nor --clear


@pytest.mark.django_db(databases=[])
def test_search_bench_runs_end_to_end():
    """bench/search.py --quick on a small catalog in a throwaway database: readable figures, then one JSON line."""
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_bench_{uuid.uuid4().hex[:6]}"
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"))
    bench_url = urlunsplit(url._replace(path="/" + name))
    env = dict(os.environ, BENCH_DATABASE_URL=bench_url)
    try:
        out = subprocess.run(
            [sys.executable, "bench/search.py", "--n", "300", "--quick", "--explain", "1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        lines = out.stdout.strip().splitlines()
        result = json.loads(lines[-1])
        assert result["bench"] == "search" and result["n"] == 300
        assert result["seed_rows_s"] > 0
        assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
        assert result["dataset_p95_ms"] > 0 and result["catalog_queries_max"] > 0
        assert "EXPLAIN (ANALYZE, BUFFERS)" in out.stdout and "naive" in out.stdout
    finally:
        admin = psycopg2.connect(urlunsplit(url._replace(path="/postgres")))
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
