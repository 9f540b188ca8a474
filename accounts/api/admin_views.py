"""`/api/v1/admin/organizations/` and `/api/v1/admin/audit/`: the platform admin's verification queue and audit
trail, over the same selectors and services as the staff pages (accounts/staff_views.py)."""

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api import admin_serializers as s
from accounts.api.permissions import AdminGenericView, AdminView
from accounts.filters import AuditFilter
from accounts.models import Organization
from core.api.pagination import Cursor, Pages
from core.api.validation import validated

TAG = ["admin"]


class OrganizationQueryIn(serializers.Serializer):
    verification = serializers.ChoiceField(
        choices=[*Organization.Verification.values, "all"], required=False, default=Organization.Verification.REQUESTED
    )


def organization_out(organization: Organization) -> dict:
    organization.brn_check = selectors.brn_check(organization)
    organization.members = selectors.organization_members(organization)
    return s.AdminOrganizationAdminOut(organization).data


class OrganizationQueue(AdminGenericView):
    pagination_class = Pages
    filter_backends = []

    @extend_schema(
        tags=TAG,
        summary="Organizations to verify",
        description="기관 인증 대기열 (관리자 페이지와 같음): 기본은 인증을 요청한 기관, 요청이 오래된 순서. "
        "`verification`으로 인증됨·반려됨·전체(all)를 봅니다.",
        parameters=[
            OpenApiParameter(
                "verification",
                OpenApiTypes.STR,
                enum=[*Organization.Verification.values, "all"],
                description="인증 상태 (default: requested)",
            )
        ],
        responses=s.AdminOrganizationQueueOut(many=True),
    )
    def get(self, request):
        state = validated(OrganizationQueryIn, request.query_params)["verification"]
        queue = selectors.organization_verification_queue(state=None if state == "all" else state)
        page = self.paginate_queryset(queue)
        return self.get_paginated_response(s.AdminOrganizationQueueOut(page, many=True).data)


class OrganizationDetail(AdminView):
    @extend_schema(
        tags=TAG,
        summary="An organization, as the verifying admin sees it",
        description="인증을 판단할 기관의 정보: 입력한 내용, 사업자등록번호와 검증번호 확인 결과(불일치는 경고), "
        "구성원, 마지막 결정.",
        responses=s.AdminOrganizationAdminOut,
    )
    def get(self, request, organization_id: int):
        return Response(organization_out(selectors.organization_get_for_staff(organization_id)))


class OrganizationVerify(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Verify an organization",
        description="기관을 인증합니다 (메모는 선택). 구성원은 역할에 따라 게시하거나 구매할 수 있게 됩니다. "
        "이미 인증된 기관이면 그대로 둡니다.",
        request=s.AdminVerifyIn,
        responses=s.AdminOrganizationAdminOut,
    )
    def post(self, request, organization_id: int):
        organization = selectors.organization_get_for_staff(organization_id)
        reason = validated(s.AdminVerifyIn, request.data).get("reason", "")
        services.organization_verify(actor=request.user, organization=organization, reason=reason)
        return Response(organization_out(selectors.organization_get_for_staff(organization_id)))


class OrganizationReject(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Reject an organization's verification",
        description="기관 인증을 반려합니다. 사유는 필수이며 소유자에게 전달됩니다. 소유자가 내용을 고치면 다시 대기열에 옵니다.",
        request=s.AdminOrganizationRejectIn,
        responses=s.AdminOrganizationAdminOut,
    )
    def post(self, request, organization_id: int):
        organization = selectors.organization_get_for_staff(organization_id)
        reason = validated(s.AdminOrganizationRejectIn, request.data)["reason"]
        services.organization_reject(actor=request.user, organization=organization, reason=reason)
        return Response(organization_out(selectors.organization_get_for_staff(organization_id)))


class AuditCursor(Cursor):
    ordering = ("-created_at", "-id")


def _text(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, description=description)


class AuditTrail(AdminGenericView):
    pagination_class = AuditCursor
    filter_backends = []

    @extend_schema(
        tags=TAG,
        summary="The audit trail",
        description="감사 기록 (관리자 페이지 /staff/audit/와 같은 필터), 최신순, 커서로 넘깁니다. "
        "API 키로 한 변경은 `api_token`에 키의 id·이름·접두어가 있습니다.",
        parameters=[
            _text("action", "동작 코드 또는 그 앞부분 (e.g. organization.rejected, membership.)"),
            _text("actor", "한 사람의 이메일 (일부) (the actor's e-mail, or part of it)"),
            _text("dataset", "데이터셋 제목 또는 짧은 이름 (일부) (a dataset's title or short name)"),
            _text("organization", "기관 이름 (일부) (an organization's Korean name, or part of it)"),
            OpenApiParameter("date_from", OpenApiTypes.DATE, description="이 날짜부터 (from this date)"),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description="이 날짜까지 (until this date)"),
        ],
        responses=s.AdminAuditEventOut(many=True),
    )
    def get(self, request):
        filterset = AuditFilter(request.query_params, queryset=selectors.audit_events())
        if not filterset.is_valid():
            raise ValidationError(filterset.form.errors.as_data())  # field errors in both languages
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(s.AdminAuditEventOut(page, many=True).data)
