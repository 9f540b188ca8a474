"""Page-number pagination with the total count and the next/previous links (DRF's shape), size chosen by the
client up to a ceiling. Lists that never end (a live feed, the audit trail) use cursors instead."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class _OpenApi31:
    """DRF describes the links with OpenAPI 3.0's `nullable`, which 3.1 (our schema) ignores: a null `next` on the
    last page would break the schema. Here they are `["string", "null"]`, and always present."""

    def get_paginated_response_schema(self, schema):
        out = super().get_paginated_response_schema(schema)
        for name in ("next", "previous"):
            link = out["properties"][name]
            link.pop("nullable", None)
            link["type"] = ["string", "null"]
        out["required"] = list(out["properties"])
        return out


class Pages(_OpenApi31, PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class Cursor(_OpenApi31, CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"
