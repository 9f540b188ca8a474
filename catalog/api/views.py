"""The public catalog API: anyone may read what the catalog and dataset pages show, through the same selectors.

The dataset list is catalog.discovery.catalog_search (the catalog page's search, filters, facets, counts and
sorts: the same query parameters); a dataset is catalog.selectors.dataset_page (the dataset page) with the offers
its purchase panel shows the viewer (catalog.selectors.offers_visible_to: a private offer only to its buyer
organization); the free sample is catalog.exports.sample_response (the page's download, streamed). A signed-in
user or an API key sees what the pages show them. Thin: validate, call a selector, serialize."""

from types import SimpleNamespace

from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from accounts.api.permissions import acting_organization
from catalog import discovery, exports, selectors
from catalog.api import serializers as s
from catalog.filters import MAX_VALUES, PRICE_TYPES, SORTS
from catalog.models import DatasetVersion
from catalog.pricing import offer_price
from core.api.errors import LANGUAGES, BilingualValidationError, failure
from core.api.pagination import Pages
from core.api.validation import validated
from core.api.views import ApiView
from core.text import lazy_percent

MAX_ID = 2**63 - 1  # bigint ids: a larger number in a path is simply not found (never a database error)
MAX_NUMBER = 2**31 - 1  # version numbers are integers


class CatalogNegotiation(DefaultContentNegotiation):
    """`?format=csv` is the catalog's file-format filter (as on the page), not DRF's renderer override."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


class PublicView(ApiView):
    permission_classes = [AllowAny]
    content_negotiation_class = CatalogNegotiation


def _language() -> str:
    return "en" if (translation.get_language() or "ko").startswith("en") else "ko"


# --- the dataset list --------------------------------------------------------------------------------------------

_VALUES = (
    "여러 값은 매개변수를 되풀이합니다 (하나라도 맞으면: theme=a&theme=b). 서로 다른 필터는 모두 맞아야 합니다. "
    "없는 값은 아무것도 찾지 않습니다 (화면과 같이). 값마다 60자까지, 글자·숫자와 공백 . - _ 만 (catalog.filters.TOKEN)."
)
# catalog.filters.TOKEN (letters and digits of any script, space, ".", "-", "_") as far as a portable JSON Schema
# pattern can say it: no ASCII or Latin-1 symbol or control character (a symbol further out, such as an emoji, passes
# the pattern but is still refused with 400: Python's Unicode \w has no ECMA-262 equivalent without \p{…}).
TOKEN_PATTERN = r"^[^\x00-\x1f!-,/:-@\[-^`{-\xbf\xd7\xf7]{1,60}$"
_TOKEN = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": TOKEN_PATTERN}


def _values(name: str, description: str) -> OpenApiParameter:
    values = {"type": "array", "items": _TOKEN, "maxItems": MAX_VALUES}
    return OpenApiParameter(name, values, style="form", explode=True, description=f"{description} {_VALUES}")


LIST_PARAMETERS = [
    OpenApiParameter(
        "q",
        {"type": "string", "maxLength": 200},
        description="검색어 (최대 200자). 모든 낱말이 맞아야 하고, 낱말 일부로도 찾습니다 (미세먼지 → 초미세먼지측정망).",
    ),
    _values("theme", "주제 코드 (GET /api/v1/themes/)."),
    _values("publisher", "제공 기관의 slug (GET /api/v1/organizations/)."),
    _values("format", "파일 형식 (csv, tsv, xlsx, json, geojson, zip)."),
    _values("licence", "이용허락 코드 (GET /api/v1/licences/)."),
    _values("price", f"가격 유형: {', '.join(PRICE_TYPES)}."),
    _values("tag", "키워드."),
    _values("cadence", f"갱신 주기: {', '.join(DatasetVersion.Cadence.values)}."),
    _values("area", "지역 (시·도 시·군·구)."),
    OpenApiParameter(
        "sort",
        OpenApiTypes.STR,
        enum=list(SORTS),
        description="정렬: relevance (검색어가 있을 때 기본), newest (검색어가 없을 때 기본), downloads, title",
    ),
]


def _invalid_filters(params) -> BilingualValidationError:
    """The catalog filter's errors (the page ignores them; the API answers 400), in both languages."""
    rendered = {}
    for language in LANGUAGES:
        with translation.override(language):
            rendered[language] = selectors.catalog_filter_errors(params)
    fields = {}
    for name, errors in rendered["ko"].items():
        english = rendered["en"].get(name, errors)
        fields[name] = [
            {"code": code, "message_ko": ko, "message_en": english[i][1] if i < len(english) else ko}
            for i, (code, ko) in enumerate(errors)
        ]
    return BilingualValidationError(fields)


