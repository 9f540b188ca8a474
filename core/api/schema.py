"""The OpenAPI document's shared parts: the one error shape (core.api.errors) as the `Error` component, and a
drf-spectacular POSTPROCESSING_HOOK that declares on every operation the errors it can answer with, so the
schema is exact for every endpoint without each view listing them (schemathesis checks every response).

Which errors an operation gets is read from the operation itself and its view (data-driven, so endpoints added
later are covered):

- 400 when it takes a request body or query parameters (input errors, with `fields`), and on every write (a
  service may refuse it: a DomainError);
- 401 on every operation: a wrong, expired or revoked key is refused even where no key is needed;
- 403 when the view does not allow everyone (its permission classes) or the method writes (a session's CSRF);
- 404 when the path has parameters, or the list is paginated (a page past the end);
- 409 for POST, PUT, PATCH and DELETE (a state that does not allow it: core.errors.IllegalTransition);
- 429 everywhere, with Retry-After (core.api.throttling).

It also links what a POST creates to the operations on it (OpenAPI links, from the 201 body's `id` or `slug`).

A view may declare an error itself (`responses={409: ERRORS[409]}` with its own description); the hook never
replaces what a view declared.
"""

import re

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

ERROR_REF = {"$ref": "#/components/schemas/Error"}

FIELD_ERROR = {
    "type": "object",
    "description": "입력 항목 하나의 오류 (one error of one input field).",
    "properties": {
        "code": {"type": "string", "description": "오류 코드 (machine-readable), 예: required, invalid, max_length."},
        "message_ko": {"type": "string", "description": "한국어 설명 (the message in Korean)."},
        "message_en": {"type": "string", "description": "영어 설명 (the message in English)."},
    },
    "required": ["code", "message_ko", "message_en"],
    "additionalProperties": False,
}

ERROR_DETAIL = {
    "type": "object",
    "description": "오류의 내용 (what went wrong).",
    "properties": {
        "status": {"type": "integer", "description": "HTTP 상태 코드와 같습니다 (the HTTP status code)."},
        "code": {
            "type": "string",
            "description": "오류 코드: 프로그램은 이 값으로 판단합니다 (machine-readable), 예: invalid, "
            "not_authenticated, authentication_failed, permission_denied, csrf_failed, not_found, "
            "illegal_transition, throttled.",
        },
        "message": {
            "type": "string",
            "description": "요청의 언어(Accept-Language, 기본 한국어)로 쓴 설명 (the message in the request's language).",
        },
        "message_ko": {"type": "string", "description": "한국어 설명 (the message in Korean)."},
        "message_en": {"type": "string", "description": "영어 설명 (the message in English)."},
        "fields": {
            "type": "object",
            "description": "입력 오류(400)일 때만: 항목 이름 → 오류 목록. 중첩 항목은 `items.0.name`처럼 점으로 잇습니다 "
            "(input errors only: field name → its errors).",
            "additionalProperties": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        },
        "retry_after": {
            "type": "integer",
            "minimum": 0,
            "description": "429일 때만: 다시 보내기까지 기다릴 초 (Retry-After와 같음; seconds to wait).",
        },
    },
    "required": ["status", "code", "message", "message_ko", "message_en"],
    "additionalProperties": False,
}

ERROR = {
    "type": "object",
    "description": "모든 API 오류의 한 가지 모양 (the one shape of every API error): "
    '`{"error": {"status", "code", "message", "message_ko", "message_en", "fields"}}`.',
    "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
    "required": ["error"],
    "additionalProperties": False,
}

DESCRIPTIONS = {
    400: "입력 오류: `fields`에 항목별 이유가 있습니다 (the request has errors: see `fields`).",
    401: "로그인하지 않았거나 API 키가 없거나, 틀렸거나, 만료·폐기되었습니다 "
    "(not signed in, or the API key is missing, wrong, expired or revoked).",
    403: "권한이 없습니다: 역할, 기관 인증, 키의 범위(scope) 또는 세션의 CSRF 토큰 "
    "(not allowed: role, verification, the key's scope, or the session's CSRF token).",
    404: "없거나 볼 수 없는 대상입니다. 다른 기관의 것도 404입니다 (not found, or not yours to see).",
    409: "지금 상태에서는 할 수 없습니다 (the object's state does not allow this now).",
    429: "요청이 너무 많습니다. Retry-After 초만큼 기다린 뒤 다시 보내세요 "
    "(too many requests: wait Retry-After seconds).",
}

RETRY_AFTER = {
    "description": "다시 보내기까지 기다릴 초 (seconds to wait before trying again).",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}

# For a view that declares an error itself: `responses={200: Out, 409: ERRORS[409]}`.
ERRORS = {code: OpenApiResponse(response=ERROR_REF, description=text) for code, text in DESCRIPTIONS.items()}

WRITES = {"post", "put", "patch", "delete"}
METHODS = WRITES | {"get", "head", "options", "trace"}


def _shape(path: str) -> str:
    """A path with its parameters' names dropped, so `{pk}` and `{id}` name the same URL."""
    out, depth = [], 0
    for char in path:
        if char == "{":
            depth += 1
            out.append("{}")
        elif char == "}":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _public_operations(generator) -> set[tuple[str, str]]:
    """(path shape, method) of the operations whose view lets everyone in (only AllowAny)."""
    public = set()
    for path, _regex, method, callback in getattr(generator, "endpoints", None) or []:
        view_class = getattr(callback, "cls", None)
        classes = getattr(view_class, "permission_classes", None) or []
        if classes and all(isinstance(c, type) and issubclass(c, AllowAny) for c in classes):
            public.add((_shape(path), method.lower()))
    return public


