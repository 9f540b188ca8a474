"""Input and output shapes of the provider API. Inputs only check the shape and ask the same questions as the
provider's forms (catalog.forms, catalog.review_forms) through the same functions; the services decide."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import selectors as account_selectors
from catalog import selectors, services
from catalog.api.refs import LicenceBrief, ThemeBrief
from catalog.models import DataFile, Dataset, DatasetVersion, Offer, Review

# --- small pieces ---------------------------------------------------------------------------------------------


class ProviderMessageOut(serializers.Serializer):
    """A sentence in Korean and English."""

    message_ko = serializers.CharField(read_only=True)
    message_en = serializers.CharField(read_only=True)


class ProviderVersionBrief(serializers.ModelSerializer):
    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "number",
            "state",
            "title_ko",
            "title_en",
            "created_at",
            "updated_at",
            "submitted_at",
            "published_at",
        ]
        read_only_fields = fields


class ProviderDatasetRef(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "slug"]
        read_only_fields = fields


def _first(items):
    return items[0] if items else None


class ProviderDatasetOut(serializers.ModelSerializer):
    """A dataset of the organization with its versions (newest first), the one in progress and the published one."""

    version_count = serializers.IntegerField(read_only=True)
    open_version = serializers.SerializerMethodField(
        help_text="작성·검사·제출 중인 버전 (the version in progress: draft, checking, ready, submitted or rejected)"
    )
    published_version = serializers.SerializerMethodField(help_text="게시된 버전 (the published version)")
    versions = ProviderVersionBrief(many=True, read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id",
            "slug",
            "listing",
            "download_count",
            "created_at",
            "updated_at",
            "version_count",
            "open_version",
            "published_version",
            "versions",
        ]
        read_only_fields = fields

    @extend_schema_field(ProviderVersionBrief(allow_null=True))
    def get_open_version(self, dataset):
        version = _first(dataset.open_versions)
        return ProviderVersionBrief(version).data if version else None

    @extend_schema_field(ProviderVersionBrief(allow_null=True))
    def get_published_version(self, dataset):
        version = _first(dataset.published_versions)
        return ProviderVersionBrief(version).data if version else None


# --- files ---------------------------------------------------------------------------------------------------


# What the checks store, typed for the schema (a bare nullable JSONField would be `oneOf: [{}, null]`, which null
# matches twice).
@extend_schema_field({"type": "object", "additionalProperties": True})
class ProviderJsonObject(serializers.JSONField):
    pass


@extend_schema_field({"type": ["object", "null"], "additionalProperties": True})
class ProviderNullableJsonObject(serializers.JSONField):
    pass


@extend_schema_field({"type": "array", "items": {"type": "object", "additionalProperties": True}})
class ProviderJsonObjectList(serializers.JSONField):
    pass


@extend_schema_field({"type": ["array", "null"], "items": {"type": "object", "additionalProperties": True}})
class ProviderNullableJsonObjectList(serializers.JSONField):
    pass


LEVELS = ("info", "warning", "error")


class ProviderCheckMessageOut(serializers.Serializer):
    level = serializers.ChoiceField(choices=LEVELS, read_only=True)
    code = serializers.CharField(read_only=True)
    message_ko = serializers.CharField(read_only=True)
    message_en = serializers.CharField(read_only=True)
    detail = serializers.CharField(read_only=True, allow_blank=True)


def _check_messages(datafile: DataFile) -> list[dict]:
    out = []
    for message in datafile.check_messages or []:
        text = message.get("message")
        both = text if isinstance(text, dict) else {"ko": str(text or ""), "en": str(text or "")}
        out.append(
            {
                "level": message.get("level") if message.get("level") in LEVELS else "info",
                "code": message.get("code", ""),
                "message_ko": both.get("ko", ""),
                "message_en": both.get("en") or both.get("ko", ""),
                "detail": message.get("detail") or "",
            }
        )
    return out


class ProviderCheckOut(serializers.Serializer):
    """The automatic checks of a file: state, progress while running, and what they found."""

    state = serializers.ChoiceField(choices=DataFile.Check.choices, source="check_state", read_only=True)
    stage = serializers.CharField(source="check_stage", read_only=True, help_text="진행 단계 (the stage running)")
    progress = serializers.IntegerField(source="check_progress", read_only=True, help_text="0–100 (%)")
    finished = serializers.BooleanField(source="is_checked", read_only=True)
    started_at = serializers.DateTimeField(source="check_started_at", read_only=True, allow_null=True)
    checked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    messages = serializers.SerializerMethodField()

    @extend_schema_field(ProviderCheckMessageOut(many=True))
    def get_messages(self, datafile):
        return _check_messages(datafile)


class ProviderFileOut(serializers.ModelSerializer):
    """A file of a version (or a member of an uploaded ZIP, or a sheet's table of a workbook: `parent` names it)."""

    name = serializers.CharField(source="original_name", read_only=True)
    check = ProviderCheckOut(source="*", read_only=True)
    carried = serializers.SerializerMethodField(
        help_text="이전 버전에서 그대로 이어받은 파일 (carried over unchanged from the previous version)"
    )
    pii_findings = ProviderJsonObjectList(read_only=True, help_text="찾은 개인정보 (personal data found, masked)")
    sheet = ProviderNullableJsonObject(read_only=True, help_text="XLSX: 읽은 시트 (the worksheet read)")

    class Meta:
        model = DataFile
        fields = [
            "id",
            "parent",
            "predecessor",
            "carried",
            "name",
            "format",
            "size",
            "sha256",
            "created_at",
            "check",
            "encoding",
            "delimiter",
            "row_count",
            "column_count",
            "pii_findings",
            "sheet",
        ]
        read_only_fields = fields

    def get_carried(self, datafile) -> bool:
        return datafile.is_carried


class ProviderFileDetailOut(ProviderFileOut):
    """A file with everything the checks found: Table Schema, profile, preview (personal data masked), map
    coverage, and the data dictionary the publisher wrote."""

    table_schema = ProviderNullableJsonObject(read_only=True, help_text="Table Schema (frictionless)")
    profile = ProviderNullableJsonObjectList(read_only=True, help_text="열마다의 프로파일 (per column)")
    preview = ProviderNullableJsonObject(read_only=True, help_text="미리보기 (columns, rows; 개인정보 가림)")
    geo = ProviderNullableJsonObject(
        read_only=True, help_text="GeoJSON: 범위, 좌표계, 도형 (bbox, CRS, geometry types)"
    )
    dictionary = ProviderJsonObject(read_only=True, help_text="데이터 사전 (the data dictionary, by column)")
    columns_described = serializers.IntegerField(read_only=True)

    class Meta(ProviderFileOut.Meta):
        fields = [
            *ProviderFileOut.Meta.fields,
            "table_schema",
            "profile",
            "preview",
            "geo",
            "dictionary",
            "columns_described",
        ]
        read_only_fields = fields


class ProviderFileUploadIn(serializers.Serializer):
    file = serializers.FileField(
        help_text=f"CSV, TSV, XLSX, JSON, GeoJSON 또는 ZIP, 최대 {settings.API_UPLOAD_MAX_BYTES // 1024**2} MB "
        "(larger files: the resumable tus endpoint)"
    )
    replaces = serializers.IntegerField(
        required=False, allow_null=True, help_text="바꿀 파일의 id (the id of the file this one replaces)"
    )


class ProviderCodeIn(serializers.Serializer):
    code = serializers.CharField(allow_blank=True)
    label_ko = serializers.CharField(allow_blank=True)
    label_en = serializers.CharField(allow_blank=True, required=False, default="")


class ProviderDictionaryEntryIn(serializers.Serializer):
    description_ko = serializers.CharField(allow_blank=True, required=False, default="")
    description_en = serializers.CharField(allow_blank=True, required=False, default="")
    unit = serializers.CharField(allow_blank=True, required=False, default="")
    codes = ProviderCodeIn(many=True, required=False, default=list)


class ProviderDictionaryIn(serializers.Serializer):
    columns = serializers.DictField(
        child=ProviderDictionaryEntryIn(),
        help_text="열 이름별 설명. 보낸 열만 바뀌고, 빈 항목은 그 열의 설명을 지웁니다 "
        "(by column name; only the columns sent change, an empty entry clears that column)",
    )


# --- versions --------------------------------------------------------------------------------------------------


class ProviderVersionMetadataIn(serializers.ModelSerializer):
    """What a publisher describes (the fields of the description form). `context`: the organization and, when
    editing, the version (so a change is checked against what is kept)."""

    theme = serializers.SlugRelatedField(
        slug_field="code", queryset=selectors.themes(), help_text="분류 코드 (theme code, e.g. environment)"
    )
    licence = serializers.SlugRelatedField(
        slug_field="code",
        queryset=selectors.licences_for(None),
        required=False,
        allow_null=True,
        help_text="이용허락 코드 (licence code, e.g. kogl-1); 제출 전에 정해도 됩니다",
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=40), max_length=20, required=False)
    spatial_bbox = serializers.ListField(
        child=serializers.FloatField(),
        min_length=4,
        max_length=4,
        required=False,
        allow_null=True,
        help_text="[west, south, east, north] (WGS84, degrees)",
    )

    class Meta:
        model = DatasetVersion
        fields = list(DatasetVersion.METADATA_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        organization = self.context.get("organization")
        if organization is not None:
            self.fields["licence"].queryset = selectors.licences_for(organization)

    def validate_spatial_bbox(self, value):
        if value is not None and (problem := services.bbox_problem(value)):
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs):
        version = self.context.get("version")

        def value(name):
            return attrs[name] if name in attrs else getattr(version, name, None)

        if problem := services.temporal_problem(value("temporal_start"), value("temporal_end")):
            raise serializers.ValidationError({"temporal_end": problem})
        # Said here, not first at submission: the same rule as submission_problems (and the form).
        if problem := services.licence_kind_problem(value("data_kind"), value("licence")):
            raise serializers.ValidationError({"licence": problem})
        return attrs


