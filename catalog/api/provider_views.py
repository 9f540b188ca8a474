"""`/api/v1/provider/`: a department publishes by program exactly as its officials do on the provider pages
(catalog.views, catalog.review_views). Thin: each write validates its input, calls the one service the page
calls, and shows the result; a refusal is the service's DomainError in the API's error shape.

Everything is looked up inside the acting organization (the key's, or the signed-in user's chosen one), so
another organization's ids are not found (404). The caller must be allowed to publish for it: the owner or a
publisher of a verified provider organization, and with a key the `publish` scope (`read` may read)."""

import rules
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.api.permissions import HasScope, acting_organization
from catalog import selectors, services
from catalog.api import provider_serializers as s
from core.api.errors import body, in_both
from core.api.pagination import Pages
from core.api.validation import validated
from core.api.views import ApiView
from core.errors import DomainError, NotAllowed
from core.text import lazy_percent

UPLOAD_LIMIT_MB = settings.API_UPLOAD_MAX_BYTES // 1024**2
# Room for the multipart framing around the file (boundaries, part headers, the `replaces` field).
MULTIPART_OVERHEAD = 64 * 1024


class Publisher(HasScope):
    """Signed in, with a key the `publish` scope (or `read` to read), and allowed to publish for the acting
    organization, by the same rule as the provider pages (accounts.publish_for_org)."""

    def has_permission(self, request, view):
        super().has_permission(request, view)
        organization = acting_organization(request)
        if organization is None:
            raise NotAllowed(_("Choose the organization you publish for: an API key acts for its own."))
        # The rule itself (role, kind, verification): the key's scope was checked above, and a `read` key may
        # read. Every write is checked again by its service through accounts.permissions.can, with the scope.
        if not rules.has_perm("accounts.publish_for_org", request.user, organization):
            if organization.is_provider and not organization.is_verified:
                raise NotAllowed(
                    lazy_percent(
                        _("%(name)s is not verified yet: it can publish once a platform admin has verified it."),
                        {"name": organization.name_ko},
                    )
                )
            raise NotAllowed(_("Only publishers of a verified provider organization can do this."))
        return True


class ProviderView(ApiView):
    permission_classes = [Publisher]
    scope = "publish"


def _organization(request):
    return acting_organization(request)


def _version(request, pk):
    return selectors.provider_version_get(organization=_organization(request), pk=pk)


def _version_out(version) -> dict:
    """The version with its files, the dataset's offers and what still stops its submission, as the version
    page shows them (the justification counted as the one stored on the version)."""
    problems = (
        services.submission_problems(version, pii_justification=version.pii_justification)
        if version.is_editable
        else []
    )
    context = {
        "files": selectors.provider_version_files(version),
        "offers": selectors.provider_dataset_offers(version.dataset),
        "problems": [in_both(problem) for problem in problems],
        "needs_pii_justification": selectors.version_has_personal_data(version),
        "lineage": selectors.version_lineage(version),
    }
    return s.ProviderVersionOut(version, context=context).data


def _paginated(view, request, queryset, serializer):
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


# --- datasets ------------------------------------------------------------------------------------------------


class DatasetList(ProviderView):
    pagination_class = Pages  # the schema says so too (drf-spectacular reads it)

    @extend_schema(
        summary="List my organization's datasets",
        description="활성 기관(API 키의 기관)의 모든 데이터셋. 상태와 관계없이, 작성 중인 버전과 게시된 버전을 함께 보여 줍니다.",
        responses=s.ProviderDatasetOut(many=True),
    )
    def get(self, request):
        return _paginated(self, request, selectors.provider_datasets(_organization(request)), s.ProviderDatasetOut)

    @extend_schema(
        summary="Create a dataset",
        description="데이터셋과 첫 버전(초안)을 설명과 함께 만듭니다. 다음은 파일 올리기입니다. "
        "응답의 `open_version.id`가 그 버전입니다.",
        request=s.ProviderVersionMetadataIn,
        responses={201: s.ProviderDatasetOut},
    )
    def post(self, request):
        organization = _organization(request)
        data = validated(s.ProviderVersionMetadataIn, request.data, context={"organization": organization})
        version = services.dataset_create(actor=request.user, organization=organization, **data)
        dataset = selectors.provider_dataset_get(organization=organization, slug=version.dataset.slug)
        return Response(
            s.ProviderDatasetOut(dataset).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-provider-version", args=[version.pk])},
        )


