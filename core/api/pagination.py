"""Page-number pagination with the total count and the next/previous links (DRF's shape), size chosen by the
client up to a ceiling. Lists that never end (a live feed, the audit trail) use cursors instead."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class Pages(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"
