"""The data API (/api/v1/data/): every published table answers queries, over HTTP.

- `GET /api/v1/data/<slug>/`: the dataset's tables per version (and live), with their URLs and OpenAPI documents.
- `GET /api/v1/data/<slug>/<number|latest|live>/<table>`: rows, filtered, sorted and paged by the query string
  (catalog.querystore.params: the grammar is in every table's OpenAPI document), as JSON, CSV or GeoJSON.
  `?sample=1` reads the published sample rows instead of the full data: anyone may, signed in or not.
- `GET …/<table>/openapi.json`: the OpenAPI 3.1 document of that table (openapi.py); `…/<table>/docs/` shows it
  in Swagger UI.
- `POST /api/v1/data/<slug>/sql` {sql, version, sample}: one read-only SELECT over the dataset's tables.

Thin: every data call is access.data_access → metering.admit → the engine → metering.finish, with the
X-RateLimit-* headers of metering.rate_headers on the answer. A caller who may read only the sample and asks for
the full data gets 403 with the reason (access.why_not), before anything is counted; an entitlement that ended
is refused on the next call (data_access reads it every time)."""

from csp.decorators import csp_update
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param

from accounts.api.permissions import acting_organization, token_of
from catalog.querystore import engine
from catalog.querystore.params import parse_page_params
from core.api.errors import body as error_body
from core.api.schema import ERRORS
from core.api.validation import validated
from core.api.views import ApiView
from core.errors import DomainError, NotAllowed
from core.text import lazy_percent
from transactions.dataapi import datagokr, formats, openapi
from transactions.dataapi import selectors as data
from transactions.dataapi import serializers as s
from transactions.dataapi.access import data_access, data_access_for_versions
from transactions.dataapi.metering import RateLimited, admit, finish, rate_headers

SCOPE = "data"
TRUE = ("1", "true", "yes", "on")
# Query parameters of this view that are not the engine's (catalog.querystore.params reads the rest).
OWN_PARAMETERS = ("sample",)


class DataNegotiation(DefaultContentNegotiation):
    """`?format=csv|geojson` chooses the body (catalog.querystore.params), not DRF's renderer override."""

    class settings:  # noqa: N801 (DRF reads settings.URL_FORMAT_OVERRIDE)
        URL_FORMAT_OVERRIDE = None


