"""Maps: tables with latitude/longitude columns (by name or by their values) get a point layer, grouped
server-side into a grid when they are many (bounded at 100,000 points) or hold personal data; GeoJSON
lines and polygons get a simplified, capped feature layer; the coverage is filled from the points when
the publisher left it empty; the dataset page lists the layers, serves them from this site and its CSP
allows the map."""

import json
import math
import random
import time
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from catalog import services
from catalog.ingest import maps
from catalog.ingest.pipeline import _jsonable, analyse_path
from tests.catalog.test_dataset_page import BBOX, page_of, publish, upload

pytestmark = pytest.mark.django_db


def points_csv(path, n, *, header="id,이름,위도,경도", seed=1, phone=False):
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(header + (",연락처" if phone else "") + "\n")
        for i in range(n):
            lat, lon = 37.34 + rnd.random() * 0.1, 126.70 + rnd.random() * 0.12
            fh.write(f"{i},지점{i},{lat:.6f},{lon:.6f}" + (f",010-{1000 + i % 9000:04d}-5678" if phone else "") + "\n")
    return path


def analyse(path, fmt="csv"):
    return _jsonable(analyse_path(path, fmt, workdir=path.parent))


def test_a_table_with_latitude_and_longitude_columns_gets_its_points(tmp_path):
    report = analyse(points_csv(tmp_path / "p.csv", 300))
    layer = report["map_layer"]
    assert layer["kind"] == "points" and layer["total"] == 300 and len(layer["points"]) == 300
    lat, lon, n = layer["points"][0]
    assert 37.34 <= lat <= 37.44 and 126.70 <= lon <= 126.82 and n == 1
    west, south, east, north = layer["bbox"]
    assert 126.70 <= west < east <= 126.82 and 37.34 <= south < north <= 37.44


def test_unnamed_coordinate_columns_are_found_by_their_values(tmp_path):
    report = analyse(points_csv(tmp_path / "p.csv", 50, header="번호,명칭,값1,값2"))
    assert report["map_layer"]["kind"] == "points"
    assert "geo_by_values" in [m["code"] for m in report["messages"]]
    geo = {f["name"]: f.get("geo") for f in report["table_schema"]["fields"]}
    assert geo == {"번호": None, "명칭": None, "값1": "latitude", "값2": "longitude"}


def test_a_hundred_thousand_points_are_grouped_into_a_bounded_grid(tmp_path):
    path = points_csv(tmp_path / "many.csv", 100_000)
    started = time.monotonic()
    layer = maps.points_layer(path, delimiter=",", quote='"', ncols=4, lat_index=2, lon_index=3)
    elapsed = time.monotonic() - started
    assert layer["kind"] == "grid" and layer["total"] == 100_000
    assert sum(c[2] for c in layer["cells"]) == 100_000 and layer["hidden"] == 0
    assert len(layer["cells"]) <= maps.GRID_CELLS_PER_SIDE**2
    size = len(json.dumps(layer))
    assert size < 200_000, size  # what the page downloads, whatever the file's size
    assert elapsed < 5, elapsed
    print(f"100,000 points: {elapsed:.2f} s, {len(layer['cells'])} cells, {size:,} bytes")


def test_points_of_a_table_with_personal_data_are_never_shown_one_by_one(tmp_path):
    report = analyse(points_csv(tmp_path / "p.csv", 400, phone=True))
    assert report["pii_findings"]
    layer = report["map_layer"]
    assert layer["kind"] == "grid" and layer["personal"] is True and "points" not in layer
    assert layer["cell"] >= maps.PERSONAL_CELL_DEGREES
    assert all(n >= maps.PERSONAL_MIN_COUNT for _lat, _lon, n in layer["cells"])
    assert sum(n for *_, n in layer["cells"]) + layer["hidden"] == 400


