"""Shapes of the platform admin API of the catalog: the review queue, what a reviewer reads, decisions and
listings. Output only, apart from the reasons; the services decide."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.admin_serializers import REASON_MAX, AdminOrganizationRef, AdminUserBrief
from catalog.api.refs import LicenceBrief
from catalog.models import DataFile, Dataset, DatasetVersion, Offer, Review
from core.api.fields import Bilingual

# --- Small references ------------------------------------------------------------------------------------------


class ReviewDatasetRef(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "slug", "listing"]
        read_only_fields = fields


class ReviewVersionRef(serializers.ModelSerializer):
    class Meta:
        model = DatasetVersion
        fields = ["id", "number", "state"]
        read_only_fields = fields


# --- The queue -------------------------------------------------------------------------------------------------


class ReviewPiiSummaryOut(serializers.Serializer):
    needs_justification = serializers.BooleanField(
        read_only=True,
        help_text="개인정보가 발견되어 게시 사유가 필요한 파일이 있음 (personal data needing a justification)",
    )
    kinds = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="발견된 개인정보 종류 (e.g. mobile_phone, email, rrn)"
    )
    files = serializers.IntegerField(read_only=True, help_text="개인정보가 발견된 파일 수 (files with findings)")
    blocking = serializers.BooleanField(
        read_only=True, help_text="주민·외국인등록번호처럼 게시할 수 없는 것 (a finding that forbids publication)"
    )


class ReviewQueueOut(serializers.ModelSerializer):
    """A submitted version waiting for a decision (the staff page's "Waiting" list)."""

    dataset = ReviewDatasetRef(read_only=True)
    publisher = AdminOrganizationRef(source="dataset.publisher", read_only=True)
    theme = serializers.SlugRelatedField(slug_field="code", read_only=True)
    file_count = serializers.IntegerField(read_only=True, help_text="최상위 파일 수 (top-level files)")
    is_update = serializers.SerializerMethodField(
        help_text="게시된 데이터셋의 새 버전 (an update of a published dataset)"
    )
    pii = ReviewPiiSummaryOut(read_only=True)

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "number",
            "state",
            "title_ko",
            "title_en",
            "dataset",
            "publisher",
            "theme",
            "data_kind",
            "file_count",
            "is_update",
            "submitted_at",
            "pii",
        ]
        read_only_fields = fields

    def get_is_update(self, version) -> bool:
        return version.number > 1


# --- Files and their checks ------------------------------------------------------------------------------------


class _Filled(serializers.Serializer):
    """Reads a stored JSON object whose older rows may lack keys: the missing ones get their defaults."""

    DEFAULTS: dict = {}

    def to_representation(self, instance):
        return super().to_representation({**self.DEFAULTS, **(instance or {})})


class ReviewCheckMessageOut(_Filled):
    """One message of a file's checks."""

    DEFAULTS = {"level": "info", "code": "", "message": "", "detail": ""}

    level = serializers.CharField(read_only=True, help_text="info, warning, error")
    code = serializers.CharField(read_only=True)
    message = Bilingual()
    detail = serializers.CharField(read_only=True)


class ReviewPiiFindingOut(_Filled):
    """Personal data the checks found in one column."""

    DEFAULTS = {
        "kind": "",
        "column": "",
        "count": None,
        "estimated": False,
        "blocking": False,
        "examples": [],
        "note": "",
    }

    kind = serializers.CharField(read_only=True)
    column = serializers.CharField(read_only=True)
    count = serializers.IntegerField(read_only=True, allow_null=True, help_text="찾은 셀 수 (cells found)")
    estimated = serializers.BooleanField(read_only=True, help_text="검사한 행에서 추정한 수 (an estimate)")
    blocking = serializers.BooleanField(read_only=True, help_text="반드시 지워야 함 (must be removed)")
    examples = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="일부 가린 예 (examples, partly hidden)"
    )
    note = Bilingual()


class ReviewColumnOut(_Filled):
    """A column of the file's Table Schema."""

    DEFAULTS = {"name": "", "type": ""}

    name = serializers.CharField(read_only=True)
    type = serializers.CharField(read_only=True)


