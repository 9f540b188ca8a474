"""The API of money after checkout for buyers and providers (issue 15): an order's refunds and the buyer's request,
the refund policy, receipts and tax documents (JSON and PDF), subscriptions, data vouchers; a provider's statements,
sales charts and monthly tax-invoice export.

Thin, like the pages (transactions/refunds/views.py, documents/views.py, statements/views.py, vouchers/views.py,
transactions/views.py): every write is the service call the page makes, every read the selector the page reads.
Everything is looked up inside the acting organization (the key's), so another organization's ids answer 404.
Buyer writes need the `buy` scope, reads `buy` or `read`; provider reads `publish` or `read`."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from accounts.api.permissions import HasScope, acting_organization, token_of
from accounts.permissions import can
from catalog.api.provider_views import Publisher
from core.api.pagination import Pages
from core.api.validation import validated
from core.api.views import ApiView
from core.errors import NotAllowed
from transactions import selectors
from transactions.api import money_serializers as s
from transactions.api.views import NUMBER, BuyerListView, BuyerView, reading_organization
from transactions.documents import exports, pdf
from transactions.documents import selectors as document_selectors
from transactions.documents import services as document_services
from transactions.models import RefundRequest
from transactions.refunds import selectors as refund_selectors
from transactions.refunds import services as refund_services
from transactions.services import subscriptions as subscription_services
from transactions.statements import selectors as statement_selectors
from transactions.vouchers import selectors as voucher_selectors
from transactions.vouchers import services as voucher_services

DOCUMENT_NUMBER = OpenApiParameter(
    "number", str, OpenApiParameter.PATH, description="문서 번호 (예: 2026-000042)", pattern=r"^[0-9]{4}-[0-9]{6,}$"
)


# --- files next to JSON: the PDF and the CSV ----------------------------------------------------------------


class _FileRenderer(BaseRenderer):
    """Lets a client ask for the file's type; the file is an HttpResponse of its own, errors stay JSON."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data)


class PdfRenderer(_FileRenderer):
    media_type = "application/pdf"
    format = "pdf"


class CsvRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"


class _KnownFormats(DefaultContentNegotiation):
    """An unknown `?format=` is an input error the view's query validation reports (400), not DRF's 404."""

    def select_renderer(self, request, renderers, format_suffix=None):
        wanted = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if wanted and wanted not in {renderer.format for renderer in renderers}:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class _FileOrJson:
    content_negotiation_class = _KnownFormats

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):  # JSON (an error, or the JSON form): the one JSON shape
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


# --- refunds -------------------------------------------------------------------------------------------------


class OrderRefunds(BuyerView):
    @extend_schema(
        summary="An order's refunds and what may be asked back",
        description="주문 페이지의 환불 부분: 환불 기록, 구매자의 환불 요청과 결정, 줄마다 남은 금액과 정책상 요청할 수 "
        "없는 까닭(요청 종류마다). 환불 정책은 `/api/v1/refund-policy/`.",
        parameters=[NUMBER],
        responses={200: s.MoneyOrderRefundsOut},
    )
    def get(self, request, number: str):
        order = selectors.order_get_for_buyer(organization=reading_organization(request), number=number)
        return Response(s.MoneyOrderRefundsOut(refund_selectors.buyer_panel(order)).data)

    @extend_schema(
        summary="Ask for a refund",
        description="정책 안에서 주문 줄의 환불을 요청합니다 (전자상거래법 제17조: 청약철회는 결제 뒤 "
        "REFUND_WINDOW_DAYS일 안, 아무도 내려받기 시작하지 않은 줄; 설명과 다르거나 쓸 수 없으면 REFUND_DEFECT_DAYS일 "
        "안). 무통장입금 주문은 돌려받을 계좌(bank, account_number, holder)를 적습니다. 주문마다 결정을 기다리는 요청은 "
        "하나입니다. 플랫폼 관리자가 승인하면 환불되고, 거절하면 까닭이 이메일로 옵니다.",
        parameters=[NUMBER],
        request=s.MoneyRefundRequestIn,
        responses={201: s.MoneyRefundRequestOut},
    )
    def post(self, request, number: str):
        order = selectors.order_get_for_buyer(organization=acting_organization(request), number=number)
        data = validated(s.MoneyRefundRequestIn, request.data)
        made = refund_services.refund_request(
            actor=request.user,
            order=order,
            item_ids=data["items"],
            kind=data["kind"],
            reason=data["reason"],
            account={
                "bank": data.get("bank", ""),
                "number": data.get("account_number", ""),
                "holder": data.get("holder", ""),
            },
        )
        made = refund_selectors.request_get(made.pk)
        return Response(s.MoneyRefundRequestOut(made).data, status=status.HTTP_201_CREATED)