def _polygon(cx, cy, r=0.001, n=60):
    ring = [[cx + r * math.cos(2 * math.pi * a / n), cy + r * math.sin(2 * math.pi * a / n)] for a in range(n)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_a_geojson_draws_its_shapes_simplified_and_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(maps, "MAX_FEATURES", 50)
    features = [
        {
            "type": "Feature",
            "properties": {"구역": i},
            "geometry": _polygon(126.70 + i % 10 * 0.004, 37.35 + i // 10 * 0.004),
        }
        for i in range(80)
    ]
    features.append(
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "LineString", "coordinates": [[126.7, 37.3], [126.8, 37.4]]},
        }
    )
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    report = analyse(path, "geojson")
    layer = report["map_layer"]
    assert layer["kind"] == "features" and layer["total"] == 81 and layer["shown"] == 50 and layer["capped"] is True
    assert layer["features"][0]["type"] == "Polygon"
    assert len(layer["features"][0]["coordinates"][0]) < 61  # simplified


def test_a_geojson_of_points_is_drawn_from_its_coordinates(tmp_path):
    features = [
        {
            "type": "Feature",
            "properties": {"n": i},
            "geometry": {"type": "Point", "coordinates": [126.7 + i * 0.001, 37.35]},
        }
        for i in range(20)
    ]
    path = tmp_path / "pts.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    layer = analyse(path, "geojson")["map_layer"]
    assert layer["kind"] == "points" and layer["total"] == 20


def test_the_points_fill_the_coverage_only_when_it_is_empty(draft, official, tmp_path):
    data = points_csv(tmp_path / "p.csv", 30).read_bytes()
    upload(official, draft, "지점.csv", data)
    draft.refresh_from_db()
    west, south, east, north = draft.spatial_bbox
    assert 126.70 <= west < east <= 126.82 and 37.34 <= south < north <= 37.44
    services.version_update_metadata(actor=official, version=draft, spatial_bbox=[126.0, 37.0, 127.0, 38.0])
    upload(official, draft, "지점2.csv", points_csv(tmp_path / "q.csv", 30, seed=2).read_bytes())
    draft.refresh_from_db()
    assert draft.spatial_bbox == [126.0, 37.0, 127.0, 38.0]


def test_the_dataset_page_lists_and_serves_the_map_layers(client, official, admin_user, reference_data, tmp_path):
    version = publish(
        official,
        admin_user,
        files=[("지점.csv", points_csv(tmp_path / "p.csv", 40).read_bytes())],
        spatial_bbox=BBOX,
    )
    datafile = version.files.get()
    html = page_of(client, version)
    url = reverse("catalog:dataset_map", args=[version.dataset.slug, datafile.pk])
    config = json.loads(html.split('id="coverage-map-config" type="application/json">')[1].split("</script>")[0])
    assert config["layers"] == [{"url": url, "name": "지점.csv"}]
    assert 'id="map-layer-' in html and "위치 40개" in html
    layer = client.get(url).json()
    assert layer["kind"] == "points" and len(layer["points"]) == 40
    # The map fetches from this site and loads tiles from the tile server: the CSP allows both.
    csp = client.get(reverse("catalog:dataset", args=[version.dataset.slug]))["Content-Security-Policy"]
    tiles = urlsplit(settings.MAP_TILE_URL.replace("{s}", "a"))
    assert "connect-src 'self'" in csp and f"{tiles.scheme}://{tiles.netloc}" in csp.split("img-src")[1].split(";")[0]
    # Not for files of a draft (or of another dataset).
    other = services.version_start_new(actor=official, dataset=version.dataset, change_note="다음")
    upload(official, other, "지점.csv", points_csv(tmp_path / "q.csv", 10).read_bytes())
    draft_file = other.files.get()
    assert client.get(reverse("catalog:dataset_map", args=[version.dataset.slug, draft_file.pk])).status_code == 404


def test_shapes_in_a_korean_projection_are_drawn_in_wgs84(tmp_path):
    """EPSG:5179 (metres) → degrees for the map, like the bbox."""
    line = {"type": "LineString", "coordinates": [[940000, 1935000], [945000, 1940000]]}
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::5179"}},
        "features": [{"type": "Feature", "properties": {}, "geometry": line}],
    }
    path = tmp_path / "road.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    layer = analyse(path, "geojson")["map_layer"]
    (x0, y0), (x1, y1) = layer["features"][0]["coordinates"]
    assert 126.5 < x0 < x1 < 127.2 and 37.2 < y0 < y1 < 37.6
