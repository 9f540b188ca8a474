"""Loading a version's tabular files into one DuckDB database file (a query store), in streams.

Each table comes from a UTF-8 CSV read by the ingest's own reader (catalog.ingest.tabular.source_sql: every
column as text, the Korean empty markers as NULL, strict structure) and typed by the file's Table Schema with the
same parsers the checks used (tabular.field_sql: "2024. 1. 1.", "12,345", …):

- CSV/TSV in UTF-8: the stored file itself; CP949/UTF-16: transcoded to a UTF-8 file in a stream first
  (catalog.ingest.encoding.transcode_to_utf8, flat memory);
- JSON and GeoJSON: the ingest's converters (catalog.ingest.formats) write the same CSV the checks read; a
  GeoJSON also gets a `geometry` column (the feature's geometry as GeoJSON text, in WGS84) and the hidden
  `_minx,_miny,_maxx,_maxy` of each feature, from one more streaming pass over its features;
- XLSX: each sheet's table from formats.xlsx_sheets_to_csv (one pass over the workbook);
- the "sample" variant: the published sample rows (DataFile.preview["rows"], the rows the sample CSV download
  gives, catalog.exports.sample_csv_chunks; already masked) written to a CSV and read the same way.

The text is first copied into a scratch database (its `rowid` is the line order: DuckDB keeps insertion order),
then into the store as `_row` (1-based) plus the typed columns, sorted by the first date-time column if the table
has one (`order_key`), else in source order. Columns with personal-data findings are stored masked
(catalog.ingest.pii.mask_value as a DuckDB Python function, called only on values a personal-data pattern can
match) and as text. Nothing is read whole into Python memory.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import ijson
from pyproj import Transformer
from shapely.geometry import mapping, shape
from shapely.ops import transform

# (build runs only in the worker: catalog.querystore.services imports it when it builds, so the converters'
# heavy libraries, openpyxl, pyproj and shapely, never load in a web process)
from catalog.ingest import formats
from catalog.ingest.encoding import transcode_to_utf8
from catalog.ingest.pii import _ANY_SQL, mask_value
from catalog.ingest.tabular import field_sql, source_sql
from catalog.querystore.engine import quote
from core.romanize import romanize

MAX_NAME = 63
_UTF8 = {"utf-8", "utf8", "utf_8", "ascii", "us-ascii", ""}
_NAME_RE = re.compile(r"[^a-z0-9]+")


@dataclass
class TableInput:
    """What to load for one table (plain data: the service reads it from the DataFile)."""

    datafile_id: int
    title: str
    base_name: str  # the file (and sheet) name the table name is made from
    format: str  # csv, tsv, json, geojson, xlsx
    path: Path | None  # local path of the stored file (a workbook for a sheet's table)
    encoding: str
    delimiter: str
    fields: list[dict]  # Table Schema fields
    profile: list[dict]
    masked: set[str]  # columns with personal-data findings
    dictionary: dict
    sheet_index: int | None = None
    preview_rows: list[list] = field(default_factory=list)  # the sample rows (variant "sample")


@dataclass
class BuiltTable:
    datafile_id: int
    name: str
    title: str
    columns: list[dict]
    row_count: int
    geometry: dict | None
    order_key: str
    position: int


class BuildError(Exception):
    """A table that cannot be loaded (the message names the file); the store is marked failed with it."""

    def __init__(self, title: str, detail: str):
        super().__init__(f"{title}: {detail}")
        self.title = title
        self.detail = detail


# ------------------------------------------------------------------------------------------------ names
def table_name(base: str, taken: set[str]) -> str:
    """An ASCII SQL identifier ([a-z][a-z0-9_]*) from a file name, Hangul romanised (시흥_대기질.csv →
    siheung_daegijil), unique among `taken` (a `_2` suffix on a clash). The same file name gives the same name
    in every version."""
    stem = re.sub(r"\.(csv|tsv|txt|json|geojson|xlsx)$", "", base.strip(), flags=re.I)
    name = _NAME_RE.sub("_", romanize(stem).lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"t_{name}".rstrip("_") if name else "table"
    name = name[:MAX_NAME].rstrip("_")
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"_{n}"
        candidate = name[: MAX_NAME - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


# ------------------------------------------------------------------------------------------------ columns
def stored_names(fields: list[dict], *, geojson: bool = False) -> list[str]:
    """The store's column name of each field: its own name, unless DuckDB would take it for another column (names
    are case-insensitive in SQL: "id" and "ID"; the hidden `_row`, and a GeoJSON table's geometry and bbox
    columns), then the name with `_2`, `_3`… DuckDB itself would rename such a column silently, and the API and
    SQL would show another column's values under its name."""
    taken = {"_row"} | ({"geometry", "_minx", "_miny", "_maxx", "_maxy"} if geojson else set())
    out = []
    for f in fields:
        name = f["name"]
        candidate, n = name, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{name}_{n}"
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def _order_key(fields: list[dict]) -> str:
    for kind in ("datetime", "date"):
        for f in fields:
            if f.get("type") == kind:
                return f["name"]
    return ""