class ProviderLicenceIn(serializers.Serializer):
    licence = serializers.SlugRelatedField(
        slug_field="code", queryset=selectors.licences_for(None), help_text="이용허락 코드 (licence code)"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        version = self.context.get("version")
        if version is not None:
            self.fields["licence"].queryset = selectors.licences_for(version.dataset.publisher)

    def validate_licence(self, licence):
        if problem := services.licence_kind_problem(self.context["version"].data_kind, licence):
            raise serializers.ValidationError(problem)
        return licence


class ProviderNewVersionIn(serializers.Serializer):
    change_note = serializers.CharField(
        max_length=4000, help_text="새 버전에서 바뀌는 점 (what will change; buyers and the reviewer read it)"
    )


class ProviderSubmitIn(serializers.Serializer):
    pii_justification = serializers.CharField(
        max_length=4000,
        required=False,
        allow_blank=True,
        help_text="개인정보가 발견된 경우 공개해도 되는 이유 (why the personal data found may be published); "
        "보내지 않으면 버전에 저장된 값 (absent: the one stored on the version)",
    )


class ProviderReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=4000, help_text="사유 (the reason)")


class ProviderLineageOut(serializers.Serializer):
    from_number = serializers.IntegerField(source="from", read_only=True, help_text="이어받은 버전 번호")
    carried = serializers.IntegerField(read_only=True)
    replaced = serializers.IntegerField(read_only=True)


