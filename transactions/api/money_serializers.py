"""Shapes of the API of money after checkout (issue 15): refunds, the refund policy, receipts and tax documents,
subscriptions, data vouchers, provider statements and sales charts, and the admins' refunds, payouts, vouchers and
ledger. Input serializers only check the shape of what is sent (the services decide); output serializers read what
the selectors give the pages (transactions.refunds.selectors.BuyerPanel, statements.selectors.Row, Current,
SalesCharts, AccountView, LedgerCheck, selectors.SubscriptionRow), so a program reads the figures a person reads.

Every component is named Money… so it never collides with the components of the other API packages."""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.admin_serializers import AdminOrganizationRef, AdminUserBrief
from core.api.fields import BILINGUAL_SCHEMA, Bilingual, both_languages
from transactions.api.serializers import _absolute, _ReadOnly
from transactions.documents import exports
from transactions.documents.models import DocumentKind
from transactions.models import (
    LedgerAccountKind,
    LedgerTransactionKind,
    RefundRequestKind,
    RefundRequestState,
    RefundSource,
    RefundState,
    StatementState,
    SubscriptionState,
    VoucherState,
)

MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"


class MoneyUserRef(_ReadOnly):
    id = serializers.IntegerField()
    name = serializers.CharField()


# --- refunds (buyer) -------------------------------------------------------------------------------------------


class MoneyRefundLineOut(_ReadOnly):
    order_item = serializers.IntegerField(source="order_item_id")
    title = serializers.CharField(source="order_item.title")
    amount_krw = serializers.IntegerField()
    voucher_krw = serializers.IntegerField(help_text="데이터바우처 몫: 바우처 잔액으로 돌아감 (결제로 돌려주지 않음)")
    own_krw = serializers.IntegerField(help_text="구매자 몫: 결제(카드 취소·계좌 이체)로 돌려줌")


class MoneyRefundOut(_ReadOnly):
    """A refund: its own row (never an edited total), created → transmitted → done | failed."""

    id = serializers.IntegerField()
    order = serializers.CharField(source="order.number")
    state = serializers.ChoiceField(choices=RefundState.choices)
    source = serializers.ChoiceField(choices=RefundSource.choices, help_text="admin: 관리자가, buyer: 구매자 요청으로")
    method = serializers.CharField(source="payment.method", help_text="돌려주는 결제: card 또는 bank_transfer")
    amount_krw = serializers.IntegerField(help_text="환불 전체 (바우처 몫 + 구매자 몫)")
    voucher_krw = serializers.IntegerField(help_text="데이터바우처 몫: 바우처 잔액으로 돌아감 (결제로 돌려주지 않음)")
    own_krw = serializers.IntegerField(help_text="구매자 몫: 결제(카드 취소·계좌 이체)로 돌려줌")
    reason = serializers.CharField()
    lines = MoneyRefundLineOut(many=True)
    request = serializers.IntegerField(source="request_id", allow_null=True)
    failure_message = serializers.CharField(help_text="실패했을 때 결제 대행사가 말한 까닭")
    refund_bank = serializers.CharField(help_text="무통장입금 주문: 돌려받을 은행")
    refund_account_number = serializers.CharField()
    refund_account_holder = serializers.CharField()
    created_at = serializers.DateTimeField()
    done_at = serializers.DateTimeField(allow_null=True)
    failed_at = serializers.DateTimeField(allow_null=True)


class MoneyRefundRequestOut(_ReadOnly):
    """A buyer's request (requested → approved | refused): it moves no money until an admin approves it."""

    id = serializers.IntegerField()
    order = serializers.CharField(source="order.number")
    kind = serializers.ChoiceField(choices=RefundRequestKind.choices)
    state = serializers.ChoiceField(choices=RefundRequestState.choices)
    reason = serializers.CharField()
    items = serializers.SerializerMethodField(help_text="요청한 주문 줄의 id")
    requested_by = MoneyUserRef()
    decision_reason = serializers.CharField(help_text="관리자가 거절하거나 승인하며 남긴 까닭")
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)

    def get_items(self, request) -> list[int]:
        return sorted(item.pk for item in request.items.all())


