"""Input and output shapes of the buyer API. Input serializers only check the shape of what is sent (the services
decide); output serializers read what the selectors give the buyer's pages (transactions.selectors.Line,
DeliveryStatus, PackageRow, EntitlementDelivery), so a program reads the same figures and states as a person."""

import re

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Offer
from transactions.models import Order, Payment
from transactions.selectors import ORDER_TABS

# --- shared pieces -------------------------------------------------------------------------------------------


class _ReadOnly(serializers.Serializer):
    """An output shape: every field read-only (the schema marks them so)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.read_only = True


def _absolute(serializer, path: str) -> str:
    request = serializer.context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class DatasetRef(_ReadOnly):
    id = serializers.IntegerField()
    slug = serializers.SlugField()


class DeliveryStatusOut(_ReadOnly):
    """What the order page, its live block and "My data" show (transactions.selectors: one wording for all)."""

    state = serializers.CharField(
        help_text="주문·이용권: awaiting_payment, confirming, delivering, fulfilled, failed, cancelled, refunded, "
        "ended, none. 패키지: queued, building, stalled, ready, failed, expired, revoked, ended."
    )
    label = serializers.CharField(help_text="배지 문구 (요청 언어)")
    title = serializers.CharField(help_text="안내 제목 (요청 언어)")
    text = serializers.CharField(help_text="안내 문장 (요청 언어)")
    progress = serializers.IntegerField(allow_null=True, help_text="만드는 중일 때 0–100, 아니면 null")
    action = serializers.CharField(help_text="구매자가 할 수 있는 일: pay, download, retry, rebuild 또는 빈 문자열")
    live = serializers.BooleanField(help_text="저절로 바뀔 수 있음 (주문 페이지는 이때 2초마다 새로 읽습니다)")


class LicenceRef(_ReadOnly):
    code = serializers.CharField()
    name_ko = serializers.CharField()
    name_en = serializers.CharField()
    url = serializers.CharField(help_text="공식 이용허락 페이지 (없으면 빈 문자열)")


# --- cart ----------------------------------------------------------------------------------------------------


class CartOfferOut(_ReadOnly):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Offer.Kind.choices)
    price_krw = serializers.IntegerField(help_text="공급가액 (부가세 별도)")
    subscription_days = serializers.IntegerField(allow_null=True)
    contract_type = serializers.CharField()
    cost_basis = serializers.CharField()
    private = serializers.SerializerMethodField(help_text="이 기관만을 위한 제안")
    terms = serializers.CharField(help_text="비공개 제안의 추가 조건 (결제할 때 함께 동의)")

    def get_private(self, offer) -> bool:
        return offer.buyer_id is not None


class CartLineOut(_ReadOnly):
    offer = CartOfferOut()
    dataset = DatasetRef(source="offer.dataset")
    version = serializers.IntegerField(source="version.number", allow_null=True, help_text="받게 될 버전 번호")
    title = serializers.CharField(help_text="요청 언어의 제목")
    title_ko = serializers.CharField(source="version.title_ko", allow_null=True)
    title_en = serializers.CharField(source="version.title_en", allow_null=True)
    supply_krw = serializers.IntegerField(source="price.supply_krw")
    vat_krw = serializers.IntegerField(source="price.vat_krw")
    total_krw = serializers.IntegerField(source="price.total_krw")
    tax_free = serializers.BooleanField(source="price.tax_free", help_text="면세 사업자의 제안 (부가세 없음)")
    licence = LicenceRef(allow_null=True)
    licence_sha256 = serializers.CharField(
        help_text="동의할 이용허락 본문의 SHA-256: 결제할 때 accepted_licences에 그대로 보냅니다"
    )
    licence_text_url = serializers.SerializerMethodField(help_text="이용허락 본문 (빈칸을 채운 그대로)")
    problem = serializers.CharField(allow_null=True, help_text="지금 살 수 없는 까닭 (있으면 결제가 거절됩니다)")

    def get_licence_text_url(self, line) -> str:
        return _absolute(self, reverse("api-cart-licence", args=[line.offer.pk]))


class CartOut(_ReadOnly):
    lines = CartLineOut(many=True)
    count = serializers.IntegerField()
    supply_krw = serializers.IntegerField(source="total.supply_krw", help_text="공급가액 합계")
    vat_krw = serializers.IntegerField(source="total.vat_krw", help_text="부가세 합계 (줄마다 계산)")
    total_krw = serializers.IntegerField(source="total.total_krw", help_text="결제할 금액")
    tax_free_krw = serializers.IntegerField(source="total.tax_free_krw")
    blocked = serializers.BooleanField(help_text="살 수 없는 줄이 있음")


class CartItemIn(serializers.Serializer):
    offer = serializers.IntegerField(min_value=1, help_text="담을 제안(offer)의 id")


class CartLicenceTextOut(_ReadOnly):
    offer = serializers.IntegerField(source="offer.pk")
    licence = LicenceRef(allow_null=True)
    text_ko = serializers.CharField(source="rendered.text_ko", allow_null=True)
    text_en = serializers.CharField(source="rendered.text_en", allow_null=True)
    text = serializers.CharField(
        source="rendered.accepted_text",
        allow_null=True,
        help_text="동의하는 본문 그대로 (한국어와 영어, 각 제목 아래). UTF-8로 SHA-256을 구하면 sha256입니다",
    )
    sha256 = serializers.CharField(source="licence_sha256")


# --- checkout ------------------------------------------------------------------------------------------------


class CheckoutIn(serializers.Serializer):
    checkout_token = serializers.UUIDField(
        help_text="이 결제 요청의 UUID (프로그램이 만듭니다). 같은 값으로 다시 보내면 처음 만든 주문을 돌려줍니다"
    )
    method = serializers.ChoiceField(
        choices=[Order.Method.CARD, Order.Method.BANK_TRANSFER],
        required=False,
        allow_blank=True,
        help_text="결제 수단 (무료 주문이면 필요 없음)",
    )
    accepted_licences = serializers.DictField(
        child=serializers.RegexField(r"^[0-9a-f]{64}$", max_length=64),
        required=False,
        default=dict,
        help_text="{제안 id: 읽고 동의한 이용허락 본문의 SHA-256} — 장바구니의 licence_sha256",
    )
    expected_total_krw = serializers.IntegerField(
        min_value=0, required=False, help_text="구매자에게 보여 준 합계; 그 사이 바뀌었으면 주문을 거절합니다"
    )
    billing_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    billing_brn = serializers.CharField(max_length=12, required=False, allow_blank=True)
    billing_email = serializers.EmailField(required=False, allow_blank=True)
    billing_phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    billing_address = serializers.CharField(max_length=300, required=False, allow_blank=True)

    def validate_accepted_licences(self, value: dict) -> dict[int, str]:
        if any(not re.fullmatch(r"[0-9]{1,18}", str(key)) for key in value):  # ASCII digits: "²".isdigit() is True
            raise serializers.ValidationError(_("The keys are offer ids (numbers)."))
        return {int(key): digest for key, digest in value.items()}

    def validate_billing_brn(self, value: str) -> str:
        """As the checkout page's form: digits only, 10 of them, written 123-45-67890."""
        digits = "".join(c for c in value if c in "0123456789")
        if not digits:
            return ""
        if len(digits) != 10:
            raise serializers.ValidationError(_("A business registration number has 10 digits."))
        return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


class CancelIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)


class OrderListQuery(serializers.Serializer):
    state = serializers.ChoiceField(choices=ORDER_TABS, required=False, default="all")


# --- orders --------------------------------------------------------------------------------------------------


class AcceptanceOut(_ReadOnly):
    user = serializers.CharField(source="user.name")
    licence_code = serializers.CharField()
    licence_sha256 = serializers.CharField()
    accepted_at = serializers.DateTimeField()


class OrderItemLicenceOut(_ReadOnly):
    code = serializers.CharField(source="licence_code", default="")
    name_ko = serializers.CharField(source="licence_name_ko", default="")
    name_en = serializers.CharField(source="licence_name_en", default="")
    url = serializers.CharField(source="licence_url", default="")
    sha256 = serializers.CharField(source="licence_sha256", default="")


class OrderItemOut(_ReadOnly):
    id = serializers.IntegerField()
    dataset = DatasetRef()
    version = serializers.IntegerField(source="version.number", allow_null=True, help_text="구독이면 null")
    kind = serializers.ChoiceField(choices=Offer.Kind.choices)
    subscription_days = serializers.IntegerField(allow_null=True)
    title = serializers.CharField()
    title_en = serializers.CharField(source="terms.title_en", default="")
    supply_krw = serializers.IntegerField()
    vat_krw = serializers.IntegerField()
    total_krw = serializers.IntegerField()
    tax_free = serializers.BooleanField()
    licence = OrderItemLicenceOut(source="terms", help_text="주문할 때의 이용허락 (그 뒤 바뀌어도 그대로)")
    acceptances = AcceptanceOut(many=True)
    entitlement = serializers.IntegerField(source="entitlement.pk", allow_null=True)


