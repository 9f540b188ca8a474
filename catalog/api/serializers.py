"""Output shapes of the public catalog API (read only): what the catalog and dataset pages show, as data.

Money is integer KRW as the pages compute it (catalog.pricing: 공급가액 + 부가세 = 합계); names come in both
languages (`…_ko`, `…_en`; an empty English name means "not translated"); times are ISO 8601 with an offset.
Every serializer here reads objects the selectors built (catalog.discovery.ResultLine, catalog.selectors'
DatasetPage and PublicVersion, DataFile rows annotated by catalog.selectors._file_tree); none queries."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog import dictionary
from catalog.filters import PRICE_TYPES
from catalog.models import DataFile, DatasetVersion, Licence, Offer
from catalog.templatetags.catalog_tags import preview_table

FACET_NAMES = ("theme", "publisher", "format", "licence", "price", "tag", "cadence", "area")


def _absolute(context, path: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class ReadOnly(serializers.Serializer):
    """Output only: every field read-only (the schema marks them so)."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.read_only = True
        return fields


# --- small shared shapes ---------------------------------------------------------------------------------------


class PriceOut(ReadOnly):
    """A price as the buyer pays it (catalog.pricing.Price): supply value + VAT = total."""

    supply_krw = serializers.IntegerField(help_text="공급가액 (원, 부가세 별도)")
    vat_krw = serializers.IntegerField(help_text="부가세 (원; 면세 기관이면 0)")
    total_krw = serializers.IntegerField(help_text="합계 (원)")
    tax_free = serializers.BooleanField(help_text="제공 기관이 면세 사업자")


class SubscriptionPriceOut(PriceOut):
    days = serializers.IntegerField(help_text="구독 기간 (일)")


class NamedOut(ReadOnly):
    name_ko = serializers.CharField()
    name_en = serializers.CharField(help_text="영문 이름 (없으면 빈 문자열)")


class ThemeBriefOut(NamedOut):
    code = serializers.CharField()


class LicenceBriefOut(NamedOut):
    code = serializers.CharField()


class OrganizationBriefOut(NamedOut):
    slug = serializers.CharField()
    is_verified = serializers.BooleanField(help_text="플랫폼 관리자가 확인한 기관")
    url = serializers.SerializerMethodField(help_text="이 기관의 API 주소")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj) -> str:
        return _absolute(self.context, reverse("api-catalog-organization", args=[obj.slug]))


# --- the dataset list ------------------------------------------------------------------------------------------


class _ResultOrganization(ReadOnly):
    slug = serializers.CharField(source="publisher_slug")
    name_ko = serializers.CharField(source="publisher_ko")
    name_en = serializers.CharField(source="publisher_en")


class _ResultTheme(ReadOnly):
    code = serializers.CharField(source="theme_code")
    name_ko = serializers.CharField(source="theme_ko")
    name_en = serializers.CharField(source="theme_en")


class _ResultLicence(ReadOnly):
    code = serializers.CharField(source="licence_code")
    name_ko = serializers.CharField(source="licence_ko")
    name_en = serializers.CharField(source="licence_en")


class CatalogDatasetItem(ReadOnly):
    """One result line of the catalog (catalog.discovery.ResultLine)."""

    slug = serializers.CharField()
    url = serializers.SerializerMethodField(help_text="이 데이터셋의 API 주소")
    page_url = serializers.SerializerMethodField(help_text="데이터셋 화면 주소")
    title_ko = serializers.CharField()
    title_en = serializers.CharField()
    description_ko = serializers.CharField(help_text="설명 (Markdown)")
    description_en = serializers.CharField()
    organization = _ResultOrganization(source="*", help_text="제공 기관")
    theme = _ResultTheme(source="*")
    licence = serializers.SerializerMethodField()
    formats = serializers.ListField(child=serializers.CharField())
    price_types = serializers.ListField(child=serializers.ChoiceField(choices=list(PRICE_TYPES)))
    update_cadence = serializers.CharField()
    published_at = serializers.DateTimeField()
    download_count = serializers.IntegerField()
    price_from = serializers.SerializerMethodField(help_text="가장 낮은 공개 일회 구매 가격 (없으면 null)")
    subscriptions = serializers.SerializerMethodField(help_text="구독 기간별 가장 낮은 공개 가격")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, line) -> str:
        return _absolute(self.context, reverse("api-catalog-dataset", args=[line.slug]))

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, line) -> str:
        return _absolute(self.context, line.url)

    @extend_schema_field(_ResultLicence(allow_null=True))
    def get_licence(self, line):
        return _ResultLicence(line).data if line.licence_code else None

    @extend_schema_field(PriceOut(allow_null=True))
    def get_price_from(self, line):
        price = line.price_from
        return PriceOut(price).data if price is not None else None

    @extend_schema_field(SubscriptionPriceOut(many=True))
    def get_subscriptions(self, line):
        return [
            {
                "days": days,
                "supply_krw": p.supply_krw,
                "vat_krw": p.vat_krw,
                "total_krw": p.total_krw,
                "tax_free": p.tax_free,
            }
            for days, p in line.subscriptions
        ]