class MoneyRefundProblemsOut(_ReadOnly):
    change_of_mind = Bilingual(allow_null=True, help_text="청약철회를 요청할 수 없는 까닭 (null: 요청할 수 있음)")
    not_as_described = Bilingual(allow_null=True, help_text="설명과 다름·이용 불가로 요청할 수 없는 까닭 (null: 가능)")

    def to_representation(self, problems):
        return {kind: None if problem is None else both_languages(problem) for kind, problem in problems.items()}


class MoneyRefundLineChoiceOut(_ReadOnly):
    order_item = serializers.IntegerField(source="item.pk")
    title = serializers.CharField(source="item.title")
    total_krw = serializers.IntegerField(source="item.total_krw")
    left_krw = serializers.IntegerField(help_text="아직 환불되지 않은 금액 (진행 중인 환불 제외)")
    requestable = serializers.BooleanField(help_text="정책 안에서 요청할 수 있음 (어느 한 까닭으로든)")
    problems = MoneyRefundProblemsOut(help_text="요청 종류마다 요청할 수 없는 까닭 (null: 요청할 수 있음)")


class MoneyOrderRefundsOut(_ReadOnly):
    """The order page's refunds section: the history and what may be requested under the policy."""

    refunds = MoneyRefundOut(many=True)
    requests = MoneyRefundRequestOut(many=True)
    lines = MoneyRefundLineChoiceOut(many=True)
    open_request = serializers.IntegerField(source="open_request.pk", allow_null=True, default=None)
    can_request = serializers.BooleanField()
    bank = serializers.BooleanField(help_text="무통장입금 주문: 요청에 돌려받을 계좌를 적어야 합니다")
    window_days = serializers.IntegerField()
    defect_days = serializers.IntegerField()


class MoneyRefundRequestIn(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=False,
        max_length=100,
        help_text="환불받을 주문 줄의 id",
    )
    kind = serializers.ChoiceField(choices=RefundRequestKind.choices)
    reason = serializers.CharField(max_length=1000, help_text="무엇이 잘못되었는지, 또는 왜 더 필요 없는지")
    bank = serializers.CharField(max_length=40, required=False, allow_blank=True, help_text="무통장입금 주문만")
    account_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    holder = serializers.CharField(max_length=100, required=False, allow_blank=True)


class MoneyRefundPolicyOut(_ReadOnly):
    window_days = serializers.IntegerField(help_text="청약철회: 결제 뒤 이 날수 안, 아무도 내려받기 시작하지 않은 줄")
    defect_days = serializers.IntegerField(help_text="설명과 다르거나 쓸 수 없음: 결제 뒤 이 날수 안")
    kinds = serializers.ListField(child=serializers.CharField(), help_text="요청 종류 (kind)")
    policy_url = serializers.CharField(help_text="정책을 사람이 읽는 페이지")


# --- documents ---------------------------------------------------------------------------------------------------


class MoneyPartyRef(_ReadOnly):
    id = serializers.IntegerField()
    name_ko = serializers.CharField()
    name_en = serializers.CharField()


class MoneyDocumentOut(_ReadOnly):
    number = serializers.CharField(help_text="문서 번호 (연도-일련번호, 빈 번호 없음)")
    url = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    issued_at = serializers.DateTimeField()
    date = serializers.CharField(source="snapshot.date", help_text="작성일자 (YYYY-MM-DD, 한국 시각)")
    order = serializers.CharField(source="order.number")
    supplier = MoneyPartyRef(allow_null=True, help_text="공급자: 그 줄을 판 제공 기관 (현금영수증은 null)")
    original = serializers.CharField(source="original.number", allow_null=True, default=None)
    supply_krw = serializers.IntegerField(help_text="공급가액 (취소 문서는 음수)")
    vat_krw = serializers.IntegerField()
    total_krw = serializers.IntegerField()
    tax_free_krw = serializers.IntegerField()

    def get_url(self, document) -> str:
        return _absolute(self, reverse("api-document", args=[document.number]))

    def get_pdf_url(self, document) -> str:
        return _absolute(self, reverse("api-document-pdf", args=[document.number]))


class MoneyDocumentDetailOut(MoneyDocumentOut):
    snapshot = serializers.JSONField(help_text="발행할 때 고정한, 인쇄되는 모든 값 (공급자·공급받는자, 줄, 합계)")
    cancellations = serializers.SerializerMethodField(help_text="이 문서를 취소하는 문서의 번호")

    def get_cancellations(self, document) -> list[str]:
        return [d.number for d in document.cancellations.order_by("number")]