def _latlon(item: TableInput) -> dict | None:
    lat = [f["name"] for f in item.fields if f.get("geo") == "latitude"]
    lon = [f["name"] for f in item.fields if f.get("geo") == "longitude"]
    if not (lat and lon):
        lat = [c["name"] for c in item.profile if c.get("geo") == "latitude"]
        lon = [c["name"] for c in item.profile if c.get("geo") == "longitude"]
    return {"kind": "latlon", "lat": lat[0], "lon": lon[0]} if lat and lon else None


def _column_meta(item: TableInput, f: dict, duck_type: str, masked: bool) -> dict:
    entry = (item.dictionary or {}).get(f["name"]) or {}
    return {
        "name": f["name"],
        "type": duck_type,
        "schema_type": f.get("type") or "string",
        "format": f.get("format") or "",
        "masked": masked,
        "description_ko": entry.get("description_ko", ""),
        "description_en": entry.get("description_en", ""),
        "unit": entry.get("unit", ""),
    }


# ------------------------------------------------------------------------------------------------ the mask
def _mask_udf(con) -> None:
    # Repeated values (an office's number on every row) are masked once.
    @functools.lru_cache(maxsize=65536)
    def mask(value: str | None, column: str) -> str | None:
        return mask_value(value, column)

    con.create_function("qs_mask", mask, ["VARCHAR", "VARCHAR"], "VARCHAR", side_effects=False)


def _masked_expr(column_sql: str, column_name: str) -> str:
    # The Python function only on values a personal-data pattern can match (most text cannot: ~20 ns a value in
    # RE2 instead of a Python call): measured in the module's README note (docs/querystore.md).
    lit = "'" + column_name.replace("'", "''") + "'"
    pattern = "'" + _ANY_SQL.replace("'", "''") + "'"
    return (
        f"(CASE WHEN regexp_matches({column_sql}, {pattern}) THEN qs_mask({column_sql}, {lit}) ELSE {column_sql} END)"
    )


# ------------------------------------------------------------------------------------------------ geometry
def _geometry_csv(src: Path, dst: Path, limit: int | None = None) -> None:
    """One row per feature of the GeoJSON `src`, in file order: geometry (GeoJSON text, WGS84) and its bbox."""
    encoding = formats._text_encoding(src, "geojson_encoding")
    _top, crs_name, _has = formats._geo_header(src, encoding)
    crs, _label = formats._resolve_crs(crs_name)
    transformer = None
    if crs is not None:
        transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    with open(dst, "w", encoding="utf-8", newline="") as out, formats._Utf8Stream(src, encoding) as stream:
        writer = csv.writer(out)
        writer.writerow(["geometry", "_minx", "_miny", "_maxx", "_maxy"])
        for n, feature in enumerate(ijson.items(stream, "features.item", use_float=True, buf_size=64 * 1024)):
            if limit is not None and n >= limit:
                break
            geom = feature.get("geometry") if isinstance(feature, dict) else None
            row = ["", "", "", "", ""]
            if isinstance(geom, dict) and geom.get("type"):
                try:
                    shp = shape(geom)
                    if transformer is not None:
                        shp = transform(transformer.transform, shp)
                        geom = mapping(shp)
                    bounds = shp.bounds
                except Exception:  # noqa: BLE001 — shapely raises several types on malformed geometries
                    bounds = (math.nan,) * 4
                row[0] = json.dumps(geom, separators=(",", ":"), ensure_ascii=False, default=list)
                if all(math.isfinite(v) for v in bounds):
                    row[1:] = [repr(v) for v in bounds]
            writer.writerow(row)


