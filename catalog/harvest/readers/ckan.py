"""A CKAN portal through its Action API: package_search paged by `start` (rows per page, the source's `fq`), each
page read whole (bounded, catalog.harvest.readers.http) and turned into SourceRecords.

The order is `name asc`, which every CKAN (and this portal's own API) sorts by, so a resumed run reads the pages
it had not read. A package that cannot be read becomes a RecordProblem; an answer that is not CKAN's envelope
(an HTML page, broken JSON, success false) is a SourceError for the whole page."""

import datetime as dt
import json
from collections.abc import Iterator

from django.conf import settings

from catalog.harvest.readers import http
from catalog.harvest.records import Page, RecordProblem, SourceError, SourceRecord, SourceResource, web_url

CADENCE_KEYS = ("update_cadence", "frequency", "accrual_periodicity", "update_frequency", "accrualPeriodicity")
SPATIAL_TEXT_KEYS = ("spatial_area", "spatial_text", "spatial_coverage", "coverage")


def action_url(base: str, action: str) -> str:
    return f"{base.rstrip('/')}/api/3/action/{action}"


# Pages read past what the first page's count announces (records added at the source while it is read), and the
# bound of a source that announces no count.
SLACK_PAGES = 10
MAX_PAGES = 100_000


def read_ckan(base: str, *, fq: str = "", cursor: dict | None = None, rows: int | None = None) -> Iterator[Page]:
    """The pages of package_search from `cursor`. The read stops, marked incomplete (so nothing is withdrawn), when
    a page brings no package this read has not seen (a source repeating its page), or past ceil(count/rows) +
    SLACK_PAGES pages of the first page's count (MAX_PAGES without a count)."""
    rows = rows or settings.HARVEST_CKAN_ROWS
    cursor = cursor or {}
    start = int(cursor.get("start", 0))
    first_count = cursor.get("count")
    pages = int(cursor.get("pages", 0))
    seen: set[str] = set()  # this read's packages (a resumed read starts afresh: at worst one page more)
    while True:
        params = {"q": "*:*", "rows": rows, "start": start, "sort": "name asc"}
        if fq:
            params["fq"] = fq
        body, _type = http.get(action_url(base, "package_search"), params=params, accept="application/json")
        result = _envelope(body)
        count = result.get("count")
        count = count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None
        packages = result.get("results")
        if not isinstance(packages, list):
            raise SourceError("CKAN 응답에 results 목록이 없습니다.", "The CKAN answer has no list of results.")
        items = [package_record(base, package) for package in packages]
        pages += 1
        if first_count is None and pages == 1:
            first_count = count
        new = {item.identifier for item in items if item.identifier != "?"} - seen
        seen |= new
        start += len(packages)
        limit = MAX_PAGES if first_count is None else -(-first_count // rows) + SLACK_PAGES
        stuck = bool(packages) and not new  # a full page of packages already read: the source repeats itself
        done = not packages or len(packages) < rows or (count is not None and start >= count)
        cut = not done and (stuck or pages >= limit)
        yield Page(
            items=[] if stuck else items,
            next_cursor=None if done or cut else {"start": start, "count": first_count, "pages": pages},
            total=count,
            incomplete=cut,
        )
        if done or cut:
            return


def package_gone(base: str, identifier: str, *, fq: str = "") -> bool:
    """Whether the package is confirmed gone from the source (within the source's `fq`): package_search for its id
    or name finds no such package. Asked before a listing missing from a complete read is withdrawn; a source that
    cannot answer raises SourceError (and the listing stays)."""
    quoted = identifier.replace("\\", "\\\\").replace('"', '\\"')
    params = {"q": f'id:"{quoted}" OR name:"{quoted}"', "rows": 10}
    if fq:
        params["fq"] = fq
    body, _type = http.get(action_url(base, "package_search"), params=params, accept="application/json")
    packages = _envelope(body).get("results")
    if not isinstance(packages, list):
        raise SourceError("CKAN 응답에 results 목록이 없습니다.", "The CKAN answer has no list of results.")
    return not any(isinstance(p, dict) and identifier in (_text(p.get("id")), _text(p.get("name"))) for p in packages)


def _envelope(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        head = body[:60].decode("utf-8", "replace").strip()
        raise SourceError(
            f"CKAN API 응답이 JSON이 아닙니다 (시작: {head!r}). 주소가 CKAN 포털인지 확인하세요.",
            f"The CKAN API did not answer JSON (it starts {head!r}). Check that the address is a CKAN portal.",
        ) from None
    if not isinstance(data, dict) or "success" not in data:
        raise SourceError("CKAN API의 응답 형식이 아닙니다.", "The answer is not in the CKAN API's shape.")
    if data.get("success") is not True:
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        message = str(error.get("message") or error.get("__type") or "")[:200]
        raise SourceError(f"CKAN API가 오류를 알렸습니다: {message}", f"The CKAN API reported an error: {message}")
    result = data.get("result")
    if not isinstance(result, dict):
        raise SourceError("CKAN 응답에 result가 없습니다.", "The CKAN answer has no result.")
    return result


def _text(value) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _datetime(value) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)  # CKAN writes UTC without a zone


def _date(value) -> dt.date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _bbox(spatial: str) -> list[float] | None:
    """ckanext-spatial's `spatial` extra (a GeoJSON geometry) as [west, south, east, north]."""
    try:
        geometry = json.loads(spatial)
        points = []

        def walk(c):
            if isinstance(c, (list, tuple)) and len(c) >= 2 and all(isinstance(x, (int, float)) for x in c[:2]):
                points.append((float(c[0]), float(c[1])))
            elif isinstance(c, (list, tuple)):
                for inner in c:
                    walk(inner)

        walk(geometry.get("coordinates"))
        if not points:
            return None
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return [min(xs), min(ys), max(xs), max(ys)]
    except (ValueError, AttributeError, TypeError):
        return None


def _hangul(text: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in text)


def package_record(base: str, package) -> SourceRecord | RecordProblem:
    """One CKAN package dict → SourceRecord (or the reason it cannot be one)."""
    if not isinstance(package, dict):
        return RecordProblem("?", "", "패키지가 객체가 아닙니다.", "The package is not an object.")
    identifier = _text(package.get("id") or package.get("name"))
    title = _text(package.get("title") or "")
    if not identifier:
        return RecordProblem(
            _text(package.get("name")) or "?", title, "식별자(id, name)가 없습니다.", "The package has no id or name."
        )
    if not title.strip():
        return RecordProblem(identifier, "", "제목이 없습니다.", "The package has no title.")
    try:
        extras = {}
        for extra in package.get("extras") or []:
            if isinstance(extra, dict) and extra.get("key"):
                extras[_text(extra["key"])] = _text(extra.get("value"))
        name = _text(package.get("name") or identifier)
        # The landing page when it is a web address (a javascript: or data: one is a hostile source's), else the
        # portal's own page of the dataset.
        source_url = web_url(extras.get("landing_page")) or f"{base.rstrip('/')}/dataset/{name}"
        # A Korean portal writes Korean titles; an English-only one gets its title as both (our Korean title is
        # required), and the English field says it too.
        # ckanext-fluent's translated fields ({"ko": …, "en": …}), as this portal's own API writes them too.
        titles = package.get("title_translated") if isinstance(package.get("title_translated"), dict) else {}
        notes_by_language = package.get("notes_translated") if isinstance(package.get("notes_translated"), dict) else {}
        title = _text(titles.get("ko")) or title
        title_en = _text(titles.get("en")) or extras.get("title_en", "")
        notes = _text(notes_by_language.get("ko")) or _text(package.get("notes"))
        notes_en = _text(notes_by_language.get("en")) or extras.get("description_en", "")
        if not _hangul(title) and not title_en:
            title_en = title
        organization = package.get("organization") if isinstance(package.get("organization"), dict) else {}
        resources = []
        for position, res in enumerate(package.get("resources") or []):
            if not isinstance(res, dict) or not _text(res.get("url")).startswith(("http://", "https://")):
                continue
            size = res.get("size")
            resources.append(
                SourceResource(
                    name=_text(res.get("name")) or f"resource {position + 1}",
                    url=_text(res.get("url")),
                    format=_text(res.get("format")),
                    media_type=_text(res.get("mimetype")),
                    size=size if isinstance(size, int) else (int(size) if _text(size).isdigit() else None),
                    checksum=_text(res.get("hash")),
                    description=_text(res.get("description")),
                    source_id=_text(res.get("id")),
                )
            )
        spatial_area = next((extras[k] for k in SPATIAL_TEXT_KEYS if extras.get(k)), "")
        return SourceRecord(
            identifier=identifier,
            source_url=source_url,
            modified=_datetime(package.get("metadata_modified")),
            title_ko=title,
            title_en=title_en,
            description_ko=notes,
            description_en=notes_en,
            tags=[
                _text(t.get("display_name") or t.get("name")) for t in package.get("tags") or [] if isinstance(t, dict)
            ],
            themes=[
                *(_text(g.get("name")) for g in package.get("groups") or [] if isinstance(g, dict)),
                *([extras["theme"]] if extras.get("theme") else []),
            ],
            licence=_text(package.get("license_id")) or _text(package.get("license_url")),
            publisher_name=extras.get("department") or _text(organization.get("title") or organization.get("name")),
            contact_name=_text(package.get("maintainer") or extras.get("contact_name") or package.get("author")),
            contact_email=_text(
                package.get("maintainer_email") or extras.get("contact_email") or package.get("author_email")
            ),
            contact_phone=extras.get("contact_phone", ""),
            cadence=next((extras[k] for k in CADENCE_KEYS if extras.get(k)), ""),
            spatial_area=spatial_area,
            bbox=_bbox(extras["spatial"]) if extras.get("spatial") else None,
            temporal_start=_date(extras.get("temporal_start")),
            temporal_end=_date(extras.get("temporal_end")),
            resources=resources,
            extras=extras,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        return RecordProblem(
            identifier, title, f"패키지를 읽을 수 없습니다: {exc}", f"The package cannot be read: {exc}"
        )
