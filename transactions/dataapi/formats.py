"""The bodies of the data API: a page of rows as JSON, CSV or GeoJSON, and SQL results as JSON.

Values come from DuckDB as Python objects (int, float, Decimal, date, datetime, time, str, bool, lists, structs);
`jsonable` turns each into what JSON can carry (a date in ISO 8601, a non-finite float as null). CSV is UTF-8
without a byte-order mark (programs read it; the dataset page's export adds one for Excel), RFC 4180 with CRLF,
and every cell that a spreadsheet would read as a formula gets a leading apostrophe
(catalog.exports.CsvFormulaGuard, the package's rule); it is streamed in chunks of rows. GeoJSON is a
FeatureCollection (RFC 7946): a GeoJSON table's features carry its geometry column, a latitude/longitude table's
a Point; every other column is a property. `next` and `count` ride along as foreign members."""

import base64
import csv
import datetime as dt
import io
import json
import math
import uuid
from decimal import Decimal

from catalog.exports import CsvFormulaGuard

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
GEOJSON_CONTENT_TYPE = "application/geo+json"
ROWS_PER_CHUNK = 500


def jsonable(value):
    """A DuckDB value as a JSON value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return jsonable(float(value)) if value == value else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return str(value)


def csv_text(value) -> str:
    """A value as a CSV cell's text (before the formula guard): empty for null, true/false, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(jsonable(value), ensure_ascii=False)
    return str(value)


def _geometry_value(value):
    """The GeoJSON geometry stored as text (or already an object) as an object; None when it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) and "type" in parsed else None


def geometry_column(geometry: dict | None, names: list[str]) -> str | None:
    """The name of the column holding a GeoJSON table's geometry (the contract's "geometry")."""
    if geometry and geometry.get("kind") == "geojson":
        column = geometry.get("column") or "geometry"
        return column if column in names else None
    return None


def json_rows(columns: list[dict], rows, geometry: dict | None = None) -> list[dict]:
    """Rows as objects keyed by column name; a GeoJSON table's geometry column as a GeoJSON object."""
    names = [c["name"] for c in columns]
    geo = geometry_column(geometry, names)
    out = []
    for row in rows:
        item = {name: jsonable(value) for name, value in zip(names, row, strict=False)}
        if geo is not None:
            item[geo] = _geometry_value(item[geo])
        out.append(item)
    return out


def csv_chunks(columns: list[dict], rows, *, on_done=None):
    """The header and rows as UTF-8 CSV, in chunks, formula cells neutralised; `on_done(nbytes)` at the end."""
    guard = CsvFormulaGuard(",")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    total = 0
    try:
        writer.writerow([c["name"] for c in columns])
        for i, row in enumerate(rows, 1):
            writer.writerow([csv_text(v) for v in row])
            if i % ROWS_PER_CHUNK == 0:
                chunk = guard.feed(buffer.getvalue().encode("utf-8"))
                buffer.seek(0)
                buffer.truncate()
                if chunk:
                    total += len(chunk)
                    yield chunk
        chunk = guard.feed(buffer.getvalue().encode("utf-8")) + guard.finish()
        if chunk:
            total += len(chunk)
            yield chunk
    finally:
        if on_done is not None:
            on_done(total)


def _number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def feature_collection(columns: list[dict], rows, geometry: dict | None, *, geometry_index=None, extra=None) -> dict:
    """A page of rows as a GeoJSON FeatureCollection: the geometry column (or the engine's geometry_index) of a
    GeoJSON table, a Point from the latitude and longitude columns of a lat/lon table, else a null geometry."""
    names = [c["name"] for c in columns]
    geo_index = geometry_index
    if geo_index is None:
        geo = geometry_column(geometry, names)
        geo_index = names.index(geo) if geo is not None else None
    lat_index = lon_index = None
    latlon = geometry and geometry.get("kind") == "latlon"
    if latlon and geometry.get("lat") in names and geometry.get("lon") in names:
        lat_index, lon_index = names.index(geometry["lat"]), names.index(geometry["lon"])
    features = []
    for row in rows:
        shape = None
        if geo_index is not None:
            shape = _geometry_value(row[geo_index])
        elif lat_index is not None:
            lat, lon = _number(row[lat_index]), _number(row[lon_index])
            if lat is not None and lon is not None:
                shape = {"type": "Point", "coordinates": [lon, lat]}
        properties = {
            name: jsonable(value) for i, (name, value) in enumerate(zip(names, row, strict=False)) if i != geo_index
        }
        features.append({"type": "Feature", "geometry": shape, "properties": properties})
    return {"type": "FeatureCollection", "features": features, **(extra or {})}


def sql_result(result) -> dict:
    """An engine Result as the SQL endpoint's body."""
    return {
        "columns": [{"name": c["name"], "type": c.get("type", "")} for c in result.columns],
        "rows": [[jsonable(v) for v in row] for row in result.rows],
        "row_count": result.row_count,
        "truncated": bool(result.truncated),
        "elapsed_ms": round(float(result.elapsed_ms), 2),
    }
