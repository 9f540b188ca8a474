"""The unmodified ckanapi 4.11 (RemoteCKAN and its command line) against this portal served by a live server:
`ckanapi action package_search q=미세먼지`, `ckanapi dump datasets --all` (every public dataset, nothing else),
`ckanapi search datasets` (pages of rows=1000 until an empty one), ids and names resolving, paging, facets, and
CKAN's errors arriving as ckanapi's own exceptions."""

import json
import os
import subprocess
import sys
from pathlib import Path

import ckanapi
import pytest

from catalog.interop import object_uuid
from tests.interop.test_ckan_api import build_world

pytestmark = pytest.mark.django_db(transaction=True)

CLI = str(Path(sys.executable).parent / "ckanapi")


@pytest.fixture
def portal(live_server, official, admin_user, reference_data):
    world = build_world(official, admin_user)
    world["url"] = live_server.url
    with ckanapi.RemoteCKAN(live_server.url, user_agent="ckanapi-test/1.0") as remote:
        world["remote"] = remote
        yield world


def cli(*args, timeout=120) -> str:
    # dump and search start their workers as `ckanapi` from PATH: the virtualenv's
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(CLI).parent), os.environ.get("PATH", "")]))
    done = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, check=False, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_remoteckan_reads_packages_by_name_and_id_with_resources(portal):
    remote, air = portal["remote"], portal["air"]
    by_name = remote.action.package_show(id=air.dataset.slug)
    by_id = remote.action.package_show(id=object_uuid("dataset", air.dataset_id))
    assert by_name == by_id and by_name["title"] == "시흥시 대기질 측정 자료"
    resource = by_name["resources"][0]
    assert remote.action.resource_show(id=resource["id"]) == resource
    harvested = remote.action.package_show(id=portal["harvested"].dataset.slug)
    link = harvested["resources"][0]
    assert remote.action.resource_show(id=link["id"])["url"] == portal["links"][0].url
    org = remote.action.organization_show(id=by_name["organization"]["id"])
    assert org["name"] == by_name["organization"]["name"]
    assert remote.action.group_show(id="environment")["package_count"] == 3
    assert remote.action.status_show()["locale_default"] == "ko"
    # GET as well as POST (ckanapi's get_only)
    with ckanapi.RemoteCKAN(portal["url"], get_only=True) as getter:
        assert getter.action.package_show(id=air.dataset.slug)["id"] == by_name["id"]


def test_remoteckan_search_paging_and_facets(portal):
    remote = portal["remote"]
    found = remote.action.package_search(q="미세먼지", rows=1, **{"facet.field": ["organization", "tags"]})
    assert found["count"] == 3 and len(found["results"]) == 1
    assert found["facets"]["tags"]["미세먼지"] == 3
    assert sum(found["facets"]["organization"].values()) == 3
    pages = [remote.action.package_search(q="미세먼지", rows=1, start=i)["results"] for i in range(4)]
    assert len({page[0]["id"] for page in pages[:3]}) == 3 and pages[3] == []
    everything = remote.action.package_search(fq="+state:active", rows=1000)
    assert everything["count"] == 4
    assert remote.action.package_list(limit=2, offset=0) + remote.action.package_list(limit=2, offset=2) == sorted(
        v.dataset.slug for v in portal["public"]
    )


def test_ckans_errors_arrive_as_ckanapis_exceptions(portal):
    remote = portal["remote"]
    with pytest.raises(ckanapi.NotFound):
        remote.action.package_show(id="no-such-dataset")
    with pytest.raises(ckanapi.NotFound):
        remote.action.package_show(id=portal["draft"].dataset.slug)  # a draft is not public
    with pytest.raises(ckanapi.NotFound):
        remote.action.resource_show(id=object_uuid("datafile", 10**9))
    with pytest.raises(ckanapi.ValidationError) as invalid:
        remote.action.package_search(rows="many")
    assert invalid.value.error_dict["rows"] == ["Invalid integer"]
    with pytest.raises(ckanapi.ValidationError):
        remote.action.package_show()
    with pytest.raises(ckanapi.SearchQueryError):
        remote.action.package_search(q="미세먼지", sort="popularity sideways")
    with pytest.raises(ckanapi.SearchQueryError):
        remote.action.package_search(nonsense="1")
    with pytest.raises(ckanapi.SearchError):
        remote.action.package_search(fq="-tags:미세먼지")
    with pytest.raises(ckanapi.CKANAPIError):  # CKAN's bare "Bad request - Action name not known" string
        remote.call_action("package_create", {"name": "x"})


def test_cli_action_package_search_in_korean(portal):
    out = cli("action", "package_search", "q=미세먼지", "rows=10", "-r", portal["url"])
    found = json.loads(out)
    assert found["count"] == 3
    assert {p["name"] for p in found["results"]} == {portal[k].dataset.slug for k in ("air", "daegu", "harvested")}
    assert all(p["title"] for p in found["results"])


def test_cli_dump_datasets_all_is_exactly_the_public_catalog(portal, tmp_path):
    output = tmp_path / "datasets.jsonl"
    cli("dump", "datasets", "--all", "-q", "-O", str(output), "-r", portal["url"], timeout=300)
    dumped = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    assert sorted(p["name"] for p in dumped) == sorted(v.dataset.slug for v in portal["public"])
    assert {p["id"] for p in dumped} == {object_uuid("dataset", v.dataset_id) for v in portal["public"]}
    hidden = {portal["draft"].dataset.slug, portal["withdrawn"].dataset.slug}
    assert not hidden & {p["name"] for p in dumped}
    harvested = next(p for p in dumped if p["name"] == portal["harvested"].dataset.slug)
    assert [r["url"] for r in harvested["resources"]] == [link.url for link in portal["links"]]


def test_cli_search_datasets_pages_until_empty(portal):
    out = cli("search", "datasets", "q=미세먼지", "-r", portal["url"])
    names = [json.loads(line)["name"] for line in out.splitlines() if line.strip()]
    assert sorted(names) == sorted(portal[k].dataset.slug for k in ("air", "daegu", "harvested"))