class MoneyDocumentQuery(serializers.Serializer):
    month = serializers.RegexField(MONTH_PATTERN, required=False, help_text="작성월 YYYY-MM")
    kind = serializers.ChoiceField(choices=DocumentKind.choices, required=False)


# --- subscriptions -----------------------------------------------------------------------------------------------


class MoneyPeriodOut(_ReadOnly):
    entitlement = serializers.IntegerField(source="pk")
    order = serializers.CharField(source="order_item.order.number")
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(allow_null=True)


class MoneyRenewalOut(_ReadOnly):
    offer = serializers.IntegerField(source="offer.pk", allow_null=True, default=None)
    total_krw = serializers.IntegerField(source="price.total_krw", allow_null=True, default=None)
    previous_total_krw = serializers.IntegerField(allow_null=True)
    note = Bilingual(help_text="가격이나 제안이 바뀌었을 때의 안내 (없으면 빈 문자열)")
    problem = Bilingual(allow_null=True, help_text="지금 갱신할 수 없는 까닭 (null: 갱신할 수 있음)")
    possible = serializers.BooleanField()

    def to_representation(self, renewal):
        data = super().to_representation(renewal)
        data["problem"] = None if renewal.problem is None else both_languages(renewal.problem)
        return data


class MoneySubscriptionOut(_ReadOnly):
    id = serializers.IntegerField(source="subscription.pk")
    dataset = serializers.SlugField(source="subscription.dataset.slug")
    state = serializers.ChoiceField(source="subscription.state", choices=SubscriptionState.choices)
    cancelled_at = serializers.DateTimeField(source="subscription.cancelled_at", allow_null=True)
    current = MoneyPeriodOut(allow_null=True, help_text="지금 이용 중인 기간")
    ahead = MoneyPeriodOut(allow_null=True, help_text="이미 결제한, 지금 기간이 끝나면 시작하는 기간")
    last = MoneyPeriodOut(allow_null=True)
    renews_on = serializers.DateTimeField(allow_null=True, help_text="마지막 기간이 끝나는 때 (갱신할 날)")
    renew_opens_at = serializers.DateTimeField(allow_null=True, help_text="갱신 주문을 할 수 있게 되는 때")
    renewal = MoneyRenewalOut()


class MoneyRenewOut(_ReadOnly):
    offer = serializers.IntegerField(help_text="장바구니에 담은 제안 (갱신은 새 주문입니다)")
    cart_url = serializers.CharField(help_text="장바구니: 이용허락에 동의하고 결제합니다 (checkout)")


# --- vouchers ----------------------------------------------------------------------------------------------------


class MoneyVoucherUseOut(_ReadOnly):
    order = serializers.CharField(source="order.number")
    amount_krw = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    released_at = serializers.DateTimeField(allow_null=True, help_text="결제 전에 취소되어 잔액으로 돌아감")
    returned_krw = serializers.IntegerField(help_text="환불로 바우처 잔액에 돌아온 금액")
    settled = serializers.SerializerMethodField(help_text="지원기관이 이 주문의 바우처 금액을 지급함")

    def get_settled(self, use) -> bool:
        return use.settlement_id is not None


class MoneyVoucherOut(_ReadOnly):
    id = serializers.IntegerField()
    agreement_number = serializers.CharField(help_text="협약번호")
    state = serializers.ChoiceField(choices=VoucherState.choices)
    granted_krw = serializers.IntegerField()
    used_krw = serializers.IntegerField()
    balance_krw = serializers.IntegerField()
    copay_percent = serializers.IntegerField(help_text="자부담 %")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    rejection_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)


class MoneyVoucherWithUsesOut(MoneyVoucherOut):
    uses = serializers.SerializerMethodField()

    @extend_schema_field(MoneyVoucherUseOut(many=True))
    def get_uses(self, voucher) -> list:
        return MoneyVoucherUseOut(getattr(voucher, "use_list", []), many=True).data


class MoneyVoucherRegisterIn(serializers.Serializer):
    agreement_number = serializers.CharField(max_length=60, help_text="협약번호 (지원기관과의 협약서 그대로)")
    granted_krw = serializers.IntegerField(min_value=1, max_value=10**11)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    copay_percent = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=99,
        help_text=f"자부담 % (기본 {settings.VOUCHER_COPAY_PERCENT_DEFAULT}; 허용 범위는 서비스가 확인)",
    )