class DatasetDetail(ProviderView):
    @extend_schema(
        summary="A dataset of my organization",
        description="데이터셋 하나와 그 모든 버전.",
        responses=s.ProviderDatasetOut,
    )
    def get(self, request, slug):
        return Response(
            s.ProviderDatasetOut(selectors.provider_dataset_get(organization=_organization(request), slug=slug)).data
        )


class DatasetVersions(ProviderView):
    @extend_schema(
        summary="Start a new version",
        description="게시된 데이터셋의 새 버전을 게시본의 설명과 파일(검사 결과 포함)을 복사한 초안으로 시작합니다. "
        "이미 작성 중인 버전이 있으면 그 버전을 돌려줍니다(200). 새로 만들면 201.",
        request=s.ProviderNewVersionIn,
        responses={201: s.ProviderVersionOut, 200: s.ProviderVersionOut},
    )
    def post(self, request, slug):
        dataset = selectors.provider_dataset_get(organization=_organization(request), slug=slug)
        data = validated(s.ProviderNewVersionIn, request.data)
        version = services.version_start_new(actor=request.user, dataset=dataset, change_note=data["change_note"])
        return Response(
            _version_out(version),
            status=status.HTTP_201_CREATED if version.started_now else status.HTTP_200_OK,
            headers={"Location": reverse("api-provider-version", args=[version.pk])},
        )


# --- versions ----------------------------------------------------------------------------------------------------


class VersionDetail(ProviderView):
    @extend_schema(
        summary="A version",
        description="버전의 상태, 설명, 파일과 검사 결과, 이용허락, 제안, 그리고 제출을 막는 문제(한국어·영어).",
        responses=s.ProviderVersionOut,
    )
    def get(self, request, pk):
        return Response(_version_out(_version(request, pk)))

    @extend_schema(
        summary="Edit a version's description",
        description="초안(작성·검사·제출 준비) 상태인 버전의 설명을 고칩니다. 보낸 필드만 바뀝니다. "
        "제출한 뒤에는 고칠 수 없습니다(새 버전을 시작하세요).",
        request=s.ProviderVersionMetadataIn(partial=True),
        responses=s.ProviderVersionOut,
    )
    def patch(self, request, pk):
        version = _version(request, pk)
        data = validated(
            s.ProviderVersionMetadataIn,
            request.data,
            partial=True,
            context={"organization": version.dataset.publisher, "version": version},
        )
        version = services.version_update_metadata(actor=request.user, version=version, **data)
        return Response(_version_out(_version(request, version.pk)))


class VersionLicence(ProviderView):
    @extend_schema(
        summary="Set a version's licence",
        description="이용허락을 정합니다(버전 페이지와 같음). 공공데이터는 상업적 이용을 허락하는 이용허락만 됩니다.",
        request=s.ProviderLicenceIn,
        responses=s.ProviderVersionOut,
    )
    def put(self, request, pk):
        version = _version(request, pk)
        data = validated(s.ProviderLicenceIn, request.data, context={"version": version})
        services.version_update_metadata(actor=request.user, version=version, licence=data["licence"])
        return Response(_version_out(_version(request, version.pk)))


class VersionSubmit(ProviderView):
    @extend_schema(
        summary="Submit a version for review",
        description="플랫폼 관리자에게 심사를 요청합니다. 이후 버전은 바뀌지 않습니다. 제출할 수 없으면 400과 함께 "
        "`error.problems`에 모든 문제를 한국어·영어로 보여 줍니다.",
        request=s.ProviderSubmitIn,
        responses={200: s.ProviderVersionOut, 400: s.ProviderErrorOut},
    )
    def post(self, request, pk):
        version = _version(request, pk)
        data = validated(s.ProviderSubmitIn, request.data)
        justification = data.get("pii_justification", version.pii_justification)
        try:
            version = services.version_submit(actor=request.user, version=version, pii_justification=justification)
        except DomainError as exc:
            if exc.code != "not_submittable":
                raise
            # The service names the first problem; the version page lists them all, and so does the refusal.
            problems = services.submission_problems(version, pii_justification=justification)
            refusal = body(status_code=400, code=exc.code, message=exc.message)
            refusal["error"]["problems"] = [in_both(problem) for problem in problems]
            return Response(refusal, status=status.HTTP_400_BAD_REQUEST)
        return Response(_version_out(_version(request, version.pk)))


