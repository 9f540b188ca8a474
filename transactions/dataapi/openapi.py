"""The OpenAPI 3.1 document of one table, generated from its columns and data dictionary.

Each column brings its type (DuckDB type → JSON Schema), its unit and its description in Korean and English
(catalog.querystore.models.QueryTable.columns, the data dictionary merged in) and an example value from the
published sample. The filter parameters of each column are only the operators that fit its type (no `__lt` on a
text, no `__contains` on a number); a column whose name is a reserved parameter name is filtered as `c.<col>`.
The document declares the three answers (JSON, CSV, GeoJSON for tables with a location), the one error shape, the
rate-limit headers, and the security: anonymous for the sample, an API key with the `data` scope (or a signed-in
session) for the full data."""

import datetime as dt

from django.http import QueryDict
from django.urls import reverse

from catalog.querystore import engine
from catalog.querystore.params import parse_page_params
from transactions.dataapi import formats
from transactions.dataapi import selectors as data

OPENAPI_VERSION = "3.1.0"
CSV_TEXT = (
    "format=csv: UTF-8 CSV, 머리글 행, 수식으로 읽힐 칸 앞에는 작은따옴표 "
    "(a header row; formula-looking cells get a leading apostrophe)"
)
# Query parameters of the grammar itself: a column with one of these names is filtered as c.<name>.
RESERVED = {"select", "order", "limit", "cursor", "since", "bbox", "format", "sample", "c"}

INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
NUMBER = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")
ORDERED_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "isnull")
OPS_BY_KIND = {
    "integer": ORDERED_OPS,
    "number": ORDERED_OPS,
    "date": ORDERED_OPS,
    "datetime": ORDERED_OPS,
    "time": ORDERED_OPS,
    "boolean": ("eq", "ne", "isnull"),
    "string": ("eq", "ne", "in", "contains", "isnull"),
    "geometry": ("isnull",),
}
OP_TEXT = {
    "eq": ("같음", "equals"),
    "ne": ("같지 않음", "is not"),
    "lt": ("보다 작음", "less than"),
    "lte": ("이하", "at most"),
    "gt": ("보다 큼", "greater than"),
    "gte": ("이상", "at least"),
    "in": ("쉼표로 나열한 값 중 하나", "one of the comma-separated values"),
    "contains": ("글자를 포함 (대소문자 무시)", "contains the text (case-insensitive)"),
    "isnull": ("비었는지 (true|false)", "is empty (true|false)"),
}


def kind_of(column: dict) -> str:
    """integer, number, boolean, date, datetime, time, geometry or string, from the DuckDB type."""
    duck = (column.get("type") or "").upper()
    base = duck.split("(")[0].strip()
    if column.get("name") == "geometry" and column.get("schema_type") in ("geojson", "object", "geometry"):
        return "geometry"
    if base in INTEGER:
        return "integer"
    if base in NUMBER:
        return "number"
    if base == "BOOLEAN":
        return "boolean"
    if base == "DATE":
        return "date"
    if base.startswith("TIMESTAMP"):
        return "datetime"
    if base.startswith("TIME"):
        return "time"
    return "string"


def value_schema(column: dict, *, geometry: bool = False) -> dict:
    kind = "geometry" if geometry else kind_of(column)
    if kind == "geometry":
        return {"type": ["object", "null"], "description": "GeoJSON geometry (RFC 7946)"}
    if kind in ("integer", "number", "boolean"):
        return {"type": [kind, "null"]}
    formats_ = {"date": "date", "datetime": "date-time", "time": "time"}
    if kind in formats_:
        return {"type": ["string", "null"], "format": formats_[kind]}
    return {"type": ["string", "null"]}


def _describe(column: dict) -> str:
    parts = []
    if column.get("description_ko"):
        parts.append(column["description_ko"])
    if column.get("description_en"):
        parts.append(column["description_en"])
    if column.get("unit"):
        parts.append(f"단위 (unit): {column['unit']}")
    parts.append(f"형식 (type): {column.get('type') or '?'}")
    if column.get("masked"):
        parts.append("개인정보로 가려진 값 (masked personal data: values are masked everywhere)")
    return " · ".join(parts)


def parameter_name(column: str, op: str) -> str:
    base = f"c.{column}" if column in RESERVED else column
    return base if op == "eq" else f"{base}__{op}"