class FacetValueOut(ReadOnly):
    value = serializers.CharField(help_text="필터 값 (같은 이름의 쿼리 매개변수에 그대로 넣습니다)")
    label_ko = serializers.CharField()
    label_en = serializers.CharField()
    count = serializers.IntegerField(help_text="이 값을 더했을 때가 아니라 지금 검색 결과 중 이 값을 가진 데이터셋 수")
    selected = serializers.BooleanField(help_text="지금 고른 값")


class FacetsOut(ReadOnly):
    theme = FacetValueOut(many=True)
    publisher = FacetValueOut(many=True)
    format = FacetValueOut(many=True)
    licence = FacetValueOut(many=True)
    price = FacetValueOut(many=True)
    tag = FacetValueOut(many=True)
    cadence = FacetValueOut(many=True)
    area = FacetValueOut(many=True)


class SortOptionOut(ReadOnly):
    value = serializers.CharField()
    label_ko = serializers.CharField()
    label_en = serializers.CharField()


class CatalogDatasetList(ReadOnly):
    count = serializers.IntegerField(help_text="검색 결과 수 (exact가 false이면 표본으로 추정한 수)")
    exact = serializers.BooleanField(help_text="count와 facets의 수가 정확한 수인지 (false: 추정)")
    counting = serializers.BooleanField(help_text="정확한 수를 세는 중 (잠시 뒤 다시 요청하면 정확한 수)")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    page_size = serializers.IntegerField()
    sort = serializers.CharField(help_text="적용된 정렬")
    relevance = serializers.ChoiceField(
        choices=["rank", "title", "popular"],
        allow_null=True,
        help_text="관련도 정렬의 방식: rank (관련도 점수), title (제목에 모든 낱말), popular (결과가 많아 다운로드 순)",
    )
    sorts = SortOptionOut(many=True, help_text="화면과 같은 정렬 선택지")
    results = CatalogDatasetItem(many=True)
    facets = FacetsOut()


# --- a dataset, its versions and files -------------------------------------------------------------------------


class PreviewColumnOut(ReadOnly):
    name = serializers.CharField()
    type = serializers.CharField(allow_null=True, help_text="읽은 값의 종류 (Table Schema type)")
    expected = serializers.CharField(allow_null=True, help_text="글자로 남긴 열이 가져야 했던 종류")


class PreviewOut(ReadOnly):
    """The first rows as written in the file, masked where the checks found personal data (as on the page)."""

    columns = PreviewColumnOut(many=True)
    rows = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField()),
        help_text='칸의 값 (글자 그대로; 빈 칸은 "" 또는 null)',
    )
    marks = serializers.ListField(
        child=serializers.ListField(child=serializers.ChoiceField(choices=["empty", "invalid"], allow_null=True)),
        help_text="rows와 같은 모양: empty (빈 값 표시로 읽음), invalid (열의 종류로 읽히지 않음), null",
    )


class DictionaryCodeOut(ReadOnly):
    code = serializers.CharField()
    label_ko = serializers.CharField()
    label_en = serializers.CharField()


class DictionaryRowOut(ReadOnly):
    name = serializers.CharField()
    type = serializers.CharField()
    geo = serializers.CharField(allow_null=True)
    unit = serializers.CharField()
    description_ko = serializers.CharField()
    description_en = serializers.CharField()
    codes = DictionaryCodeOut(many=True)


class MapLayerOut(ReadOnly):
    kind = serializers.ChoiceField(choices=["points", "grid", "features"])
    total = serializers.IntegerField(allow_null=True)
    shown = serializers.IntegerField(allow_null=True)
    capped = serializers.BooleanField()
    cell_km = serializers.FloatField(allow_null=True)
    hidden = serializers.IntegerField(allow_null=True)
    personal = serializers.BooleanField(help_text="개인정보가 있어 한 점씩 보여 주지 않음")
    url = serializers.URLField(allow_null=True, help_text="지도 레이어 (GeoJSON) 주소; 지금 버전의 파일만")


