"""From a SourceRecord to the fields of a listing's version: themes, licences and cadence by the source's mapping
rules first (HarvestSource.mapping, edited by the admin), then by built-in defaults (our own codes, the EU
vocabularies' URIs, CKAN licence ids through catalog.interop), then the source's defaults; what still cannot be
mapped is a MappingProblem, reported as the record's failure with the reason in Korean and English."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from catalog.harvest.records import SourceRecord
from catalog.interop import licence_code_for_ckan_id, public_source_url
from catalog.models import DatasetVersion, Licence, Theme
from catalog.services import bbox_problem, clean_tags, licence_kind_problem

EU_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
EU_LICENCE = "http://publications.europa.eu/resource/authority/licence/"

# EU data themes → our 분류체계 (where one fits; the reverse of catalog.dcat's mapping).
EU_THEMES = {
    "AGRI": "agriculture",
    "ECON": "finance",
    "EDUC": "education",
    "ENER": "industry",
    "ENVI": "environment",
    "GOVE": "administration",
    "HEAL": "healthcare",
    "INTR": "unification",
    "JUST": "law",
    "REGI": "land",
    "SOCI": "welfare",
    "TECH": "science",
    "TRAN": "transport",
}
# EU frequency authority codes (and CKAN's usual words) → our cadence.
FREQUENCIES = {
    "CONT": "realtime",
    "UPDATE_CONT": "realtime",
    "1MIN": "realtime",
    "5MIN": "realtime",
    "10MIN": "realtime",
    "15MIN": "realtime",
    "30MIN": "realtime",
    "HOURLY": "realtime",
    "DAILY": "daily",
    "DAILY_2": "daily",
    "WEEKLY": "weekly",
    "WEEKLY_2": "weekly",
    "WEEKLY_3": "weekly",
    "MONTHLY": "monthly",
    "MONTHLY_2": "monthly",
    "MONTHLY_3": "monthly",
    "BIMONTHLY": "monthly",
    "QUARTERLY": "quarterly",
    "ANNUAL_2": "half_yearly",
    "ANNUAL_3": "quarterly",
    "BIANNUAL": "half_yearly",
    "ANNUAL": "yearly",
    "BIENNIAL": "yearly",
    "IRREG": "irregular",
    "OTHER": "irregular",
    "UNKNOWN": "irregular",
    "NEVER": "none",
    "NOT_PLANNED": "none",
    "AS_NEEDED": "irregular",
    "실시간": "realtime",
    "일간": "daily",
    "매일": "daily",
    "주간": "weekly",
    "월간": "monthly",
    "분기": "quarterly",
    "반기": "half_yearly",
    "연간": "yearly",
    "수시": "irregular",
    "없음": "none",
}
# Creative Commons deed URLs and EU licence authority codes → our licence codes.
CC_PATHS = {
    "by/4.0": "cc-by-4.0",
    "by-sa/4.0": "cc-by-sa-4.0",
    "by-nc/4.0": "cc-by-nc-4.0",
    "by-nd/4.0": "cc-by-nd-4.0",
    "publicdomain/zero/1.0": "cc0-1.0",
}
EU_LICENCES = {
    "CC_BY_4_0": "cc-by-4.0",
    "CC_BYSA_4_0": "cc-by-sa-4.0",
    "CC_BYNC_4_0": "cc-by-nc-4.0",
    "CC_BYND_4_0": "cc-by-nd-4.0",
    "CC0": "cc0-1.0",
}
_KOGL_TYPE = re.compile(r"(?:kogl|공공누리)\D{0,12}([1-4])|licenseType([1-4])", re.IGNORECASE)


class MappingProblem(Exception):
    def __init__(self, message_ko: str, message_en: str):
        super().__init__(message_en)
        self.message_ko = message_ko
        self.message_en = message_en


class Vocabulary:
    """Our themes and licences, read once per run (not once per record)."""

    def __init__(self):
        self.themes = {t.code: t for t in Theme.objects.all()}
        self.licences = {lic.code: lic for lic in Licence.objects.filter(organization__isnull=True)}
        # Organizations' own licences: a rule of a source may name its owner's (catalog.harvest.services checks
        # that when the rules are saved); never recognised by id or URL, never another organization's.
        self.own_licences = {lic.code: lic for lic in Licence.objects.filter(organization__isnull=False)}
        self.licence_urls = {_normal_url(lic.url): lic.code for lic in self.licences.values() if lic.url}


def _normal_url(url: str) -> str:
    url = url.strip().lower().split("#")[0].split("?")[0]
    url = re.sub(r"^https?://(www\.)?", "", url)
    url = re.sub(r"/(deed|legalcode)(\.[a-z-]+)?$", "", url.rstrip("/"))
    return url.rstrip("/")


def map_theme(record: SourceRecord, rules: dict, vocab: Vocabulary) -> Theme:
    rule_themes = rules.get("themes") or {}
    candidates = [*record.themes, *record.tags]
    for value in candidates:  # the admin's rules first, on any of the record's themes (and tags)
        code = rule_themes.get(value)
        if code in vocab.themes:
            return vocab.themes[code]
    for value in record.themes:
        tail = value.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
        if value in vocab.themes:
            return vocab.themes[value]
        if value.startswith(EU_THEME) and EU_THEMES.get(tail) in vocab.themes:
            return vocab.themes[EU_THEMES[tail]]
        if value.startswith("http") and tail in vocab.themes:  # this portal's own theme URIs end in the code
            return vocab.themes[tail]
        for theme in vocab.themes.values():  # a group titled like ours (환경기상)
            if value in (theme.name_ko, theme.name_en):
                return theme
    default = rules.get("default_theme")
    if default in vocab.themes:
        return vocab.themes[default]
    shown = ", ".join(record.themes[:3]) or "-"
    raise MappingProblem(
        f"분류(주제)를 정할 수 없습니다 (원본 값: {shown}). 수집 설정에 주제 대응 규칙이나 기본 주제를 정하세요.",
        f"No theme could be chosen (source values: {shown}). Add a theme rule or a default theme to the source.",
    )


def map_licence(record: SourceRecord, rules: dict, vocab: Vocabulary, organization_id: int | None = None) -> Licence:
    value = record.licence.strip()
    code = (rules.get("licences") or {}).get(value) if value else None
    if code is None and value and value.lower() not in ("notspecified", "other-closed"):
        code = licence_code_for_ckan_id(value)
        if code is None and value.startswith("http"):
            normal = _normal_url(value)
            code = vocab.licence_urls.get(normal)
            if code is None and "creativecommons.org/" in normal:
                path = normal.split("creativecommons.org/", 1)[1]
                path = path.removeprefix("licenses/")
                code = CC_PATHS.get(path)
            if code is None and value.startswith(EU_LICENCE):
                code = EU_LICENCES.get(value.rstrip("/").rsplit("/", 1)[-1])
        if code is None and (match := _KOGL_TYPE.search(value)):
            code = f"kogl-{match.group(1) or match.group(2)}"
    if code is None:
        code = rules.get("default_licence")
    if code in vocab.licences:
        return vocab.licences[code]
    own = vocab.own_licences.get(code)
    if own is not None and organization_id is not None and own.organization_id == organization_id:
        return own
    raise MappingProblem(
        f"이용허락(라이선스)을 정할 수 없습니다 (원본 값: {value or '없음'}). 라이선스 대응 규칙이나 기본 라이선스를 정하세요.",
        f"No licence could be chosen (source value: {value or 'none'}). Add a licence rule or a default licence "
        "to the source.",
    )


def map_cadence(record: SourceRecord, rules: dict) -> str:
    value = record.cadence.strip()
    if not value:
        return rules.get("default_cadence") or DatasetVersion.Cadence.IRREGULAR
    ruled = (rules.get("cadences") or {}).get(value)
    if ruled in DatasetVersion.Cadence.values:
        return ruled
    if value in DatasetVersion.Cadence.values:
        return value
    tail = value.rstrip("/").rsplit("/", 1)[-1]
    return (
        FREQUENCIES.get(tail.upper())
        or FREQUENCIES.get(tail)
        or rules.get("default_cadence")
        or DatasetVersion.Cadence.IRREGULAR
    )


def version_fields(record: SourceRecord, source, vocab: Vocabulary) -> dict:
    """The METADATA_FIELDS of the listing's version for this record (raises MappingProblem)."""
    rules = source.mapping or {}
    theme = map_theme(record, rules, vocab)
    licence = map_licence(record, rules, vocab, source.organization_id)
    data_kind = rules.get("data_kind") if rules.get("data_kind") in DatasetVersion.DataKind.values else "public"
    if problem := licence_kind_problem(data_kind, licence):
        raise MappingProblem(
            f"공공데이터에는 상업적 이용을 금지하는 라이선스({licence.name_ko})를 붙일 수 없습니다. 수집 설정의 데이터 "
            "종류를 민간 데이터로 바꾸거나 라이선스 규칙을 정하세요.",
            f"Public data may not carry a licence that forbids commercial use ({licence.name_en}): set the "
            f"source's kind of data to private, or add a licence rule. ({problem})",
        )
    email = record.contact_email
    try:
        validate_email(email)
    except ValidationError:
        email = ""
    bbox = record.bbox if record.bbox and bbox_problem(record.bbox) is None else None
    start, end = record.temporal_start, record.temporal_end
    if start and end and start > end:
        start, end = end, start
    organization = source.organization
    return {
        "title_ko": record.title_ko,
        "title_en": record.title_en,
        "description_ko": record.description_ko or record.title_ko,
        "description_en": record.description_en,
        "theme": theme,
        "tags": clean_tags(record.tags),
        "department": record.publisher_name[:120],
        "contact_name": (record.contact_name or record.publisher_name or organization.name_ko)[:100],
        "contact_phone": record.contact_phone[:30],
        "contact_email": email or (organization.contact_email or ""),
        "update_cadence": map_cadence(record, rules),
        "spatial_area": record.spatial_area,
        "spatial_bbox": bbox,
        "temporal_start": start,
        "temporal_end": end,
        "legal_basis": "",
        "collection_method": f"{source.name}에서 수집 ({public_source_url(source.url)})"[:300],
        "data_kind": data_kind,
        "licence": licence,
        "data_limits": "",
        "notes": "",
    }