def filter_parameters(column: dict, *, geometry: bool, example=None) -> list[dict]:
    kind = "geometry" if geometry else kind_of(column)
    out = []
    for op in OPS_BY_KIND[kind]:
        ko, en = OP_TEXT[op]
        schema = {"type": "string"}
        if op == "isnull":
            schema = {"type": "string", "enum": ["true", "false"]}
        elif kind in ("integer", "number") and op != "in":
            schema = {"type": kind}
        elif kind in ("date", "datetime", "time") and op != "in":
            schema = {"type": "string", "format": {"date": "date", "datetime": "date-time", "time": "time"}[kind]}
        parameter = {
            "name": parameter_name(column["name"], op),
            "in": "query",
            "required": False,
            "description": f"{column['name']}: {ko} ({en}).",
            "schema": schema,
        }
        if example is not None and op in ("eq", "in") and kind != "geometry":
            parameter["example"] = str(example) if op == "in" or schema.get("type") == "string" else example
        out.append(parameter)
    return out


def sample_example(target: data.Target, info: data.TableInfo) -> dict | None:
    """The first sample row of the table ({column: value}), for the document's examples; None without a sample."""
    if target.live or "sample" not in info.variants:
        return None
    try:
        spec = parse_page_params(QueryDict("limit=1"), info.columns, info.geometry)
        page = engine.page(data.sources(target, "sample"), info.name, spec)
    except engine.QueryError:
        return None
    rows = formats.json_rows(page.columns, page.rows, info.geometry)
    return rows[0] if rows else None


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message", "message_ko", "message_en"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string", "description": "예: invalid, query_refused, permission_denied, throttled"},
                "message": {"type": "string"},
                "message_ko": {"type": "string"},
                "message_en": {"type": "string"},
                "fields": {"type": "object"},
                "retry_after": {"type": "integer"},
            },
        }
    },
}


def _error(description: str, *, retry: bool = False) -> dict:
    response = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry:
        response["headers"] = {
            "Retry-After": {"description": "기다릴 초 (seconds to wait)", "schema": {"type": "integer"}},
            **_rate_headers(),
        }
    return response


def _rate_headers() -> dict:
    return {
        "X-RateLimit-Limit": {"description": "호출 한도 (calls allowed in the window)", "schema": {"type": "integer"}},
        "X-RateLimit-Remaining": {"description": "남은 호출 수 (calls left)", "schema": {"type": "integer"}},
        "X-RateLimit-Reset": {
            "description": "한도가 다시 차는 시각, 유닉스 초 (epoch seconds)",
            "schema": {"type": "integer"},
        },
    }