class RefundPolicy(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="The refund policy",
        description="구매자가 스스로 요청할 수 있는 환불의 조건 (환불 정책 페이지와 같은 숫자): 청약철회 기간, "
        "설명과 다름·이용 불가의 기간, 요청 종류. 누구나 읽을 수 있습니다.",
        responses={200: s.MoneyRefundPolicyOut},
    )
    def get(self, request):
        data = {
            "window_days": settings.REFUND_WINDOW_DAYS,
            "defect_days": settings.REFUND_DEFECT_DAYS,
            "kinds": list(RefundRequest.Kind.values),
            "policy_url": request.build_absolute_uri(reverse("transactions:refund_policy")),
        }
        return Response(s.MoneyRefundPolicyOut(data).data)


# --- documents -----------------------------------------------------------------------------------------------


def _document_organization(request):
    """The acting organization, if the user is one of its members (the documents page's rule)."""
    organization = acting_organization(request)
    if organization is None or not can(request.user, "accounts.view_org", organization):
        raise NotAllowed(_("Receipts are shown to the members of the organization that bought."))
    return organization


def _document(request, number: str):
    """A document the user may see (the selector's rule) and that the acting organization received: a supplier's
    copy is not part of the buyer's API (404)."""
    organization = _document_organization(request)
    document = document_selectors.document_get_for_user(user=request.user, number=number)
    if document.buyer_id != organization.pk:
        raise Http404
    return document


class DocumentList(BuyerListView):
    @extend_schema(
        summary="The organization's receipts and tax documents",
        description="기관이 받은 영수증·세금계산서·계산서·취소(수정) 문서·현금영수증 (문서 페이지와 같음), 최근 것부터. "
        "`month`(작성월 YYYY-MM)와 `kind`로 거를 수 있습니다. 취소 문서의 금액은 음수입니다.",
        parameters=[s.MoneyDocumentQuery],
        responses={200: s.MoneyDocumentOut(many=True)},
    )
    def get(self, request):
        organization = _document_organization(request)
        query = validated(s.MoneyDocumentQuery, request.query_params)
        month = document_selectors.parse_month(query.get("month"))
        documents = document_selectors.documents_for_buyer(organization, month=month, kind=query.get("kind", ""))
        page = self.paginator.paginate_queryset(documents, request, view=self)
        out = s.MoneyDocumentOut(page, many=True, context={"request": request})
        return self.paginator.get_paginated_response(out.data)


class DocumentDetail(BuyerView):
    @extend_schema(
        summary="A receipt or tax document",
        description="문서 하나: 발행할 때 고정한 내용(snapshot: 공급자·공급받는자와 등록번호, 줄, 공급가액·부가세·합계, "
        "작성일자)과 이 문서를 취소하는 문서들.",
        parameters=[DOCUMENT_NUMBER],
        responses={200: s.MoneyDocumentDetailOut},
    )
    def get(self, request, number: str):
        document = _document(request, number)
        return Response(s.MoneyDocumentDetailOut(document, context={"request": request}).data)