# --- statements and charts (provider) -------------------------------------------------------------------------------


class MoneyStatementOut(_ReadOnly):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    period = serializers.SerializerMethodField(help_text="정산 월 (YYYY-MM, 한국 시각)")
    state = serializers.ChoiceField(choices=StatementState.choices)
    sales_krw = serializers.IntegerField()
    refunds_krw = serializers.IntegerField()
    commission_krw = serializers.IntegerField()
    vat_krw = serializers.IntegerField()
    voucher_krw = serializers.IntegerField(help_text="매출 중 데이터바우처 부분 (지원기관이 지급)")
    voucher_settled_krw = serializers.IntegerField()
    other_krw = serializers.IntegerField(help_text="주문 줄 없는 정정")
    net_krw = serializers.IntegerField(help_text="이번 달 순액: 매출 − 환불 − 수수료 + 정정")
    carried_krw = serializers.IntegerField(help_text="이전 정산서에서 넘어온 금액")
    payable_krw = serializers.IntegerField(help_text="지급할 금액 (이월 + 순액)")
    paid_krw = serializers.IntegerField()
    transfer_reference = serializers.CharField()
    closed_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    previous = serializers.IntegerField(source="previous_id", allow_null=True)

    def get_url(self, statement) -> str:
        name = "api-admin-statement" if self.context.get("staff") else "api-provider-statement"
        return _absolute(self, reverse(name, args=[statement.pk]))

    def get_period(self, statement) -> str:
        return f"{statement.period:%Y-%m}"


class MoneyStatementRowOut(_ReadOnly):
    """One line: one order line (or none, for a correction) in one ledger transaction."""

    transaction = serializers.IntegerField(source="transaction.pk")
    kind = serializers.ChoiceField(source="transaction.kind", choices=LedgerTransactionKind.choices)
    booked_at = serializers.DateTimeField(source="transaction.created_at")
    order = serializers.CharField(source="transaction.order.number", allow_null=True, default=None)
    order_item = serializers.IntegerField(source="order_item.pk", allow_null=True, default=None)
    title = serializers.CharField(source="order_item.title", allow_null=True, default=None)
    buyer = serializers.CharField(source="order_item.order.buyer.name_ko", allow_null=True, default=None)
    sales_krw = serializers.IntegerField()
    refunds_krw = serializers.IntegerField()
    commission_krw = serializers.IntegerField()
    vat_krw = serializers.IntegerField()
    voucher_krw = serializers.IntegerField()
    voucher_settled_krw = serializers.IntegerField()
    buyer_paid_krw = serializers.IntegerField(help_text="바우처로 일부 결제된 매출: 구매 기관이 직접 낸 부분")
    net_krw = serializers.IntegerField()


class MoneyStatementDetailOut(MoneyStatementOut):
    rows = serializers.SerializerMethodField(
        help_text="이 쪽(page)의 줄: 장부 거래 100건씩(거래마다, 주문 줄마다 한 줄), 날짜순"
    )
    transactions_count = serializers.SerializerMethodField(help_text="정산서의 장부 거래 수 (모든 쪽)")
    rows_page = serializers.SerializerMethodField(help_text="이 쪽 번호 (`page`, 1부터)")
    rows_pages = serializers.SerializerMethodField(help_text="쪽 수")

    def get_transactions_count(self, statement) -> int:
        return self.context["page"].paginator.count

    def get_rows_page(self, statement) -> int:
        return self.context["page"].number

    def get_rows_pages(self, statement) -> int:
        return self.context["page"].paginator.num_pages

    @extend_schema_field(MoneyStatementRowOut(many=True))
    def get_rows(self, statement) -> list:
        return MoneyStatementRowOut(self.context["rows"], many=True).data


class MoneyTotalsOut(_ReadOnly):
    sales_krw = serializers.IntegerField()
    refunds_krw = serializers.IntegerField()
    commission_krw = serializers.IntegerField()
    vat_krw = serializers.IntegerField()
    voucher_krw = serializers.IntegerField()
    voucher_settled_krw = serializers.IntegerField()
    other_krw = serializers.IntegerField()
    net_krw = serializers.IntegerField()