class ReviewFileLeafOut(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    display_name = serializers.CharField(read_only=True)
    messages = ReviewCheckMessageOut(source="check_messages", many=True, read_only=True)
    pii_findings = ReviewPiiFindingOut(many=True, read_only=True)
    columns = serializers.SerializerMethodField()
    carried = serializers.BooleanField(
        source="is_carried", read_only=True, help_text="이전 버전에서 그대로 가져온 파일 (carried over unchanged)"
    )

    class Meta:
        model = DataFile
        fields = [
            "id",
            "name",
            "display_name",
            "format",
            "size",
            "sha256",
            "check_state",
            "checked_at",
            "encoding",
            "delimiter",
            "row_count",
            "column_count",
            "columns",
            "messages",
            "pii_findings",
            "predecessor",
            "carried",
        ]
        read_only_fields = fields

    @extend_schema_field(ReviewColumnOut(many=True))
    def get_columns(self, datafile):
        return ReviewColumnOut((datafile.table_schema or {}).get("fields") or [], many=True).data


class ReviewFileMemberOut(ReviewFileLeafOut):
    members = ReviewFileLeafOut(many=True, read_only=True, help_text="시트별 표 (a workbook's tables)")

    class Meta(ReviewFileLeafOut.Meta):
        fields = [*ReviewFileLeafOut.Meta.fields, "members"]
        read_only_fields = fields


class ReviewFileOut(ReviewFileLeafOut):
    members = ReviewFileMemberOut(many=True, read_only=True, help_text="ZIP 안의 파일, 통합문서의 시트 (members)")

    class Meta(ReviewFileLeafOut.Meta):
        fields = [*ReviewFileLeafOut.Meta.fields, "members"]
        read_only_fields = fields


class ReviewPiiFileOut(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)
    findings = ReviewPiiFindingOut(source="pii_findings", many=True, read_only=True)

    class Meta:
        model = DataFile
        fields = ["id", "name", "check_state", "findings"]
        read_only_fields = fields


# --- Offers, decisions, the diff ---------------------------------------------------------------------------------


class ReviewOfferOut(serializers.ModelSerializer):
    version = ReviewVersionRef(
        read_only=True, allow_null=True, help_text="특정 버전만 파는 경우 (a one-off for one version)"
    )
    buyer = AdminOrganizationRef(
        read_only=True, allow_null=True, help_text="비공개 제안의 대상 기관 (a private offer's buyer)"
    )
    contract_type = serializers.ChoiceField(
        choices=Offer.Contract.choices,
        allow_blank=True,
        read_only=True,
        help_text="데이터 표준계약서 유형; 공공데이터는 빈 값 (empty for public data)",
    )

    class Meta:
        model = Offer
        fields = [
            "id",
            "kind",
            "price_krw",
            "subscription_days",
            "cost_basis",
            "contract_type",
            "rule",
            "version",
            "buyer",
            "terms",
            "created_at",
        ]
        read_only_fields = fields


class ReviewOut(serializers.ModelSerializer):
    actor = AdminUserBrief(read_only=True)

    class Meta:
        model = Review
        fields = ["id", "action", "actor", "reason", "created_at"]
        read_only_fields = fields


class ReviewSegmentOut(serializers.Serializer):
    op = serializers.ChoiceField(choices=["equal", "delete", "insert"], read_only=True)
    text = serializers.CharField(read_only=True)


class ReviewWordDiffOut(serializers.Serializer):
    old = ReviewSegmentOut(
        many=True, read_only=True, help_text="지운 부분이 표시된 이전 글 (the old text, deletions marked)"
    )
    new = ReviewSegmentOut(
        many=True, read_only=True, help_text="넣은 부분이 표시된 새 글 (the new text, insertions marked)"
    )
    changed = serializers.IntegerField(read_only=True)


class ReviewFieldDiffOut(serializers.Serializer):
    field = serializers.CharField(read_only=True)
    label = Bilingual()
    old = serializers.CharField(read_only=True)
    new = serializers.CharField(read_only=True)
    words = ReviewWordDiffOut(read_only=True)


class ReviewRetypedOut(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    old = serializers.CharField(read_only=True)
    new = serializers.CharField(read_only=True)


class ReviewFileDiffOut(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    old_name = serializers.CharField(read_only=True, help_text="다른 이름의 파일을 대체한 경우 그 이름 (replaced file)")
    matched_by = serializers.ChoiceField(
        choices=["predecessor", "name", "schema"], read_only=True, allow_null=True, help_text="짝지은 방법"
    )
    status = serializers.ChoiceField(choices=["unchanged", "changed", "replaced", "added", "removed"], read_only=True)
    rows_old = serializers.IntegerField(read_only=True, allow_null=True)
    rows_new = serializers.IntegerField(read_only=True, allow_null=True)
    rows_delta = serializers.IntegerField(read_only=True, allow_null=True)
    added = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="추가된 열")
    removed = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="없어진 열")
    retyped = ReviewRetypedOut(many=True, read_only=True, help_text="형식이 바뀐 열")
    column_change = serializers.BooleanField(read_only=True)


class ReviewDiffOut(serializers.Serializer):
    baseline = ReviewVersionRef(
        read_only=True, allow_null=True, help_text="비교 대상: 직전 게시 버전 (null: 처음 게시)"
    )
    fields = ReviewFieldDiffOut(many=True, read_only=True)
    files = ReviewFileDiffOut(many=True, read_only=True)
    column_changes = serializers.IntegerField(read_only=True, help_text="열이 바뀐 파일 수")


# --- What the reviewer reads -------------------------------------------------------------------------------------


class ReviewDetailOut(serializers.ModelSerializer):
    dataset = ReviewDatasetRef(read_only=True)
    publisher = AdminOrganizationRef(source="dataset.publisher", read_only=True)
    theme = serializers.SlugRelatedField(slug_field="code", read_only=True)
    licence = LicenceBrief(read_only=True, allow_null=True)
    spatial_bbox = serializers.ListField(
        child=serializers.FloatField(),
        read_only=True,
        allow_null=True,
        help_text="WGS84 기준 [서쪽, 남쪽, 동쪽, 북쪽] (west, south, east, north)",
    )
    created_by = AdminUserBrief(read_only=True)
    files = ReviewFileOut(source="review_files", many=True, read_only=True)
    pii_files = ReviewPiiFileOut(
        source="review_pii_files", many=True, read_only=True, help_text="개인정보가 발견된 파일과 그 내용"
    )
    offers = ReviewOfferOut(source="review_offers", many=True, read_only=True)
    diff = ReviewDiffOut(source="review_diff", read_only=True)
    history = ReviewOut(
        source="review_history", many=True, read_only=True, help_text="결정 기록, 최신순 (decisions, newest first)"
    )
    decision = ReviewOut(
        source="review_decision",
        read_only=True,
        allow_null=True,
        help_text="마지막 승인·반려 (the last approval or rejection)",
    )

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "number",
            "state",
            "dataset",
            "publisher",
            "change_note",
            *DatasetVersion.METADATA_FIELDS,
            "pii_justification",
            "created_by",
            "created_at",
            "submitted_at",
            "published_at",
            "files",
            "pii_files",
            "offers",
            "diff",
            "history",
            "decision",
        ]
        read_only_fields = fields


