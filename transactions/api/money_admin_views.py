"""`/api/v1/admin/` of money after checkout (issue 15): refunds (make one, decide buyers' requests, confirm bank
refunds), statements and payouts (close a month, mark paid), data vouchers (verify, reject, record the agency's
payment) and the ledger of one organization. Platform admins with the `admin` scope, over the same selectors and
services as the staff pages (transactions/refunds/views.py, statements/staff_views.py, vouchers/staff_views.py)."""

from datetime import date

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.api.permissions import AdminGenericView, AdminView
from core.api.pagination import Pages
from core.api.validation import validated
from core.errors import DomainError
from transactions import selectors as order_selectors
from transactions.api import money_serializers as s
from transactions.api.views import NUMBER
from transactions.models import LedgerAccount
from transactions.refunds import selectors as refund_selectors
from transactions.refunds import services as refund_services
from transactions.statements import selectors as statement_selectors
from transactions.statements import services as statement_services
from transactions.vouchers import selectors as voucher_selectors
from transactions.vouchers import services as voucher_services

TAG = ["admin"]


# --- refunds -------------------------------------------------------------------------------------------------


class RefundQueue(AdminView):
    @extend_schema(
        tags=TAG,
        operation_id="admin_refunds_queue",
        summary="The refunds queue",
        description="관리자 환불 페이지와 같음: 결정을 기다리는 구매자 요청, 이체를 기다리는 무통장입금 환불, 결제 대행사의 "
        "답을 기다리는 카드 환불(자동으로 다시 물음), 최근 30일의 실패와 완료.",
        responses=s.MoneyAdminRefundQueueOut,
    )
    def get(self, request):
        return Response(s.MoneyAdminRefundQueueOut(refund_selectors.staff_queue()).data)


class OrderRefundCreate(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Refund a paid order",
        description="결제된 주문을 사유와 함께 환불합니다: `lines`가 없으면 남은 금액 전부(전액), 있으면 줄마다 그 금액(부분). "
        "카드는 바로 결제 대행사에 취소를 요청하고 (답을 기다리는 동안 잠금 없음) 완료되거나, 거절되면 `refund_declined`로 "
        "아무것도 바뀌지 않습니다. 무통장입금은 `created`로 기록되고, 돈을 보낸 뒤 bank-confirm으로 완료합니다. 완료되면 "
        "장부에 기록하고, 전액 환불된 줄의 이용을 끝내고, 취소(수정) 문서를 발행하고, 구매자와 제공 기관에 이메일을 보냅니다.",
        parameters=[NUMBER],
        request=s.MoneyAdminRefundCreateIn,
        responses={201: s.MoneyAdminRefundOut},
    )
    def post(self, request, number: str):
        order = order_selectors.order_get_for_staff(number)
        data = validated(s.MoneyAdminRefundCreateIn, request.data)
        lines = {line["order_item"]: line["amount_krw"] for line in data["lines"]} if data.get("lines") else None
        refund = refund_services.refund_create(
            actor=request.user,
            order=order,
            reason=data["reason"],
            lines=lines,
            account={
                "bank": data.get("bank", ""),
                "number": data.get("account_number", ""),
                "holder": data.get("holder", ""),
            },
        )
        out = s.MoneyAdminRefundOut(refund_selectors.refund_get(refund.pk))
        return Response(out.data, status=status.HTTP_201_CREATED)


class RefundRequestApprove(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Approve a buyer's refund request",
        description="구매자의 요청을 승인합니다: 요청한 줄의 남은 금액이 환불됩니다 (카드는 바로 결제 대행사에). 두 관리자가 "
        "동시에 결정하면 한 사람만 결정하고 다른 사람은 `request_decided`를 받습니다.",
        request=s.MoneyDecisionIn,
        responses={200: s.MoneyAdminRefundOut},
    )
    def post(self, request, pk: int):
        refund_request = refund_selectors.request_get(pk)
        note = validated(s.MoneyDecisionIn, request.data or {}).get("reason", "")
        refund = refund_services.refund_request_approve(actor=request.user, request=refund_request, note=note)
        return Response(s.MoneyAdminRefundOut(refund_selectors.refund_get(refund.pk)).data)