def table_document(request, target: data.Target, info: data.TableInfo, *, example: dict | None = None) -> dict:
    """The OpenAPI 3.1 document of `info` (a table of `target`), as a JSON-ready dict."""
    dataset = target.dataset
    version = target.version or dataset.entry.version
    columns = [c for c in info.columns if not c.get("hidden")]
    geo_column = formats.geometry_column(info.geometry, [c["name"] for c in columns])
    example = example or {}
    row_properties = {}
    parameters = [
        {
            "name": "select",
            "in": "query",
            "required": False,
            "description": "돌려줄 열, 쉼표로 (columns to return, comma-separated): "
            + ", ".join(c["name"] for c in columns),
            "schema": {"type": "string"},
            "example": ",".join(c["name"] for c in columns[:2]),
        },
        {
            "name": "order",
            "in": "query",
            "required": False,
            "description": "정렬 열, 내림차순은 앞에 - (sort columns, - for descending), 예: -"
            + (columns[0]["name"] if columns else "col"),
            "schema": {"type": "string"},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "한 쪽의 행 수 (rows per page)",
            "schema": {"type": "integer", "minimum": 1, "default": 100},
        },
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "다음 쪽: 앞 응답의 next 주소에 든 값 (the next page: from the previous answer's next)",
            "schema": {"type": "string"},
        },
        {
            "name": "since",
            "in": "query",
            "required": False,
            "description": "_row(원본 순서, 실시간 표는 순번)가 이 값보다 큰 행만 (rows after this row number)",
            "schema": {"type": "integer", "minimum": 0},
        },
        {
            "name": "format",
            "in": "query",
            "required": False,
            "description": "응답 형식 (the body's format)",
            "schema": {"type": "string", "enum": ["json", "csv", "geojson"] if info.geometry else ["json", "csv"]},
        },
    ]
    if not target.live:
        parameters.append(
            {
                "name": "sample",
                "in": "query",
                "required": False,
                "description": "true: 공개 샘플 행 (누구나, 키 없이). 없으면 전체 데이터: 이용 권리나 API 요금제가 있는 "
                "기관만 (true: the public sample rows, for anyone; else the full data, for entitled organizations).",
                "schema": {"type": "boolean"},
            }
        )
    if info.geometry:
        parameters.append(
            {
                "name": "bbox",
                "in": "query",
                "required": False,
                "description": "경계 상자 안의 행만: minLon,minLat,maxLon,maxLat (WGS84)",
                "schema": {"type": "string", "pattern": r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$"},
                "example": "126.70,37.33,126.83,37.45",
            }
        )
    for column in columns:
        is_geo = column["name"] == geo_column
        schema = value_schema(column, geometry=is_geo)
        schema["description"] = _describe(column)
        if column.get("unit"):
            schema["x-unit"] = column["unit"]
        if column.get("description_ko"):
            schema["x-description-ko"] = column["description_ko"]
        if column.get("description_en"):
            schema["x-description-en"] = column["description_en"]
        value = example.get(column["name"])
        if value is not None:
            schema["examples"] = [value]
        row_properties[column["name"]] = schema
        parameters.extend(filter_parameters(column, geometry=is_geo, example=value))
    rows_path = reverse("api-data-rows", args=(dataset.slug, target.url_token, info.name))
    columns_schema = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
            "required": ["name", "type"],
        },
    }
    page_schema = {
        "type": "object",
        "required": ["columns", "rows", "next", "count", "next_since"],
        "properties": {
            "columns": columns_schema,
            "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
            "next": {"type": ["string", "null"], "format": "uri", "description": "다음 쪽 (null: 마지막 쪽)"},
            "count": {"type": "integer", "description": "이 쪽의 행 수 (rows on this page)"},
            "next_since": {
                "type": "integer",
                "description": "다음 호출의 since= 값: 이 쪽 뒤에 추가된 행만 (since= for the next call: newer rows only)",
            },
        },
    }
    content = {
        "application/json": {"schema": {"$ref": "#/components/schemas/Page"}},
        "text/csv": {"schema": {"type": "string", "description": CSV_TEXT}},
    }
    if example:
        content["application/json"]["example"] = {
            "columns": [{"name": c["name"], "type": c.get("type", "")} for c in columns],
            "rows": [example],
            "next": None,
            "count": 1,
            "next_since": 1,
        }
    if info.geometry:
        content["application/geo+json"] = {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}
    title = f"{version.title_ko} — {info.title or info.name}"
    english = f"{version.title_en} — {info.name}" if version.title_en else info.name
    description_lines = [
        f"**{title}** ({english})",
        "",
        f"- 데이터셋 (dataset): `{dataset.slug}` · 버전 (version): `{target.number_text}` · 표 (table): `{info.name}`",
    ]
    if info.row_count is not None:
        description_lines.append(f"- 행 수 (rows): {info.row_count:,}")
    description_lines += [
        "- 필터 문법 (filter grammar): `<열>=값` · `<열>__ne|__lt|__lte|__gt|__gte=값` · `<열>__in=a,b` · "
        "`<열>__contains=글자` · `<열>__isnull=true|false` · 예약어 열은 `c.<열>` · `bbox` · `order=-a,b` · "
        "`limit` · `cursor` · `since` · `format=json|csv|geojson`",
        "- 샘플 (sample): `sample=true`는 누구나 읽습니다. 전체 데이터는 이용 권리·API 요금제가 있는 기관만 "
        "(API 키에 `data` 범위). The sample is readable by anyone; the full data needs an entitlement or API plan.",
        "- 개인정보로 가린 열은 어디서나 가려진 값입니다 (masked columns are masked everywhere).",
    ]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    security = [{"dataKey": ["data"]}, {"session": []}]
    if not target.live:
        security.append({})
    rows_operation = {
        "operationId": f"rows_{info.name}",
        "summary": f"{info.title or info.name}: 행 (rows)",
        "description": "행을 고르고, 거르고, 정렬하고, 쪽으로 나눠 돌려줍니다 (select, filter, sort, page).",
        "parameters": parameters,
        "security": security,
        "responses": {
            "200": {
                "description": "행 (rows): JSON, CSV (format=csv) 또는 GeoJSON (format=geojson)",
                "headers": _rate_headers(),
                "content": content,
            },
            "400": _error("잘못된 매개변수: 이름과 까닭 (a bad parameter, named, with the reason)"),
            "401": _error("API 키가 틀렸거나 만료됨 (the key is wrong, expired or revoked)"),
            "403": _error(
                "전체 데이터 권리가 없음 (sample=true로 샘플), 또는 키에 data 범위가 없음 "
                "(no right to the full data, or the key lacks the data scope)"
            ),
            "404": _error("없는 데이터셋, 버전 또는 표 (no such dataset, version or table)"),
            "429": _error("호출 한도 초과 (the quota is used up)", retry=True),
        },
    }
    paths = {rows_path: {"get": rows_operation}}
    paths[rows_path + "/datagokr"] = {"get": datagokr_operation(info, security, target)}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": target.url_token,
            "description": "\n".join(description_lines),
            "x-generated-at": now,
        },
        "servers": [{"url": request.build_absolute_uri("/").rstrip("/")}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "dataKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Authorization: Token <API 키>`; 키에 `data` 범위가 있어야 합니다 "
                    "(the key needs the data scope). 키는 /me/api-keys/에서 만듭니다.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "sessionid",
                    "description": "포털에 로그인한 브라우저 (a signed-in browser session)",
                },
            },
            "schemas": {
                "Row": {
                    "type": "object",
                    "properties": row_properties,
                    "additionalProperties": False,
                },
                "Page": page_schema,
                "DataGoKr": DATAGOKR_ITEMS,
                "Error": ERROR_SCHEMA,
                "FeatureCollection": {
                    "type": "object",
                    "required": ["type", "features"],
                    "properties": {
                        "type": {"const": "FeatureCollection"},
                        "features": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["type", "geometry", "properties"],
                                "properties": {
                                    "type": {"const": "Feature"},
                                    "geometry": {"type": ["object", "null"]},
                                    "properties": {"$ref": "#/components/schemas/Row"},
                                },
                            },
                        },
                        "next": {"type": ["string", "null"]},
                        "count": {"type": "integer"},
                    },
                },
            },
        },
    }