class ReviewStateOut(serializers.ModelSerializer):
    """A version after a decision."""

    dataset = ReviewDatasetRef(read_only=True)
    decision = ReviewOut(read_only=True, allow_null=True)

    class Meta:
        model = DatasetVersion
        fields = ["id", "number", "state", "dataset", "submitted_at", "published_at", "decision"]
        read_only_fields = fields


class ReviewDatasetListingOut(serializers.ModelSerializer):
    publisher = AdminOrganizationRef(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "slug", "listing", "publisher", "updated_at"]
        read_only_fields = fields


# --- Input -------------------------------------------------------------------------------------------------------


class ReviewApproveIn(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=REASON_MAX, help_text="메모 (선택) (an optional note)"
    )


class ReviewRejectIn(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX,
        help_text="반려 사유: 제공기관에 전달됩니다 (the publisher reads it)",
        error_messages={
            "required": _("Write the reason for the rejection: the publisher will read it."),
            "blank": _("Write the reason for the rejection: the publisher will read it."),
        },
    )


class ReviewListingReasonIn(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX,
        help_text="사유: 제공기관에 전달됩니다 (the publisher reads it)",
        error_messages={
            "required": _("Write the reason: the publisher will read it."),
            "blank": _("Write the reason: the publisher will read it."),
        },
    )
