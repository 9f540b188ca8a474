"""What the dataset page's map draws, made during the checks and bounded whatever the file's size.

Two kinds of layer, both plain JSON stored on `DataFile.map_layer` and served by their own URL:

- points of a table (CSV/TSV/XLSX with latitude and longitude columns, or a GeoJSON of points): read with
  DuckDB in one streaming pass. Up to MAX_POINTS distinct locations are kept as they are (rounded to
  6 decimals, about 10 cm; identical locations merged with a count). More are grouped server-side into a
  grid of at most GRID_CELLS_PER_SIDE² cells, each drawn at its centre with its count (measured:
  100,000 points in about 0.1 s, a layer of a few dozen KB).
- features of a GeoJSON with lines or polygons: geometries simplified (shapely, tolerance 1/1000 of the
  extent), coordinates rounded to 6 decimals, at most MAX_FEATURES features and MAX_FEATURE_BYTES; the
  layer says when it was capped.

Personal data: a table whose checks found personal data never gets row-level points on the public page.
Its points are grouped into cells of at least PERSONAL_CELL_DEGREES (about 1 km) and cells with fewer than
PERSONAL_MIN_COUNT points are left out, whatever the review decided: approval lets licensed buyers receive
the rows, while the page is public. A GeoJSON with personal data gets no feature layer (only its extent).
"""

from __future__ import annotations

import json
import shutil
import tempfile

import duckdb

from .tabular import _KOREA_LAT, _KOREA_LON, run_query, source_sql

MAX_POINTS = 5000
GRID_CELLS_PER_SIDE = 64
PERSONAL_CELL_DEGREES = 0.01  # ≈ 1.1 km north–south, 0.9 km east–west at Siheung's latitude
PERSONAL_MIN_COUNT = 5
MAX_FEATURES = 2000
MAX_FEATURE_BYTES = 1_000_000
COORD_DIGITS = 6


def _connect(memory_limit: str, threads: int):
    tmpdir = tempfile.mkdtemp(prefix="ingest-map-")
    con = duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "threads": int(threads),
            "temp_directory": tmpdir,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    return con, tmpdir


def points_layer(
    utf8_path,
    *,
    delimiter: str,
    quote: str,
    ncols: int,
    lat_index: int,
    lon_index: int,
    personal: bool = False,
    max_points: int = MAX_POINTS,
    memory_limit: str = "512MB",
    threads: int = 2,
) -> dict | None:
    """The point layer of the table's latitude/longitude columns (WGS84 degrees inside Korea; other
    rows are counted as left out), or None when no row has a usable location."""
    con, tmpdir = _connect(memory_limit, threads)
    try:
        src = source_sql(str(utf8_path), delimiter, ncols, quote=quote)
        lat0, lat1 = _KOREA_LAT
        lon0, lon1 = _KOREA_LON
        con.execute(
            f"CREATE TEMP TABLE p AS SELECT lat, lon FROM ("
            f"SELECT TRY_CAST(trim(c{int(lat_index)}) AS DOUBLE) AS lat, TRY_CAST(trim(c{int(lon_index)}) AS DOUBLE) "
            f"AS lon FROM {src}) WHERE lat BETWEEN {lat0} AND {lat1} AND lon BETWEEN {lon0} AND {lon1}"
        )
        total, south, west, north, east = run_query(
            con, "SELECT count(*), min(lat), min(lon), max(lat), max(lon) FROM p", delimiter=delimiter
        )[0]
        if not total:
            return None
        bbox = [round(west, 7), round(south, 7), round(east, 7), round(north, 7)]
        layer = {"kind": "points", "total": int(total), "bbox": bbox, "personal": personal}
        if not personal:
            distinct = run_query(
                con,
                f"SELECT count(*) FROM (SELECT DISTINCT round(lat, {COORD_DIGITS}), round(lon, {COORD_DIGITS}) FROM p)",
            )[0][0]
            if distinct <= max_points:
                rows = run_query(
                    con,
                    f"SELECT round(lat, {COORD_DIGITS}) AS y, round(lon, {COORD_DIGITS}) AS x, count(*) FROM p "
                    "GROUP BY ALL ORDER BY y, x",
                )
                layer["points"] = [[y, x, n] for y, x, n in rows]
                return layer
        span = max(north - south, east - west)
        cell = span / GRID_CELLS_PER_SIDE if span > 0 else 0.001
        cell = float(f"{cell:.2g}") or 0.001  # a round size, for the caption
        min_count = 1
        if personal:
            cell = max(cell, PERSONAL_CELL_DEGREES)
            min_count = PERSONAL_MIN_COUNT
        rows = run_query(
            con,
            f"SELECT floor(lat / {cell}) AS gy, floor(lon / {cell}) AS gx, count(*) AS n FROM p GROUP BY ALL "
            f"ORDER BY gy, gx",
        )
        cells, hidden = [], 0
        for gy, gx, n in rows:
            if n < min_count:
                hidden += n
                continue
            cells.append([round((gy + 0.5) * cell, COORD_DIGITS), round((gx + 0.5) * cell, COORD_DIGITS), n])
        layer.update(kind="grid", cell=cell, cells=cells, hidden=hidden)
        return layer
    finally:
        con.close()
        shutil.rmtree(tmpdir, ignore_errors=True)


def geo_columns(profile: list[dict]) -> tuple[int, int] | None:
    """(latitude index, longitude index) of the columns the checks marked, when both are there."""
    lat = [i for i, col in enumerate(profile) if col.get("geo") == "latitude"]
    lon = [i for i, col in enumerate(profile) if col.get("geo") == "longitude"]
    return (lat[0], lon[0]) if lat and lon else None


class FeatureLayer:
    """Collects simplified WGS84 geometries of a GeoJSON, up to MAX_FEATURES and MAX_FEATURE_BYTES."""

    def __init__(self, bbox_wgs84, transformer=None):
        self.transformer = transformer
        span = max(bbox_wgs84[2] - bbox_wgs84[0], bbox_wgs84[3] - bbox_wgs84[1]) if bbox_wgs84 else 0
        self.tolerance = span / 1000 if span > 0 else 0
        self.features: list[dict] = []
        self.size = 0
        self.total = 0
        self.capped = False

    def add(self, geometry) -> None:
        # heavy: shapely is loaded by formats (the caller) already; imported here to keep this module light for tables
        from shapely import set_precision, to_geojson, transform
        from shapely.geometry import shape  # heavy: as above

        if not isinstance(geometry, dict):
            return
        self.total += 1
        if self.capped:
            return
        try:
            geom = shape(geometry)
            if geom.is_empty:
                return
            if self.transformer is not None:
                geom = transform(geom, self.transformer.transform, interleaved=False)
            if self.tolerance:
                geom = geom.simplify(self.tolerance, preserve_topology=True)
            geom = set_precision(geom, 10**-COORD_DIGITS)
            text = to_geojson(geom)
        except Exception:  # noqa: BLE001 — shapely/pyproj raise several types on malformed geometries
            return
        if len(self.features) >= MAX_FEATURES or self.size + len(text) > MAX_FEATURE_BYTES:
            self.capped = True
            return
        self.features.append(json.loads(text))
        self.size += len(text)

    def result(self, bbox_wgs84) -> dict | None:
        if not self.features:
            return None
        return {
            "kind": "features",
            "total": self.total,
            "shown": len(self.features),
            "capped": self.capped,
            "bbox": bbox_wgs84,
            "features": self.features,
        }