def _facets(result) -> dict:
    """The page's facets in the reader's language and order, each value labelled in both languages."""
    here = _language()
    there = "ko" if here == "en" else "en"
    other = {name: {fv.value: fv.label for fv in values} for name, values in discovery.facets_in(result, there).items()}
    return {
        name: [
            {
                "value": fv.value,
                f"label_{here}": str(fv.label),
                f"label_{there}": str(other.get(name, {}).get(fv.value, fv.label)),
                "count": fv.count,
                "selected": fv.selected,
            }
            for fv in result.facets.get(name, [])
        ]
        for name in s.FACET_NAMES
    }


def _sorts(has_query: bool) -> list[dict]:
    """The sort options the page offers (relevance only with a query)."""
    out = []
    for key, label in SORTS.items():
        if key == "relevance" and not has_query:
            continue
        labels = {}
        for language in LANGUAGES:
            with translation.override(language):
                labels[f"label_{language}"] = str(label)
        out.append({"value": key, **labels})
    return out


class DatasetList(PublicView):
    @extend_schema(
        operation_id="catalog_datasets_list",
        summary="Search the catalog",
        description=(
            "데이터 목록 화면(/catalog/)과 같은 검색, 필터, 정렬, 면(facet)과 수입니다. 매개변수 이름도 화면 주소와 "
            "같습니다. 결과가 많으면 count와 면의 수는 표본으로 추정한 수이고 (exact=false) 정확한 수는 잠시 뒤에 "
            "나옵니다. 잘못된 매개변수는 400입니다. 마지막 쪽 뒤의 쪽은 404입니다."
        ),
        parameters=[*LIST_PARAMETERS, s.PageQueryIn],
        responses={200: s.CatalogDatasetList},
    )
    def get(self, request):
        params = request.query_params
        paging = validated(s.PageQueryIn, params)
        page, size = paging["page"], paging["page_size"]
        if page > discovery.max_pages(size):  # like a page past the last one: not found, with the reason
            message = lazy_percent(
                _("Pages go no deeper than %(n)s: narrow the search."), {"n": discovery.max_pages(size)}
            )
            raise failure(exceptions.NotFound, message)
        result = selectors.catalog_search(params, page=page, page_size=size)
        if result.errors:
            raise _invalid_filters(params)
        if result.page < page:
            raise Http404
        url = request.build_absolute_uri()
        data = {
            "count": result.total,
            "exact": result.exact,
            "counting": result.counting,
            "next": replace_query_param(url, "page", page + 1) if result.has_next else None,
            "previous": (
                (replace_query_param(url, "page", page - 1) if page > 2 else remove_query_param(url, "page"))
                if result.has_previous
                else None
            ),
            "page": result.page,
            "pages": result.pages,
            "page_size": result.page_size,
            "sort": result.sort,
            "relevance": result.relevance,
            "sorts": _sorts(bool(result.state["q"])),
            "results": s.CatalogDatasetItem(result.entries, many=True, context={"request": request}).data,
            "facets": _facets(result),
        }
        return Response(data)


# --- a dataset, a version, a file, the free sample ---------------------------------------------------------------


def _bounded(value: int, limit: int) -> int:
    if not 0 < value <= limit:
        raise Http404
    return value


class DatasetDetail(PublicView):
    @extend_schema(
        operation_id="catalog_dataset_retrieve",
        summary="A dataset",
        description=(
            "데이터셋 화면과 같은 내용: 제공 기관, 주제, 키워드, 이용허락, 가격 (공급가액 + 부가세 = 합계, 원), "
            "버전 이력, 지금 버전의 파일 (형식, 크기, SHA-256, 행 수, Table Schema, 데이터 사전, 열 통계, 개인정보를 "
            "가린 미리보기, ZIP 안의 파일과 시트 표는 members). 비공개 제안은 그 구매 기관(의 API 키)에게만 보입니다. "
            "초안, 반려, 철회, 게시 중지된 데이터셋은 404입니다."
        ),
        responses={200: s.CatalogDataset},
    )
    def get(self, request, slug):
        page = selectors.dataset_page(slug)
        numbers = {v.pk: v.number for v in page.history}
        offers = selectors.offers_visible_to(page.dataset, acting_organization(request))
        for offer in offers:
            offer.price = offer_price(offer)
            offer.version_number = numbers.get(offer.version_id)
        context = {
            "request": request,
            "slug": slug,
            "page": page,
            "files": page.files,
            "offers": offers,
            "current_version_id": page.version.pk,
        }
        return Response(s.CatalogDataset(page.version, context=context).data)