# ------------------------------------------------------------------------------------------------ the build
class StoreBuilder:
    """Writes the tables into the DuckDB file at `out_path` (a local work file)."""

    def __init__(
        self, out_path: Path, workdir: Path, *, memory_limit: str, threads: int, progress: Callable[[], None] = None
    ):
        self.out_path = Path(out_path)
        self.workdir = Path(workdir)
        self.progress = progress or (lambda: None)
        self.con = duckdb.connect(
            str(self.out_path),
            config={
                "memory_limit": memory_limit,
                "threads": int(threads),
                "temp_directory": str(self.workdir / "spill"),
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "preserve_insertion_order": True,
            },
        )
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute(f"ATTACH {_lit(str(self.workdir / 'scratch.duckdb'))} AS scratch")
        _mask_udf(self.con)
        self.taken: set[str] = set()
        self.tables: list[BuiltTable] = []

    def close(self) -> None:
        try:
            self.con.execute("DETACH scratch")
            self.con.execute("CHECKPOINT")
        finally:
            self.con.close()
            (self.workdir / "scratch.duckdb").unlink(missing_ok=True)
            (self.workdir / "scratch.duckdb.wal").unlink(missing_ok=True)

    # one table from a UTF-8 CSV whose columns are the schema's fields
    def load_csv(
        self,
        item: TableInput,
        utf8_csv: Path,
        *,
        delimiter: str,
        mask: bool,
        geometry_csv: Path | None = None,
    ) -> BuiltTable:
        fields = item.fields
        ncols = len(fields)
        src = source_sql(str(utf8_csv), delimiter, ncols)
        con = self.con
        con.execute("DROP TABLE IF EXISTS scratch.raw")
        con.execute("DROP TABLE IF EXISTS scratch.geo")
        try:
            con.execute(f"CREATE TABLE scratch.raw AS SELECT * FROM {src}")
            if geometry_csv is not None:
                geo_cols = "{'geometry': 'VARCHAR', '_minx': 'DOUBLE', '_miny': 'DOUBLE', '_maxx': 'DOUBLE', '_maxy': 'DOUBLE'}"
                con.execute(
                    f"CREATE TABLE scratch.geo AS SELECT * FROM read_csv({_lit(str(geometry_csv))}, header=true, "
                    f"auto_detect=false, columns={geo_cols}, nullstr='', strict_mode=true)"
                )
        except duckdb.Error as exc:
            raise BuildError(item.title, str(exc).splitlines()[0]) from exc
        self.progress()
        name = table_name(item.base_name, self.taken)
        stored = stored_names(fields, geojson=geometry_csv is not None)
        selects = ["CAST(r.rowid + 1 AS BIGINT) AS _row"]
        columns = []
        for i, f in enumerate(fields):
            masked = f["name"] in item.masked
            if masked and mask:
                duck_type, expr = "VARCHAR", _masked_expr(f"r.c{i}", f["name"])
            elif masked:  # the sample rows: masked already (catalog.ingest.pipeline)
                duck_type, expr = "VARCHAR", f"r.c{i}"
            else:
                duck_type, expr = field_sql(f, f"r.c{i}")
            selects.append(f"{expr} AS {quote(stored[i])}")
            meta = _column_meta(item, f, duck_type, masked)
            if stored[i] != f["name"]:
                meta["name"], meta["source_name"] = stored[i], f["name"]
            columns.append(meta)
        renamed = {f["name"]: stored[i] for i, f in enumerate(fields)}
        geometry = _latlon(item)
        if geometry:
            geometry = {**geometry, "lat": renamed[geometry["lat"]], "lon": renamed[geometry["lon"]]}
        join = ""
        if geometry_csv is not None:
            geometry = {"kind": "geojson"}
            selects += ["g.geometry AS geometry", "g._minx", "g._miny", "g._maxx", "g._maxy"]
            columns.append(
                {
                    "name": "geometry",
                    "type": "VARCHAR",
                    "schema_type": "geojson",
                    "format": "",
                    "masked": False,
                    "description_ko": "도형 (GeoJSON, WGS84)",
                    "description_en": "Geometry (GeoJSON, WGS84)",
                    "unit": "",
                }
            )
            join = " LEFT JOIN (SELECT rowid AS gid, * FROM scratch.geo) AS g ON g.gid = r.rowid"
        order_key = _order_key(fields)
        if order_key and order_key in item.masked:
            order_key = ""
        order_key = renamed.get(order_key, "")
        order = (f"{quote(order_key)} ASC NULLS LAST, " if order_key else "") + "_row ASC"
        try:
            con.execute(
                f"CREATE TABLE main.{quote(name)} AS SELECT * FROM (SELECT {', '.join(selects)} FROM scratch.raw AS r"
                f"{join}) ORDER BY {order}"
            )
            rows = con.execute(f"SELECT count(*) FROM main.{quote(name)}").fetchall()[0][0]
            con.execute("DROP TABLE IF EXISTS scratch.raw")
            con.execute("DROP TABLE IF EXISTS scratch.geo")
        except duckdb.Error as exc:
            raise BuildError(item.title, str(exc).splitlines()[0]) from exc
        self.progress()
        built = BuiltTable(
            datafile_id=item.datafile_id,
            name=name,
            title=item.title,
            columns=columns,
            row_count=int(rows),
            geometry=geometry,
            order_key=order_key,
            position=len(self.tables),
        )
        self.tables.append(built)
        return built


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _write_rows_csv(dst: Path, names: list[str], rows: list[list]) -> None:
    with open(dst, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])