class CatalogFile(ReadOnly):
    """A file as the dataset page shows it: a ZIP's members and a workbook's sheet tables are its `members`."""

    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    name = serializers.CharField(source="original_name")
    display_name = serializers.CharField(help_text="시트 표는 '통합문서.xlsx › 시트'")
    format = serializers.ChoiceField(choices=DataFile.Format.choices)
    is_sheet = serializers.BooleanField(help_text="통합문서 한 시트의 표 (따로 저장된 파일 없음)")
    sheet = serializers.SerializerMethodField(help_text="표를 읽은 시트 이름")
    size = serializers.SerializerMethodField(help_text="바이트 (시트 표는 null)")
    sha256 = serializers.SerializerMethodField(help_text="SHA-256 (시트 표는 null)")
    encoding = serializers.CharField()
    row_count = serializers.IntegerField(allow_null=True)
    column_count = serializers.IntegerField(allow_null=True)
    table_schema = serializers.DictField(allow_null=True, help_text="Frictionless Table Schema")
    dictionary = serializers.SerializerMethodField(help_text="데이터 사전: 열마다 뜻, 단위, 코드")
    profile = serializers.ListField(
        child=serializers.DictField(),
        allow_null=True,
        help_text="열마다 값의 통계 (개인정보 열은 최솟값·최댓값·빈도 없음)",
    )
    preview = serializers.SerializerMethodField()
    sample_rows = serializers.IntegerField(help_text="무료 샘플의 행 수")
    sample_url = serializers.SerializerMethodField(help_text="무료 샘플 CSV 주소 (지금 버전의 파일만)")
    map = serializers.SerializerMethodField()

    def _current(self, f) -> bool:
        return self.context.get("current_version_id") == f.version_id

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, f) -> str:
        return _absolute(self.context, reverse("api-catalog-file", args=[self.context["slug"], f.pk]))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_sheet(self, f):
        return (f.sheet or {}).get("name")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_size(self, f):
        return None if f.is_sheet else f.size

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_sha256(self, f):
        return None if f.is_sheet or not f.sha256 else f.sha256

    @extend_schema_field(DictionaryRowOut(many=True))
    def get_dictionary(self, f):
        return dictionary.bilingual_rows(f)

    @extend_schema_field(PreviewOut(allow_null=True))
    def get_preview(self, f):
        if not f.public_preview:
            return None
        table = preview_table(f.public_preview)
        return {
            "columns": table["columns"],
            "rows": [[cell["value"] for cell in row] for row in table["rows"]],
            "marks": [[cell["mark"] for cell in row] for row in table["rows"]],
        }

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_sample_url(self, f):
        if not (f.sample_rows and self._current(f)):
            return None
        path = reverse("api-catalog-sample", args=[self.context["slug"]]) + f"?file={f.pk}"
        return _absolute(self.context, path)

    @extend_schema_field(MapLayerOut(allow_null=True))
    def get_map(self, f):
        if not getattr(f, "map_kind", None):
            return None
        url = None
        if self._current(f):
            url = _absolute(self.context, reverse("catalog:dataset_map", args=[self.context["slug"], f.pk]))
        return {
            "kind": f.map_kind,
            "total": f.map_total,
            "shown": f.map_shown,
            "capped": f.map_capped,
            "cell_km": f.map_cell_km,
            "hidden": f.map_hidden,
            "personal": f.map_personal,
            "url": url,
        }


# A ZIP's members are files, and a ZIP's workbook has its sheet tables: the same shape all the way down.
CatalogFile._declared_fields["members"] = CatalogFile(
    many=True, read_only=True, source="member_list", help_text="ZIP 안의 파일, 통합문서의 시트 표"
)


class VersionBriefOut(ReadOnly):
    number = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["published", "superseded"])
    current = serializers.SerializerMethodField(help_text="지금 판매하는 버전")
    change_note = serializers.CharField(help_text="바뀐 점")
    published_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()

    def get_current(self, version) -> bool:
        return version.pk == self.context.get("current_version_id")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, version) -> str:
        return _absolute(self.context, reverse("api-catalog-version", args=[self.context["slug"], version.number]))


class LicenceOut(ReadOnly):
    code = serializers.CharField()
    family = serializers.ChoiceField(choices=Licence.Family.choices)
    name_ko = serializers.CharField()
    name_en = serializers.CharField()
    summary_ko = serializers.CharField()
    summary_en = serializers.CharField()
    url = serializers.CharField(help_text="이용허락 공식 안내 주소 (없으면 빈 문자열)")
    allows_commercial_use = serializers.BooleanField()
    allows_derivatives = serializers.BooleanField()
    organization = serializers.CharField(
        source="organization.slug", allow_null=True, help_text="한 기관만 쓰는 상업 이용허락이면 그 기관의 slug"
    )