class _Passthrough(BaseRenderer):
    """Lets a client accept text/csv or GeoJSON; the body is made by the view, errors stay JSON."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data)


class CsvRenderer(_Passthrough):
    media_type = "text/csv"
    format = "csv"


class GeoJsonRenderer(_Passthrough):
    media_type = "application/geo+json"
    format = "geojson"


class DataView(ApiView):
    """Anyone may call (the sample is public): what a caller reads is decided per call by access.data_access, and a
    key needs the `data` scope (check_scope, once the URL named something, so a wrong URL is 404 for everyone)."""

    permission_classes = [AllowAny]
    content_negotiation_class = DataNegotiation
    renderer_classes = [JSONRenderer, CsvRenderer, GeoJsonRenderer]

    _grant = None

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):  # JSON bodies and errors: the one JSON shape whatever was accepted
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._grant is not None:
            for name, value in rate_headers(self._grant).items():
                response[name] = value
        done = getattr(response, "data_done", None)
        if done is not None:  # a served call is counted with the bytes of its body (a streamed CSV: at its end)
            if hasattr(response, "render"):
                response.render()
            done(len(response.content))
        return response

    def handle_exception(self, exc):
        if isinstance(exc, RateLimited):  # 429 with its own reason (daily quota, minute rate, monthly cap)
            self._grant = exc.grant
            data = error_body(status_code=429, code=exc.code, message=exc.message)
            data["error"]["retry_after"] = exc.retry_after
            response = Response(data, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        return super().handle_exception(exc)


def check_scope(request) -> None:
    """A key needs the `data` scope for the data itself (a signed-in browser and an anonymous caller need none)."""
    token = token_of(request)
    if token is not None and SCOPE not in token.scopes:
        raise NotAllowed(lazy_percent(_("This API key needs the %(scope)s scope for this."), {"scope": SCOPE}))


def wants_sample(request) -> bool:
    return (request.query_params.get("sample") or "").strip().lower() in TRUE


def _access(request, target: data.Target):
    user = request.user if request.user.is_authenticated else None
    return data_access(
        user=user, organization=acting_organization(request), dataset=target.dataset, version=target.version
    )


def _refuse(access, *, live: bool):
    if live:
        raise NotAllowed(
            access.why_not
            or _("Live rows are for organizations with an active entitlement or API plan of this dataset.")
        )
    if access.why_not:
        raise NotAllowed(format_lazy("{} {}", access.why_not, _("Add sample=1 to read the published sample.")))
    raise NotAllowed(
        _("The full data is for organizations with an active entitlement or API plan: add sample=1 to read the sample.")
    )


def authorise(request, target: data.Target, *, sample: bool):
    """(access, variant) for reading the target: the sample for anyone, the full data or live rows for those
    data_access allows; else 403 with the reason. Nothing is counted for a refused call."""
    check_scope(request)
    access = _access(request, target)
    if target.live:
        if sample or not access.live:
            _refuse(access, live=True)
        return access, "live"
    if sample:
        return access, "sample"
    if not access.full:
        _refuse(access, live=False)
    return access, "full"


def _url(request, name: str, *args) -> str:
    return request.build_absolute_uri(reverse(name, args=args))


# --- the tables of a dataset ---------------------------------------------------------------------------------


def _status_dict(value):
    if value is None or isinstance(value, dict):
        return value
    return {"state": str(getattr(value, "state", value))}


def _table_out(request, slug: str, number: str, table: data.TableInfo) -> dict:
    rows = _url(request, "api-data-rows", slug, number, table.name)
    return {
        "name": table.name,
        "title": table.title,
        "row_count": table.row_count,
        "columns": [
            {k: c.get(k) for k in ("name", "type", "schema_type", "unit", "description_ko", "description_en", "masked")}
            for c in table.columns
        ],
        "geometry": table.geometry,
        "variants": table.variants,
        "url": rows,
        "sample_url": f"{rows}?sample=1" if "sample" in table.variants else None,
        "openapi_url": _url(request, "api-data-openapi", slug, number, table.name),
        "docs_url": _url(request, "api-data-docs", slug, number, table.name),
    }


class DatasetTables(DataView):
    @extend_schema(
        operation_id="data_dataset_tables",
        summary="The queryable tables of a dataset",
        description=(
            "데이터셋의 질의할 수 있는 표: 공개된(또는 대체된) 버전마다, 그리고 실시간 표가 있으면 live. 표마다 열, 행 수, "
            "행 주소, 샘플 주소(?sample=1, 누구나), OpenAPI 문서와 Swagger UI 주소, 그리고 이 호출자가 전체 데이터를 읽을 "
            "수 있는지(full_access)와 그렇지 않은 까닭. 호출 수에 세지 않습니다."
        ),
        parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH, description="데이터셋 슬러그")],
        responses={200: s.DatasetTablesOut},
    )
    def get(self, request, slug):
        dataset = data.dataset_get(slug)
        organization = acting_organization(request)
        user = request.user if request.user.is_authenticated else None
        latest_id = dataset.entry.version_id
        public = data.public_versions(dataset)
        # Every version in a fixed number of queries (a live dataset gains a snapshot version a day).
        accesses, live_access = data_access_for_versions(
            user=user, organization=organization, dataset=dataset, versions=public
        )
        overview = data.versions_overview(public)
        versions = []
        for version in public:
            access = accesses[version.pk]
            status, tables = overview[version.pk]
            number = str(version.number)
            versions.append(
                {
                    "version": number,
                    "state": version.state,
                    "latest": version.pk == latest_id,
                    "full_access": bool(access.full),
                    "why_not": "" if access.full else str(access.why_not or ""),
                    "store": _status_dict(status),
                    "tables": [_table_out(request, slug, number, t) for t in tables],
                }
            )
        live = data.live_table_infos(dataset)
        if live:
            access = live_access
            versions.insert(
                0,
                {
                    "version": data.LIVE,
                    "state": "live",
                    "latest": False,
                    "full_access": bool(access.live),
                    "why_not": "" if access.live else str(access.why_not or ""),
                    "store": None,
                    "tables": [_table_out(request, slug, data.LIVE, t) for t in live],
                },
            )
        body = {
            "dataset": dataset.slug,
            "title": str(dataset.entry.version.title_ko),
            "sql_url": _url(request, "api-data-sql", slug),
            "versions": versions,
        }
        return Response(body)


# --- rows ------------------------------------------------------------------------------------------------------

PATH_PARAMETERS = [
    OpenApiParameter("slug", str, OpenApiParameter.PATH, description="데이터셋 슬러그"),
    OpenApiParameter(
        "version",
        str,
        OpenApiParameter.PATH,
        description="버전 번호, latest(지금 공개된 버전) 또는 live(실시간 표)",
        pattern=r"^(latest|live|[0-9]{1,9})$",
    ),
    OpenApiParameter(
        "table",
        str,
        OpenApiParameter.PATH,
        description="표 이름 (데이터셋 표 목록의 name)",
        pattern=r"^[a-z][a-z0-9_]*$",
    ),
]
ROW_PARAMETERS = [
    OpenApiParameter("select", str, description="돌려줄 열 (쉼표로), 예: select=ts,station,pm10"),
    OpenApiParameter("order", str, description="정렬: 열 이름, 내림차순은 앞에 -, 예: order=-ts,station"),
    OpenApiParameter("limit", int, description="한 쪽의 행 수 (1–상한, 기본 100)"),
    OpenApiParameter("cursor", str, description="다음 쪽: 앞 응답의 next에 든 값"),
    OpenApiParameter("since", int, description="_row(실시간 표: 순번)가 이 값보다 큰 행만"),
    OpenApiParameter("bbox", str, description="경계 상자 minLon,minLat,maxLon,maxLat (위치가 있는 표)"),
    OpenApiParameter("format", str, enum=["json", "csv", "geojson"], description="응답 형식 (기본 json)"),
    OpenApiParameter(
        "sample", bool, description="true: 공개 샘플 행 (누구나). 없으면 전체 데이터 (권리가 있는 기관만)."
    ),
]
RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in (
        ("X-RateLimit-Limit", "이 기간의 호출 한도 (calls allowed in the window)"),
        ("X-RateLimit-Remaining", "남은 호출 수 (calls left)"),
        ("X-RateLimit-Reset", "한도가 다시 차는 시각, 유닉스 초 (when the window resets, epoch seconds)"),
    )
}


class TableRows(DataView):
    @extend_schema(
        operation_id="data_table_rows",
        summary="Rows of a table (filter, sort, page; JSON, CSV or GeoJSON)",
        description=(
            "표의 행. 열 선택(select), 필터(`<열>=값`, `<열>__ne|__lt|__lte|__gt|__gte=값`, `<열>__in=a,b`, "
            "`<열>__contains=글자`, `<열>__isnull=true|false`; 예약어 열은 `c.<열>`), bbox, 정렬(order), "
            "커서 페이지(limit, cursor, next), since, 형식(json, csv, geojson). 표마다의 필터와 열의 뜻은 그 표의 "
            "OpenAPI 문서(…/openapi.json)에 있습니다. 개인정보로 가린 열은 어디서나 가려져 있습니다. "
            "`sample=1`이면 공개 샘플 행(누구나), 아니면 전체 데이터(이용 권리·API 요금제가 있는 기관, API 키는 data 범위)."
        ),
        parameters=[*PATH_PARAMETERS, *ROW_PARAMETERS],
        responses={
            (200, "application/json"): OpenApiResponse(s.DataPageOut, description="행"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV (UTF-8, 수식 칸 중화)"),
            (200, "application/geo+json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="GeoJSON FeatureCollection"
            ),
            403: ERRORS[403],
        },
    )
    def get(self, request, slug, version, table):
        target = data.target_get(slug, version)
        info = data.table_get(target, table)
        sample = wants_sample(request)
        access, variant = authorise(request, target, sample=sample)
        self._grant = grant = admit(request=request, access=access, dataset=target.dataset)
        try:
            spec = parse_page_params(request.query_params, info.columns, info.geometry, ignore=OWN_PARAMETERS)
            out_format = output_format(request, info)
            result = engine.page(data.sources(target, variant, since=spec.since), info.name, spec)
        except engine.QueryError:
            finish(grant, dataset_id=target.dataset.pk, table=info.name, status=400, nbytes=0)
            raise
        next_url = (
            replace_query_param(request.build_absolute_uri(), "cursor", result.next_cursor)
            if result.next_cursor
            else None
        )
        done = _finisher(grant, target.dataset.pk, info.name)
        # What to send as since= next time to get only newer rows (a live table's feed by polling).
        next_since = result.last_row if result.last_row is not None else (spec.since or 0)
        if out_format == "csv":
            response = StreamingHttpResponse(
                formats.csv_chunks(result.columns, result.rows, on_done=done), content_type=formats.CSV_CONTENT_TYPE
            )
            response["Content-Disposition"] = f'inline; filename="{info.name}.csv"'
            if next_url:
                response["Link"] = f'<{next_url}>; rel="next"'
            response["X-Row-Count"] = str(len(result.rows))
            response["X-Next-Since"] = str(next_since)
            return response
        if out_format == "geojson":
            body = formats.feature_collection(
                result.columns,
                result.rows,
                info.geometry,
                geometry_index=result.geometry_index,
                extra={"next": next_url, "count": len(result.rows), "next_since": next_since},
            )
            response = Response(body, content_type=formats.GEOJSON_CONTENT_TYPE)
            response["X-Next-Since"] = str(next_since)
        else:
            body = {
                "columns": [{"name": c["name"], "type": c.get("type", "")} for c in result.columns],
                "rows": formats.json_rows(result.columns, result.rows, info.geometry),
                "next": next_url,
                "count": len(result.rows),
                "next_since": next_since,
            }
            response = Response(body)
        response.data_done = done
        return response


FORMATS = ("json", "csv", "geojson")


def output_format(request, info: data.TableInfo) -> str:
    """json (default), csv or geojson (only for a table with coordinates); else a QueryError naming `format`."""
    value = (request.query_params.get("format") or "json").strip().lower()
    if value not in FORMATS:
        raise engine.QueryError(
            lazy_percent(_("The format %(value)s is not offered: use json, csv or geojson."), {"value": value[:20]}),
            parameter="format",
        )
    if value == "geojson" and not info.geometry:
        raise engine.QueryError(
            _("This table has no coordinates: format=geojson cannot be used (use json or csv)."), parameter="format"
        )
    return value


def _finisher(grant, dataset_id: int, table: str):
    def done(nbytes: int) -> None:
        finish(grant, dataset_id=dataset_id, table=table, status=200, nbytes=nbytes)

    return done


# --- the OpenAPI document of a table ------------------------------------------------------------------------------


class TableOpenApi(DataView):
    @extend_schema(
        operation_id="data_table_openapi",
        summary="The OpenAPI 3.1 document of a table",
        description=(
            "표 하나의 OpenAPI 3.1 문서: 열의 이름, 형식, 단위, 설명(데이터 사전, 한국어와 영어), 열마다 쓸 수 있는 "
            "필터, 응답, 보안(API 키, data 범위), 샘플에서 가져온 예시 값. 호출 수에 세지 않습니다."
        ),
        parameters=PATH_PARAMETERS,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="OpenAPI 3.1 문서")},
    )
    def get(self, request, slug, version, table):
        target = data.target_get(slug, version)
        info = data.table_get(target, table)
        example = openapi.sample_example(target, info)
        return Response(openapi.table_document(request, target, info, example=example))


@require_GET
@csp_update({"style-src": ["'unsafe-inline'"]})  # Swagger UI styles what it draws inline (marketplace.api_docs)
def table_docs(request, slug, version, table):
    """Swagger UI over one table's OpenAPI document, in the site's frame (the /api/docs/ reader)."""
    target = data.target_get(slug, version)
    info = data.table_get(target, table)
    schema_url = reverse("api-data-openapi", args=(slug, version, info.name))
    return render(request, "api/swagger.html", {"schema_url": schema_url, "reader": "table"})


# --- the data.go.kr flavour ----------------------------------------------------------------------------------------


class MissingServiceKey(DomainError):
    """The full data was asked without serviceKey (data.go.kr's code 11)."""


def _reason_of(exc):
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, DjangoPermissionDenied):
        return exc.args[0] if exc.args and exc.args[0] else _("You are not allowed to do this.")
    return getattr(exc, "lazy_message", None) or str(getattr(exc, "detail", "") or exc)


