"""The buyer's API: cart, checkout, orders, payments, entitlements and packages of the acting organization.

Thin, like the buyer's pages (transactions/views.py, payments/views.py, delivery/views.py): every write is the
same service call those pages make, every read the same selector, so the browser and a program cannot disagree.
Writes need a key with the `buy` scope; reads `buy` or `read` (accounts.api.permissions.HasScope), and the buyer
rule of the pages (a buyer or owner of a verified consumer organization). Another organization's order numbers
and package ids answer 404."""

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.api.permissions import HasScope, acting_organization
from accounts.selectors import buyer_refusal
from core.api.errors import BilingualValidationError, in_both
from core.api.pagination import Pages
from core.api.validation import validated
from core.api.views import ApiGenericView, ApiView
from core.errors import DomainError, NotAllowed
from core.http import client_ip
from transactions import selectors
from transactions.api import serializers as s
from transactions.delivery import selectors as delivery_selectors
from transactions.delivery import services as delivery_services
from transactions.models import Order
from transactions.payments import bank
from transactions.payments import services as payments
from transactions.services import cart as cart_services
from transactions.services import orders as order_services

NUMBER = OpenApiParameter(
    "number", str, OpenApiParameter.PATH, description="주문 번호 (예: 20260105-7K3M9Q2X)", pattern=r"^[0-9A-Za-z_-]+$"
)


class BuyerView(ApiView):
    permission_classes = [HasScope]
    scope = "buy"


class BuyerListView(ApiGenericView):
    permission_classes = [HasScope]
    scope = "buy"
    pagination_class = Pages
    filter_backends = []


def reading_organization(request):
    """The acting organization, if the user may read its purchases (the buyer pages' rule); 403 saying why."""
    organization = acting_organization(request)
    if not selectors.may_read_purchases(request.user, organization):
        refusal = buyer_refusal(request.user, organization)
        raise NotAllowed(
            refusal.message
            if refusal
            else _("Buying needs the buyer or owner role in a verified consumer organization.")
        )
    return organization


# --- cart ----------------------------------------------------------------------------------------------------


def cart_data(user, organization) -> dict:
    """The cart as the cart page shows it: the same selector, the same totals and problems."""
    lines = selectors.cart_lines(selectors.cart_get(user, organization), organization)
    return {
        "lines": lines,
        "count": len(lines),
        "total": selectors.lines_total(lines),
        "blocked": any(line.problem for line in lines),
    }


def _cart_response(request, organization, code=status.HTTP_200_OK) -> Response:
    data = cart_data(request.user, organization)
    return Response(s.CartOut(data, context={"request": request}).data, status=code)


class CartView(BuyerView):
    @extend_schema(
        summary="The cart",
        description="장바구니: 줄마다 가격·부가세·합계, 동의할 이용허락(본문 주소와 SHA-256)과 지금 살 수 없는 까닭. "
        "장바구니 페이지와 같은 계산입니다.",
        responses={200: s.CartOut},
    )
    def get(self, request):
        return _cart_response(request, reading_organization(request))


class CartItems(BuyerView):
    @extend_schema(
        summary="Put an offer in the cart",
        description="제안(offer)을 장바구니에 담습니다. 이미 담겼으면 그대로 둡니다. 살 수 없으면 그 까닭을 돌려줍니다.",
        request=s.CartItemIn,
        responses={201: s.CartOut},
    )
    def post(self, request):
        data = validated(s.CartItemIn, request.data)
        organization = acting_organization(request)
        try:
            offer = selectors.offer_for_cart(data["offer"], organization)
        except Http404 as exc:  # an id in the body that names nothing is an input error, not a missing page
            raise BilingualValidationError(
                {"offer": [{"code": "does_not_exist", **in_both(_("There is no offer with this id."))}]}
            ) from exc
        cart_services.cart_add(actor=request.user, organization=organization, offer=offer)
        return _cart_response(request, organization, status.HTTP_201_CREATED)


