"""Shapes of the platform admin API of the accounts app: organizations to verify and the audit trail."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import Membership, Organization, User
from core.api.fields import Bilingual
from core.models import AuditEvent

REASON_MAX = 4000


class AdminUserBrief(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "name"]
        read_only_fields = fields


class AdminOrganizationRef(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name_ko", "name_en"]
        read_only_fields = fields


class AdminOrganizationQueueOut(serializers.ModelSerializer):
    """A row of the verification queue (the staff page's list)."""

    parent = AdminOrganizationRef(read_only=True, allow_null=True)
    brn_display = serializers.CharField(
        read_only=True, help_text="사업자등록번호 (하이픈 포함; 부서는 상위 기관의 번호) (the number, formatted)"
    )
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Organization
        fields = [
            "id",
            "slug",
            "name_ko",
            "name_en",
            "kind",
            "org_type",
            "verification",
            "brn",
            "brn_display",
            "brn_checksum_ok",
            "parent",
            "member_count",
            "verification_requested_at",
            "created_at",
        ]
        read_only_fields = fields


class AdminBrnCheckOut(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["passed", "mismatch", "not_checked", "parent", "missing"],
        read_only=True,
        help_text="검증번호 확인 결과. mismatch는 경고일 뿐 거절 사유가 아닙니다 (a mismatch is a warning, not a refusal).",
    )
    message = Bilingual(help_text="관리자 화면과 같은 안내 (the staff page's words)")


class AdminMemberOut(serializers.ModelSerializer):
    user = AdminUserBrief(read_only=True)
    joined_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "role", "joined_at"]
        read_only_fields = fields


class AdminOrganizationAdminOut(serializers.ModelSerializer):
    """What the verifying admin reads: the details given, the number and its check, the members, the decision."""

    parent = AdminOrganizationRef(read_only=True, allow_null=True)
    brn_display = serializers.CharField(read_only=True)
    brn_check = AdminBrnCheckOut(read_only=True)
    members = AdminMemberOut(many=True, read_only=True)
    created_by = AdminUserBrief(read_only=True, allow_null=True)
    verified_by = AdminUserBrief(read_only=True, allow_null=True, help_text="마지막 결정을 내린 관리자 (who decided)")

    class Meta:
        model = Organization
        fields = [
            "id",
            "slug",
            "name_ko",
            "name_en",
            "kind",
            "org_type",
            "vat_status",
            "brn",
            "brn_display",
            "brn_checksum_ok",
            "brn_check",
            "parent",
            "representative",
            "address",
            "contact_name",
            "contact_phone",
            "contact_email",
            "website",
            "description",
            "verification",
            "verification_reason",
            "verification_requested_at",
            "verified_at",
            "verified_by",
            "created_by",
            "created_at",
            "members",
        ]
        read_only_fields = fields


class AdminVerifyIn(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=REASON_MAX, help_text="메모 (선택) (an optional note)"
    )


class AdminOrganizationRejectIn(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX,
        help_text="반려 사유: 기관의 소유자에게 전달됩니다 (the owners read it)",
        error_messages={
            "required": _("Write the reason for the rejection: the organization will read it."),
            "blank": _("Write the reason for the rejection: the organization will read it."),
        },
    )


class AdminApiTokenRef(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    prefix = serializers.CharField(read_only=True)


class AdminAuditEventOut(serializers.ModelSerializer):
    actor = AdminUserBrief(read_only=True, allow_null=True, help_text="없으면 시스템 (null: the system)")
    organization = AdminOrganizationRef(read_only=True, allow_null=True)
    data = serializers.DictField(read_only=True, help_text="기록된 값 (the recorded data)")
    api_token = AdminApiTokenRef(
        source="data.api_token",
        read_only=True,
        allow_null=True,
        help_text="API 키로 한 변경이면 그 키, 아니면 null (the API key the change was made with, if any)",
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "action",
            "actor",
            "object_type",
            "object_id",
            "object_repr",
            "organization",
            "reason",
            "data",
            "api_token",
        ]
        read_only_fields = fields