class PaymentOut(_ReadOnly):
    id = serializers.IntegerField()
    method = serializers.ChoiceField(choices=Order.Method.choices)
    state = serializers.ChoiceField(choices=Payment.State.choices)
    amount_krw = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(allow_null=True)
    failure_message = serializers.CharField()


class BankTransferOut(_ReadOnly):
    """무통장입금: where to pay, how much, in whose name and by when (as the order page shows)."""

    bank = serializers.CharField()
    account_number = serializers.CharField()
    account_holder = serializers.CharField()
    amount_krw = serializers.IntegerField()
    depositor_name = serializers.CharField(help_text="입금자명: 청구서의 이름 (또는 메모에 주문 번호)")
    transfer_note = serializers.CharField(help_text="입금 메모에 쓸 주문 번호")
    deadline = serializers.DateTimeField(allow_null=True, help_text="이때까지 입금이 없으면 주문이 취소됩니다")


class PackageOut(_ReadOnly):
    id = serializers.IntegerField(source="package.pk")
    url = serializers.SerializerMethodField()
    order = serializers.CharField(source="package.entitlement.order_item.order.number")
    entitlement = serializers.IntegerField(source="package.entitlement_id")
    dataset = DatasetRef(source="package.version.dataset")
    version = serializers.IntegerField(source="package.version.number")
    title_ko = serializers.CharField(source="package.version.title_ko")
    title_en = serializers.CharField(source="package.version.title_en")
    state = serializers.CharField(source="status.state", help_text="구매자가 보는 상태 (status.state와 같음)")
    progress = serializers.IntegerField(source="package.progress", help_text="0–100")
    status = DeliveryStatusOut()
    size = serializers.IntegerField(source="package.size", allow_null=True, help_text="ZIP 크기 (바이트)")
    sha256 = serializers.CharField(source="package.sha256", help_text="ZIP 파일의 SHA-256")
    manifest_sha256 = serializers.SerializerMethodField(help_text="ZIP 안 MANIFEST-SHA256 파일의 SHA-256")
    manifest = serializers.SerializerMethodField(help_text="{ZIP 안의 경로: SHA-256}, MANIFEST-SHA256과 같은 내용")
    created_at = serializers.DateTimeField(source="package.created_at")
    finished_at = serializers.DateTimeField(source="package.finished_at", allow_null=True)
    expires_at = serializers.DateTimeField(source="package.expires_at", allow_null=True)
    download_link_url = serializers.SerializerMethodField(help_text="새 내려받기 링크를 만드는 주소 (POST)")
    retry_url = serializers.SerializerMethodField(help_text="다시 만들기 (POST; status.action이 retry·rebuild일 때)")

    def get_url(self, row) -> str:
        return _absolute(self, reverse("api-package", args=[row.package.pk]))

    def get_manifest_sha256(self, row) -> str | None:
        return (row.package.manifest or {}).get("MANIFEST-SHA256")

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_manifest(self, row) -> dict:
        return {name: digest for name, digest in (row.package.manifest or {}).items() if name != "MANIFEST-SHA256"}

    def get_download_link_url(self, row) -> str:
        return _absolute(self, reverse("api-package-download-link", args=[row.package.pk]))

    def get_retry_url(self, row) -> str:
        return _absolute(self, reverse("api-package-retry", args=[row.package.pk]))


class DownloadLinkOut(_ReadOnly):
    url = serializers.URLField(help_text="서명된 내려받기 주소: 로그인 없이 이 주소만으로 받습니다 (Range 지원)")
    expires_at = serializers.DateTimeField(help_text="이 주소가 만료되는 때")
    sha256 = serializers.CharField(help_text="받을 ZIP 파일의 SHA-256")
    size = serializers.IntegerField(allow_null=True)


class EntitlementPackageOut(_ReadOnly):
    id = serializers.IntegerField(source="package.pk")
    version = serializers.IntegerField(source="package.version.number")
    state = serializers.CharField(source="status.state")
    progress = serializers.IntegerField(source="status.progress", allow_null=True)
    url = serializers.SerializerMethodField()

    def get_url(self, row) -> str:
        return _absolute(self, reverse("api-package", args=[row.package.pk]))