class CartItem(BuyerView):
    @extend_schema(
        summary="Take an offer out of the cart",
        description="제안을 장바구니에서 뺍니다. 장바구니에 없는 제안이면 404입니다 (다른 기관의 장바구니는 보이지 않습니다).",
        request=None,
        responses={200: s.CartOut},
    )
    def delete(self, request, offer_id: int):
        organization = acting_organization(request)
        if not cart_services.cart_remove(actor=request.user, organization=organization, offer_id=offer_id):
            raise Http404  # not in this organization's cart: a program hears it, as for any unknown id
        return _cart_response(request, organization)


class CartItemLicence(BuyerView):
    @extend_schema(
        summary="The licence text of a cart line",
        description="장바구니 한 줄의 이용허락 본문 (빈칸을 채운 그대로, 결제 페이지와 같음)과 그 SHA-256. "
        "구매자가 읽고 동의하면 결제할 때 accepted_licences에 이 sha256을 보냅니다.",
        responses={200: s.CartLicenceTextOut},
    )
    def get(self, request, offer_id: int):
        organization = reading_organization(request)
        return Response(s.CartLicenceTextOut(selectors.cart_line(request.user, organization, offer_id)).data)


# --- checkout ------------------------------------------------------------------------------------------------


def _bank_transfer(order: Order, delivery_status) -> dict | None:
    """The account, amount, depositor name and deadline, while the order waits for a transfer (as the order page)."""
    if delivery_status.state != "awaiting_payment" or order.method != Order.Method.BANK_TRANSFER:
        return None
    return _bank_details(order)


def _bank_details(order: Order) -> dict:
    account = bank.transfer_account()
    return {
        "bank": account.bank,
        "account_number": account.number,
        "account_holder": account.holder,
        "amount_krw": order.due_krw,
        "depositor_name": order.billing_name,
        "transfer_note": order.number,
        "deadline": order.payment_due_at,
    }


def order_data(order: Order) -> dict:
    """The order page's content: lines, totals, state, payments, packages and entitlements."""
    delivery = selectors.order_delivery_status(order)
    return {
        "order": order,
        "delivery": delivery,
        "items": selectors.order_items(order),
        "payments": selectors.order_payments(order),
        "entitlements": [
            selectors.entitlement_delivery_status(e, list(e.packages.all()))
            for e in selectors.entitlements_for_order(order)
        ],
        "bank_transfer": _bank_transfer(order, delivery.status),
    }


class Checkout(BuyerView):
    @extend_schema(
        summary="Place the order from the cart",
        description="장바구니 전체를 주문합니다 (결제 페이지와 같은 서비스). 줄마다 읽은 이용허락 본문의 SHA-256을 "
        "`accepted_licences`로 보내야 하며, 그 사이 본문이 바뀌었으면 거절합니다. 청구 정보를 보내지 않으면 기관 정보를 "
        "씁니다 (결제 페이지의 기본값). 같은 `checkout_token`으로 다시 보내면 처음 만든 주문을 돌려줍니다. "
        "무료 주문은 바로 결제 완료되고, 카드는 `redirect_url`(결제창)을, 무통장입금은 입금 안내를 돌려줍니다.",
        request=s.CheckoutIn,
        responses={201: s.CheckoutOut},
    )
    def post(self, request):
        data = validated(s.CheckoutIn, request.data)
        organization = acting_organization(request)
        defaults = order_services.billing_defaults(organization) if organization is not None else {}
        billing = {
            name: data[name] if name in data else defaults.get(name, "") for name in order_services.BILLING_FIELDS
        }
        order = order_services.checkout_place(
            actor=request.user,
            organization=organization,
            checkout_token=data["checkout_token"],
            method=data.get("method") or "",
            billing=billing,
            accepted=data["accepted_licences"],
            expected_total_krw=data.get("expected_total_krw"),
            ip=client_ip(request),
        )
        redirect_url = None
        if order.state == Order.State.AWAITING_PAYMENT and not selectors.order_payments(order).exists():
            # As the checkout page: straight on to paying (the order stands if that fails; pay from its endpoints).
            try:
                if order.method == Order.Method.CARD:
                    redirect_url = payments.card_checkout_start(
                        actor=request.user, order=order, site_url=request.build_absolute_uri("/")
                    )
                else:
                    payments.bank_transfer_start(actor=request.user, order=order)
            except DomainError:
                pass
        order = selectors.order_get_for_buyer(organization=organization, number=order.number)
        out = s.CheckoutOut({"order": order_data(order), "redirect_url": redirect_url}, context={"request": request})
        return Response(out.data, status=status.HTTP_201_CREATED)


