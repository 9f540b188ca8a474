"""`/api/v1/provider/datasets/<slug>/live/…`: a department makes a published table live and pushes rows to it.

    POST …/live/                      {"file": <data file id of the published version>, "cadence": "daily"}
    GET  …/live/<table>               the table, its columns, last rows, row count
    POST …/live/<table>/rows          {"rows": [{…}, …]} with an Idempotency-Key header
    POST …/live/<table>/pause | resume

Thin: the services validate and decide; a bad row refuses the batch with its 1-based row number and column."""

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from catalog import selectors as catalog_selectors
from catalog.api.provider_views import ProviderView, _organization
from catalog.live import selectors, services
from catalog.live.schema import RowInvalid
from catalog.models import DataFile, DatasetVersion
from core.api.errors import body
from core.api.validation import validated
from core.text import lazy_percent

SNAPSHOT_CADENCES = ("daily", "weekly", "monthly", "none")


class EnableIn(serializers.Serializer):
    file = serializers.IntegerField(help_text="게시된 버전의 데이터 파일(표) id")
    cadence = serializers.ChoiceField(
        choices=[(v, label) for v, label in DatasetVersion.Cadence.choices if v in SNAPSHOT_CADENCES],
        default="daily",
        help_text="스냅숏 버전 게시 주기 (none: 게시하지 않음)",
    )
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)


class RowsIn(serializers.Serializer):
    rows = serializers.ListField(child=serializers.JSONField(), allow_empty=False)


def table_out(request, table, *, rows: int = 10) -> dict:
    return {
        "name": table.name,
        "title": table.title,
        "state": table.state,
        "cadence": table.cadence,
        "columns": table.columns,
        "row_count": table.row_count,
        "last_seq": table.last_seq,
        "last_row_at": table.last_row_at,
        "compacted_seq": table.compacted_seq,
        "last_snapshot_at": table.last_snapshot_at,
        "rows_url": request.build_absolute_uri(
            reverse("api-provider-live-rows", args=[table.dataset.slug, table.name])
        ),
        "data_url": request.build_absolute_uri(f"/api/v1/data/{table.dataset.slug}/live/{table.name}"),
        "stream_url": request.build_absolute_uri(reverse("api-live-stream", args=[table.dataset.slug, table.name])),
        "last_rows": [{"seq": seq, "data": data} for seq, data in selectors.last_rows(table, rows)],
    }


def _table(request, slug, name):
    dataset = catalog_selectors.provider_dataset_get(organization=_organization(request), slug=slug)
    table = selectors.live_table_get(dataset, name)
    if table is None:
        raise Http404
    return table


class LiveTables(ProviderView):
    @extend_schema(
        operation_id="provider_live_tables_list",
        summary="My dataset's live tables",
        description="데이터셋의 실시간 표 목록.",
        responses=dict,
    )
    def get(self, request, slug):
        dataset = catalog_selectors.provider_dataset_get(organization=_organization(request), slug=slug)
        return Response({"tables": [table_out(request, t, rows=0) for t in selectors.live_tables(dataset)]})

    @extend_schema(
        summary="Make a table live",
        description="게시된 버전의 표 하나를 실시간 표로 지정합니다. 스키마는 그 표의 Table Schema로 고정되고, "
        "`cadence`마다 그 기간의 행이 새 버전(스냅숏)으로 자동 게시됩니다.",
        request=EnableIn,
        responses={201: dict},
    )
    def post(self, request, slug):
        dataset = catalog_selectors.provider_dataset_get(organization=_organization(request), slug=slug)
        data = validated(EnableIn, request.data)
        datafile = DataFile.objects.filter(pk=data["file"], version__dataset=dataset).first()
        if datafile is None:
            raise Http404
        table = services.live_table_enable(
            actor=request.user, dataset=dataset, datafile=datafile, cadence=data["cadence"], title=data.get("title", "")
        )
        return Response(table_out(request, table), status=201)


class LiveTableDetail(ProviderView):
    @extend_schema(
        operation_id="provider_live_table_retrieve",
        summary="A live table",
        description="실시간 표와 마지막 행들.",
        responses=dict,
    )
    def get(self, request, slug, name):
        return Response(table_out(request, _table(request, slug, name)))


class LiveRows(ProviderView):
    @extend_schema(
        summary="Push rows to a live table",
        description=(
            "행 묶음을 추가합니다. `Idempotency-Key` 헤더가 필요합니다: 같은 키와 같은 본문으로 다시 보내면 처음 저장된 "
            "묶음이 200으로 돌아오고(두 번 저장되지 않음), 같은 키에 다른 본문은 409입니다. 한 행이라도 스키마에 맞지 "
            "않으면 묶음 전체가 거부되고(아무것도 저장되지 않음) 오류에 그 행 번호(1부터)와 열, 이유가 나옵니다. "
            "날짜·시각은 ISO 8601(오프셋 포함 가능, 예: 2026-12-05T14:30:00+09:00)으로 보내면 한국 시각으로 저장됩니다."
        ),
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
        request=RowsIn,
        responses={
            201: OpenApiResponse(description="stored"),
            200: OpenApiResponse(description="the same batch again: stored the first time"),
            400: OpenApiResponse(description="a row does not fit the schema (error.row, error.column)"),
            409: OpenApiResponse(description="key reused for other rows, or the table is paused"),
            413: OpenApiResponse(description="body larger than LIVE_BODY_MAX_BYTES"),
        },
    )
    def post(self, request, slug, name):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.LIVE_BODY_MAX_BYTES:
            message = lazy_percent(
                _("The request is larger than %(limit)s KB: send the rows in smaller batches."),
                {"limit": settings.LIVE_BODY_MAX_BYTES // 1024},
            )
            return Response(body(status_code=413, code="too_large", message=message), status=413)
        table = _table(request, slug, name)
        data = validated(RowsIn, request.data)
        try:
            batch, created = services.live_rows_append(
                actor=request.user,
                table=table,
                rows=data["rows"],
                idempotency_key=request.headers.get("Idempotency-Key", ""),
            )
        except RowInvalid as exc:
            out = body(status_code=400, code=exc.code, message=exc.message)
            out["error"]["row"] = exc.row
            out["error"]["column"] = exc.column
            return Response(out, status=400)
        return Response(
            {
                "batch": {
                    "idempotency_key": batch.idempotency_key,
                    "first_seq": batch.first_seq,
                    "last_seq": batch.last_seq,
                    "rows": batch.rows,
                    "created_at": batch.created_at,
                },
                "replayed": not created,
            },
            status=201 if created else 200,
        )


class LivePause(ProviderView):
    @extend_schema(
        summary="Pause a live table",
        description="행 받기를 멈춥니다 (저장된 행은 계속 읽힙니다).",
        request=None,
        responses=dict,
    )
    def post(self, request, slug, name):
        table = services.live_table_pause(actor=request.user, table=_table(request, slug, name))
        return Response(table_out(request, table, rows=0))


class LiveResume(ProviderView):
    @extend_schema(
        summary="Resume a live table", description="행 받기를 다시 시작합니다.", request=None, responses=dict
    )
    def post(self, request, slug, name):
        table = services.live_table_resume(actor=request.user, table=_table(request, slug, name))
        return Response(table_out(request, table, rows=0))