class EntitlementOut(_ReadOnly):
    id = serializers.IntegerField(source="entitlement.pk")
    dataset = DatasetRef(source="entitlement.dataset")
    title = serializers.CharField(source="entitlement.order_item.title")
    title_en = serializers.CharField(source="entitlement.order_item.terms.title_en", default="")
    kind = serializers.ChoiceField(source="entitlement.kind", choices=Offer.Kind.choices)
    version = serializers.IntegerField(
        source="entitlement.version.number", allow_null=True, help_text="구독이면 null: 기간 안에 게시된 모든 버전"
    )
    order = serializers.CharField(source="entitlement.order_item.order.number")
    order_item = serializers.IntegerField(source="entitlement.order_item_id")
    valid_from = serializers.DateTimeField(source="entitlement.valid_from")
    valid_until = serializers.DateTimeField(source="entitlement.valid_until", allow_null=True)
    revoked_at = serializers.DateTimeField(source="entitlement.revoked_at", allow_null=True)
    status = DeliveryStatusOut()
    packages = EntitlementPackageOut(many=True)


class OrderSummaryOut(_ReadOnly):
    number = serializers.CharField()
    url = serializers.SerializerMethodField()
    state = serializers.ChoiceField(choices=Order.State.choices)
    method = serializers.ChoiceField(choices=Order.Method.choices)
    supply_krw = serializers.IntegerField()
    vat_krw = serializers.IntegerField()
    total_krw = serializers.IntegerField()
    titles = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    payment_due_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    status = DeliveryStatusOut(source="delivery_status")

    def get_url(self, order) -> str:
        return _absolute(self, reverse("api-order", args=[order.number]))

    def get_titles(self, order) -> list[str]:
        return [item.title for item in order.items.all()]


class BillingOut(_ReadOnly):
    name = serializers.CharField(source="billing_name")
    brn = serializers.CharField(source="billing_brn")
    email = serializers.CharField(source="billing_email")
    phone = serializers.CharField(source="billing_phone")
    address = serializers.CharField(source="billing_address")


class OrderOut(_ReadOnly):
    number = serializers.CharField(source="order.number")
    state = serializers.ChoiceField(source="order.state", choices=Order.State.choices)
    method = serializers.ChoiceField(source="order.method", choices=Order.Method.choices)
    supply_krw = serializers.IntegerField(source="order.supply_krw")
    vat_krw = serializers.IntegerField(source="order.vat_krw")
    total_krw = serializers.IntegerField(source="order.total_krw")
    tax_free_krw = serializers.IntegerField(source="order.tax_free_krw")
    refunded_krw = serializers.IntegerField(source="order.refunded_krw")
    placed_by = serializers.CharField(source="order.placed_by.name")
    billing = BillingOut(source="order")
    created_at = serializers.DateTimeField(source="order.created_at")
    payment_due_at = serializers.DateTimeField(source="order.payment_due_at", allow_null=True)
    paid_at = serializers.DateTimeField(source="order.paid_at", allow_null=True)
    fulfilled_at = serializers.DateTimeField(source="order.fulfilled_at", allow_null=True)
    cancelled_at = serializers.DateTimeField(source="order.cancelled_at", allow_null=True)
    cancel_reason = serializers.CharField(source="order.cancel_reason")
    status = DeliveryStatusOut(source="delivery.status")
    can_cancel = serializers.BooleanField(source="delivery.can_cancel")
    bank_transfer = BankTransferOut(allow_null=True, help_text="무통장입금을 기다리는 동안의 입금 안내")
    items = OrderItemOut(many=True)
    payments = PaymentOut(many=True)
    packages = PackageOut(many=True, source="delivery.packages")
    entitlements = EntitlementOut(many=True)


class CheckoutOut(_ReadOnly):
    order = OrderOut()
    redirect_url = serializers.URLField(
        allow_null=True, help_text="카드: 구매자의 브라우저로 열 결제창 주소 (결제 대행사)"
    )


class OrderPaymentsOut(_ReadOnly):
    number = serializers.CharField(source="order.number")
    state = serializers.ChoiceField(source="order.state", choices=Order.State.choices)
    method = serializers.ChoiceField(source="order.method", choices=Order.Method.choices)
    total_krw = serializers.IntegerField(source="order.total_krw")
    payment_due_at = serializers.DateTimeField(source="order.payment_due_at", allow_null=True)
    paid_at = serializers.DateTimeField(source="order.paid_at", allow_null=True)
    status = DeliveryStatusOut(source="delivery.status")
    bank_transfer = BankTransferOut(allow_null=True)
    payments = PaymentOut(many=True)


class CardStartOut(_ReadOnly):
    redirect_url = serializers.URLField(help_text="구매자의 브라우저로 열 결제창 주소 (결제 대행사)")


class BankTransferStartOut(BankTransferOut):
    payment = PaymentOut()
