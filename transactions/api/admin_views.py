"""`/api/v1/admin/bank-transfers/` and `/api/v1/admin/packages/`: confirming deposits and rebuilding failed
packages, over the same selectors and services as the staff pages (transactions/payments/views.py,
transactions/delivery/views.py)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from accounts.api.permissions import AdminGenericView, AdminView
from core.api.pagination import Pages
from core.api.validation import validated
from transactions.api import admin_serializers as s
from transactions.delivery import selectors as delivery_selectors
from transactions.delivery import services as delivery_services
from transactions.payments import selectors as payment_selectors
from transactions.payments import services as payment_services

TAG = ["admin"]


class BankTransferList(AdminGenericView):
    pagination_class = Pages
    filter_backends = []

    @extend_schema(
        tags=TAG,
        summary="Bank transfers waiting for a deposit",
        description="구매자가 계좌이체를 골랐고 아직 확인하지 않은 결제 (관리자 입금 확인 페이지와 같음), "
        "입금 기한이 가까운 순서.",
        responses=s.AdminWaitingBankTransferOut(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(payment_selectors.bank_transfers_waiting())
        return self.get_paginated_response(s.AdminWaitingBankTransferOut(page, many=True).data)


class BankTransferConfirm(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Confirm a bank transfer",
        description="통장에서 본 입금을 확인합니다: 입금자명과 금액. 금액이 주문 합계와 다르면 확인하지 않고 "
        "`amount_mismatch`로 거절합니다 (감사 기록에 남음). 확인되면 주문이 결제되고 파일 준비가 시작됩니다. "
        "이미 확인된 결제면 그대로 둡니다.",
        request=s.AdminBankTransferConfirmIn,
        responses=s.AdminWaitingBankTransferOut,
    )
    def post(self, request, payment_id: int):
        payment = payment_selectors.bank_transfer_get(payment_id)
        data = validated(s.AdminBankTransferConfirmIn, request.data)
        payment_services.bank_transfer_confirm(
            actor=request.user,
            payment=payment,
            depositor_name=data["depositor_name"],
            amount_krw=data["amount_krw"],
        )
        return Response(s.AdminWaitingBankTransferOut(payment_selectors.bank_transfer_get(payment_id)).data)


class PackageList(AdminGenericView):
    pagination_class = Pages
    filter_backends = []

    @extend_schema(
        tags=TAG,
        summary="Failed packages",
        description="만들지 못한 패키지, 작업자가 멈춘 패키지, 오류 뒤 재시도를 기다리는 패키지 "
        "(관리자 '실패한 패키지' 페이지와 같음), 최신순. 구매자가 주문 화면에서 보는 것과 같은 이유가 있습니다.",
        parameters=[OpenApiParameter("state", OpenApiTypes.STR, enum=["failed"], description="failed (기본값)")],
        responses=s.AdminFailedPackageOut(many=True),
    )
    def get(self, request):
        validated(s.AdminPackageQueryIn, request.query_params)
        page = self.paginate_queryset(delivery_selectors.failed_packages())
        return self.get_paginated_response(s.AdminFailedPackageOut(page, many=True).data)


class PackageRetry(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Build a package again",
        description="실패했거나 만료됐거나 작업자가 멈춘 패키지를 다시 만듭니다 (시도 횟수는 처음부터). "
        "대기 중이거나 만드는 중이거나 준비된 패키지면 그대로 둡니다.",
        request=None,
        responses=s.AdminFailedPackageOut,
    )
    def post(self, request, package_id: int):
        package = delivery_selectors.package_for_viewer(request.user, package_id)
        delivery_services.package_retry(actor=request.user, package=package)
        return Response(s.AdminFailedPackageOut(delivery_selectors.package_for_viewer(request.user, package_id)).data)