def load_full(builder: StoreBuilder, item: TableInput, n: int) -> BuiltTable:
    """One table of the full store from its stored file (for a sheet's table: use load_workbook)."""
    work = builder.workdir
    fmt = item.format
    if fmt in ("csv", "tsv"):
        path = item.path
        if (item.encoding or "").lower().replace("_", "-") not in _UTF8 | {"utf-8-sig"}:
            path = work / f"t{n}.utf8.csv"
            transcode_to_utf8(item.path, path, item.encoding)
        try:
            return builder.load_csv(item, path, delimiter=item.delimiter or ("\t" if fmt == "tsv" else ","), mask=True)
        finally:
            if path != item.path:
                path.unlink(missing_ok=True)
    utf8 = work / f"t{n}.utf8.csv"
    geo = None
    try:
        if fmt == "json":
            formats.json_to_csv(item.path, utf8)
        elif fmt == "geojson":
            formats.geojson_to_csv(item.path, utf8)
            geo = work / f"t{n}.geometry.csv"
            _geometry_csv(item.path, geo)
        else:
            raise BuildError(item.title, f"format {fmt} is not a table")
        return builder.load_csv(item, utf8, delimiter=",", mask=True, geometry_csv=geo)
    finally:
        utf8.unlink(missing_ok=True)
        if geo:
            geo.unlink(missing_ok=True)


def load_workbook(builder: StoreBuilder, path: Path, items: list[TableInput], n: int) -> list[BuiltTable]:
    """The sheets' tables of one workbook, in one pass over it (formats.xlsx_sheets_to_csv)."""
    by_index = {item.sheet_index: item for item in items}
    built = []
    work = builder.workdir
    with closing(formats.xlsx_sheets_to_csv(path, lambda index: work / f"w{n}-sheet-{index}.csv")) as sheets:
        for index, (_name, sheet) in enumerate(sheets):
            csv_path = work / f"w{n}-sheet-{index}.csv"
            try:
                item = by_index.get(index)
                if sheet is None or item is None:
                    continue
                built.append(builder.load_csv(item, csv_path, delimiter=",", mask=True))
            finally:
                csv_path.unlink(missing_ok=True)
    return built


def load_sample(builder: StoreBuilder, item: TableInput, n: int) -> BuiltTable:
    """One table of the sample store: the published sample rows (already masked), typed like the full table."""
    work = builder.workdir
    path = work / f"s{n}.csv"
    geo = None
    _write_rows_csv(path, [f["name"] for f in item.fields], item.preview_rows)
    try:
        if item.format == "geojson" and item.path is not None and not item.masked:
            geo = work / f"s{n}.geometry.csv"
            _geometry_csv(item.path, geo, limit=len(item.preview_rows))
        elif item.format == "geojson":
            geo = work / f"s{n}.geometry.csv"
            _write_rows_csv(
                geo, ["geometry", "_minx", "_miny", "_maxx", "_maxy"], [[""] * 5 for _ in item.preview_rows]
            )
        return builder.load_csv(item, path, delimiter=",", mask=False, geometry_csv=geo)
    finally:
        path.unlink(missing_ok=True)
        if geo:
            geo.unlink(missing_ok=True)
