"""Page-number pagination with the total count and the next/previous links (DRF's shape), size chosen by the
client up to a ceiling. Lists that never end (a live feed, the audit trail) use cursors instead."""

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination, PageNumberPagination

from core.api.errors import failure


def _openapi_31(schema: dict) -> dict:
    """DRF describes the links with OpenAPI 3.0's `nullable`, which 3.1 (JSON Schema) ignores: a null `next` on the
    last page would break the schema. The links are a string or null, and always present."""
    for name in ("next", "previous"):
        link = schema["properties"][name]
        if link.pop("nullable", False):
            link["type"] = [link["type"], "null"]
    schema["required"] = sorted({*schema.get("required", []), "next", "previous"})
    return schema


class _Bilingual404:
    """DRF renders "Invalid page" / "Invalid cursor" in one language when it raises them; ours stays lazy."""

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise failure(NotFound, _("There is no such page: go back to the first page.")) from exc


class Pages(_Bilingual404, PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response_schema(self, schema):
        return _openapi_31(super().get_paginated_response_schema(schema))


class Cursor(_Bilingual404, CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"

    def get_paginated_response_schema(self, schema):
        return _openapi_31(super().get_paginated_response_schema(schema))
