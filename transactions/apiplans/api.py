"""The API of API plans and usage (issue 16): the buyer's usage and plans (`/api/v1/usage/`, the usage page's
numbers) and the provider's (`/api/v1/provider/usage/`). Reads only, the selectors the pages read. A key needs the
`buy` (buyer) or `publish` (provider) scope, or `read`, or `data`."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts.api.permissions import acting_organization
from catalog.api.provider_views import Publisher
from core.api.schema import ERRORS
from core.api.validation import validated
from core.api.views import ApiView
from core.http import client_ip
from transactions.api.views import BuyerView, reading_organization
from transactions.apiplans import selectors, services
from transactions.dataapi import metering


def _plan(row) -> dict:
    plan = row.plan
    return {
        "id": plan.pk,
        "dataset": plan.dataset.slug,
        "dataset_title": row.title,
        "kind": plan.kind,
        "state": plan.state,
        "organization": plan.organization.display_name,
        "daily_quota": plan.daily_quota,
        "rate_limit_per_minute": plan.rate_limit_per_minute,
        "price_per_1000_krw": plan.price_per_1000_krw if plan.kind == "api_metered" else None,
        "monthly_cap_krw": plan.monthly_cap_krw,
        "valid_until": plan.entitlement.valid_until,
        "quota": row.quota or None,
        "month_calls": row.month_calls,
        "month_amount_krw": row.month_amount_krw,
        "month_total_krw": row.month_total_krw,
        "bills": [
            {
                "month": b.month.strftime("%Y-%m"),
                "calls": b.calls,
                "amount_krw": b.amount_krw,
                "order": b.order.number if b.order else None,
            }
            for b in row.bills
        ],
    }


def _usage(data) -> dict:
    return {
        "days": [{**d, "day": d["day"].isoformat()} for d in data.days],
        "tables": [{k: t[k] for k in ("dataset", "table", "calls", "errors", "bytes")} for t in data.tables],
        "totals": data.totals,
        "plans": [_plan(row) for row in data.plans],
        "default_quota": data.default_quota,
    }


USAGE_OUT = inline_serializer(
    "ApiUsageOut",
    {
        "days": serializers.ListField(child=serializers.DictField()),
        "tables": serializers.ListField(child=serializers.DictField()),
        "totals": serializers.DictField(),
        "plans": serializers.ListField(child=serializers.DictField()),
        "default_quota": serializers.DictField(allow_null=True),
    },
)


USAGE_PLAN_OUT = inline_serializer(
    "ApiPlanOut",
    {
        "id": serializers.IntegerField(),
        "dataset": serializers.CharField(),
        "dataset_title": serializers.CharField(),
        "kind": serializers.CharField(),
        "state": serializers.CharField(),
        "daily_quota": serializers.IntegerField(allow_null=True),
        "rate_limit_per_minute": serializers.IntegerField(allow_null=True),
        "price_per_1000_krw": serializers.IntegerField(allow_null=True),
        "monthly_cap_krw": serializers.IntegerField(allow_null=True),
        "quota": serializers.DictField(allow_null=True),
    },
)


class BuyerUsage(BuyerView):
    scope = "buy"

    @extend_schema(
        summary="My organization's data API usage and plans",
        description="데이터 API 이용량 (최근 30일, 한국 시각): 일별 호출·오류·바이트, 테이블별 합계, API 요금제와 남은 "
        "한도, 종량제의 이번 달 금액(공급가액, 원 미만 절사)과 청구 주문.",
        responses={200: USAGE_OUT},
    )
    def get(self, request):
        return Response(_usage(selectors.buyer_usage(reading_organization(request))))


class ProviderUsage(ApiView):
    permission_classes = [Publisher]
    scope = "publish"

    @extend_schema(
        summary="Data API usage of my organization's datasets",
        description="제공 기관 데이터셋의 데이터 API 이용량 (최근 30일): 일별·테이블별 호출, 오류, 바이트와 구매 기관의 API 요금제.",
        responses={200: USAGE_OUT},
    )
    def get(self, request):
        return Response(_usage(selectors.provider_usage(acting_organization(request))))


class PlanTakeIn(serializers.Serializer):
    offer = serializers.IntegerField(help_text="API 개발계정(api_dev) 또는 종량제(api_metered) 제안의 id")
    licence_sha256 = serializers.CharField(
        max_length=64,
        help_text="동의한 이용허락 본문의 SHA-256 (GET /api/v1/catalog/datasets/<slug>/ 의 licence_text.sha256)",
    )
    monthly_cap_krw = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="종량제: 월 상한액 (원, 부가세 제외)"
    )


class PlanTake(BuyerView):
    """Take a development or metered plan: active at once (a subscription plan goes through the cart and checkout)."""

    @extend_schema(
        summary="Take an API development or metered plan",
        description="API 개발계정(무료, 1일 호출 한도)이나 종량제(1,000건당 가격, 월 상한액)를 신청합니다. 신청 즉시 "
        "사용할 수 있습니다 (인증키 등록 대기 없음). 정액제는 장바구니와 결제로 구매합니다.",
        request=PlanTakeIn,
        responses={201: USAGE_PLAN_OUT, 404: ERRORS[404]},  # an offer that is not (or no longer) an API plan
    )
    def post(self, request):
        organization = reading_organization(request)
        data = validated(PlanTakeIn, request.data)
        offer = selectors.api_offer_get(data["offer"], organization)
        plan = services.api_plan_take(
            actor=request.user,
            organization=organization,
            offer=offer,
            accepted_sha256=data["licence_sha256"],
            monthly_cap_krw=data["monthly_cap_krw"],
            ip=client_ip(request),
        )
        row = selectors.PlanRow(plan=plan, quota=metering.quota_status(plan=plan, organization_id=organization.pk))
        row.title = selectors.dataset_titles({plan.dataset_id}).get(plan.dataset_id, "")
        return Response(_plan(row), status=201)
