"""Page-number pagination with the total count and the next/previous links (DRF's shape), size chosen by the
client up to a ceiling. Lists that never end (a live feed, the audit trail) use cursors instead."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class _OpenApi31:
    """DRF describes `next` and `previous` as OpenAPI 3.0's `nullable: true`, which 3.1 (our schema) no longer has: a
    null link would be a schema violation. Written as 3.1 says: `type: [string, null]`."""

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        for name in ("next", "previous"):
            link = response["properties"][name]
            if link.pop("nullable", False):
                link["type"] = [link["type"], "null"]
        return response


class Pages(_OpenApi31, PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class Cursor(_OpenApi31, CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"