def _error_response(code: int) -> dict:
    response = {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": ERROR_REF}}}
    if code == 429:
        response["headers"] = {"Retry-After": RETRY_AFTER}
    if code == 401:
        response["headers"] = {
            "WWW-Authenticate": {
                "description": "키를 보내는 방법 (how to send a key): `Token`.",
                "schema": {"type": "string"},
            }
        }
    return response


def error_codes(path: str, method: str, operation: dict, *, public: bool) -> list[int]:
    """The error statuses an operation can answer with (the rules in the module's docstring)."""
    parameters = operation.get("parameters") or []
    query = [p for p in parameters if p.get("in") == "query"]
    codes = [401, 429]
    if "requestBody" in operation or query or method in WRITES:
        codes.append(400)  # a write may be refused by its service (DomainError) even with no body
    if not public or method in WRITES:
        codes.append(403)
    if "{" in path or any(p.get("name") in ("page", "cursor") for p in query):
        codes.append(404)
    if method in WRITES:
        codes.append(409)
    return sorted(codes)


def _nullable_to_31(node) -> None:
    """OpenAPI 3.1 has no `nullable` (DRF's pagination schema still says `"nullable": true` for next/previous,
    which a 3.1 validator ignores, so a last page's `"next": null` would break the schema): say `null` in the
    type instead."""
    if isinstance(node, dict):
        if node.pop("nullable", False):
            kind = node.get("type")
            if isinstance(kind, str):
                node["type"] = [kind, "null"]
            elif isinstance(kind, list) and "null" not in kind:
                kind.append("null")
            elif "type" not in node:
                alternatives = node.pop("oneOf", None) or ([{"$ref": node.pop("$ref")}] if "$ref" in node else [])
                node["oneOf"] = [*alternatives, {"type": "null"}]
        for value in node.values():
            _nullable_to_31(value)
    elif isinstance(node, list):
        for value in node:
            _nullable_to_31(value)


def _component_properties(result: dict, schema: dict) -> dict:
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    return ((result.get("components") or {}).get("schemas") or {}).get(name, {}).get("properties") or {}


def _add_links(result: dict) -> None:
    """OpenAPI links from what a POST creates to the operations on it: `POST /x/` answering 201 with `id` (or
    `slug`, …) links to every operation of `/x/{id}/`, the parameter taken from the created body. Generated
    clients and Redoc show them; schemathesis follows them (create, then read or delete what was created)."""
    paths = result.get("paths") or {}
    for collection, item in paths.items():
        created = ((item.get("post") or {}).get("responses") or {}).get("201")
        if not created:
            continue
        schema = ((created.get("content") or {}).get("application/json") or {}).get("schema") or {}
        properties = _component_properties(result, schema)
        for route, other in paths.items():
            rest = route[len(collection) :] if route.startswith(collection) else ""
            match = re.fullmatch(r"\{(\w+)\}/?", rest)
            if not match:
                continue
            parameter = match.group(1)
            field = (
                parameter if parameter in properties else ("id" if parameter == "pk" and "id" in properties else None)
            )
            if field is None:
                continue
            for method, operation in other.items():
                if method in METHODS and operation.get("operationId"):
                    created.setdefault("links", {})[operation["operationId"]] = {
                        "operationId": operation["operationId"],
                        "parameters": {parameter: f"$response.body#/{field}"},
                        "description": f"만든 것의 `{field}`로 (with the created object's `{field}`).",
                    }


def _blank_allowed(schemas: dict) -> None:
    """A read-only URL or e-mail field may be blank (an organization with no website): its value is then "", which
    is not a `uri` or an `email`. Such output properties say so (`format` or the empty string)."""
    for component in schemas.values():
        for prop in (component.get("properties") or {}).values():
            if prop.get("readOnly") and prop.get("type") == "string" and prop.get("format") in ("uri", "email"):
                fmt = prop.pop("format")
                prop.pop("type")
                prop["anyOf"] = [{"type": "string", "format": fmt}, {"type": "string", "maxLength": 0}]


def add_error_responses(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOK: the Error component, the errors of every operation, and the two ways
    to sign in described in Korean first."""
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR
    schemas["ErrorDetail"] = ERROR_DETAIL
    schemas["FieldError"] = FIELD_ERROR
    schemes = components.setdefault("securitySchemes", {})
    schemes.setdefault("cookieAuth", {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME})
    schemes["cookieAuth"]["description"] = (
        "포털에 로그인한 브라우저의 세션. 쓰기 요청에는 `X-CSRFToken` 헤더가 필요합니다 "
        "(the portal's own signed-in session; writes need the X-CSRFToken header)."
    )
    open_to_all = _public_operations(generator)
    for path, item in (result.get("paths") or {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            public_operation = (_shape(path), method) in open_to_all
            for code in error_codes(path, method, operation, public=public_operation):
                responses.setdefault(str(code), _error_response(code))
            operation["responses"] = dict(sorted(responses.items()))
    _add_links(result)
    _blank_allowed(schemas)
    if str(result.get("openapi", "")).startswith("3.1"):
        _nullable_to_31(result)
    return result