class RefundRequestRefuse(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Refuse a buyer's refund request",
        description="구매자의 요청을 까닭과 함께 거절합니다 (까닭은 구매자에게 이메일로 갑니다).",
        request=s.MoneyRefuseIn,
        responses={200: s.MoneyAdminRefundRequestOut},
    )
    def post(self, request, pk: int):
        refund_request = refund_selectors.request_get(pk)
        reason = validated(s.MoneyRefuseIn, request.data)["reason"]
        refund_services.refund_request_refuse(actor=request.user, request=refund_request, reason=reason)
        return Response(s.MoneyAdminRefundRequestOut(refund_selectors.request_get(pk)).data)


class RefundBankConfirm(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Confirm a bank-transfer refund",
        description="무통장입금 주문의 환불금을 이체했습니다: 돌려준 계좌(은행, 계좌번호, 예금주)와 이체 참조를 기록하고 "
        "환불을 완료합니다. 한 번만 (다시 보내면 그대로 돌려줍니다).",
        request=s.MoneyBankConfirmIn,
        responses={200: s.MoneyAdminRefundOut},
    )
    def post(self, request, pk: int):
        refund = refund_selectors.refund_get(pk)
        data = validated(s.MoneyBankConfirmIn, request.data)
        refund_services.refund_bank_confirm(
            actor=request.user,
            refund=refund,
            bank=data["bank"],
            account_number=data["account_number"],
            holder=data["holder"],
            reference=data.get("reference", ""),
        )
        return Response(s.MoneyAdminRefundOut(refund_selectors.refund_get(pk)).data)


class RefundWithdraw(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Withdraw a bank-transfer refund",
        description="아직 이체하지 않은 무통장입금 환불(잘못 만든 것)을 까닭과 함께 거둡니다: `failed`로 끝나고, 그 환불이 "
        "잡고 있던 줄은 다시 환불할 수 있습니다. 이체를 기다리는 무통장입금 환불만 (`not_bank`).",
        request=s.MoneyWithdrawIn,
        responses={200: s.MoneyAdminRefundOut},
    )
    def post(self, request, pk: int):
        refund = refund_selectors.refund_get(pk)
        reason = validated(s.MoneyWithdrawIn, request.data)["reason"]
        refund_services.refund_withdraw(actor=request.user, refund=refund, reason=reason)
        return Response(s.MoneyAdminRefundOut(refund_selectors.refund_get(pk)).data)


class RefundSend(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Ask the payment company again about a card refund",
        description="`created`나 `transmitted`로 남은 카드 환불을 지금 결제 대행사에 다시 요청합니다 (자동 재확인이 몇 분 "
        "안에 하는 일): 같은 Idempotency-Key라 두 번 환불되지 않습니다. 카드 환불만 (`not_card`).",
        request=None,
        responses={200: s.MoneyAdminRefundOut},
    )
    def post(self, request, pk: int):
        refund = refund_selectors.refund_get(pk)
        refund_services.refund_send(actor=request.user, refund=refund)
        return Response(s.MoneyAdminRefundOut(refund_selectors.refund_get(pk)).data)


# --- statements and payouts ----------------------------------------------------------------------------------


class StatementQueue(AdminView):
    @extend_schema(
        tags=TAG,
        operation_id="admin_statements_overview",
        summary="Statements to pay",
        description="관리자 지급 페이지와 같음: 지급할 정산서, 지급할 것이 없거나 다음으로 넘어간 정산서, 지급한 정산서, "
        "마지막으로 마감한 달.",
        responses=s.MoneyAdminStatementsOut,
    )
    def get(self, request):
        last = statement_selectors.last_closed_month()
        data = {
            "to_pay": statement_selectors.statements_to_pay(),
            "not_payable": statement_selectors.statements_not_payable(),
            "paid": statement_selectors.statements_paid(),
            "last_closed_month": f"{last:%Y-%m}" if last else None,
        }
        return Response(s.MoneyAdminStatementsOut(data, context={"request": request, "staff": True}).data)


class StatementCloseMonth(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Close a month",
        description="끝난 달(한국 시각)을 마감합니다: 아직 정산서에 없는 기록이 있는 기관마다 정산서 하나, 줄과 금액 고정. "
        "다시 보내도 이미 마감한 기관은 그대로입니다 (매월 1일에 자동으로도 실행).",
        request=s.MoneyCloseMonthIn,
        responses={200: s.MoneyClosedOut},
    )
    def post(self, request):
        year, month = validated(s.MoneyCloseMonthIn, request.data)["month"].split("-")
        period = date(int(year), int(month), 1)
        made = statement_services.statements_close_month(month=period, actor=request.user)
        out = s.MoneyClosedOut(
            {"month": f"{period:%Y-%m}", "statements": made}, context={"request": request, "staff": True}
        )
        return Response(out.data)