# --- orders --------------------------------------------------------------------------------------------------


class OrderList(BuyerListView):
    @extend_schema(
        summary="The organization's orders",
        description="기관의 주문 목록 (최근 것부터), 주문 목록 페이지와 같은 상태 배지. "
        "`state`: all, open(결제 대기), paid(결제 완료·전달), cancelled(취소·환불).",
        parameters=[OpenApiParameter("state", str, enum=list(selectors.ORDER_TABS), default="all")],
        responses={200: s.OrderSummaryOut(many=True)},
    )
    def get(self, request):
        organization = reading_organization(request)
        tab = validated(s.OrderListQuery, request.query_params)["state"]
        paginator = self.paginator
        page = paginator.paginate_queryset(selectors.orders_for_organization(organization, tab=tab), request, view=self)
        rows = selectors.orders_with_status(page)
        return paginator.get_paginated_response(s.OrderSummaryOut(rows, many=True, context={"request": request}).data)


class OrderDetail(BuyerView):
    @extend_schema(
        summary="An order",
        description="주문 하나: 줄(이용허락 동의 기록 포함), 금액, 상태, 결제, 패키지와 이용권. 주문 페이지와 같은 내용입니다.",
        parameters=[NUMBER],
        responses={200: s.OrderOut},
    )
    def get(self, request, number: str):
        order = selectors.order_get_for_buyer(organization=reading_organization(request), number=number)
        return Response(s.OrderOut(order_data(order), context={"request": request}).data)


class OrderCancel(BuyerView):
    @extend_schema(
        summary="Cancel an unpaid order",
        description="결제하지 않은 주문을 취소합니다 (이미 취소됐으면 그대로). 결제된 주문은 취소할 수 없습니다 (환불).",
        parameters=[NUMBER],
        request=s.CancelIn,
        responses={200: s.OrderOut},
    )
    def post(self, request, number: str):
        order = selectors.order_get_for_buyer(organization=acting_organization(request), number=number)
        reason = validated(s.CancelIn, request.data or {}).get("reason", "")
        order = order_services.order_cancel(actor=request.user, order=order, reason=reason)
        return Response(s.OrderOut(order_data(order), context={"request": request}).data)


# --- payments ------------------------------------------------------------------------------------------------


class OrderPayments(BuyerView):
    @extend_schema(
        summary="An order's payment status",
        description="주문의 결제 상태와 결제 시도 목록, 무통장입금을 기다리는 동안의 입금 안내.",
        parameters=[NUMBER],
        responses={200: s.OrderPaymentsOut},
    )
    def get(self, request, number: str):
        order = selectors.order_get_for_buyer(organization=reading_organization(request), number=number)
        delivery = selectors.order_delivery_status(order)
        data = {
            "order": order,
            "delivery": delivery,
            "bank_transfer": _bank_transfer(order, delivery.status),
            "payments": selectors.order_payments(order),
        }
        return Response(s.OrderPaymentsOut(data).data)


class CardStart(BuyerView):
    @extend_schema(
        summary="Pay an order by card",
        description="카드 결제를 시작합니다: 구매자의 브라우저로 열 결제창 주소(`redirect_url`)를 돌려줍니다. 결제가 끝나면 "
        "결제 대행사가 브라우저를 포털로 돌려보내고 포털이 승인합니다; 상태는 결제 상태 주소에서 봅니다. "
        "무료 주문에는 결제가 필요 없습니다.",
        parameters=[NUMBER],
        request=None,
        responses={200: s.CardStartOut},
    )
    def post(self, request, number: str):
        order = selectors.order_get_for_buyer(organization=acting_organization(request), number=number)
        url = payments.card_checkout_start(actor=request.user, order=order, site_url=request.build_absolute_uri("/"))
        return Response(s.CardStartOut({"redirect_url": url}).data)