class TableDataGoKr(DataView):
    """The table as a 공공데이터포털 Open API (transactions.dataapi.datagokr): serviceKey, pageNo, numOfRows, type."""

    renderer_classes = [JSONRenderer]
    authentication_classes = [datagokr.ServiceKeyAuthentication, *api_settings.DEFAULT_AUTHENTICATION_CLASSES]

    def _answer(self, request, data: dict, status: int):
        if datagokr.wanted_type(request.GET) == "json":
            return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
        return HttpResponse(datagokr.to_xml(data), status=status, content_type="application/xml; charset=utf-8")

    def handle_exception(self, exc):
        if isinstance(exc, RateLimited):
            self._grant = exc.grant
            response = self._answer(self.request, datagokr.envelope("quota", reason=exc.message), 429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        for classes, status, kind in (
            ((MissingServiceKey,), 401, "missing"),
            ((exceptions.NotAuthenticated, exceptions.AuthenticationFailed), 401, "key"),
            ((exceptions.PermissionDenied, DjangoPermissionDenied), 403, "denied"),
            ((Http404, exceptions.NotFound), 404, "not_found"),
            ((exceptions.Throttled,), 429, "quota"),
            ((DomainError, exceptions.ValidationError), 400, "invalid"),
        ):
            if isinstance(exc, classes):
                reason = _reason_of(exc) if kind != "not_found" else _("There is no such dataset, version or table.")
                return self._answer(self.request, datagokr.envelope(kind, reason=reason), status)
        return super().handle_exception(exc)

    @extend_schema(exclude=True)  # a compatibility flavour: documented in each table's OpenAPI document
    def get(self, request, slug, version, table):
        target = data.target_get(slug, version)
        info = data.table_get(target, table)
        sample = wants_sample(request)
        if not sample and not request.user.is_authenticated:
            raise MissingServiceKey(
                _("Send your API key as serviceKey (or add sample=1 to read the published sample without one).")
            )
        access, variant = authorise(request, target, sample=sample)
        self._grant = grant = admit(request=request, access=access, dataset=target.dataset)
        try:
            page_no = _whole(request.GET.get("pageNo"), "pageNo", default=1, high=datagokr.MAX_PAGE_NO)
            rows = _whole(request.GET.get("numOfRows"), "numOfRows", default=10, high=page_max_rows())
            sources = data.sources(target, variant)
            name = engine.quote(info.name)
            # our own two statements (a count and a page): no child process needed (engine.run_sql isolated)
            limits = {"timeout": sql_timeout(), "memory_limit": sql_memory_limit(), "isolated": False}
            total = data.stored_row_count(target, info.name, variant)
            if total is None:  # a live table grows: counted now
                total = engine.run_sql(sources, f"SELECT count(*) FROM {name}", max_rows=1, **limits).rows[0][0]
            sql = datagokr.page_sql(name, offset=(page_no - 1) * rows, limit=rows)
            result = engine.run_sql(sources, sql, max_rows=rows, **limits)
        except DomainError:
            finish(grant, dataset_id=target.dataset.pk, table=info.name, status=400, nbytes=0)
            raise
        items = formats.json_rows(result.columns, result.rows, info.geometry)
        body = datagokr.envelope(
            "ok" if items else "nodata", items=items, page_no=page_no, num_of_rows=rows, total=int(total)
        )
        response = self._answer(request, body, 200)
        response.data_done = _finisher(grant, target.dataset.pk, info.name)
        return response


def _whole(raw, parameter: str, *, default: int, high: int) -> int:
    if raw in (None, ""):
        return default
    text = str(raw).strip()
    if not text.isdigit() or not 1 <= int(text) <= high:
        raise DomainError(
            lazy_percent(
                _("The parameter %(parameter)s must be a whole number from 1 to %(high)s."),
                {"parameter": parameter, "high": high},
            )
        )
    return int(text)


def page_max_rows() -> int:
    return int(getattr(settings, "DATA_PAGE_MAX_ROWS", 1000))


# --- SQL ---------------------------------------------------------------------------------------------------------


class DatasetSql(DataView):
    audit_key_writes = False  # a POST that only reads (core.api.views: reads are not in the audit trail)

    @extend_schema(
        operation_id="data_dataset_sql",
        summary="Run one read-only SELECT over the dataset's tables",
        description=(
            "데이터셋의 표들에 SELECT 문 하나를 실행합니다 (DuckDB SQL). 샘플(sample=true)은 누구나, 전체 데이터는 "
            "이용 권리·API 요금제가 있는 기관만. 읽기 전용 격리 환경: 이 데이터셋의 표만 보이고, 파일·네트워크·확장·"
            "ATTACH·COPY·INSTALL·설정 변경은 거절되며, 시간·메모리 한도가 있고 결과 행 수는 상한에서 잘립니다. "
            "거절, 시간 초과, 문법 오류는 400과 한국어·영어 까닭입니다."
        ),
        parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH, description="데이터셋 슬러그")],
        request=s.SqlIn,
        responses={200: s.SqlOut, 403: ERRORS[403]},
    )
    def post(self, request, slug):
        dataset = data.dataset_get(slug)
        body = validated(s.SqlIn, request.data)
        target = data.version_for_body(dataset, body["version"])
        access, variant = authorise(request, target, sample=body["sample"])
        self._grant = grant = admit(request=request, access=access, dataset=dataset)
        try:
            result = engine.run_sql(
                data.sources(target, variant),
                body["sql"],
                max_rows=sql_max_rows(),
                timeout=sql_timeout(),
                memory_limit=sql_memory_limit(),
            )
        except engine.QueryError:
            finish(grant, dataset_id=dataset.pk, table="sql", status=400, nbytes=0)
            raise
        response = Response(formats.sql_result(result))
        response.data_done = _finisher(grant, dataset.pk, "sql")
        return response


def sql_max_rows() -> int:
    return int(getattr(settings, "DATA_SQL_MAX_ROWS", 10_000))


def sql_timeout() -> float:
    return float(getattr(settings, "DATA_SQL_TIMEOUT_SECONDS", 5))


def sql_memory_limit() -> str:
    return str(getattr(settings, "DATA_SQL_MEMORY_LIMIT", "512MB"))