class MoneyCurrentStatementOut(_ReadOnly):
    """What is on no statement yet: the month under way (and bookings after its statement closed)."""

    month = serializers.SerializerMethodField(help_text="진행 중인 달 (YYYY-MM)")
    totals = MoneyTotalsOut()
    carried_krw = serializers.IntegerField()
    payable_krw = serializers.IntegerField()
    previous = serializers.IntegerField(source="previous.pk", allow_null=True, default=None)
    previous_awaits_payout = serializers.BooleanField(help_text="지난 정산서가 마감되었고 아직 지급 전")
    rows = MoneyStatementRowOut(many=True)

    def get_month(self, current) -> str:
        return f"{current.month:%Y-%m}"


class MoneySeriesOut(_ReadOnly):
    label = serializers.CharField(help_text="데이터셋 제목 또는 구매 기관 유형 (요청 언어)")
    values = serializers.ListField(child=serializers.IntegerField(), help_text="달마다 값 (months와 같은 순서)")
    total = serializers.IntegerField()


class MoneyChartOut(_ReadOnly):
    key = serializers.CharField()
    unit = serializers.ChoiceField(choices=[("won", "won"), ("count", "count")])
    months = serializers.ListField(child=serializers.CharField())
    series = MoneySeriesOut(many=True)


class MoneySalesChartsOut(_ReadOnly):
    months = serializers.ListField(child=serializers.CharField(), help_text="최근 12개월 (YYYY-MM)")
    sales_by_dataset = MoneyChartOut(help_text="매출 (원, 환불 차감), 데이터셋별")
    sales_by_buyer_type = MoneyChartOut(help_text="매출 (원, 환불 차감), 구매 기관 유형별")
    downloads_by_dataset = MoneyChartOut(help_text="내려받기 횟수, 데이터셋별")
    downloads_by_buyer_type = MoneyChartOut(help_text="내려받기 횟수, 구매 기관 유형별")


class MoneyTaxInvoiceQuery(serializers.Serializer):
    month = serializers.RegexField(MONTH_PATTERN, required=False, help_text="작성월 YYYY-MM (기본: 이번 달)")
    format = serializers.ChoiceField(
        choices=[("json", "json"), ("csv", "csv")],
        required=False,
        help_text="csv: 홈택스 일괄발행 양식에 붙여 넣을 CSV (UTF-8 BOM)",
    )


class MoneyTaxInvoiceRowOut(_ReadOnly):
    number = serializers.CharField()
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    original = serializers.CharField(source="original.number", allow_null=True, default=None)
    date = serializers.CharField(source="snapshot.date")
    order = serializers.CharField(source="snapshot.order_number")
    buyer_name = serializers.CharField(source="snapshot.buyer.name", default="")
    buyer_brn = serializers.CharField(source="snapshot.buyer.brn", default="")
    supply_krw = serializers.IntegerField()
    vat_krw = serializers.IntegerField()
    total_krw = serializers.IntegerField()
    hometax = serializers.SerializerMethodField(help_text="CSV의 한 행 (columns와 같은 순서)")

    def get_hometax(self, document) -> list[str]:
        return ["" if cell is None else str(cell) for cell in exports.row(document)]


class MoneyTaxInvoicesOut(_ReadOnly):
    month = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField(), help_text="홈택스 양식의 열 이름")
    rows = MoneyTaxInvoiceRowOut(many=True)


# --- admins ------------------------------------------------------------------------------------------------------


class MoneyAdminRefundOut(MoneyRefundOut):
    buyer = AdminOrganizationRef(source="order.buyer")
    created_by = AdminUserBrief(allow_null=True)
    transfer_reference = serializers.CharField()


class MoneyAdminRefundRequestOut(MoneyRefundRequestOut):
    buyer = AdminOrganizationRef(source="order.buyer")
    refund_bank = serializers.CharField()
    refund_account_number = serializers.CharField()
    refund_account_holder = serializers.CharField()


class MoneyAdminRefundQueueOut(_ReadOnly):
    """The admins' refunds page: requests to decide, bank refunds to transfer, card refunds awaiting the PG,
    failed and done ones of the last 30 days."""

    requests = MoneyAdminRefundRequestOut(many=True)
    bank_to_confirm = MoneyAdminRefundOut(many=True)
    transmitted = MoneyAdminRefundOut(many=True)
    failed = MoneyAdminRefundOut(many=True)
    done = MoneyAdminRefundOut(many=True)