class LicenceTextOut(ReadOnly):
    text_ko = serializers.CharField()
    text_en = serializers.CharField()
    sha256 = serializers.CharField(
        help_text="동의하는 본문의 SHA-256: API 요금제를 신청할 때(POST /api/v1/api-plans/) licence_sha256으로 보냅니다"
    )


class ContactOut(ReadOnly):
    department = serializers.CharField()
    name = serializers.CharField(source="contact_name")
    phone = serializers.CharField(source="contact_phone")
    email = serializers.CharField(source="contact_email")


class CatalogVersion(ReadOnly):
    """One published or superseded version: its description as published, and its files."""

    dataset = serializers.CharField(source="dataset.slug")
    number = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["published", "superseded"])
    current = serializers.SerializerMethodField(help_text="지금 판매하는 버전")
    change_note = serializers.CharField()
    published_at = serializers.DateTimeField(allow_null=True)
    title_ko = serializers.CharField()
    title_en = serializers.CharField()
    description_ko = serializers.CharField(help_text="설명 (Markdown)")
    description_en = serializers.CharField()
    theme = ThemeBriefOut()
    tags = serializers.ListField(child=serializers.CharField())
    licence = LicenceBriefOut(allow_null=True)
    data_kind = serializers.ChoiceField(choices=DatasetVersion.DataKind.choices)
    update_cadence = serializers.ChoiceField(choices=DatasetVersion.Cadence.choices)
    contact = ContactOut(source="*")
    spatial_area = serializers.CharField()
    spatial_bbox = serializers.ListField(
        child=serializers.FloatField(), allow_null=True, help_text="[서, 남, 동, 북] WGS84"
    )
    temporal_start = serializers.DateField(allow_null=True)
    temporal_end = serializers.DateField(allow_null=True)
    legal_basis = serializers.CharField()
    collection_method = serializers.CharField()
    data_limits = serializers.CharField()
    notes = serializers.CharField()
    files = serializers.SerializerMethodField()

    def get_current(self, version) -> bool:
        return version.pk == self.context.get("current_version_id")

    @extend_schema_field(CatalogFile(many=True))
    def get_files(self, version):
        return CatalogFile(self.context["files"], many=True, context=self.context).data


class OfferOut(ReadOnly):
    """An offer as the dataset page and its purchase panel show it to this viewer."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Offer.Kind.choices)
    price = PriceOut(help_text="공급가액 + 부가세 = 합계 (제공 기관의 면세 여부로 계산)")
    subscription_days = serializers.IntegerField(allow_null=True)
    version_number = serializers.IntegerField(allow_null=True, help_text="이 버전만 파는 제안이면 그 버전")
    cost_basis = serializers.CharField(help_text="공공데이터 비용 부과 근거")
    contract_type = serializers.CharField(help_text="데이터 표준계약서 유형 (민간·가공 데이터)")
    private = serializers.SerializerMethodField(help_text="이 기관에만 보이는 비공개 제안")
    terms = serializers.CharField(help_text="비공개 제안의 추가 조건")
    daily_quota = serializers.IntegerField(allow_null=True, help_text="API 개발계정: 1일 호출 한도")
    price_per_1000_krw = serializers.IntegerField(
        allow_null=True, help_text="API 종량제: 호출 1,000건당 가격 (공급가액, 원)"
    )
    rate_limit_per_minute = serializers.IntegerField(allow_null=True, help_text="API 정액제: 분당 호출 한도")

    def get_private(self, offer) -> bool:
        return offer.buyer_id is not None


class RelatedOut(ReadOnly):
    slug = serializers.CharField(source="dataset.slug")
    title_ko = serializers.CharField()
    title_en = serializers.CharField()
    url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, entry) -> str:
        return _absolute(self.context, reverse("api-catalog-dataset", args=[entry.dataset.slug]))


class CatalogDataset(CatalogVersion):
    """A dataset buyers can see: its published version's description and files, offers, versions, related."""

    slug = serializers.CharField(source="dataset.slug")
    page_url = serializers.SerializerMethodField()
    organization = OrganizationBriefOut(source="dataset.publisher")
    download_count = serializers.IntegerField(source="dataset.download_count")
    first_published_at = serializers.SerializerMethodField(help_text="처음 게시한 때")
    next_update = serializers.SerializerMethodField(help_text="다음 갱신 예정일 (갱신 주기로 계산; 없으면 null)")
    update_overdue = serializers.SerializerMethodField(help_text="다음 갱신 예정일이 지났음")
    licence_text = serializers.SerializerMethodField(help_text="빈칸을 채운 이용허락 전문 (결제 때 동의하는 글)")
    offers = serializers.SerializerMethodField()
    sample_url = serializers.SerializerMethodField(help_text="첫 무료 샘플 CSV 주소 (없으면 null)")
    versions = serializers.SerializerMethodField(help_text="게시된 버전과 대체된 버전, 최신 먼저")
    related = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, version) -> str:
        return _absolute(self.context, reverse("catalog:dataset", args=[version.dataset.slug]))

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_first_published_at(self, version):
        first = self.context["page"].first_published_at
        return serializers.DateTimeField().to_representation(first) if first else None

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_next_update(self, version):
        due = self.context["page"].next_update
        return due.isoformat() if due else None

    def get_update_overdue(self, version) -> bool:
        return self.context["page"].update_overdue

    @extend_schema_field(LicenceTextOut(allow_null=True))
    def get_licence_text(self, version):
        text = self.context["page"].licence_text
        return {"text_ko": text.text_ko, "text_en": text.text_en or "", "sha256": text.sha256} if text else None

    @extend_schema_field(OfferOut(many=True))
    def get_offers(self, version):
        return OfferOut(self.context["offers"], many=True).data

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_sample_url(self, version):
        files = self.context["page"].sample_files
        if not files:
            return None
        return _absolute(self.context, reverse("api-catalog-sample", args=[version.dataset.slug]))

    @extend_schema_field(VersionBriefOut(many=True))
    def get_versions(self, version):
        return VersionBriefOut(self.context["page"].history, many=True, context=self.context).data

    @extend_schema_field(RelatedOut(many=True))
    def get_related(self, version):
        return RelatedOut(self.context["page"].related, many=True, context=self.context).data