DATAGOKR_ITEMS = {
    "type": "object",
    "required": ["response"],
    "properties": {
        "response": {
            "type": "object",
            "required": ["header"],
            "properties": {
                "header": {
                    "type": "object",
                    "required": ["resultCode", "resultMsg"],
                    "properties": {
                        "resultCode": {"type": "string", "examples": ["00"]},
                        "resultMsg": {"type": "string", "examples": ["NORMAL_SERVICE"]},
                        "resultDetailKo": {"type": "string"},
                        "resultDetailEn": {"type": "string"},
                    },
                },
                "body": {
                    "type": "object",
                    "properties": {
                        "items": {
                            "type": "object",
                            "properties": {"item": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}}},
                        },
                        "numOfRows": {"type": "integer"},
                        "pageNo": {"type": "integer"},
                        "totalCount": {"type": "integer"},
                    },
                },
            },
        }
    },
}


def datagokr_operation(info: data.TableInfo, security: list, target: data.Target) -> dict:
    """The data.go.kr flavour of the same table (transactions.dataapi.datagokr)."""
    parameters = [
        {
            "name": "serviceKey",
            "in": "query",
            "required": False,
            "description": "API 키 (data 범위). 공공데이터포털처럼 주소에 넣습니다; 발급 즉시 쓸 수 있습니다.",
            "schema": {"type": "string"},
        },
        {
            "name": "pageNo",
            "in": "query",
            "required": False,
            "description": "쪽 번호 (1부터)",
            "schema": {"type": "integer", "minimum": 1, "default": 1},
        },
        {
            "name": "numOfRows",
            "in": "query",
            "required": False,
            "description": "한 쪽의 행 수",
            "schema": {"type": "integer", "minimum": 1, "default": 10},
        },
        {
            "name": "type",
            "in": "query",
            "required": False,
            "description": "xml(기본) 또는 json (_type, returnType도 됩니다)",
            "schema": {"type": "string", "enum": ["xml", "json"]},
        },
    ]
    if not target.live:
        parameters.append(
            {
                "name": "sample",
                "in": "query",
                "required": False,
                "description": "true: 공개 샘플 행 (serviceKey 없이)",
                "schema": {"type": "boolean"},
            }
        )
    envelope = {"schema": {"$ref": "#/components/schemas/DataGoKr"}}
    return {
        "operationId": f"datagokr_{info.name}",
        "summary": f"{info.title or info.name}: 공공데이터포털 호환 (data.go.kr style)",
        "description": "공공데이터포털 Open API와 같은 요청(serviceKey, pageNo, numOfRows, type)과 응답 "
        "(response.header.resultCode/resultMsg, response.body.items.item, totalCount). 오류 코드: 03 NODATA_ERROR, "
        "10 INVALID_REQUEST_PARAMETER_ERROR, 11 NO_MANDATORY_REQUEST_PARAMETERS_ERROR, 12 NO_OPENAPI_SERVICE_ERROR, "
        "20 SERVICE_ACCESS_DENIED_ERROR, 22 LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR, "
        "30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR.",
        "parameters": parameters,
        "security": security,
        "responses": {
            str(code): {
                "description": text,
                "content": {"application/json": envelope, "application/xml": envelope},
            }
            for code, text in (
                (200, "00 NORMAL_SERVICE 또는 03 NODATA_ERROR"),
                (400, "10 INVALID_REQUEST_PARAMETER_ERROR"),
                (401, "11 / 30: 키가 없거나 등록되지 않음"),
                (403, "20 SERVICE_ACCESS_DENIED_ERROR"),
                (404, "12 NO_OPENAPI_SERVICE_ERROR"),
                (429, "22 LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR"),
            )
        },
    }
