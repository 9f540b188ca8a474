"""HTTP of the buyers' live feeds:

    GET  /api/v1/data/<slug>/live/<table>/stream       Server-Sent Events (Last-Event-ID or ?since= resumes)
    GET  /api/v1/webhooks/                            the organization's endpoints
    POST /api/v1/webhooks/                            {"dataset", "table", "url"} → the secret, shown once
    POST /api/v1/webhooks/<id>/deactivate

Thin: access by transactions.dataapi.access.data_access(...).live; writes by transactions.livefeed.services."""

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.response import Response

from accounts.api.permissions import HasScope, acting_organization, token_of
from catalog.live import selectors as live_selectors
from catalog.models import Dataset
from core.api.errors import body
from core.api.schema import ERRORS
from core.api.validation import validated
from core.api.views import ApiView
from core.errors import DomainError, NotAllowed
from core.text import lazy_percent
from transactions.dataapi.metering import RateLimited, admit, finish, rate_headers
from transactions.livefeed import selectors, services, stream
from transactions.livefeed.access import live_access, live_access_full


class EventStreamRenderer(renderers.JSONRenderer):
    """Lets `Accept: text/event-stream` through content negotiation; errors are still rendered as JSON."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"


def _visible_table(slug: str, name: str):
    dataset = get_object_or_404(Dataset.objects.select_related("publisher"), slug=slug, listing="active")
    if not dataset.versions.filter(state="published").exists():
        raise Http404
    table = live_selectors.live_table_get(dataset, name)
    if table is None:
        raise Http404
    return dataset, table


def _since(request) -> int:
    """The seq to resume after: Last-Event-ID (EventSource's reconnection) or ?since=. Not a whole number ≥ 0 is a
    400 naming it (replaying the table from its first row instead would flood the client)."""
    raw = (request.headers.get("Last-Event-ID") or request.query_params.get("since") or "0").strip()
    if not raw.isascii() or not raw.isdigit():
        raise DomainError(
            lazy_percent(
                _("Resume from a row number (Last-Event-ID or since=, a whole number of 0 or more), not %(value)s."),
                {"value": raw[:40]},
            ),
            code="bad_since",
        )
    return int(raw)


class LiveStream(ApiView):
    permission_classes = [HasScope]
    scope = "data"
    renderer_classes = [renderers.JSONRenderer, EventStreamRenderer]

    @extend_schema(
        summary="Stream a live table (Server-Sent Events)",
        description=(
            "새 행이 추가되는 즉시(2초 이내) `event: row`로 보냅니다. 각 이벤트의 `id`는 행 번호(seq)이고 `data`는 "
            '`{"seq": …, "data": {열: 값}}`입니다. 다시 연결할 때 `Last-Event-ID` 헤더(또는 `?since=`)를 보내면 그 뒤의 '
            "행부터 이어집니다. 연결은 최대 LIVE_STREAM_MAX_SECONDS 뒤 `event: end`로 끝나며 EventSource는 스스로 다시 "
            "연결합니다. 실시간 권한(구독 기간 중이거나 API 요금제)이 없으면 403, 서버의 동시 스트림이 가득 차면 503과 "
            "Retry-After입니다."
        ),
        parameters=[
            OpenApiParameter("since", int, OpenApiParameter.QUERY, required=False),
            OpenApiParameter("Last-Event-ID", str, OpenApiParameter.HEADER, required=False),
        ],
        responses={200: OpenApiResponse(description="text/event-stream"), 403: None, 503: None},
    )
    def get(self, request, slug, name):
        dataset, table = _visible_table(slug, name)
        user, organization, token = request.user, acting_organization(request), token_of(request)
        access = live_access_full(user=user, organization=organization, dataset=dataset)
        if not access.live:
            raise NotAllowed(_("Your organization has no live access to this dataset: subscribe or take an API plan."))
        since = _since(request)
        if not stream.slots.take():
            out = body(
                status_code=503,
                code="streams_full",
                message=_("Too many live streams are open on this server: try again in a few seconds."),
            )
            return Response(out, status=503, headers={"Retry-After": "5"})
        release = stream.Release()
        try:
            grant = admit(request=request, access=access, dataset=dataset)  # one metered call per stream
        except BaseException:
            release()  # refused (429) or failed (Redis down): the slot is given back, or it is lost for good
            raise
        response = StreamingHttpResponse(
            stream.events(
                table=table,
                since=since,
                still_allowed=lambda: (
                    selectors.key_still_valid(token)
                    and live_access(user=user, organization=organization, dataset=dataset)
                ),
                release=release,
                done=lambda nbytes: finish(grant, dataset_id=dataset.pk, table=table.name, status=200, nbytes=nbytes),
            ),
            content_type="text/event-stream; charset=utf-8",
        )
        for header, value in rate_headers(grant).items():
            response[header] = value
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
        response._resource_closers.append(release)  # a client gone before the first event still frees its slot
        return response

    def handle_exception(self, exc):
        if isinstance(exc, RateLimited):  # 429 + Retry-After, as every data API call (transactions.dataapi)
            data = body(status_code=429, code=exc.code, message=exc.message)
            data["error"]["retry_after"] = exc.retry_after
            return Response(data, status=429, headers=exc.headers())
        return super().handle_exception(exc)


class EndpointIn(serializers.Serializer):
    dataset = serializers.SlugField()
    table = serializers.SlugField()
    url = serializers.URLField(max_length=500)
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)


def endpoint_out(endpoint, *, secret: str | None = None) -> dict:
    out = {
        "id": endpoint.pk,
        "dataset": endpoint.table.dataset.slug,
        "table": endpoint.table.name,
        "url": endpoint.url,
        "description": endpoint.description,
        "active": endpoint.active,
        "created_at": endpoint.created_at,
        "deliveries": [
            {
                "id": d.message_id,
                "first_seq": d.first_seq,
                "last_seq": d.last_seq,
                "state": d.state,
                "attempts": d.attempts,
                "response_code": d.response_code,
                "next_at": d.next_at,
                "delivered_at": d.delivered_at,
            }
            for d in selectors.recent_deliveries(endpoint, 10)
        ],
    }
    if secret is not None:
        out["secret"] = secret
    return out


class WebhookView(ApiView):
    permission_classes = [HasScope]
    scope = "buy"


class Webhooks(WebhookView):
    @extend_schema(summary="My organization's webhooks", description="기관의 웹훅 목록과 최근 전송.", responses=dict)
    def get(self, request):
        organization = acting_organization(request)
        return Response({"webhooks": [endpoint_out(e) for e in selectors.endpoints_of(organization)]})

    @extend_schema(
        summary="Make a webhook for a live table",
        description=(
            "실시간 표의 새 행을 이 주소로 POST합니다(Standard Webhooks 서명: webhook-id, webhook-timestamp, "
            "webhook-signature `v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`). 실패(2xx가 아님)하면 지수적으로 "
            "간격을 늘려 다시 보냅니다. 응답의 `secret`은 이번 한 번만 보입니다."
        ),
        request=EndpointIn,
        responses={201: dict, 404: ERRORS[404]},  # a dataset or live table that does not exist or is not visible
    )
    def post(self, request):
        data = validated(EndpointIn, request.data)
        _dataset, table = _visible_table(data["dataset"], data["table"])
        endpoint, secret = services.webhook_endpoint_create(
            actor=request.user,
            organization=acting_organization(request),
            table=table,
            url=data["url"],
            description=data.get("description", ""),
        )
        return Response(endpoint_out(endpoint, secret=secret), status=201)


class WebhookDeactivate(WebhookView):
    @extend_schema(summary="Switch a webhook off", description="웹훅을 끕니다.", request=None, responses=dict)
    def post(self, request, pk):
        try:
            endpoint = selectors.endpoint_get(acting_organization(request), pk)
        except selectors.WebhookEndpoint.DoesNotExist:
            raise Http404 from None
        endpoint = services.webhook_endpoint_deactivate(actor=request.user, endpoint=endpoint)
        return Response(endpoint_out(endpoint))
