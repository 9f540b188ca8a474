"""`/api/v1/me/` and `/api/v1/api-keys/`: thin views over accounts.selectors and accounts.services."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api import serializers as s
from accounts.api.permissions import HasScope, KeysMadeByPeople, acting_organization, token_of
from core.api.pagination import Pages
from core.api.validation import validated
from core.api.views import ApiView


class MeView(ApiView):
    permission_classes = [HasScope]

    @extend_schema(
        summary="Who am I", description="로그인한 사용자(또는 API 키의 주인), 소속 기관과 역할.", responses=s.MeOut
    )
    def get(self, request):
        user = request.user
        data = {
            "id": user.pk,
            "email": user.email,
            "name": user.name,
            "is_platform_admin": user.is_staff,
            "acting_organization": acting_organization(request),
            "memberships": selectors.memberships_for_user(user),
            "api_key": token_of(request),
        }
        return Response(s.MeOut(data).data)


class ApiKeyList(ApiView):
    permission_classes = [KeysMadeByPeople]
    scope = "read"
    pagination_class = Pages  # drf-spectacular reads it: the list's schema is the page, with page/page_size

    @extend_schema(
        summary="List my API keys",
        description="내 API 키 목록 (폐기·만료된 키 포함).",
        responses=s.ApiTokenOut(many=True),
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.api_tokens_for_user(request.user), request, view=self)
        return paginator.get_paginated_response(s.ApiTokenOut(page, many=True).data)

    @extend_schema(
        summary="Make an API key",
        description="API 키를 만듭니다. 응답의 `key`는 이때 한 번만 보여 주고 저장하지 않습니다. "
        "키는 사람이 만듭니다: 로그인한 세션으로만 되고, API 키로는 만들 수 없습니다 (유출된 키가 스스로를 연장하지 못하게).",
        request=s.ApiTokenIn,
        responses={201: s.ApiTokenCreatedOut},
    )
    def post(self, request):
        data = validated(s.ApiTokenIn, request.data)
        organization = data["organization"] if "organization" in data else acting_organization(request)
        token, key = services.api_token_create(
            actor=request.user,
            organization=organization,
            name=data["name"],
            scopes=data["scopes"],
            expires_in_days=data.get("expires_in_days"),
        )
        out = s.ApiTokenCreatedOut(token).data
        out["key"] = key
        return Response(out, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class ApiKeyDetail(ApiView):
    permission_classes = [HasScope]
    scope = "read"

    @extend_schema(
        summary="An API key", description="API 키 하나 (키 자체는 다시 보여 주지 않습니다).", responses=s.ApiTokenOut
    )
    def get(self, request, pk: int):
        return Response(s.ApiTokenOut(selectors.api_token_get_for_user(user=request.user, pk=pk)).data)

    @extend_schema(
        summary="Revoke an API key",
        description="API 키를 폐기합니다. 다음 요청부터 거부됩니다. 이미 폐기된 키면 그대로 둡니다.",
        request=s.ApiTokenRevokeIn,
        responses={200: s.ApiTokenOut},
    )
    def delete(self, request, pk: int):
        token = selectors.api_token_get_for_user(user=request.user, pk=pk)
        reason = validated(s.ApiTokenRevokeIn, request.data or {}).get("reason", "")
        return Response(s.ApiTokenOut(services.api_token_revoke(actor=request.user, token=token, reason=reason)).data)