def _statement_out(request, statement):
    page = statement_selectors.statement_rows_page(statement, request.query_params.get("page"))
    context = {
        "request": request,
        "staff": True,
        "rows": page.object_list,
        "page": page,
        "owed_now": statement_selectors.owed_now(statement.organization_id),
    }
    return s.MoneyAdminStatementDetailOut(statement, context=context).data


class StatementDetail(AdminView):
    @extend_schema(
        tags=TAG,
        summary="A statement with its lines",
        description="정산서 하나와 줄 (쪽마다 장부 거래 100건: `page`), 그리고 장부상 지금 그 기관에 줄 돈 (지급의 상한).",
        parameters=[OpenApiParameter("page", int, description="줄의 쪽 번호 (1부터; 범위를 넘으면 마지막 쪽)")],
        responses=s.MoneyAdminStatementDetailOut,
    )
    def get(self, request, pk: int):
        return Response(_statement_out(request, statement_selectors.statement_get_for_staff(pk)))


class StatementMarkPaid(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Mark a statement paid",
        description="정산서의 금액을 이체했습니다: 이체 참조와 함께 지급을 장부에 기록하고 지급 완료로 둡니다 (한 거래). "
        "지금 줄 돈보다 많이는 지급하지 않고, 두 관리자가 동시에 보내도 지급은 한 번입니다.",
        request=s.MoneyMarkPaidIn,
        responses={200: s.MoneyAdminStatementDetailOut},
    )
    def post(self, request, pk: int):
        statement = statement_selectors.statement_get_for_staff(pk)
        reference = validated(s.MoneyMarkPaidIn, request.data)["transfer_reference"]
        statement_services.statement_mark_paid(statement=statement, transfer_reference=reference, actor=request.user)
        return Response(_statement_out(request, statement_selectors.statement_get_for_staff(pk)))


class OrganizationLedger(AdminView):
    @extend_schema(
        tags=TAG,
        summary="The ledger of one organization",
        description="기관의 장부 계정마다 기록(거래, 금액, 누적 잔액)과 잔액, 장부와 정산서가 같은 금액을 말하는지, 정산서들. "
        "계정마다 최근 100개 기록 (마지막 쪽); `account`(계정 종류)와 `page`로 그 계정의 다른 쪽.",
        parameters=[
            OpenApiParameter("account", str, enum=[k for k, _label in LedgerAccount.Kind.choices]),
            OpenApiParameter("page", int, description="`account`의 쪽 번호 (1부터)"),
        ],
        responses=s.MoneyLedgerOut,
    )
    def get(self, request, organization_id: int):
        organization = statement_selectors.organization_get_for_ledger(organization_id)
        data = {
            "organization": organization,
            "accounts": statement_selectors.organization_ledger(
                organization,
                account_kind=request.query_params.get("account", ""),
                page=request.query_params.get("page"),
            ),
            "check": statement_selectors.ledger_check(organization),
            "statements": statement_selectors.statements_for_provider(organization).order_by("period"),
        }
        return Response(s.MoneyLedgerOut(data, context={"request": request, "staff": True}).data)


# --- vouchers ------------------------------------------------------------------------------------------------


class VoucherList(AdminGenericView):
    pagination_class = Pages
    filter_backends = []

    @extend_schema(
        tags=TAG,
        summary="Data vouchers",
        description="모든 데이터바우처 (최신순)와 지원기관이 아직 지급하지 않은 금액. `state`로 거릅니다.",
        parameters=[s.MoneyVoucherQuery],
        responses=s.MoneyAdminVoucherOut(many=True),
    )
    def get(self, request):
        state = validated(s.MoneyVoucherQuery, request.query_params).get("state", "")
        page = self.paginate_queryset(voucher_selectors.vouchers_for_staff(state))
        return self.get_paginated_response(s.MoneyAdminVoucherOut(page, many=True).data)


def _voucher(pk: int):
    voucher = voucher_selectors.vouchers_for_staff_queryset().filter(pk=pk).first()
    if voucher is None:
        raise Http404
    return voucher