class MoneyRefundLineIn(serializers.Serializer):
    order_item = serializers.IntegerField(min_value=1)
    amount_krw = serializers.IntegerField(min_value=1, help_text="이 줄에서 돌려줄 금액 (원)")


class MoneyAdminRefundCreateIn(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)
    lines = MoneyRefundLineIn(
        many=True,
        required=False,
        allow_empty=False,
        help_text="부분 환불: 줄과 금액. 없으면 남은 금액 전부 (전액 환불)",
    )
    bank = serializers.CharField(max_length=40, required=False, allow_blank=True, help_text="무통장입금 주문만")
    account_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    holder = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def validate_lines(self, value):
        ids = [line["order_item"] for line in value]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError(_("Each order line once."))
        return value


class MoneyDecisionIn(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class MoneyRefuseIn(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, help_text="구매자가 이메일로 읽는 까닭")


class MoneyWithdrawIn(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, help_text="환불을 거두는 까닭 (잘못 만든 환불 등)")


class MoneyVoucherRepayIn(serializers.Serializer):
    order = serializers.RegexField(
        r"^[0-9]{8}-[0-9A-Z]{8}$", max_length=17, help_text="지원기관에 돌려준 바우처 몫의 주문 번호"
    )
    reference = serializers.CharField(max_length=100, help_text="지원기관에 보낸 이체의 참조")


class MoneyCashReceiptIn(serializers.Serializer):
    receipt_type = serializers.ChoiceField(
        choices=[("income_deduction", "소득공제"), ("expense_proof", "지출증빙")],
        help_text="income_deduction: 개인(휴대폰 번호 등), expense_proof: 사업자",
    )
    registration_number = serializers.CharField(max_length=40, help_text="휴대폰 번호·현금영수증 카드 번호 (10~18자리)")


class MoneyBankConfirmIn(serializers.Serializer):
    bank = serializers.CharField(max_length=40)
    account_number = serializers.CharField(max_length=40)
    holder = serializers.CharField(max_length=100)
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text="이체 참조 번호")


class MoneyAdminStatementOut(MoneyStatementOut):
    organization = AdminOrganizationRef()


class MoneyAdminStatementDetailOut(MoneyStatementDetailOut):
    organization = AdminOrganizationRef()
    owed_now_krw = serializers.SerializerMethodField(help_text="장부상 지금 이 기관에 줄 돈 (지급 상한)")

    def get_owed_now_krw(self, statement) -> int:
        return self.context["owed_now"]


class MoneyAdminStatementsOut(_ReadOnly):
    to_pay = MoneyAdminStatementOut(many=True, help_text="마감되었고 지급할 금액이 있는 최신 정산서")
    not_payable = MoneyAdminStatementOut(many=True, help_text="지급할 것이 없거나 다음 정산서로 넘어간 정산서")
    paid = MoneyAdminStatementOut(many=True, help_text="지급한 정산서 (최근 100건)")
    last_closed_month = serializers.CharField(allow_null=True)


class MoneyCloseMonthIn(serializers.Serializer):
    month = serializers.RegexField(MONTH_PATTERN, help_text="마감할 달 YYYY-MM (한국 시각, 끝난 달만)")


class MoneyMarkPaidIn(serializers.Serializer):
    transfer_reference = serializers.CharField(max_length=100, help_text="은행 이체 기록의 참조 (거래 번호 등)")


class MoneyClosedOut(_ReadOnly):
    month = serializers.CharField()
    statements = MoneyAdminStatementOut(many=True, help_text="새로 만든 정산서 (이미 마감된 기관은 그대로)")


class MoneyLedgerEntryOut(_ReadOnly):
    id = serializers.IntegerField(source="entry.pk")
    transaction = serializers.IntegerField(source="entry.transaction_id")
    kind = serializers.ChoiceField(source="entry.transaction.kind", choices=LedgerTransactionKind.choices)
    booked_at = serializers.DateTimeField(source="entry.transaction.created_at")
    memo = serializers.CharField(source="entry.transaction.memo")
    order = serializers.CharField(source="entry.transaction.order.number", allow_null=True, default=None)
    order_item = serializers.IntegerField(source="entry.order_item_id", allow_null=True)
    amount_krw = serializers.IntegerField(source="entry.amount_krw", help_text="차변 +, 대변 −")
    running_krw = serializers.IntegerField(help_text="이 기록까지의 잔액")

    def to_representation(self, pair):
        entry, running = pair
        return super().to_representation({"entry": entry, "running_krw": running})


