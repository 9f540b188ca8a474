"""Input and output shapes of the accounts API (input serializers only validate; services decide)."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import ApiScope, ApiToken, Membership, Organization


class OrganizationBrief(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name_ko", "name_en", "kind", "org_type", "verification"]
        read_only_fields = fields


class ApiTokenOut(serializers.ModelSerializer):
    organization = OrganizationBrief(read_only=True, allow_null=True)
    state = serializers.ChoiceField(choices=["active", "expired", "revoked"], read_only=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiScope.choices), read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "organization",
            "scopes",
            "state",
            "created_at",
            "expires_at",
            "last_used_at",
            "last_used_ip",
            "revoked_at",
            "revoked_reason",
        ]
        read_only_fields = fields


class ApiTokenCreatedOut(ApiTokenOut):
    key = serializers.CharField(read_only=True, help_text="API 키. 이때 한 번만 보여 줍니다 (shown only this once).")

    class Meta(ApiTokenOut.Meta):
        fields = [*ApiTokenOut.Meta.fields, "key"]
        read_only_fields = fields


class ApiTokenIn(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="키의 이름 (what the key is for)")
    # An id that names no organization is an input error (400 with the field), not a missing resource.
    organization = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.all(),
        required=False,
        allow_null=True,
        help_text="키가 대신하는 기관의 id; 없으면 활성 기관 (the acting organization)",
    )
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiScope.choices), min_length=1, max_length=len(ApiScope.values)
    )
    expires_in_days = serializers.IntegerField(
        required=False, min_value=1, max_value=settings.API_TOKEN_MAX_DAYS, help_text=_("Days until the key expires.")
    )


class ApiTokenRevokeIn(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class MembershipOut(serializers.ModelSerializer):
    organization = OrganizationBrief(read_only=True)

    class Meta:
        model = Membership
        fields = ["organization", "role"]
        read_only_fields = fields


class MeOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    is_platform_admin = serializers.BooleanField()
    acting_organization = OrganizationBrief(allow_null=True)
    memberships = MembershipOut(many=True)
    api_key = ApiTokenOut(allow_null=True, help_text="이 요청에 쓰인 API 키 (the key of this request, if any)")