# --- themes, licences, organizations ---------------------------------------------------------------------------


class ThemeOut(ThemeBriefOut):
    position = serializers.IntegerField()
    dataset_count = serializers.IntegerField(source="published", help_text="이 주제의 공개 데이터셋 수")
    datasets_url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_datasets_url(self, theme) -> str:
        return _absolute(self.context, reverse("api-catalog-datasets") + f"?theme={theme.code}")


class OrganizationOut(OrganizationBriefOut):
    kind = serializers.CharField()
    org_type = serializers.CharField()
    parent = serializers.CharField(source="parent.slug", allow_null=True, help_text="상위 기관의 slug (시의 부서)")
    dataset_count = serializers.IntegerField(source="published", help_text="공개 데이터셋 수")
    datasets_url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_datasets_url(self, organization) -> str:
        return _absolute(self.context, reverse("api-catalog-datasets") + f"?publisher={organization.slug}")


class DepartmentOut(OrganizationBriefOut):
    dataset_count = serializers.IntegerField(source="published")


class OrganizationDetailOut(OrganizationOut):
    """An organization's public page as data. Address and contact only for data providers (as on the page)."""

    page_url = serializers.SerializerMethodField()
    description = serializers.CharField()
    website = serializers.CharField()
    verified_at = serializers.SerializerMethodField()
    address = serializers.SerializerMethodField()
    contact = serializers.SerializerMethodField()
    departments = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_page_url(self, organization) -> str:
        return _absolute(self.context, reverse("catalog:organization", args=[organization.slug]))

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_verified_at(self, organization):
        if not organization.is_verified or organization.verified_at is None:
            return None
        return serializers.DateTimeField().to_representation(organization.verified_at)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_address(self, organization):
        return organization.address if organization.is_provider else None

    @extend_schema_field(ContactOut(allow_null=True))
    def get_contact(self, organization):
        if not organization.is_provider:
            return None
        return {
            "department": "",
            "name": organization.contact_name,
            "phone": organization.contact_phone,
            "email": organization.contact_email,
        }

    @extend_schema_field(DepartmentOut(many=True))
    def get_departments(self, organization):
        return DepartmentOut(self.context["departments"], many=True, context=self.context).data


class SampleQueryIn(serializers.Serializer):
    file = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="파일 id (없으면 샘플이 있는 첫 파일)"
    )


class PageQueryIn(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, default=1, help_text="쪽 번호 (1부터)")
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=100, default=20, help_text="한 쪽의 결과 수 (1–100)"
    )


class OrganizationPage(ReadOnly):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OrganizationOut(many=True)
