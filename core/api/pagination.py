"""Page-number pagination with the total count and the next/previous links (DRF's shape), size chosen by the
client up to a ceiling. Lists that never end (a live feed, the audit trail) use cursors instead."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


def _openapi_31(schema: dict) -> dict:
    """DRF describes the links with OpenAPI 3.0's `nullable`, which 3.1 (JSON Schema) ignores: a null `next` on the
    last page would break the schema. The links are a string or null, and always present."""
    for name in ("next", "previous"):
        link = schema["properties"][name]
        if link.pop("nullable", False):
            link["type"] = [link["type"], "null"]
    schema["required"] = sorted({*schema.get("required", []), "next", "previous"})
    return schema


class Pages(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response_schema(self, schema):
        return _openapi_31(super().get_paginated_response_schema(schema))


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"

    def get_paginated_response_schema(self, schema):
        return _openapi_31(super().get_paginated_response_schema(schema))