class VersionWithdraw(ProviderView):
    @extend_schema(
        summary="Withdraw a published version",
        description="게시된 버전을 내립니다(사유 필수). 이미 산 구매자는 그대로 받습니다.",
        request=s.ProviderReasonIn,
        responses=s.ProviderVersionOut,
    )
    def post(self, request, pk):
        version = _version(request, pk)
        data = validated(s.ProviderReasonIn, request.data)
        version = services.version_withdraw(actor=request.user, version=version, reason=data["reason"])
        return Response(_version_out(_version(request, version.pk)))


class VersionReopen(ProviderView):
    @extend_schema(
        summary="Reopen a rejected version",
        description="반려된 버전을 다시 초안으로 만들어 고칩니다.",
        request=None,
        responses=s.ProviderVersionOut,
    )
    def post(self, request, pk):
        version = services.version_reopen(actor=request.user, version=_version(request, pk))
        return Response(_version_out(_version(request, version.pk)))


class VersionReviews(ProviderView):
    pagination_class = Pages  # the schema says so too (drf-spectacular reads it)

    @extend_schema(
        summary="A version's decisions",
        description="제출, 승인, 반려, 게시 중지·재개, 내림: 최근 것부터, 사유와 결정한 사람의 역할, 시각과 함께.",
        responses=s.ProviderReviewOut(many=True),
    )
    def get(self, request, pk):
        return _paginated(self, request, selectors.version_history(_version(request, pk)), s.ProviderReviewOut)


# --- files ---------------------------------------------------------------------------------------------------------