class BankTransferStart(BuyerView):
    @extend_schema(
        summary="Pay an order by bank transfer",
        description="무통장입금으로 결제합니다: 입금할 계좌, 금액, 입금자명과 기한을 돌려줍니다. 관리자가 입금을 확인하면 "
        "결제 완료됩니다. 다시 보내도 같은 안내를 돌려줍니다.",
        parameters=[NUMBER],
        request=None,
        responses={200: s.BankTransferStartOut},
    )
    def post(self, request, number: str):
        organization = acting_organization(request)
        order = selectors.order_get_for_buyer(organization=organization, number=number)
        payment = payments.bank_transfer_start(actor=request.user, order=order)
        order = selectors.order_get_for_buyer(organization=organization, number=number)
        return Response(s.BankTransferStartOut({**_bank_details(order), "payment": payment}).data)


# --- entitlements and packages -------------------------------------------------------------------------------


class EntitlementList(BuyerListView):
    @extend_schema(
        summary="What the organization may download",
        description="기관이 내려받을 수 있는 데이터 (내 데이터 페이지): 데이터셋, 버전, 주문 줄, 기간, 상태와 패키지.",
        responses={200: s.EntitlementOut(many=True)},
    )
    def get(self, request):
        organization = reading_organization(request)
        paginator = self.paginator
        page = paginator.paginate_queryset(selectors.entitlements_for_organization(organization), request, view=self)
        rows = [selectors.entitlement_delivery_status(e, list(e.packages.all())) for e in page]
        return paginator.get_paginated_response(s.EntitlementOut(rows, many=True, context={"request": request}).data)


class PackageList(BuyerListView):
    @extend_schema(
        summary="The organization's packages",
        description="기관이 산 데이터의 패키지 (ZIP): 상태와 진행률 (주문 페이지와 같은 문구), 크기, SHA-256과 MANIFEST.",
        responses={200: s.PackageOut(many=True)},
    )
    def get(self, request):
        organization = reading_organization(request)
        paginator = self.paginator
        page = paginator.paginate_queryset(
            delivery_selectors.packages_for_organization(organization), request, view=self
        )
        rows = selectors.package_rows(page)
        return paginator.get_paginated_response(s.PackageOut(rows, many=True, context={"request": request}).data)


def _package_row(organization, pk: int):
    package = delivery_selectors.package_get_for_organization(organization=organization, pk=pk)
    return selectors.package_rows([package])[0]


class PackageDetail(BuyerView):
    @extend_schema(
        summary="A package",
        description="패키지 하나: 상태와 진행률 (만드는 동안 다시 읽어 확인), 크기, ZIP의 SHA-256, MANIFEST-SHA256의 내용.",
        responses={200: s.PackageOut},
    )
    def get(self, request, pk: int):
        row = _package_row(reading_organization(request), pk)
        return Response(s.PackageOut(row, context={"request": request}).data)


class PackageDownloadLink(BuyerView):
    @extend_schema(
        summary="A fresh download link",
        description="준비된 패키지의 새 서명 내려받기 주소와 만료 시각. 주소만으로 (로그인·API 키 없이) 받을 수 있고 "
        "curl -C - 처럼 이어받기도 됩니다. 받을 때마다 권한을 다시 확인합니다.",
        request=None,
        responses={200: s.DownloadLinkOut},
    )
    def post(self, request, pk: int):
        package = delivery_selectors.package_get_for_organization(organization=acting_organization(request), pk=pk)
        link = delivery_services.download_link_issue(user=request.user, package=package)
        data = {
            "url": request.build_absolute_uri(link.path),
            "expires_at": link.expires_at,
            "sha256": package.sha256,
            "size": package.size,
        }
        return Response(s.DownloadLinkOut(data).data)


class PackageRetry(BuyerView):
    @extend_schema(
        summary="Build a package again",
        description="실패한 패키지를 다시 만들거나 만료된 패키지를 새로 만듭니다 (주문 페이지의 '다시 시도'·'다시 만들기'). "
        "만드는 중이거나 준비된 패키지는 그대로 둡니다.",
        request=None,
        responses={200: s.PackageOut},
    )
    def post(self, request, pk: int):
        organization = acting_organization(request)
        package = delivery_selectors.package_get_for_organization(organization=organization, pk=pk)
        delivery_services.package_retry(actor=request.user, package=package)
        return Response(s.PackageOut(_package_row(organization, pk), context={"request": request}).data)