class ProviderOrganizationRef(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    slug = serializers.CharField(read_only=True)
    name_ko = serializers.CharField(read_only=True)
    name_en = serializers.CharField(read_only=True)


class ProviderOfferOut(serializers.ModelSerializer):
    version = serializers.SerializerMethodField(help_text="한 버전만 파는 경우 그 버전 (the one version sold)")
    buyer = ProviderOrganizationRef(
        read_only=True, allow_null=True, help_text="비공개 제안의 구매 기관 (private offer)"
    )
    contract_type = serializers.ChoiceField(choices=Offer.Contract.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Offer
        fields = [
            "id",
            "dataset",
            "kind",
            "price_krw",
            "subscription_days",
            "cost_basis",
            "contract_type",
            "rule",
            "version",
            "buyer",
            "terms",
            "daily_quota",
            "price_per_1000_krw",
            "rate_limit_per_minute",
            "active",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ProviderVersionBrief(allow_null=True))
    def get_version(self, offer):
        return ProviderVersionBrief(offer.version).data if offer.version_id else None


class ProviderVersionOut(serializers.ModelSerializer):
    """A version as its publisher sees it: state, description, files with their checks, licence, offers, and
    what still stops its submission. `context`: files, offers, problems, needs_pii_justification, lineage."""

    dataset = ProviderDatasetRef(read_only=True)
    theme = ThemeBrief(read_only=True)
    licence = LicenceBrief(read_only=True, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    spatial_bbox = serializers.ListField(child=serializers.FloatField(), read_only=True, allow_null=True)
    is_editable = serializers.BooleanField(read_only=True)
    files = serializers.SerializerMethodField()
    offers = serializers.SerializerMethodField(help_text="데이터셋의 유효한 제안 (the dataset's active offers)")
    submission_problems = serializers.SerializerMethodField(
        help_text="제출을 막는 문제 (what stops submitting it; empty when it can be submitted or is past that)"
    )
    needs_pii_justification = serializers.SerializerMethodField(
        help_text="개인정보가 있어 제출할 때 사유가 필요함 (personal data found: submitting needs a justification)"
    )
    lineage = serializers.SerializerMethodField(help_text="이전 버전에서 이어받은 파일 (files carried over)")

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "dataset",
            "number",
            "state",
            "is_editable",
            "change_note",
            *DatasetVersion.METADATA_FIELDS,
            "pii_justification",
            "created_at",
            "updated_at",
            "submitted_at",
            "published_at",
            "files",
            "offers",
            "submission_problems",
            "needs_pii_justification",
            "lineage",
        ]
        read_only_fields = fields

    @extend_schema_field(ProviderFileOut(many=True))
    def get_files(self, version):
        return ProviderFileOut(self.context["files"], many=True).data

    @extend_schema_field(ProviderOfferOut(many=True))
    def get_offers(self, version):
        return ProviderOfferOut(self.context["offers"], many=True).data

    @extend_schema_field(ProviderMessageOut(many=True))
    def get_submission_problems(self, version):
        return self.context["problems"]

    def get_needs_pii_justification(self, version) -> bool:
        return self.context["needs_pii_justification"]

    @extend_schema_field(ProviderLineageOut(allow_null=True))
    def get_lineage(self, version):
        lineage = self.context["lineage"]
        return ProviderLineageOut(lineage).data if lineage else None


# --- offers ------------------------------------------------------------------------------------------------------


class ProviderOfferIn(serializers.Serializer):
    """An offer as the offer form takes it; catalog.services.offer_create applies the law of the data."""

    kind = serializers.ChoiceField(choices=Offer.Kind.choices)
    price_krw = serializers.IntegerField(
        min_value=0, max_value=10**12, required=False, default=0, help_text="부가세 제외 가격, 원 (KRW excluding VAT)"
    )
    subscription_days = serializers.ChoiceField(choices=[30, 90, 365], required=False, allow_null=True, default=None)
    version = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="한 번 구매에서 팔 게시 버전의 id; 없으면 구매 시점의 최신 게시 버전",
    )
    cost_basis = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="공공데이터: 비용부과기준 및 단위"
    )
    contract_type = serializers.ChoiceField(
        choices=Offer.Contract.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="민간·가공 데이터: 표준계약서",
    )
    buyer_brn = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        default="",
        help_text="비공개 제안을 받을 기관의 사업자등록번호 (private offer: the buyer's business registration number)",
    )
    terms = serializers.CharField(
        max_length=4000, required=False, allow_blank=True, default="", help_text="비공개 제안의 추가 조건"
    )
    daily_quota = serializers.IntegerField(
        min_value=1,
        max_value=10**9,
        required=False,
        allow_null=True,
        default=None,
        help_text="API 개발계정: 1일 호출 한도",
    )
    price_per_1000_krw = serializers.IntegerField(
        min_value=1,
        max_value=10**9,
        required=False,
        allow_null=True,
        default=None,
        help_text="API 종량제: 호출 1,000건당 가격 (부가세 제외, 원)",
    )
    rate_limit_per_minute = serializers.IntegerField(
        min_value=1,
        max_value=10**6,
        required=False,
        allow_null=True,
        default=None,
        help_text="API 정액제: 분당 호출 한도",
    )

    def validate_version(self, pk):
        if pk is None:
            return None
        version = selectors.provider_dataset_version(self.context["dataset"], pk)
        if version is None:
            raise serializers.ValidationError(_("This dataset has no version with this id."))
        return version

    def validate(self, attrs):
        """The business registration number names the buyer organization; the service checks it may buy."""
        digits = "".join(c for c in attrs.pop("buyer_brn", "") or "" if c.isdigit())
        attrs["buyer"] = None
        if digits:
            buyer = account_selectors.brn_holder(digits) if len(digits) == 10 else None
            if buyer is None:
                raise serializers.ValidationError(
                    {"buyer_brn": _("No organization on the exchange has this business registration number.")}
                )
            attrs["buyer"] = buyer
        return attrs