class VersionDetail(PublicView):
    @extend_schema(
        operation_id="catalog_dataset_version_retrieve",
        summary="One version of a dataset",
        description="게시된 버전이나 대체된 버전 하나: 그때의 설명과 파일. 다른 상태의 버전은 404입니다.",
        responses={200: s.CatalogVersion},
    )
    def get(self, request, slug, number):
        public = selectors.dataset_version_public(slug, _bounded(number, MAX_NUMBER))
        context = {
            "request": request,
            "slug": slug,
            "files": public.files,
            "current_version_id": public.entry.version_id,
        }
        return Response(s.CatalogVersion(public.version, context=context).data)


class FileDetail(PublicView):
    @extend_schema(
        operation_id="catalog_dataset_file_retrieve",
        summary="One file of a dataset",
        description=(
            "게시된 (또는 대체된) 버전의 파일 하나: Table Schema, 데이터 사전, 열 통계, 개인정보를 가린 미리보기, "
            "ZIP 안의 파일과 시트 표."
        ),
        responses={200: s.CatalogFile},
    )
    def get(self, request, slug, file_id):
        public, datafile = selectors.dataset_file_public(slug, _bounded(file_id, MAX_ID))
        context = {"request": request, "slug": slug, "current_version_id": public.entry.version_id}
        return Response(s.CatalogFile(datafile, context=context).data)


class CsvRenderer(BaseRenderer):
    """Lets a client ask for text/csv; the body is the streamed sample itself, errors stay JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data)


class DatasetSample(PublicView):
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="catalog_dataset_sample",
        summary="The free sample as CSV",
        description=(
            "무료 샘플: 파일의 첫 행들을 CSV로 (UTF-8 BOM, CRLF). 화면의 '무료 샘플 내려받기'와 같은 내용과 파일 "
            "이름이고, 개인정보는 가려져 있으며 수식처럼 보이는 칸 앞에는 작은따옴표를 붙입니다. "
            "file이 없으면 샘플이 있는 첫 파일입니다."
        ),
        parameters=[s.SampleQueryIn, OpenApiParameter("format", exclude=True)],  # ?format is not a renderer here
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV (UTF-8 BOM)")},
    )
    def get(self, request, slug):
        query = validated(s.SampleQueryIn, request.query_params)
        datafile = selectors.dataset_sample_file(slug, query.get("file"))
        return exports.sample_response(datafile, slug, stream=True)

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):  # an error: the one JSON shape, whatever the client accepted
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


# --- licences, themes, organizations -----------------------------------------------------------------------------


class LicenceList(PublicView):
    @extend_schema(
        operation_id="catalog_licences_list",
        summary="Licences",
        description="데이터셋에 붙일 수 있는 이용허락 (공공누리 1–4유형, CC, 상업 이용허락). 로그인한 기관에는 그 기관의 상업 이용허락도.",
        responses={200: s.LicenceOut(many=True)},
    )
    def get(self, request):
        licences = selectors.licences_for(acting_organization(request)).select_related("organization")
        return Response(s.LicenceOut(licences, many=True).data)


class ThemeList(PublicView):
    @extend_schema(
        operation_id="catalog_themes_list",
        summary="Themes",
        description="공공데이터 분류체계의 주제와 주제마다 공개 데이터셋 수.",
        responses={200: s.ThemeOut(many=True)},
    )
    def get(self, request):
        return Response(s.ThemeOut(selectors.themes_with_counts(), many=True, context={"request": request}).data)


class OrganizationList(PublicView):
    @extend_schema(
        operation_id="catalog_organizations_list",
        summary="Data providers",
        description="데이터를 제공하는 기관 (확인된 제공 기관과 공개 데이터셋이 있는 기관)과 기관마다 공개 데이터셋 수.",
        parameters=[s.PageQueryIn],
        responses={200: s.OrganizationPage},
    )
    def get(self, request):
        validated(s.PageQueryIn, request.query_params)
        paginator = Pages()
        page = paginator.paginate_queryset(selectors.organizations_public(), request, view=self)
        selectors.organization_counts(page)
        return paginator.get_paginated_response(s.OrganizationOut(page, many=True, context={"request": request}).data)


class OrganizationDetail(PublicView):
    @extend_schema(
        operation_id="catalog_organization_retrieve",
        summary="An organization",
        description="기관의 공개 화면과 같은 내용: 이름, 종류, 확인 여부, 소개, (제공 기관이면) 주소와 연락처, 부서, 공개 데이터셋 수.",
        responses={200: s.OrganizationDetailOut},
    )
    def get(self, request, slug):
        organization = selectors.organization_public_get(slug)
        selectors.organization_counts([organization])
        context = {"request": request, "departments": selectors.organization_departments(organization)}
        return Response(s.OrganizationDetailOut(organization, context=context).data)