def _voucher_out(pk: int) -> dict:
    voucher = _voucher(pk)
    uses = voucher_selectors.voucher_receivables(voucher)
    voucher.outstanding_krw = sum(use.outstanding_krw for use in uses)
    return s.MoneyAdminVoucherDetailOut(voucher, context={"uses": uses}).data


class VoucherDetail(AdminView):
    @extend_schema(
        tags=TAG,
        summary="A data voucher",
        description="바우처 하나: 쓴 주문마다 바우처 금액, 지원기관이 아직 지급하지 않은 금액, 지급 기록.",
        responses=s.MoneyAdminVoucherDetailOut,
    )
    def get(self, request, pk: int):
        return Response(_voucher_out(pk))


class VoucherVerify(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Verify a data voucher",
        description="지원기관과 협약을 확인했습니다: 기관이 기간 안에 결제할 때 바우처를 쓸 수 있습니다. 이미 확인됐으면 "
        "그대로 둡니다.",
        request=None,
        responses=s.MoneyAdminVoucherDetailOut,
    )
    def post(self, request, pk: int):
        voucher_services.voucher_verify(actor=request.user, voucher=_voucher(pk))
        return Response(_voucher_out(pk))


class VoucherReject(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Reject a data voucher",
        description="협약을 확인할 수 없습니다: 까닭은 기관에 보입니다. 반려된 협약번호는 고쳐서 다시 등록할 수 있습니다.",
        request=s.MoneyVoucherRejectIn,
        responses=s.MoneyAdminVoucherDetailOut,
    )
    def post(self, request, pk: int):
        voucher = _voucher(pk)
        reason = validated(s.MoneyVoucherRejectIn, request.data)["reason"]
        voucher_services.voucher_reject(actor=request.user, voucher=voucher, reason=reason)
        return Response(_voucher_out(pk))


class VoucherSettle(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Record the agency's payment",
        description="지원기관이 주문들의 바우처 금액을 지급했습니다 (이체 한 번): 날짜와 참조를 기록하고 주문마다 장부에 "
        "기록합니다. 금액은 고른 주문들의 미수금 합계와 같아야 하고, 이 바우처의 주문이 아니거나 결제되지 않았거나 이미 "
        "지급된 주문은 거절합니다.",
        request=s.MoneyVoucherSettleIn,
        responses={201: s.MoneyAdminVoucherDetailOut},
    )
    def post(self, request, pk: int):
        voucher = _voucher(pk)
        data = validated(s.MoneyVoucherSettleIn, request.data)
        orders = voucher_selectors.orders_by_number(data["orders"])
        if len(orders) != len(set(data["orders"])):  # a number that names no order: as the service says of others
            raise DomainError(
                _("Some of the orders chosen were not paid with this voucher."), code="settlement_foreign"
            )
        voucher_services.voucher_settle(
            actor=request.user,
            voucher=voucher,
            orders=orders,
            paid_on=data["paid_on"],
            reference=data["reference"],
            amount_krw=data["amount_krw"],
        )
        return Response(_voucher_out(pk), status=status.HTTP_201_CREATED)


class VoucherRepay(AdminView):
    @extend_schema(
        tags=TAG,
        summary="Record the payment back to the agency",
        description="지원기관이 지급한 뒤의 환불로 지원기관에 돌려줄 바우처 몫(주문마다 `owed_back_krw`)을 돌려주었습니다: "
        "이체 참조와 함께 장부에 기록합니다. 돌려줄 것이 없으면 `voucher_nothing_owed`.",
        request=s.MoneyVoucherRepayIn,
        responses={201: s.MoneyAdminVoucherDetailOut},
    )
    def post(self, request, pk: int):
        voucher = _voucher(pk)
        data = validated(s.MoneyVoucherRepayIn, request.data)
        orders = voucher_selectors.orders_by_number([data["order"]])
        if not orders:  # a number that names no order: as the service says of another voucher's order
            raise DomainError(
                _("Some of the orders chosen were not paid with this voucher."), code="settlement_foreign"
            )
        voucher_services.voucher_repay(
            actor=request.user, voucher=voucher, order=orders[0], reference=data["reference"]
        )
        return Response(_voucher_out(pk), status=status.HTTP_201_CREATED)
