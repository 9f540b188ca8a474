"""The OpenAPI document (/api/schema/): valid with no warnings, every operation's errors declared by the hook
(core.api.schema) from the operation and its view, and the Error component the exact shape the API answers."""

import io

import jsonschema
import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.api.permissions import HasScope
from core.api.schema import ERRORS
from core.api.views import ApiView

pytestmark = pytest.mark.django_db


def _document(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_validates_without_a_single_warning():
    out = io.StringIO()
    # --fail-on-warn turns any warning (an unresolvable serializer, a missing type hint) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    assert '"openapi": "3.1.0"' in out.getvalue()


def test_every_operation_declares_401_and_429_with_retry_after(api):
    document = _document(api)
    operations = [(p, m, o) for p, item in document["paths"].items() for m, o in item.items()]
    assert operations, "the schema has no operation"
    for route, method, operation in operations:
        responses = operation["responses"]
        for code in ("401", "429"):
            assert responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert responses["429"]["headers"]["Retry-After"]["required"] is True, (method, route)
        if method in ("post", "put", "patch", "delete"):
            assert "409" in responses and "403" in responses, (method, route)
        if "{" in route:
            assert "404" in responses, (method, route)
        if "requestBody" in operation:
            assert "400" in responses, (method, route)


def test_no_nullable_keyword_survives_in_a_31_document(api):
    """`nullable` means nothing in OpenAPI 3.1: `null` is in the type (DRF's pagination still says nullable)."""
    text = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content.decode()
    assert '"nullable"' not in text
    page = _document(api)["components"]["schemas"]["PaginatedApiTokenOutList"]
    assert page["properties"]["next"]["type"] == ["string", "null"]


def test_what_a_post_creates_links_to_the_operations_on_it(api):
    """OpenAPI links (generated clients, Redoc, schemathesis's stateful phase): the new key's id → read, revoke."""
    created = _document(api)["paths"]["/api/v1/api-keys/"]["post"]["responses"]["201"]
    assert created["links"]["api_keys_retrieve"]["parameters"] == {"id": "$response.body#/id"}
    assert created["links"]["api_keys_destroy"]["operationId"] == "api_keys_destroy"


def test_both_ways_to_sign_in_are_described(api):
    schemes = _document(api)["components"]["securitySchemes"]
    assert schemes["apiKey"]["type"] == "http" and "Token" in schemes["apiKey"]["description"]
    assert schemes["cookieAuth"]["in"] == "cookie" and "X-CSRFToken" in schemes["cookieAuth"]["description"]


def _validator(document, name="Error"):
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": document["components"]},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def test_the_error_component_is_the_shape_the_api_answers_with(api, buyer, make_key, settings):
    document = _document(api)
    validator = _validator(document)
    detail = document["components"]["schemas"]["ErrorDetail"]
    assert all(field.get("description") for field in detail["properties"].values())
    assert set(detail["properties"]) == {
        "status",
        "code",
        "message",
        "message_ko",
        "message_en",
        "fields",
        "retry_after",
    }

    unauthenticated = api.get("/api/v1/me/").json()
    validator.validate(unauthenticated)
    key = make_key(buyer, scopes=["read", "buy"])
    invalid = api.with_key(key).post("/api/v1/cart/items/", {"offer": "not a number"})
    assert invalid.status_code == 400 and invalid.json()["error"]["fields"]
    validator.validate(invalid.json())
    missing = api.with_key(key).get("/api/v1/api-keys/999999/")
    assert missing.status_code == 404
    validator.validate(missing.json())
    # An address no URL matches is still the API's JSON error, not the portal's HTML page.
    unmatched = api.with_key(key).get("/api/v1/api-keys/not-a-number/")
    assert unmatched.status_code == 404 and unmatched["Content-Type"] == "application/json"
    validator.validate(unmatched.json())

    settings.API_RATE_PER_TOKEN = "1/hour"
    api.with_key(key).get("/api/v1/me/")
    throttled = api.with_key(key).get("/api/v1/me/")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    validator.validate(throttled.json())
    assert throttled.json()["error"]["retry_after"] == int(throttled["Retry-After"])
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"error": {"status": 400, "code": "x", "message": "m", "message_ko": "m", "surprise": 1}})


# A small API of its own, so the hook's rules are checked on a public view too (none is on this branch yet).
class _Thing(serializers.Serializer):
    name = serializers.CharField()


class _PublicList(ApiView):
    permission_classes = [AllowAny]

    @extend_schema(summary="Public", description="공개", responses=_Thing(many=True))
    def get(self, request):
        return Response([])

    @extend_schema(summary="Public write", description="공개 쓰기", request=_Thing, responses={201: _Thing})
    def post(self, request):
        return Response({}, status=201)


class _Private(ApiView):
    permission_classes = [HasScope]

    @extend_schema(summary="Private", description="비공개", responses={200: _Thing, 409: ERRORS[409]}, request=None)
    def get(self, request, slug):
        return Response({})


urlpatterns = [path("api/v1/things/", _PublicList.as_view()), path("api/v1/things/<slug:slug>/", _Private.as_view())]


@override_settings(ROOT_URLCONF=__name__)
def test_errors_follow_the_views_permissions_and_the_operation():
    document = SchemaGenerator(urlconf=__name__).get_schema(request=None, public=True)
    public_get = document["paths"]["/api/v1/things/"]["get"]["responses"]
    public_post = document["paths"]["/api/v1/things/"]["post"]["responses"]
    private = document["paths"]["/api/v1/things/{slug}/"]["get"]["responses"]
    assert sorted(public_get) == ["200", "401", "429"]  # everyone may read: no 403, no input, no 404
    assert sorted(public_post) == ["201", "400", "401", "403", "409", "429"]  # a session write needs CSRF
    assert sorted(private) == ["200", "401", "403", "404", "409", "429"]
    assert private["409"]["description"] == ERRORS[409].description  # what the view declared is kept