class DocumentPdf(_FileOrJson, BuyerView):
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(
        summary="A document as PDF",
        description="문서의 PDF (고정된 내용으로 그때그때 그림, 한글 글꼴 포함). 페이지의 'PDF'와 같은 파일입니다.",
        parameters=[DOCUMENT_NUMBER, OpenApiParameter("format", exclude=True)],
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF")},
    )
    def get(self, request, number: str):
        document = _document(request, number)
        response = HttpResponse(pdf.render(document.snapshot), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="document-{document.number}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response


class OrderCashReceipt(BuyerView):
    @extend_schema(
        summary="Ask for a cash receipt",
        description="무통장입금으로 결제했고 사업자등록번호 없이 청구된 주문의 현금영수증을 결제 대행사에 발행 요청합니다 "
        "(문서 페이지의 '현금영수증 신청'과 같음): 환불하고 남은 금액(데이터바우처 몫 제외, 구매자가 낸 몫)으로, 결제 뒤 "
        "CASH_RECEIPT_REQUEST_DAYS일 안에, 주문마다 한 번. 발행 기록(문서 종류 cash_receipt)을 돌려줍니다. 할 수 없으면 "
        "`cash_receipt_not_available`와 그 까닭.",
        parameters=[NUMBER],
        request=s.MoneyCashReceiptIn,
        responses={201: s.MoneyDocumentDetailOut},
    )
    def post(self, request, number: str):
        order = selectors.order_get_for_buyer(organization=acting_organization(request), number=number)
        data = validated(s.MoneyCashReceiptIn, request.data)
        issued = document_services.cash_receipt_request(
            actor=request.user,
            order=order,
            registration_number=data["registration_number"],
            receipt_type=data["receipt_type"],
        )
        out = s.MoneyDocumentDetailOut(issued, context={"request": request})
        return Response(out.data, status=status.HTTP_201_CREATED)


# --- subscriptions -------------------------------------------------------------------------------------------


class SubscriptionList(BuyerView):
    @extend_schema(
        summary="The organization's subscriptions",
        description="구독 페이지와 같은 목록: 지금 기간, 미리 결제한 다음 기간, 갱신할 날, 갱신 주문을 할 수 있게 되는 때, "
        "지금 갱신하면 살 제안과 가격(바뀌었으면 안내). 자동 결제는 없습니다: 갱신은 새 주문입니다.",
        responses={200: s.MoneySubscriptionOut(many=True)},
    )
    def get(self, request):
        rows = selectors.subscriptions_for_organization(reading_organization(request))
        return Response(s.MoneySubscriptionOut(rows, many=True).data)


def _subscription_row(request, pk: int, organization=None):
    return selectors.subscription_get_for_buyer(organization=organization or acting_organization(request), pk=pk)


class SubscriptionCancel(BuyerView):
    @extend_schema(
        summary="Turn renewal off",
        description="갱신을 끕니다: 알림이 멈추고, 결제한 기간은 끝까지 이용합니다 (환불되거나 줄지 않음). "
        "이미 꺼졌거나 끝났으면 그대로 돌려줍니다.",
        request=None,
        responses={200: s.MoneySubscriptionOut},
    )
    def post(self, request, pk: int):
        organization = acting_organization(request)
        row = _subscription_row(request, pk, organization)
        subscription_services.subscription_cancel(actor=request.user, subscription=row.subscription)
        return Response(s.MoneySubscriptionOut(_subscription_row(request, pk, organization)).data)


class SubscriptionResume(BuyerView):
    @extend_schema(
        summary="Turn renewal back on",
        description="기간이 아직 남은 구독의 갱신을 다시 켭니다 (끝나기 전에 다시 알림). 끝난 구독은 데이터셋에서 다시 "
        "구독합니다.",
        request=None,
        responses={200: s.MoneySubscriptionOut},
    )
    def post(self, request, pk: int):
        organization = acting_organization(request)
        row = _subscription_row(request, pk, organization)
        subscription_services.subscription_resume(actor=request.user, subscription=row.subscription)
        return Response(s.MoneySubscriptionOut(_subscription_row(request, pk, organization)).data)


class SubscriptionRenew(BuyerView):
    @extend_schema(
        summary="Renew: put the renewal in the cart",
        description="갱신은 새 주문입니다: 갱신할 제안(마지막에 결제한 제안, 없어졌으면 제공 기관의 지금 구독 제안)을 "
        "장바구니에 담습니다. 그다음 장바구니(`cart_url`)에서 지금의 가격과 이용허락을 보고 결제(`/api/v1/checkout/`)합니다. "
        "이전 주문은 그때의 가격과 조건 그대로입니다.",
        request=None,
        responses={200: s.MoneyRenewOut},
    )
    def post(self, request, pk: int):
        organization = acting_organization(request)
        row = _subscription_row(request, pk, organization)
        offer = subscription_services.subscription_renew_start(
            actor=request.user, organization=organization, subscription=row.subscription
        )
        data = {"offer": offer.pk, "cart_url": request.build_absolute_uri(reverse("api-cart"))}
        return Response(s.MoneyRenewOut(data).data)


# --- vouchers ------------------------------------------------------------------------------------------------


def _voucher_organization(request):
    organization = acting_organization(request)
    if organization is None or not organization.is_consumer or not can(request.user, "accounts.view_org", organization):
        raise NotAllowed(_("Data vouchers belong to a buyer organization you are a member of."))
    return organization


class VoucherList(BuyerView):
    @extend_schema(
        summary="The organization's data vouchers",
        description="기관의 데이터바우처: 협약번호, 상태(확인 대기·확인됨·반려와 까닭), 지원 금액·사용·잔액, 자부담 %, "
        "기간, 쓴 주문들. 기관의 구성원이면 볼 수 있습니다.",
        responses={200: s.MoneyVoucherWithUsesOut(many=True)},
    )
    def get(self, request):
        organization = _voucher_organization(request)
        rows = list(voucher_selectors.vouchers_of(organization))
        uses = {}
        for use in voucher_selectors.uses_of(rows):
            uses.setdefault(use.voucher_id, []).append(use)
        for voucher in rows:
            voucher.use_list = uses.get(voucher.pk, [])
        return Response(s.MoneyVoucherWithUsesOut(rows, many=True).data)

    @extend_schema(
        summary="Register a data voucher",
        description="기관의 대표(소유자)가 데이터바우처 협약을 등록합니다; 플랫폼 관리자가 확인하면 결제할 때 씁니다. "
        "기관의 구성원과 역할을 다루는 일처럼 **사람이** 합니다: 대표의 로그인 세션으로 보내야 하고, API 키로는 "
        "등록할 수 없습니다 (403).",
        request=s.MoneyVoucherRegisterIn,
        responses={201: s.MoneyVoucherOut},
    )
    def post(self, request):
        organization = _voucher_organization(request)
        if token_of(request) is not None:
            # accounts.permissions: a key never has an owner's powers (SCOPE_OF_PERM["accounts.manage_org"] is None).
            raise NotAllowed(_("An owner registers the data voucher with the signed-in session, not with an API key."))
        data = validated(s.MoneyVoucherRegisterIn, request.data)
        voucher = voucher_services.voucher_register(actor=request.user, organization=organization, **data)
        return Response(s.MoneyVoucherOut(voucher).data, status=status.HTTP_201_CREATED)


# --- provider: statements, charts, tax invoices ------------------------------------------------------------------


class ProviderReadView(ApiView):
    """A provider's reads: the sales pages' rule (a publisher or owner of a verified provider organization);
    a key needs `publish` or `read`."""

    permission_classes = [Publisher]
    scope = "publish"


class StatementList(ProviderReadView):
    pagination_class = Pages

    @extend_schema(
        summary="My organization's statements",
        description="월별 정산서 (한국 시각의 달): 매출, 환불, 수수료, 부가세, 바우처, 순액, 이월, 지급할 금액, 지급. "
        "장부(ledger)에서 읽으며 마감되면 금액이 고정됩니다.",
        responses=s.MoneyStatementOut(many=True),
    )
    def get(self, request):
        paginator = self.pagination_class()
        statements = statement_selectors.statements_for_provider(acting_organization(request)).order_by("-period")
        page = paginator.paginate_queryset(statements, request, view=self)
        return paginator.get_paginated_response(s.MoneyStatementOut(page, many=True, context={"request": request}).data)


class StatementDetail(ProviderReadView):
    @extend_schema(
        summary="A statement with its lines",
        description="정산서 하나와 그 줄: 장부의 거래마다, 주문 줄마다 매출·환불·수수료·부가세·바우처·순액. "
        "줄은 쪽(page)마다 장부 거래 100건씩: `transactions_count`, `rows_page`, `rows_pages`로 나머지 쪽을 찾습니다.",
        parameters=[OpenApiParameter("page", int, description="줄의 쪽 번호 (1부터; 범위를 넘으면 마지막 쪽)")],
        responses={200: s.MoneyStatementDetailOut},
    )
    def get(self, request, pk: int):
        statement = statement_selectors.statement_get_for_provider(organization=acting_organization(request), pk=pk)
        page = statement_selectors.statement_rows_page(statement, request.query_params.get("page"))
        context = {"request": request, "rows": page.object_list, "page": page}
        return Response(s.MoneyStatementDetailOut(statement, context=context).data)


class StatementCurrent(ProviderReadView):
    @extend_schema(
        summary="The month under way",
        description="아직 정산서에 없는 것: 진행 중인 달(과 지난 정산서가 마감된 뒤 기록된 것)의 합계와 줄, 이월 금액.",
        responses={200: s.MoneyCurrentStatementOut},
    )
    def get(self, request):
        current = statement_selectors.statement_current(acting_organization(request))
        return Response(s.MoneyCurrentStatementOut(current).data)


class SalesCharts(ProviderReadView):
    @extend_schema(
        summary="The sales page's chart data",
        description="판매 페이지의 그래프 자료 (같은 계산): 최근 12개월의 매출(원, 환불 차감)과 내려받기 횟수, "
        "데이터셋별·구매 기관 유형별.",
        responses={200: s.MoneySalesChartsOut},
    )
    def get(self, request):
        charts = statement_selectors.sales_charts(acting_organization(request))
        return Response(s.MoneySalesChartsOut(charts).data)


def _supplier(request):
    """The acting organization as a supplier: a provider the user is a member of (the tax-invoice page's rule)."""
    organization = acting_organization(request)
    if organization is None or not organization.is_provider or not can(request.user, "accounts.view_org", organization):
        raise PermissionDenied(_("This page is for the members of a provider organization."))
    return organization


class TaxInvoices(_FileOrJson, ApiView):
    permission_classes = [HasScope]
    scope = "publish"
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        summary="The month's tax invoices (홈택스 export)",
        description="공급자로서 그 달(작성일자, 한국 시각)에 발행한 세금계산서·계산서와 그 수정(취소) 문서. JSON은 문서마다 "
        "요약과 홈택스 일괄발행 양식의 한 행(`hometax`, `columns` 순서); `?format=csv`는 페이지의 CSV와 같은 파일(UTF-8 "
        "BOM, 수식처럼 보이는 칸 앞에 작은따옴표)입니다. 제공 기관의 구성원이면 받을 수 있습니다.",
        parameters=[s.MoneyTaxInvoiceQuery],
        responses={
            (200, "application/json"): s.MoneyTaxInvoicesOut,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV (UTF-8 BOM)"),
        },
    )
    def get(self, request):
        query = validated(s.MoneyTaxInvoiceQuery, request.query_params)
        supplier = _supplier(request)
        month = document_selectors.parse_month(query.get("month")) or timezone.localdate().replace(day=1)
        rows = list(document_selectors.tax_documents_of_month(supplier=supplier, month=month))
        if query.get("format") == "csv" or request.accepted_renderer.format == "csv":
            response = HttpResponse(exports.tax_invoice_csv(rows), content_type="text/csv; charset=utf-8")
            name = f"tax-invoices-{document_services.digits(supplier.brn_display) or supplier.pk}-{month:%Y-%m}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        data = {"month": f"{month:%Y-%m}", "columns": exports.HEADER, "rows": rows}
        return Response(s.MoneyTaxInvoicesOut(data).data)