# --- reviews -------------------------------------------------------------------------------------------------------

# Who makes each decision: the publisher submits and withdraws; a platform admin decides and lists.
_PUBLISHER_ACTIONS = (Review.Action.SUBMIT, Review.Action.WITHDRAW)


class ProviderReviewOut(serializers.ModelSerializer):
    actor_role = serializers.SerializerMethodField(help_text="결정한 사람의 역할 (who decided)")
    actor_name = serializers.SerializerMethodField()
    pii_justification = serializers.SerializerMethodField(help_text="제출 때 적은 개인정보 공개 사유")

    class Meta:
        model = Review
        fields = ["id", "version", "action", "reason", "actor_role", "actor_name", "pii_justification", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["publisher", "platform_admin"]))
    def get_actor_role(self, review):
        return "publisher" if review.action in _PUBLISHER_ACTIONS else "platform_admin"

    def get_actor_name(self, review) -> str:
        return review.actor.get_full_name() or review.actor.email

    def get_pii_justification(self, review) -> str:
        return (review.data or {}).get("pii_justification", "") if review.action == Review.Action.SUBMIT else ""


class ProviderErrorBody(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    message_ko = serializers.CharField()
    message_en = serializers.CharField()
    fields = ProviderJsonObject(required=False, help_text="입력 오류 (input errors by field)")
    problems = ProviderMessageOut(
        many=True, required=False, help_text="제출을 막는 문제 모두 (not_submittable: every problem, in both languages)"
    )


class ProviderErrorOut(serializers.Serializer):
    """The API's one error shape; a refused submission also lists every problem."""

    error = ProviderErrorBody()
