"""Request and response shapes of the data API for drf-spectacular and for validating the SQL request."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class SqlIn(serializers.Serializer):
    sql = serializers.CharField(
        max_length=20_000,
        trim_whitespace=True,
        help_text="SELECT 문 하나 (one SELECT statement). 표 이름은 데이터셋 API 목록의 name입니다.",
    )
    version = serializers.RegexField(
        r"^(latest|live|[0-9]{1,9})$",
        required=False,
        default="latest",
        help_text="버전 번호, latest(기본) 또는 live (a version number, latest or live).",
        error_messages={"invalid": _("Give a version number, “latest” or “live”.")},
    )
    sample = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: 공개 샘플 행에서 실행 (누구나). false: 전체 데이터 (권리가 있는 기관만).",
    )


class ColumnOut(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField(help_text="DuckDB 형식 (the DuckDB type), 예: BIGINT, DOUBLE, VARCHAR, TIMESTAMP.")


class SqlOut(serializers.Serializer):
    columns = ColumnOut(many=True)
    rows = serializers.ListField(child=serializers.ListField(child=serializers.JSONField(allow_null=True)))
    row_count = serializers.IntegerField(help_text="돌려준 행 수 (rows returned).")
    truncated = serializers.BooleanField(
        help_text=f"결과가 상한({getattr(settings, 'DATA_SQL_MAX_ROWS', 10000)}행)에서 잘렸는지 (the result was capped)."
    )
    elapsed_ms = serializers.FloatField(help_text="실행 시간 (ms).")


class DataPageOut(serializers.Serializer):
    columns = ColumnOut(many=True)
    rows = serializers.ListField(child=serializers.DictField(child=serializers.JSONField(allow_null=True)))
    next = serializers.URLField(allow_null=True, help_text="다음 쪽 주소 (cursor 포함), 마지막 쪽이면 null.")
    count = serializers.IntegerField(help_text="이 쪽의 행 수 (rows on this page).")
    next_since = serializers.IntegerField(
        help_text="다음에 since=로 보내면 이 쪽 뒤에 추가된 행만 받습니다 (send as since= next time for newer rows only)."
    )


class TableOut(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    row_count = serializers.IntegerField(allow_null=True)
    columns = serializers.ListField(child=serializers.DictField())
    geometry = serializers.DictField(allow_null=True)
    variants = serializers.ListField(child=serializers.CharField())
    url = serializers.URLField()
    sample_url = serializers.URLField(allow_null=True)
    openapi_url = serializers.URLField()
    docs_url = serializers.URLField()


class VersionTablesOut(serializers.Serializer):
    version = serializers.CharField(help_text="버전 번호 또는 live.")
    state = serializers.CharField()
    latest = serializers.BooleanField()
    full_access = serializers.BooleanField(
        help_text="이 호출자가 전체 데이터를 읽을 수 있는지 (else: the sample only)."
    )
    why_not = serializers.CharField(allow_blank=True)
    store = serializers.DictField(allow_null=True, help_text="질의 저장소 준비 상태 (the query store's state).")
    tables = TableOut(many=True)


class DatasetTablesOut(serializers.Serializer):
    dataset = serializers.CharField()
    title = serializers.CharField()
    sql_url = serializers.URLField()
    versions = VersionTablesOut(many=True)
