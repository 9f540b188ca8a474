"""Shapes of the platform admin API of purchases: bank transfers waiting for a deposit and packages that failed."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.admin_serializers import AdminOrganizationRef, AdminUserBrief
from catalog.models import DatasetVersion
from core.api.errors import LANGUAGES
from core.api.fields import BILINGUAL_SCHEMA
from transactions.delivery.selectors import error_parts
from transactions.models import Order, Package, Payment


class AdminTransferOrderOut(serializers.ModelSerializer):
    buyer = AdminOrganizationRef(read_only=True)
    placed_by = AdminUserBrief(read_only=True)
    overdue = serializers.SerializerMethodField(help_text="입금 기한이 지남 (past the deposit deadline)")

    class Meta:
        model = Order
        fields = [
            "number",
            "state",
            "total_krw",
            "payment_due_at",
            "overdue",
            "buyer",
            "placed_by",
            "billing_name",
            "billing_email",
            "billing_phone",
        ]
        read_only_fields = fields
        extra_kwargs = {"billing_name": {"help_text": "예상 입금자명 (the expected depositor)"}}

    def get_overdue(self, order) -> bool:
        return bool(order.payment_due_at and order.payment_due_at < timezone.now())


class AdminWaitingBankTransferOut(serializers.ModelSerializer):
    order = AdminTransferOrderOut(read_only=True)
    confirmed_by = AdminUserBrief(read_only=True, allow_null=True)

    class Meta:
        model = Payment
        fields = ["id", "state", "amount_krw", "created_at", "order", "depositor_name", "confirmed_by", "approved_at"]
        read_only_fields = fields


class AdminBankTransferConfirmIn(serializers.Serializer):
    """What the admin read on the bank statement (the staff page's form)."""

    depositor_name = serializers.CharField(max_length=100, help_text="통장에 찍힌 입금자명 (as on the statement)")
    amount_krw = serializers.IntegerField(
        min_value=1, help_text="입금된 금액(원). 주문 합계와 같아야 합니다 (must equal the order's total)"
    )


class AdminPackageVersionOut(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = DatasetVersion
        fields = ["id", "number", "title_ko", "title_en", "dataset"]
        read_only_fields = fields


class AdminPackageQueryIn(serializers.Serializer):
    state = serializers.ChoiceField(choices=["failed"], required=False, default="failed")


class AdminFailedPackageOut(serializers.ModelSerializer):
    """A package as the admins' "Failed packages" page lists it."""

    version = AdminPackageVersionOut(read_only=True)
    organization = AdminOrganizationRef(source="entitlement.organization", read_only=True)
    order_number = serializers.CharField(source="entitlement.order_item.order.number", read_only=True)
    error = serializers.SerializerMethodField(help_text="마지막 시도가 실패한 이유 (why the last attempt failed)")
    error_detail = serializers.SerializerMethodField(help_text="기술적인 내용 (the technical detail)")
    retryable = serializers.SerializerMethodField(
        help_text="다시 만들 수 있음: 실패했거나 작업자가 멈춘 패키지 (failed, or its worker stopped)"
    )

    class Meta:
        model = Package
        fields = [
            "id",
            "state",
            "version",
            "organization",
            "order_number",
            "error",
            "error_detail",
            "attempts",
            "created_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "retryable",
        ]
        read_only_fields = fields

    @extend_schema_field(BILINGUAL_SCHEMA)
    def get_error(self, package) -> dict:
        return {language: error_parts(package.error, language)[0] for language in LANGUAGES}

    def get_error_detail(self, package) -> str:
        return error_parts(package.error)[1]

    def get_retryable(self, package) -> bool:
        return package.state in (Package.State.FAILED, Package.State.BUILDING)