class MoneyLedgerAccountOut(_ReadOnly):
    kind = serializers.ChoiceField(source="account.kind", choices=LedgerAccountKind.choices)
    label = serializers.SerializerMethodField()
    balance_krw = serializers.IntegerField()
    entries = MoneyLedgerEntryOut(
        many=True, help_text="이 쪽의 기록 (한 쪽에 최대 100개; 기본은 마지막 쪽, 가장 최근 것)"
    )
    entries_count = serializers.IntegerField(source="page.paginator.count", help_text="계정의 기록 수 (모든 쪽)")
    page = serializers.IntegerField(source="page.number", help_text="이 쪽 번호 (`account`와 `page`로 다른 쪽)")
    pages = serializers.IntegerField(source="page.paginator.num_pages", help_text="쪽 수")

    @extend_schema_field(BILINGUAL_SCHEMA)
    def get_label(self, view) -> dict:
        return both_languages(LedgerAccountKind(view.account.kind).label)


class MoneyLedgerCheckOut(_ReadOnly):
    owed_krw = serializers.IntegerField(help_text="장부: 제공 기관 계정의 잔액")
    statements_net_krw = serializers.IntegerField()
    current_net_krw = serializers.IntegerField()
    paid_out_krw = serializers.IntegerField()
    statements_owed_krw = serializers.IntegerField(help_text="정산서로 본 줄 돈")
    matches = serializers.BooleanField(help_text="장부와 정산서가 같은 금액을 말함")


class MoneyLedgerOut(_ReadOnly):
    organization = AdminOrganizationRef()
    accounts = MoneyLedgerAccountOut(many=True)
    check = MoneyLedgerCheckOut()
    statements = MoneyAdminStatementOut(many=True)


class MoneyAdminVoucherOut(MoneyVoucherOut):
    organization = AdminOrganizationRef()
    registered_by = AdminUserBrief()
    outstanding_krw = serializers.IntegerField(default=0, help_text="지원기관이 아직 지급하지 않은 금액")


class MoneyAdminVoucherUseOut(MoneyVoucherUseOut):
    outstanding_krw = serializers.IntegerField()
    owed_back_krw = serializers.IntegerField(
        help_text="지원기관이 지급한 뒤의 환불로 지원기관에 돌려줄 금액 (아직 돌려주지 않음)"
    )
    settleable = serializers.BooleanField()


class MoneySettlementOut(_ReadOnly):
    id = serializers.IntegerField()
    paid_on = serializers.DateField()
    reference = serializers.CharField()
    amount_krw = serializers.IntegerField()
    recorded_by = AdminUserBrief()
    created_at = serializers.DateTimeField()


class MoneyAdminVoucherDetailOut(MoneyAdminVoucherOut):
    uses = serializers.SerializerMethodField()
    settlements = serializers.SerializerMethodField()

    @extend_schema_field(MoneyAdminVoucherUseOut(many=True))
    def get_uses(self, voucher) -> list:
        return MoneyAdminVoucherUseOut(self.context["uses"], many=True).data

    @extend_schema_field(MoneySettlementOut(many=True))
    def get_settlements(self, voucher) -> list:
        return MoneySettlementOut(voucher.settlements.select_related("recorded_by"), many=True).data


class MoneyVoucherQuery(serializers.Serializer):
    state = serializers.ChoiceField(choices=VoucherState.choices, required=False)


class MoneyVoucherRejectIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class MoneyVoucherSettleIn(serializers.Serializer):
    orders = serializers.ListField(
        child=serializers.RegexField(r"^[0-9]{8}-[0-9A-Z]{8}$", max_length=17),
        allow_empty=False,
        max_length=500,
        help_text="지원기관이 지급한 주문의 번호",
    )
    paid_on = serializers.DateField()
    reference = serializers.CharField(max_length=100)
    amount_krw = serializers.IntegerField(min_value=1, help_text="받은 금액: 고른 주문의 미수금 합계와 같아야 합니다")
