"""Harvest a second instance of this portal: gunicorn on a database of its own (created and migrated here), its
SITE_URL its own address, three datasets published and one left a draft through the real services. This portal
harvests it through its CKAN Action API (/api/3/action/package_search, catalog.ckan) and its DCAT-AP output
(/catalog.ttl with Hydra paging, catalog.dcat): the three public datasets become listings, the draft does not,
resources are links to the peer, and each listing links back to its record there."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
import pytest
from django.conf import settings as django_settings
from django.db import connection

from bench.webserver import free_port, start_gunicorn, stop
from catalog.harvest.models import HarvestedDataset
from catalog.harvest.tasks import harvest_run
from catalog.models import CatalogEntry
from tests.conftest import make_org, make_user
from tests.interop.harvest_support import make_run, make_source

ROOT = Path(__file__).resolve().parents[2]


def _url_with_database(name: str) -> str:
    url = urlsplit(os.environ.get("DATABASE_URL") or django_settings.DATABASE_URL)
    return urlunsplit(url._replace(path="/" + quote(name)))


def _admin_dsn() -> dict:
    params = dict(connection.get_connection_params())
    params["dbname"] = "postgres"
    return params


@pytest.fixture
def peer(tmp_path, transactional_db):
    """The second instance: its database created, migrated and seeded; gunicorn serving it."""
    name = f"{connection.settings_dict['NAME']}_peer"
    admin = psycopg2.connect(**_admin_dsn())
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _url_with_database(name),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "PRIVATE_STORAGE_ROOT": str(tmp_path / "private"),
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "peer-secret-key-not-for-production",
        "CELERY_TASK_DEFAULT_QUEUE": f"peer-parked-{port}",  # nothing consumes what the seed queues
        "EMAIL_MODE": "locmem",
    }
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    migrated = run("manage.py", "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    seeded = run("-m", "tests.interop.peer_seed")
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    slugs = json.loads(seeded.stdout.strip().splitlines()[-1])
    web = start_gunicorn(port, env={k: env[k] for k in ("DATABASE_URL", "SITE_URL", "PRIVATE_STORAGE_ROOT",
                                                        "VAR_DIR", "DJANGO_SECRET_KEY")}, workers=1)  # fmt: skip
    try:
        yield {"url": env["SITE_URL"], **slugs}
    finally:
        stop(web)
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.django_db(transaction=True)
def test_a_peer_portal_is_harvested_through_its_ckan_api_and_its_dcat_output(peer, reference_data, settings):
    settings.HARVEST_CKAN_ROWS = 2  # three datasets: two pages
    admin = make_user("admin@siheung.test", staff=True)
    owner = make_user("national@exchange.test")
    org = make_org(owner, name_ko="부천시(수집)", name_en="Bucheon (harvested)", kind="provider", brn="2208139938")

    ckan = make_source(admin, org, peer["url"], name="부천시 포털 (CKAN)")
    run = make_run(ckan, requested_by=admin)
    outcome = harvest_run.apply(args=[run.pk]).get()
    run.refresh_from_db()
    assert outcome == "done", run.error_en
    assert (run.added, run.failed, run.cursor["complete"]) == (3, 0, True), list(run.records.values())
    titles = sorted(CatalogEntry.objects.filter(dataset__harvest__source=ckan).values_list("title_ko", flat=True))
    assert titles == ["부천시 공공도서관 목록", "부천시 공영주차장 현황", "부천시 미세먼지 측정 자료"]
    dust = HarvestedDataset.objects.get(source=ckan, dataset__versions__title_ko="부천시 미세먼지 측정 자료")
    version = dust.dataset.versions.get()
    assert (version.theme.code, version.licence.code, version.title_en) == (
        "environment",
        "kogl-1",
        "Bucheon fine dust",
    )
    assert version.tags == ["미세먼지", "대기질"] and version.spatial_area == "경기도 부천시"
    resources = list(version.external_resources.all())
    assert resources and all(r.url.startswith(peer["url"]) for r in resources)
    assert dust.source_url.startswith(peer["url"])

    dcat = make_source(admin, org, f"{peer['url']}/catalog.ttl", kind="dcat", name="부천시 포털 (DCAT)",
                       mapping={"default_theme": "administration"})  # fmt: skip
    run = make_run(dcat, requested_by=admin)
    outcome = harvest_run.apply(args=[run.pk]).get()
    run.refresh_from_db()
    assert outcome == "done", run.error_en
    assert (run.added, run.failed, run.cursor["complete"]) == (3, 0, True), list(run.records.values())
    dataset_uris = set(HarvestedDataset.objects.filter(source=dcat).values_list("identifier", flat=True))
    assert {uri.rstrip("/").rsplit("/", 1)[-1] for uri in dataset_uris} == set(peer["published"])
    assert peer["draft"] not in " ".join(dataset_uris)
    for harvested in HarvestedDataset.objects.filter(source=dcat):
        version = harvested.dataset.versions.get()
        assert version.licence.code in ("kogl-1", "cc-by-4.0", "kogl-3")
        assert version.external_resources.exists()
        assert harvested.source_url.startswith(peer["url"])
