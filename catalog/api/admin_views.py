"""`/api/v1/admin/reviews/` and `/api/v1/admin/datasets/{slug}/…`: the review queue, what a reviewer reads, the
decisions and the listing suspensions, over the same selectors and services as the staff pages
(catalog/review_views.py)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.api.permissions import AdminGenericView, AdminView
from catalog import selectors, services
from catalog.api import admin_serializers as s
from catalog.models import Review
from core.api.pagination import Pages
from core.api.validation import validated

TAG = ["admin"]
DECISIONS = (Review.Action.APPROVE, Review.Action.REJECT)


def _last_decision(history):
    return next((r for r in history if r.action in DECISIONS), None)


def _state_out(version_id: int) -> dict:
    version = selectors.version_get_for_review(version_id)
    version.decision = _last_decision(selectors.version_history(version))
    return s.ReviewStateOut(version).data


class ReviewQueue(AdminGenericView):
    pagination_class = Pages
    filter_backends = []

    @extend_schema(
        tags=TAG,
        summary="The review queue",
        description="심사를 기다리는 버전 (관리자 심사 페이지의 '대기' 목록과 같음), 오래 기다린 순서: "
        "기관, 데이터 종류, 제출 시각, 개인정보 발견 요약.",
        responses=s.ReviewQueueOut(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.review_queue_waiting())
        summaries = selectors.review_pii_summaries(page)
        for version in page:
            version.pii = {**summaries[version.pk], "needs_justification": version.has_pii}
        return self.get_paginated_response(s.ReviewQueueOut(page, many=True).data)


class ReviewDetail(AdminView):
    @extend_schema(
        tags=TAG,
        summary="A version, as the reviewer sees it",
        description="심사자가 보는 내용: 설명(메타데이터), 파일과 검사 결과, 개인정보 발견 내용과 게시 사유, 이용허락, "
        "판매 조건, 직전 게시 버전과의 차이(설명은 단어 단위, 파일은 열·행 변화), 결정 기록.",
        responses=s.ReviewDetailOut,
    )
    def get(self, request, version_id: int):
        version = selectors.version_get_for_review(version_id)
        history = list(selectors.version_history(version))
        version.review_files = selectors.version_files(version)
        version.review_pii_files = selectors.version_pii_files(version)
        version.review_offers = selectors.dataset_active_offers(version.dataset)
        version.review_diff = selectors.version_diff(version)
        version.review_history = history
        version.review_decision = _last_decision(history)
        return Response(s.ReviewDetailOut(version).data)


class ReviewApprove(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Approve and publish a version",
        description="제출된 버전을 승인해 게시합니다 (메모는 선택). 이전 게시 버전은 대체됩니다. "
        "두 관리자가 동시에 결정해도 결정은 하나입니다: 같은 결정이면 그대로 두고, 다른 결정이면 409.",
        request=s.ReviewApproveIn,
        responses=s.ReviewStateOut,
    )
    def post(self, request, version_id: int):
        version = selectors.version_get_for_review(version_id)
        reason = validated(s.ReviewApproveIn, request.data).get("reason", "")
        services.version_approve(actor=request.user, version=version, reason=reason)
        return Response(_state_out(version_id))


class ReviewReject(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Reject a version",
        description="제출된 버전을 반려합니다. 사유는 필수이며 제공기관에 전달됩니다.",
        request=s.ReviewRejectIn,
        responses=s.ReviewStateOut,
    )
    def post(self, request, version_id: int):
        version = selectors.version_get_for_review(version_id)
        reason = validated(s.ReviewRejectIn, request.data)["reason"]
        services.version_reject(actor=request.user, version=version, reason=reason)
        return Response(_state_out(version_id))


class DatasetSuspend(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Suspend a dataset's listing",
        description="데이터셋을 구매자에게서 숨깁니다 (사유 필수, 제공기관에 전달). 이미 숨겨져 있으면 그대로 둡니다.",
        request=s.ReviewListingReasonIn,
        responses=s.ReviewDatasetListingOut,
    )
    def post(self, request, slug: str):
        dataset = selectors.dataset_get_for_review(slug)
        reason = validated(s.ReviewListingReasonIn, request.data)["reason"]
        services.dataset_suspend(actor=request.user, dataset=dataset, reason=reason)
        return Response(s.ReviewDatasetListingOut(selectors.dataset_get_for_review(slug)).data)


class DatasetReinstate(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Reinstate a dataset's listing",
        description="숨긴 데이터셋을 다시 구매자에게 보입니다 (사유 필수, 제공기관에 전달).",
        request=s.ReviewListingReasonIn,
        responses=s.ReviewDatasetListingOut,
    )
    def post(self, request, slug: str):
        dataset = selectors.dataset_get_for_review(slug)
        reason = validated(s.ReviewListingReasonIn, request.data)["reason"]
        services.dataset_reinstate(actor=request.user, dataset=dataset, reason=reason)
        return Response(s.ReviewDatasetListingOut(selectors.dataset_get_for_review(slug)).data)
