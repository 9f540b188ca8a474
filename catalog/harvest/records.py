"""The normalized record every reader yields (catalog.harvest.readers), whatever the source speaks.

A reader turns one CKAN package dict or one DCAT-AP dcat:Dataset into a SourceRecord, or, when the source's
record cannot be read at all (no identifier, no title, not an object), into a RecordProblem that the run reports
as a failed line. Text is clipped to what our fields hold (a source may send megabytes in a title); `raw_hash`
fingerprints the normalized record, so an unchanged record is skipped without touching its listing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

# What one record may carry into our fields (clipped beyond; the description is long but bounded).
TITLE_MAX = 200
TEXT_MAX = 20_000
SHORT_MAX = 300
TAGS_MAX = 20
RESOURCES_MAX = 50
EXTRAS_MAX = 50
URL_MAX = 2000


def clip(value, limit: int) -> str:
    """A source's value as text of at most `limit` characters, control characters (NUL …) removed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    if len(value) > limit * 4:
        value = value[: limit * 4]  # never scan megabytes
    value = "".join(c for c in value if c.isprintable() or c in "\n\t")
    return value.strip()[:limit]


def web_url(value, limit: int = URL_MAX) -> str:
    """`value` when it is an http(s) address, else "": a source's link is shown on our pages and republished in our
    CKAN and DCAT output, so a javascript:, data: or vbscript: "address" from a source is never kept."""
    value = clip(value, limit)
    return value if value.lower().startswith(("http://", "https://")) else ""


@dataclass
class SourceResource:
    name: str = ""
    url: str = ""
    format: str = ""
    media_type: str = ""
    size: int | None = None
    checksum: str = ""
    description: str = ""
    source_id: str = ""


@dataclass
class SourceRecord:
    identifier: str
    title_ko: str
    source_url: str = ""
    modified: dt.datetime | None = None
    title_en: str = ""
    description_ko: str = ""
    description_en: str = ""
    tags: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)  # source values: CKAN group names, DCAT theme URIs
    licence: str = ""  # CKAN license_id or DCAT licence URI
    publisher_name: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    cadence: str = ""  # CKAN extra or DCAT accrualPeriodicity URI
    spatial_area: str = ""
    bbox: list[float] | None = None
    temporal_start: dt.date | None = None
    temporal_end: dt.date | None = None
    resources: list[SourceResource] = field(default_factory=list)
    extras: dict[str, str] = field(default_factory=dict)
    raw_hash: str = ""

    def __post_init__(self):
        self.identifier = clip(self.identifier, 500)
        self.title_ko = clip(self.title_ko, TITLE_MAX)
        self.title_en = clip(self.title_en, TITLE_MAX)
        self.description_ko = clip(self.description_ko, TEXT_MAX)
        self.description_en = clip(self.description_en, TEXT_MAX)
        self.source_url = web_url(self.source_url, 1000)
        self.licence = clip(self.licence, SHORT_MAX)
        self.publisher_name = clip(self.publisher_name, SHORT_MAX)
        self.contact_name = clip(self.contact_name, 100)
        self.contact_email = clip(self.contact_email, 254)
        self.contact_phone = clip(self.contact_phone, 30)
        self.cadence = clip(self.cadence, SHORT_MAX)
        self.spatial_area = clip(self.spatial_area, 200)
        tags = []
        for tag in self.tags or []:
            tag = clip(tag, 40)
            if tag and tag not in tags:
                tags.append(tag)
        self.tags = tags[:TAGS_MAX]
        self.themes = [t for t in (clip(t, SHORT_MAX) for t in self.themes or []) if t][:TAGS_MAX]
        self.extras = {clip(k, 100): clip(v, 1000) for k, v in list((self.extras or {}).items())[:EXTRAS_MAX] if k}
        self.resources = [r for r in self.resources if web_url(r.url)][:RESOURCES_MAX]
        for res in self.resources:
            res.name = clip(res.name, SHORT_MAX)
            res.url = clip(res.url, URL_MAX)
            res.format = clip(res.format, 40).upper()
            res.media_type = clip(res.media_type, 120)
            res.checksum = clip(res.checksum, 200)
            res.description = clip(res.description, TEXT_MAX)
            res.source_id = clip(res.source_id, 200)
            # A bool is an int to Python but not a size (CKAN may answer "size": true): stored as 1, it would
            # make the listing's hash in memory differ from the stored one (importer.listing_hash).
            if isinstance(res.size, bool) or not (isinstance(res.size, int) and 0 <= res.size < 1 << 62):
                res.size = None
        if not self.raw_hash:
            self.raw_hash = record_hash(self)


def _plain(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def record_hash(record: SourceRecord) -> str:
    """SHA-256 of the normalized record (not of the source's bytes: key order or an unrelated field the source
    adds does not make a record "changed")."""
    data = {k: v for k, v in dataclasses.asdict(record).items() if k != "raw_hash"}
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=_plain, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class RecordProblem:
    """A source record that cannot be read: reported as a failed line with the reason in Korean and English."""

    identifier: str
    title: str
    message_ko: str
    message_en: str

    def __post_init__(self):
        self.identifier = clip(self.identifier, 500) or "?"
        self.title = clip(self.title, 300)


@dataclass
class Page:
    """One page of a source: its items and where the next page starts (None: this was the last)."""

    items: list  # SourceRecord | RecordProblem
    next_cursor: dict | None
    total: int | None = None  # as the source announces it (CKAN count), for the report
    # The reader stopped early (a source repeating its pages, past its page bound): the read is not complete, so
    # nothing is withdrawn at its end.
    incomplete: bool = False


class SourceError(Exception):
    """The source could not be read (unreachable, an error status, not a catalog): the run fails with this."""

    def __init__(self, message_ko: str, message_en: str):
        super().__init__(message_en)
        self.message_ko = message_ko
        self.message_en = message_en