def _too_large():
    exc = DomainError(
        lazy_percent(
            _(
                "A file sent in one request may be at most %(limit)s MB: send larger files through the resumable "
                "upload (tus) endpoint."
            ),
            {"limit": settings.API_UPLOAD_MAX_BYTES // 1024**2},
        ),
        code="too_large",
    )
    exc.status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    return exc


class VersionFiles(ProviderView):
    parser_classes = [MultiPartParser]
    pagination_class = Pages  # the schema says so too (drf-spectacular reads it)

    def initial(self, request, *args, **kwargs):
        # Refused before any byte of the body is read (a session's CSRF check would parse it).
        if request.method == "POST":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.API_UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD:
                raise _too_large()
        super().initial(request, *args, **kwargs)

    @extend_schema(
        summary="List a version's files",
        description="버전의 모든 파일(ZIP 안의 파일과 통합문서의 시트 표 포함, `parent`가 가리킴)과 검사 상태.",
        responses=s.ProviderFileOut(many=True),
    )
    def get(self, request, pk):
        return _paginated(self, request, selectors.provider_version_files(_version(request, pk)), s.ProviderFileOut)

    @extend_schema(
        summary="Upload a small file",
        description=f"파일 하나를 multipart POST 한 번으로 올립니다(필드 `file`, 최대 {UPLOAD_LIMIT_MB} MB). "
        "브라우저와 같은 업로드 서비스를 거쳐 같은 자동 검사가 시작됩니다: 파일의 `check`를 조회해 끝나기를 기다리세요. "
        "`replaces`에 파일 id를 주면 그 파일을 바꿉니다(같은 이름의 이어받은 파일도 바뀝니다). "
        "더 큰 파일은 이어 올리기(tus) 엔드포인트 /catalog/uploads/ 로 올립니다(docs/api.md).",
        request={"multipart/form-data": s.ProviderFileUploadIn},
        responses={
            201: s.ProviderFileDetailOut,
            413: OpenApiResponse(
                s.ProviderErrorOut, description=f"{UPLOAD_LIMIT_MB} MB보다 큰 파일 (too large: use tus)"
            ),
        },
    )
    def post(self, request, pk):
        version = _version(request, pk)
        data = validated(s.ProviderFileUploadIn, request.data)
        upload_file = data["file"]
        if upload_file.size > settings.API_UPLOAD_MAX_BYTES:
            raise _too_large()
        replaces = None
        if data.get("replaces") is not None:
            replaces = selectors.provider_version_file(version, data["replaces"])
            if replaces is None:
                raise DomainError(_("The file to replace is not a file of this version."), code="replaces_invalid")
        # The tus endpoint's services, fed from the uploaded file in chunks (Django spooled it to disk).
        try:
            upload = services.upload_create(
                actor=request.user,
                version=version,
                filename=upload_file.name or "",
                length=upload_file.size,
                replaces=replaces,
            )
        except DomainError as exc:
            if exc.code == "too_large":  # over the tus limit too (UPLOAD_MAX_BYTES), as the tus endpoint says
                exc.status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            raise
        upload = services.upload_append(actor=request.user, upload=upload, offset=0, stream=upload_file)
        if upload.datafile_id is None:
            services.upload_abort(actor=request.user, upload=upload)
            raise DomainError(_("The file did not arrive whole: send it again."), code="upload_incomplete")
        datafile = selectors.provider_datafile_get(version=version, pk=upload.datafile_id)
        return Response(
            s.ProviderFileDetailOut(datafile).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-provider-file", args=[version.pk, datafile.pk])},
        )


class VersionFile(ProviderView):
    @extend_schema(
        summary="A file and its checks",
        description="파일 하나: 검사 상태와 진행률(`check.progress`), 검사 메시지(한국어·영어), Table Schema, "
        "프로파일, 미리보기(개인정보 가림), 데이터 사전. 검사가 끝나면 `check.finished`가 true입니다.",
        responses=s.ProviderFileDetailOut,
    )
    def get(self, request, pk, file_id):
        datafile = selectors.provider_datafile_get(version=_version(request, pk), pk=file_id)
        return Response(s.ProviderFileDetailOut(datafile).data)

    @extend_schema(
        summary="Remove a file",
        description="초안인 버전에서 파일(ZIP이면 그 안의 파일도)을 뺍니다.",
        responses={204: None},
    )
    def delete(self, request, pk, file_id):
        datafile = selectors.provider_datafile_get(version=_version(request, pk), pk=file_id)
        services.datafile_remove(actor=request.user, datafile=datafile)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FileDictionary(ProviderView):
    @extend_schema(
        summary="Describe a file's columns",
        description="검사를 마친 표 파일의 데이터 사전(열 설명, 단위, 코드)을 고칩니다. 보낸 열만 바뀝니다.",
        request=s.ProviderDictionaryIn,
        responses=s.ProviderFileDetailOut,
    )
    def patch(self, request, pk, file_id):
        version = _version(request, pk)
        datafile = selectors.provider_datafile_get(version=version, pk=file_id)
        data = validated(s.ProviderDictionaryIn, request.data)
        services.datafile_dictionary_update(
            actor=request.user, datafile=datafile, entries=data["columns"], partial=True
        )
        return Response(s.ProviderFileDetailOut(selectors.provider_datafile_get(version=version, pk=file_id)).data)


# --- offers ----------------------------------------------------------------------------------------------------------


class VersionOffers(ProviderView):
    pagination_class = Pages  # the schema says so too (drf-spectacular reads it)

    @extend_schema(
        summary="The dataset's offers",
        description="이 버전의 데이터셋에 유효한 제안(무료, 한 번 구매, 구독; 비공개 제안 포함).",
        responses=s.ProviderOfferOut(many=True),
    )
    def get(self, request, pk):
        version = _version(request, pk)
        return _paginated(self, request, selectors.provider_dataset_offers(version.dataset), s.ProviderOfferOut)

    @extend_schema(
        summary="Offer the dataset",
        description="데이터셋을 제안합니다. 데이터의 법이 가격을 정합니다: 공공데이터는 무료 또는 비용부과기준을 밝힌 "
        "실비, 공공누리 제2·4유형은 무료만, 민간·가공 데이터는 표준계약서 유형과 함께 어떤 가격이든.",
        request=s.ProviderOfferIn,
        responses={201: s.ProviderOfferOut},
    )
    def post(self, request, pk):
        version = _version(request, pk)
        data = validated(s.ProviderOfferIn, request.data, context={"dataset": version.dataset})
        offer = services.offer_create(actor=request.user, dataset=version.dataset, **data)
        return Response(
            s.ProviderOfferOut(selectors.provider_offer_get(organization=_organization(request), pk=offer.pk)).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-provider-offer", args=[offer.pk])},
        )


class OfferDetail(ProviderView):
    @extend_schema(summary="An offer", description="제안 하나.", responses=s.ProviderOfferOut)
    def get(self, request, pk):
        return Response(
            s.ProviderOfferOut(selectors.provider_offer_get(organization=_organization(request), pk=pk)).data
        )

    @extend_schema(
        summary="Stop an offer",
        description="제안을 멈춥니다. 이미 한 주문은 그 조건을 그대로 지닙니다.",
        responses={200: s.ProviderOfferOut},
    )
    def delete(self, request, pk):
        offer = selectors.provider_offer_get(organization=_organization(request), pk=pk)
        return Response(s.ProviderOfferOut(services.offer_deactivate(actor=request.user, offer=offer)).data)
