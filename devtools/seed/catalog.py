"""A synthetic but realistic catalog for load tests and benchmarks: `manage.py seed_catalog`.

Publishes N datasets of ~300 seeded publishers (cities, 구청, departments, 공단, institutes and
companies; slug prefix `seed-`) in bulk, fast enough for a million rows in minutes:

- Python generates each batch's rows (Korean titles, descriptions, tags, Table Schema columns,
  offers, files) from devtools.seed.vocab, deterministically from --seed; loader processes each
  generate a batch and load it over their own connection, so one's Python work overlaps another's
  PostgreSQL work;
- PostgreSQL COPY loads them into catalog_dataset, catalog_datasetversion, catalog_offer,
  catalog_datafile and a temporary staging table, from which one INSERT … SELECT writes
  catalog_catalogentry, with PostgreSQL building the search vector from the documents Python
  computed with catalog.search.hangul_document / latin_document — the same expression, weights
  and order as catalog.search.version_vector, so the stored vectors are exactly what
  catalog.services.catalog_entry_refresh would write (tests/catalog/test_seed_catalog.py checks it);
- the catalog entry's own indexes (GIN on the vector, tags, formats, prices; the sort btrees) are
  dropped during a large load and rebuilt once at the end (faster than maintaining them row by
  row), then VACUUM ANALYZE.

Every seeded row belongs to a seeded organization, so `clear()` removes exactly what was seeded.
This bulk loader deliberately bypasses catalog.services (one use case per call would take hours
for a million datasets); it writes only rows those services could have written: published
versions with passed files, active offers following the pricing rules, and their catalog entries.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import math
import multiprocessing
import os
import random
import signal
import sys
import time
from bisect import bisect
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import accumulate

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import JSONField
from django.utils.text import slugify

from accounts.models import Organization, User
from catalog.discovery import bump_generation_on_commit
from catalog.models import CatalogEntry, DataFile, Dataset, DatasetVersion, Licence, Offer, Theme, TitleBucketSet
from catalog.pricing import entry_prices
from catalog.reference_data import THEMES
from catalog.search import facet_keys, hangul_document, latin_document, sort_keys
from catalog.services.title_buckets import title_buckets_build
from devtools.seed import vocab as V

THEME_CODES = [code for code, _ko, _en in THEMES]
SEED_PREFIX = "seed-"
SEED_USER_EMAIL = "seed-catalog@seed.invalid"
MISSING_VALUES = ["", "-", "NA", "N/A", "null", "NULL"]  # catalog.ingest.tabular.NULL_MARKERS


class SeedError(Exception):
    pass


# --- COPY text format ---------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return escaped (the fast path checks first)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _array(values) -> str:
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


class Json:
    """A value for a jsonb column (a list of strings would otherwise be written as an array)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _entry_prices(offers) -> tuple:
    """The entry's price columns from the generated offers (kind, price, days, …), as the refresh computes them."""
    low, periods = entry_prices([(kind, price, days) for kind, price, days, *_rest in offers])
    return low, Json(periods)


class Raw(str):
    """Text already in COPY format (e.g. a cached JSON document)."""


def copy_value(value) -> str:
    """One value in PostgreSQL's COPY text format."""
    kind = type(value)
    if kind is Raw:
        return value
    if kind is str:
        return _escape(value)
    if value is None:
        return "\\N"
    if kind is int:
        return str(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is Json:
        return "\\N" if value.value is None else _escape(json.dumps(value.value, ensure_ascii=False))
    if kind is list:
        return _escape(_array(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if kind is float:
        return repr(value)
    return _escape(str(value))


class Table:
    """The COPY target of one model: the columns we write, plus every other column at its model default
    (so a field added later with a default does not break the loader; one without a default fails loudly)."""

    def __init__(self, model, columns: list[str], *, exclude=()):

        self.name = model._meta.db_table
        self.columns = list(columns)
        concrete = list(model._meta.concrete_fields)
        known = {f.column for f in concrete}
        missing = [c for c in self.columns if c not in known]
        if missing:
            raise SeedError(f"{self.name} has no column(s) {missing}: update catalog/seed.py")
        extra, extra_values = [], []
        for f in concrete:
            if f.column in self.columns or f.column in exclude or _is_identity(f):
                continue
            default = f.get_default()
            if isinstance(f, JSONField):
                default = Json(default)
            if default is None and not f.null:
                raise SeedError(f"{self.name}.{f.column} has no default: tell catalog/seed.py what to write")
            extra.append(f.column)
            extra_values.append(copy_value(default))
        self.all_columns = self.columns + extra
        self.suffix = ("\t" + "\t".join(extra_values)) if extra_values else ""

    def line(self, values) -> str:
        return "\t".join(copy_value(v) for v in values) + self.suffix + "\n"

    def copy_sql(self, target: str | None = None) -> str:
        cols = ", ".join(f'"{c}"' for c in self.all_columns)
        return f"COPY {target or self.name} ({cols}) FROM STDIN"


def _is_identity(field) -> bool:
    return field.primary_key and field.get_internal_type() in ("AutoField", "BigAutoField", "SmallAutoField")


# --- What the generator needs to know about the database (plain data, picklable for worker processes) -------


@dataclass
class Publisher:
    id: int
    slug: str
    name_ko: str
    name_en: str
    themes: list[str]
    places: list[int]  # indexes into PLACES; empty: national
    data_kind: str  # public / private
    phone: str
    weight: float
    departments: list[str] = field(default_factory=list)


@dataclass
class Context:
    seed: int
    user_id: int
    now: datetime
    publishers: list[Publisher]
    themes: dict[str, tuple[int, str]]  # code → (id, name_ko)
    licences: dict[str, int]  # code → id
    rich_files_ratio: float = 0.0  # share of datasets whose files carry a profile and preview
    sample_levels: tuple = (1000, 100, 10)  # settings.CATALOG_SAMPLE_LEVELS: the samples behind estimated counts


# Places as (시·도, 시·도 English, area code, 시·군·구, English, lat, lon, dongs)
PLACES = [
    (sido, sido_en, code, sgg, sgg_en, lat, lon, dongs)
    for sido, sido_en, code, districts in V.PROVINCES
    for sgg, sgg_en, lat, lon, dongs in districts
]
PLACE_WEIGHTS = [V.PLACE_WEIGHT.get(p[3], 1) for p in PLACES]


def _cumulative(weights):
    return list(accumulate(weights))


def _pick(rng, items, cum):
    return items[bisect(cum, rng.random() * cum[-1])]


def _weighted(rng, pairs):
    """pairs: [(value, weight), ...] or [(a, b, weight), ...] → the value (or (a, b))."""
    total = sum(p[-1] for p in pairs)
    x = rng.random() * total
    for p in pairs:
        x -= p[-1]
        if x < 0:
            return p[0] if len(p) == 2 else p[:-1]
    return pairs[-1][0] if len(pairs[-1]) == 2 else pairs[-1][:-1]


def _has_batchim(word: str) -> bool:
    ch = word.rstrip(")")[-1:] if word else ""
    return bool(ch) and "\uac00" <= ch <= "\ud7a3" and (ord(ch) - 0xAC00) % 28 != 0


def _josa(word: str, with_batchim: str, without: str) -> str:
    """word + the particle its last syllable takes (을/를, 이/가, 으로/로: 로 also after ㄹ)."""
    ch = word.rstrip(")")[-1:] if word else ""
    if not ("\uac00" <= ch <= "\ud7a3"):
        return word + without
    final = (ord(ch) - 0xAC00) % 28
    return word + (with_batchim if final and not (with_batchim == "으로" and final == 8) else without)


def _brn(rng) -> str:
    """A 10-digit business registration number with a valid check digit."""
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
    weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    total = sum(d * w for d, w in zip(digits, weights)) + (digits[8] * 5) // 10
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


# --- Publishers ----------------------------------------------------------------------------------------------


def publisher_specs(seed: int) -> list[dict]:
    """About 300 publisher organizations: 시·도, 시·군·구, departments, 공단 and institutes, companies."""
    rng = random.Random(f"publishers-{seed}")
    specs = []
    for sido, sido_en, code, districts in V.PROVINCES:
        places = [i for i, p in enumerate(PLACES) if p[0] == sido]
        level = "Provincial" if sido.endswith("도") else "Metropolitan"
        specs.append(
            dict(
                key=f"sido-{code}",
                name_ko=sido,
                name_en=f"{sido_en} {level} Government",
                org_type="public_body",
                themes=THEME_CODES,
                places=places,
                data_kind="public",
                phone=code,
                weight=3,
            )
        )
        for sgg, sgg_en, *_ in districts:
            if not sgg:
                continue
            place = next(i for i, p in enumerate(PLACES) if p[0] == sido and p[3] == sgg)
            gu = sgg.endswith(("구", "군")) and sido.endswith("광역시") or sido == "서울특별시"
            name = f"{sido} {sgg}" if gu else sgg
            name_en = f"{sgg_en}, {sido_en}" if gu else f"{sgg_en} City"
            weight = 12 if sgg == "시흥시" else 8 if sgg == "수성구" else 4
            specs.append(
                dict(
                    key=f"sgg-{code}-{slugify(sgg_en)}",
                    name_ko=name,
                    name_en=name_en,
                    org_type="public_body",
                    themes=THEME_CODES,
                    places=[place],
                    data_kind="public",
                    phone=code,
                    weight=weight,
                    departments=[d[0] for d in rng.sample(V.DEPARTMENTS, 8)],
                )
            )
    cities = [s for s in specs if s["key"].startswith("sgg-")]
    # Departments of the larger cities and 구 (the pilot cities get all of theirs).
    for city in cities:
        pilot = city["name_ko"] in ("시흥시", "대구광역시 수성구")
        chosen = V.DEPARTMENTS if pilot else rng.sample(V.DEPARTMENTS, 2)
        for dept, dept_en, themes in chosen:
            specs.append(
                dict(
                    key=f"{city['key']}-{slugify(dept_en.split()[0])}",
                    name_ko=f"{city['name_ko']} {dept}",
                    name_en=f"{dept_en}, {city['name_en']}",
                    org_type="city_department",
                    themes=themes,
                    places=city["places"],
                    data_kind="public",
                    phone=city["phone"],
                    weight=6 if pilot else 2,
                    parent=city["key"],
                )
            )
    province_places = {sido: [i for i, p in enumerate(PLACES) if p[0] == sido] for sido, *_ in V.PROVINCES}
    for i, (name, name_en, org_type, themes, area) in enumerate(V.PUBLIC_BODIES):
        specs.append(
            dict(
                key=f"body-{i}",
                name_ko=name,
                name_en=name_en,
                org_type=org_type,
                themes=themes,
                places=province_places.get(area, []),
                data_kind="public",
                phone="02",
                weight=10 if not area else 4,
            )
        )
    names = set()
    while len(names) < 55:
        head = rng.choice(V.COMPANY_HEADS)
        tail, tail_en = rng.choice(V.COMPANY_TAILS)
        names.add((head, tail, tail_en))
    for i, (head, tail, tail_en) in enumerate(sorted(names)):
        themes = V.COMPANY_THEMES.get(head) or rng.sample(THEME_CODES[:14], 2)
        style = rng.random()
        name = f"(주){head}{tail}" if style < 0.5 else f"{head}{tail}(주)" if style < 0.8 else f"주식회사 {head}{tail}"
        specs.append(
            dict(
                key=f"company-{i}",
                name_ko=name,
                name_en=f"{V.COMPANY_HEADS_EN[head]}{tail_en} Co., Ltd.",
                org_type="company",
                themes=themes,
                places=[],
                data_kind="private",
                phone="02",
                weight=rng.choice([1, 1, 2, 3]),
            )
        )
    for n, spec in enumerate(specs):
        spec["slug"] = slugify(f"{SEED_PREFIX}{n:03d}-{spec['key']}")[:80]
    return specs


def ensure_publishers(seed: int):
    """The seed user and organizations (created once; reused by later runs). Returns (user, [Publisher])."""
    user, _ = User.objects.get_or_create(email=SEED_USER_EMAIL, defaults={"name": "카탈로그 시드", "is_active": False})
    specs = publisher_specs(seed)
    existing = {o.slug: o for o in Organization.objects.filter(slug__startswith=SEED_PREFIX)}
    taken = set(Organization.objects.exclude(brn=None).values_list("brn", flat=True))
    rng = random.Random(f"brn-{seed}")
    now = datetime.now(UTC)
    by_key = {}
    for spec in specs:  # parents come before their departments
        org = existing.get(spec["slug"])
        if org is None:
            parent = by_key.get(spec.get("parent"))
            brn = None
            if parent is None:
                brn = _brn(rng)
                while brn in taken:
                    brn = _brn(rng)
                taken.add(brn)
            org = Organization.objects.create(
                slug=spec["slug"],
                name_ko=spec["name_ko"],
                name_en=spec["name_en"],
                kind=Organization.Kind.PROVIDER,
                org_type=spec["org_type"],
                parent=parent,
                brn=brn,
                brn_checksum_ok=True if brn else None,
                vat_status="taxable" if spec["org_type"] == "company" else "exempt",
                verification=Organization.Verification.VERIFIED,
                verified_at=now,
                verification_reason="시드 데이터 (성능 시험용)",
                contact_email=f"data@{spec['slug']}.example",
                contact_phone=f"{spec['phone']}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                description="성능 시험용으로 생성한 가상 기관입니다.",
                created_by=user,
            )
        by_key[spec["key"]] = org
    publishers = [
        Publisher(
            id=by_key[s["key"]].pk,
            slug=s["slug"],
            name_ko=by_key[s["key"]].name_ko,
            name_en=by_key[s["key"]].name_en,
            themes=s["themes"],
            places=s["places"],
            data_kind=s["data_kind"],
            phone=s["phone"],
            weight=s["weight"],
            departments=s.get("departments", []),
        )
        for s in specs
    ]
    return user, publishers


# --- One dataset --------------------------------------------------------------------------------------------

SUBJECTS_BY_THEME: dict[str, list] = {}
for _s in V.SUBJECTS:
    SUBJECTS_BY_THEME.setdefault(_s[2], []).append(_s)
SUBJECT_CUM = {t: _cumulative([s[7] for s in subjects]) for t, subjects in SUBJECTS_BY_THEME.items()}
FORMAT_EXT = {"csv": "csv", "tsv": "tsv", "xlsx": "xlsx", "json": "json", "geojson": "geojson"}
CADENCE_EN = {
    "realtime": "in real time",
    "daily": "daily",
    "weekly": "weekly",
    "monthly": "monthly",
    "quarterly": "quarterly",
    "half_yearly": "every six months",
    "yearly": "yearly",
    "irregular": "as needed",
    "none": "once",
}
CONTRACTS = ["provision", "creation", "processing", "brokerage"]


def _place_phrases(rng, place):
    """(title prefix, English prefix, spatial_area, dong) for a place, sometimes down to a 동."""
    sido, sido_en, _code, sgg, sgg_en, *_rest, dongs = place
    dong = rng.choice(dongs) if rng.random() < 0.35 else ""
    metro = sido.endswith(("광역시", "특별시"))
    if not sgg:  # 세종
        prefix, prefix_en, area = sido, sido_en, sido
    elif metro:
        short = sido[:2]
        prefix = _weighted(rng, [(f"{sido} {sgg}", 3), (f"{short} {sgg}", 2), (sgg, 1)])
        prefix_en, area = f"{sido_en} {sgg_en}", f"{sido} {sgg}"
    else:
        prefix = _weighted(rng, [(sgg, 4), (f"{sido} {sgg}", 1)])
        prefix_en, area = sgg_en, f"{sido} {sgg}"
    if dong:
        prefix, area = f"{prefix} {dong}", f"{area} {dong}"
    return prefix, prefix_en, area, dong


TITLE_ENDINGS = {"현황", "정보", "통계", "목록", "내역", "자료"}


def _suffix(rng, subject_ko, suffixes):
    """A title ending that does not repeat the subject (no "학교 현황 현황", "소음 측정 측정 자료")."""
    words = set(subject_ko.split())
    if words & TITLE_ENDINGS and rng.random() < 0.8:
        return "", ""
    for _ in range(6):
        ko, en = _weighted(rng, suffixes)
        if not (set(ko.split()) & words):
            return ko, en
    return "", ""


def _columns(rng, family, subject):
    spec = V.FAMILIES[family]
    cols = list(spec["base"]) + list(subject[5])
    if rng.random() < spec["geo"] and family != "facility":
        cols += [V.C["lat"], V.C["lon"]]
    cols += spec.get("tail", [])
    seen, result = set(), []
    for col in cols:
        if col[0] not in seen:
            seen.add(col[0])
            result.append(col)
    return result


@lru_cache(maxsize=4096)
def _schema(cols: tuple, fmt: str) -> tuple[list[dict], Raw]:
    """The Table Schema of a file of these columns, and its jsonb text (cached: columns repeat a lot)."""
    fields = _schema_fields(cols, fmt)
    schema = {"fields": fields, "missingValues": MISSING_VALUES}
    return fields, Raw(copy_value(Json(schema)))


def _schema_fields(cols, fmt):
    fields = []
    for name, typ, gen in cols:
        if fmt == "geojson" and name in ("위도", "경도"):
            continue
        f = {"name": name, "type": typ}
        if gen == "lat":
            f["geo"] = "latitude"
        elif gen == "lon":
            f["geo"] = "longitude"
        fields.append(f)
    if fmt == "geojson":
        fields += [
            {"name": "longitude", "type": "number", "geo": "longitude"},
            {"name": "latitude", "type": "number", "geo": "latitude"},
        ]
    return fields


def _value(rng, gen, i, place, dong, when, subject):
    lat, lon = place[5], place[6]
    if isinstance(gen, tuple):
        kind = gen[0]
        if kind == "gauss":
            _k, mean, sd, decimals = gen
            v = max(0.0, rng.gauss(mean, sd))
            return round(v, decimals) if decimals else int(v)
        if kind == "int":
            return rng.randint(gen[1], gen[2])
        if kind == "choice":
            return rng.choice(gen[1:])
    if gen == "station":
        return f"{dong or rng.choice(place[7])} 측정소"
    if gen == "hourly":
        return (when + timedelta(hours=i)).isoformat()
    if gen in ("daily", "refdate"):
        return (when.date() + timedelta(days=i if gen == "daily" else 0)).isoformat()
    if gen == "year":
        return when.year - (i % 3)
    if gen == "month":
        return 1 + i % 12
    if gen == "dong":
        return rng.choice(place[7])
    if gen == "sigungu":
        return place[3] or place[0]
    if gen == "lat":
        return round(lat + rng.uniform(-0.04, 0.04), 6)
    if gen == "lon":
        return round(lon + rng.uniform(-0.05, 0.05), 6)
    if gen == "address":
        road = rng.choice(["중앙로", "시청로", "공단대로", "마유로", "동서대로", "달구벌대로"])
        return f"{place[0]} {place[3]} {road} {rng.randint(1, 400)}".replace("  ", " ")
    if gen == "facility":
        return f"{dong or rng.choice(place[7])} {subject[0][0].split()[0]} {i + 1}"
    if gen == "kind":
        return rng.choice(["공공", "민간", "위탁"])
    if gen == "phone":
        return f"{place[2]}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
    if gen == "manager":
        return f"{place[3] or place[0]} {rng.choice(['환경정책과', '교통정책과', '안전총괄과', '복지정책과'])}"
    if gen == "hours":
        return "09:00~18:00"
    return None


def _report(rng, cols, rows, place, dong, when, subject, fmt):
    """A check report like catalog.ingest's: Table Schema profile (per column) and a 10-row preview."""
    names = [f["name"] for f in _schema_fields(cols, fmt)]
    gens = {c[0]: c for c in cols}
    preview = []
    for i in range(10):
        row = []
        for name in names:
            if name in ("longitude", "latitude"):
                row.append(_value(rng, "lon" if name == "longitude" else "lat", i, place, dong, when, subject))
            else:
                row.append(_value(rng, gens[name][2], i, place, dong, when, subject))
        preview.append(row)
    profile = []
    for j, name in enumerate(names):
        typ = "number" if name in ("longitude", "latitude") else gens[name][1]
        values = [r[j] for r in preview if r[j] is not None]
        nulls = int(rows * rng.choice([0, 0, 0, 0.001, 0.02]))
        prof = {
            "name": name,
            "type": typ,
            "format": None,
            "count": rows - nulls,
            "nulls": nulls,
            "null_ratio": round(nulls / rows, 6) if rows else 0.0,
            "distinct": min(rows, len(set(map(str, values))) * rng.randint(1, 500)),
            "distinct_approximate": True,
            "min": min(values) if values else None,
            "max": max(values) if values else None,
            "mean": None,
            "std": None,
            "top_values": None,
            "histogram": None,
            "geo": None,
            "group_char": None,
        }
        if typ in ("integer", "number", "year") and values:
            mean = sum(values) / len(values)
            prof["mean"] = round(mean, 4)
            prof["std"] = round(math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)), 4)
            lo, hi = prof["min"], prof["max"]
            prof["histogram"] = (
                [
                    {
                        "from": round(lo + (hi - lo) * b / 10, 4),
                        "to": round(lo + (hi - lo) * (b + 1) / 10, 4),
                        "count": rows // 10,
                    }
                    for b in range(10)
                ]
                if hi != lo
                else [{"from": lo, "to": hi, "count": rows}]
            )
            if name in ("위도", "latitude"):
                prof["geo"] = "latitude"
            elif name in ("경도", "longitude"):
                prof["geo"] = "longitude"
        elif typ == "string" and values:
            counts = {}
            for v in values:
                counts[v] = counts.get(v, 0) + 1
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
            prof["top_values"] = [{"value": v, "count": c * max(1, rows // 10)} for v, c in top]
        profile.append(prof)
    return profile, {"columns": names, "rows": preview}


def make_dataset(rng, ctx: Context, pub_cum, dataset_id: int, version_id: int) -> dict:
    """Everything about one published dataset, as plain values (no database access)."""
    pub = _pick(rng, ctx.publishers, pub_cum)
    theme = _weighted(rng, [(t, V.THEME_WEIGHT.get(t, 1)) for t in pub.themes])
    if theme not in SUBJECTS_BY_THEME:
        theme = "administration"
    subject = _pick(rng, SUBJECTS_BY_THEME[theme], SUBJECT_CUM[theme])
    variants, subject_en, _theme, family, subject_tags, _cols, about, _w = subject
    fam = V.FAMILIES[family]
    subject_ko = variants[0] if len(variants) == 1 or rng.random() < 0.75 else rng.choice(variants[1:])
    suffix_ko, suffix_en = _suffix(rng, subject_ko, fam["suffixes"])

    national = not pub.places
    if national and rng.random() < 0.5:
        place = None
    else:
        place = PLACES[rng.choice(pub.places)] if pub.places else _pick(rng, PLACES, _PLACE_CUM)
    if place is None:
        prefix = _weighted(rng, [("전국", 3), ("", 2)])
        prefix_en, spatial, dong = "Korea", prefix, ""
        place = _pick(rng, PLACES, _PLACE_CUM)  # only for sample values
    else:
        prefix, prefix_en, spatial, dong = _place_phrases(rng, place)

    cadence = _weighted(rng, fam["cadence"])
    published = ctx.now - timedelta(days=1826 * rng.random() ** 1.4, seconds=rng.randint(0, 86399))
    year = published.year - (1 if rng.random() < 0.3 else 0)
    title_year = f"{year}년 " if family == "stats" and rng.random() < 0.25 else ""
    title_ko = " ".join(p for p in (title_year + prefix, subject_ko, suffix_ko) if p).strip()
    if rng.random() < 0.04:
        title_ko += f"({year - rng.randint(2, 5)}~{year})"
    title_ko = title_ko[:200]

    private = pub.data_kind == "private"
    has_en = rng.random() < (0.7 if private else 0.45)
    title_en = f"{subject_en[0].upper()}{subject_en[1:]} in {prefix_en}" + (f" ({suffix_en})" if suffix_en else "")
    title_en = title_en[:200] if has_en else ""

    cols = _columns(rng, family, subject)
    col_names = [c[0] for c in cols]
    # Description: 2–4 sentences.
    org = pub.name_ko
    where = prefix or "전국"
    s1 = _weighted(
        rng,
        [
            (f"{where}의 {_josa(about, '을', '를')} 제공합니다.", 3),
            (f"{org}에서 관리하는 {where} {about} 데이터입니다.", 3),
            (
                f"{' '.join(filter(None, (where, subject_ko, suffix_ko)))} 자료로, {_josa(about, '을', '를')} 담고 있습니다.",
                2,
            ),
        ],
    )
    if private:
        s1 = f"{_josa(org, '이', '가')} {'전국 단위로' if where == '전국' else where + ' 일대에서'} 수집·가공한 {about}입니다."
    method = rng.choice(fam["method"])
    listed = ", ".join(col_names[:4])
    if cadence == "none":
        s2 = f"{_josa(method, '으로', '로')} 한 번 작성한 자료이며, {listed} 등 {len(col_names)}개 항목으로 구성됩니다."
    else:
        s2 = f"{V.CADENCE_KO[cadence]} {_josa(method, '으로', '로')} 갱신되며, {listed} 등 {len(col_names)}개 항목으로 구성됩니다."
    sentences = [s1, s2]
    if rng.random() < 0.7:
        uses = rng.sample(V.USES[theme], min(2, len(V.USES[theme])))
        sentences.append(f"{', '.join(uses)} 등에 활용할 수 있습니다.")
    if rng.random() < 0.35:
        sentences.append(rng.choice(V.CAVEATS))
    if private and rng.random() < 0.6:
        sentences.append("원자료의 이상치를 제거하고 결측값을 보정한 가공 데이터입니다.")
    if family == "facility" and rng.random() < 0.3:
        sentences.append("시설별 운영 현황은 분기마다 갱신합니다.")
    sentences = sentences[:4]
    description_ko = " ".join(sentences)
    description_en = ""
    if has_en and rng.random() < 0.6:
        description_en = f"{subject_en[0].upper()}{subject_en[1:]} for {prefix_en}, updated {CADENCE_EN[cadence]}."
        if rng.random() < 0.5:
            description_en += (
                f" Columns include {', '.join(c for c in col_names if c.isascii())[:80] or 'dates and values'}."
            )

    tags = list(subject_tags[: rng.randint(2, len(subject_tags))])
    if place and not national and rng.random() < 0.5:
        tags.append(place[3] or place[0])
    if rng.random() < 0.3:
        tags.append(ctx.themes[theme][1])
    if family in ("sensor", "realtime") and rng.random() < 0.4:
        tags.append(rng.choice(["IoT", "실시간", "센서"]))
    if family == "facility" and rng.random() < 0.3:
        tags.append(rng.choice(["공간정보", "위치정보", "표준데이터"]))
    if rng.random() < 0.15:
        tags.append("스마트시티")
    tags = list(dict.fromkeys(t[:40] for t in tags))[:10]

    # Licence and offers, by the law of the data (catalog.services.offers, review.submission_problems).
    if private:
        licence = _weighted(rng, [("cc-by-4.0", 3), ("cc-by-nc-4.0", 3), ("cc-by-nd-4.0", 1), ("cc-by-sa-4.0", 1)])
    else:
        licence = _weighted(rng, [("kogl-1", 14), ("kogl-3", 3), ("cc-by-4.0", 2), ("cc0-1.0", 1)])
    offers = []
    if private:
        contract = rng.choice(CONTRACTS)
        kind = _weighted(rng, [("paid", 4), ("sub", 3), ("both", 2), ("free", 1)])
        if kind in ("paid", "both"):
            price = rng.choice([5, 10, 30, 50, 100, 300, 500, 1000, 3000]) * 10_000
            offers.append(("one_off", price, None, "", contract, "데이터산업법"))
        if kind in ("sub", "both"):
            days = rng.choice([30, 90, 365])
            price = rng.choice([3, 5, 10, 30, 90]) * 10_000 * max(1, days // 30)
            offers.append(("subscription", price, days, "", contract, "데이터산업법"))
        if kind == "free":
            offers.append(("free", 0, None, "", "", "데이터산업법"))
    else:
        offers.append(("free", 0, None, "", "", "공공데이터법"))
        if cadence in ("realtime", "daily") and rng.random() < 0.12:
            days = rng.choice([90, 365])
            offers.append(
                (
                    "subscription",
                    rng.choice([1, 3, 5]) * 10_000 * (days // 90),
                    days,
                    "실시간 자료 가공·전송 시스템 유지비 (1건당 비용 기준)",
                    "",
                    "공공데이터법",
                )
            )
        elif rng.random() < 0.05:
            offers.append(
                (
                    "one_off",
                    rng.choice([1, 2, 5]) * 10_000,
                    None,
                    "대용량 원자료 추출·가공 및 전송 비용 (1회 제공 기준)",
                    "",
                    "공공데이터법",
                )
            )
    price_types = sorted({{"free": "free", "one_off": "paid", "subscription": "subscription"}[o[0]] for o in offers})

    formats = list(_weighted(rng, fam["formats"]))
    rows = int(math.exp(rng.uniform(math.log(fam["rows"][0]), math.log(fam["rows"][1]))))
    when = datetime(published.year, published.month, 1) - timedelta(days=30)
    rich = rng.random() < ctx.rich_files_ratio
    files = []
    for fmt in formats:
        fields, schema_text = _schema(tuple(cols), fmt)
        encoding = "" if fmt == "xlsx" else ("cp949" if fmt in ("csv", "tsv") and rng.random() < 0.4 else "utf-8")
        size = max(2_000, int(rows * len(fields) * rng.uniform(6, 14)))
        f = {
            "format": fmt,
            "name": f"{title_ko.replace(' ', '_')[:120]}.{FORMAT_EXT[fmt]}",
            "size": size,
            "sha256": hashlib.sha256(f"{ctx.seed}-{dataset_id}-{fmt}".encode()).hexdigest(),
            "encoding": encoding,
            "delimiter": "\t" if fmt == "tsv" else "," if fmt in ("csv", "xlsx", "json", "geojson") else "",
            "rows": rows,
            "fields": fields,
            "schema": schema_text,
            "geo": None,
            "profile": None,
            "preview": None,
        }
        if fmt == "geojson":
            f["geo"] = {
                "bbox_wgs84": [
                    round(place[6] - 0.06, 6),
                    round(place[5] - 0.05, 6),
                    round(place[6] + 0.06, 6),
                    round(place[5] + 0.05, 6),
                ],
                "crs": "EPSG:4326",
                "geometry_types": {"Point": rows},
                "features": rows,
            }
        if rich:
            f["profile"], f["preview"] = _report(rng, cols, rows, place, dong, when, subject, fmt)
        files.append(f)
    columns_all = [fl["name"] for f in files for fl in f["fields"]]

    contact = f"{rng.choice(V.SURNAMES)}{rng.choice(V.GIVEN)}" + ("" if private else " 주무관")
    department = (
        rng.choice(pub.departments) if pub.departments and rng.random() < 0.8 else ("데이터사업팀" if private else "")
    )
    bbox = None
    if spatial and spatial != "전국" and rng.random() < 0.5:
        bbox = [
            round(place[6] - 0.06, 6),
            round(place[5] - 0.05, 6),
            round(place[6] + 0.06, 6),
            round(place[5] + 0.05, 6),
        ]
    downloads = int((rng.paretovariate(1.16) - 1) * 8 * (1 + (ctx.now - published).days / 365))
    return {
        "publisher": pub,
        "theme": theme,
        "title_ko": title_ko,
        "title_en": title_en,
        "description_ko": description_ko,
        "description_en": description_en,
        "sentences": sentences,
        "tags": tags,
        "department": department,
        "contact_name": contact,
        "contact_phone": f"{pub.phone}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
        "contact_email": f"data{rng.randint(1, 99)}@{pub.slug}.example",
        "cadence": cadence,
        "spatial_area": spatial,
        "bbox": bbox,
        "temporal_start": (published - timedelta(days=rng.randint(30, 3650))).date()
        if cadence != "none" or rng.random() < 0.5
        else None,
        "temporal_end": published.date() if cadence in ("none", "yearly") else None,
        "legal_basis": "" if private else V.LEGAL_BASIS.get(theme, V.LEGAL_DEFAULT),
        "collection_method": method,
        "data_kind": "private" if private else "public",
        "licence": licence,
        "published": published,
        "downloads": min(downloads, 2_000_000),
        "offers": offers,
        "price_types": price_types,
        "files": files,
        "formats": sorted(set(formats)),
        "columns": columns_all,
        "data_limits": rng.choice(V.CAVEATS) if rng.random() < 0.3 else "",
    }


_PLACE_CUM = _cumulative(PLACE_WEIGHTS)


# --- Batches ------------------------------------------------------------------------------------------------


def _tables():

    return {
        "dataset": Table(
            Dataset,
            ["id", "slug", "publisher_id", "listing", "download_count", "created_by_id", "created_at", "updated_at"],
        ),
        "version": Table(
            DatasetVersion,
            [
                "id",
                "dataset_id",
                "number",
                "state",
                "change_note",
                "title_ko",
                "title_en",
                "description_ko",
                "description_en",
                "theme_id",
                "tags",
                "department",
                "contact_name",
                "contact_phone",
                "contact_email",
                "update_cadence",
                "spatial_area",
                "spatial_bbox",
                "temporal_start",
                "temporal_end",
                "legal_basis",
                "collection_method",
                "data_kind",
                "licence_id",
                "data_limits",
                "notes",
                "pii_justification",
                "created_by_id",
                "created_at",
                "updated_at",
                "submitted_at",
                "published_at",
            ],
        ),
        "offer": Table(
            Offer,
            [
                "dataset_id",
                "kind",
                "price_krw",
                "subscription_days",
                "cost_basis",
                "contract_type",
                "rule",
                "active",
                "created_at",
            ],
        ),
        "datafile": Table(
            DataFile,
            [
                "version_id",
                "file",
                "original_name",
                "format",
                "size",
                "sha256",
                "check_state",
                "check_stage",
                "check_progress",
                "check_messages",
                "check_started_at",
                "checked_at",
                "encoding",
                "delimiter",
                "row_count",
                "column_count",
                "table_schema",
                "profile",
                "preview",
                "pii_findings",
                "geo",
                "created_at",
            ],
        ),
        "entry": Table(
            CatalogEntry,
            [
                "dataset_id",
                "version_id",
                "title_ko",
                "title_en",
                "publisher_id",
                "theme_id",
                "licence_id",
                "formats",
                "price_types",
                "tags",
                "update_cadence",
                "area",
                "published_at",
                "download_count",
                "facet_keys",
                "sort_keys",
                "price_from_krw",
                "subscription_prices",
            ],
            exclude=("search_vector",),
        ),
    }


# The search document of an entry in catalog.search.version_vector's order: (Korean, English) × weights A–D.
DOC_COLUMNS = ["doc_a_ko", "doc_a_en", "doc_b_ko", "doc_b_en", "doc_c_ko", "doc_c_en", "doc_d_ko", "doc_d_en"]


_hangul = lru_cache(maxsize=1 << 17)(hangul_document)
_latin = lru_cache(maxsize=1 << 17)(latin_document)


def search_documents(
    title_ko, title_en, tags, publisher_ko, publisher_en, department, description_ko, description_en, theme_ko, columns
) -> list[str]:
    """The eight documents version_vector builds (title A; tags, publisher, department B; description, theme C;
    column names D), each as catalog.search.hangul_document / latin_document makes it.

    Texts are taken piece by piece (tag by tag, column by column, a description sentence by sentence when given
    as a list), each piece's document cached: neither a Hangul run nor a Latin word crosses the spaces that join
    the pieces, so joining the pieces' documents gives exactly the whole text's document."""
    description = description_ko if isinstance(description_ko, list) else [description_ko]
    parts = [
        [title_ko, title_en],
        [*tags, publisher_ko, publisher_en, department],
        [*description, description_en, theme_ko],
        list(dict.fromkeys(columns)),  # as version_vector: a table offered as CSV and JSON has its columns once
    ]
    docs = []
    for pieces in parts:
        docs.append(" ".join(d for d in map(_hangul, pieces) if d))
        docs.append(" ".join(d for d in map(_latin, pieces) if d))
    return docs


def vector_sql(alias: str = "s") -> str:
    """The SQL of catalog.search.version_vector over the staged documents: the same configs, weights,
    COALESCE and nesting of `||` as the expression Django compiles from it."""
    terms = []
    for weight, (ko, en) in zip("ABCD", zip(DOC_COLUMNS[::2], DOC_COLUMNS[1::2])):
        terms.append(
            f"(setweight(to_tsvector('simple'::regconfig, COALESCE({alias}.{ko}, '')), '{weight}') || "
            f"setweight(to_tsvector('english'::regconfig, COALESCE({alias}.{en}, '')), '{weight}'))"
        )
    expr = terms[0]
    for term in terms[1:]:
        expr = f"({expr} || {term})"
    return expr


def generate_batch(job) -> dict[str, str]:
    """COPY text of one batch for every table: the work a worker process does (no database access)."""
    ctx, tables, batch_no, ids = job
    rng = random.Random(f"{ctx.seed}-{batch_no}")
    pub_cum = _cumulative([p.weight for p in ctx.publishers])
    out = {name: io.StringIO() for name in ("dataset", "version", "offer", "datafile", "entry")}
    theme_ids = ctx.themes
    for dataset_id, version_id in ids:
        d = make_dataset(rng, ctx, pub_cum, dataset_id, version_id)
        pub = d["publisher"]
        published = d["published"]
        created = published - timedelta(days=rng.randint(3, 60), seconds=rng.randint(0, 86399))
        submitted = published - timedelta(hours=rng.randint(2, 72))
        theme_id, theme_ko = theme_ids[d["theme"]]
        licence_id = ctx.licences[d["licence"]]
        out["dataset"].write(
            tables["dataset"].line(
                [
                    dataset_id,
                    f"{SEED_PREFIX}{dataset_id}",
                    pub.id,
                    "active",
                    d["downloads"],
                    ctx.user_id,
                    created,
                    published,
                ]
            )
        )
        out["version"].write(
            tables["version"].line(
                [
                    version_id,
                    dataset_id,
                    1,
                    "published",
                    "",
                    d["title_ko"],
                    d["title_en"],
                    d["description_ko"],
                    d["description_en"],
                    theme_id,
                    d["tags"],
                    d["department"],
                    d["contact_name"],
                    d["contact_phone"],
                    d["contact_email"],
                    d["cadence"],
                    d["spatial_area"],
                    Json(d["bbox"]),
                    d["temporal_start"],
                    d["temporal_end"],
                    d["legal_basis"],
                    d["collection_method"],
                    d["data_kind"],
                    licence_id,
                    d["data_limits"],
                    "",
                    "",
                    ctx.user_id,
                    created,
                    published,
                    submitted,
                    published,
                ]
            )
        )
        for kind, price, days, basis, contract, rule in d["offers"]:
            out["offer"].write(
                tables["offer"].line([dataset_id, kind, price, days, basis, contract, rule, True, created])
            )
        for n, f in enumerate(d["files"]):
            checked = created + timedelta(minutes=5 + n)
            out["datafile"].write(
                tables["datafile"].line(
                    [
                        version_id,
                        f"seed/{dataset_id}/{n + 1}.{FORMAT_EXT[f['format']]}",
                        f["name"],
                        f["format"],
                        f["size"],
                        f["sha256"],
                        "passed",
                        "done",
                        100,
                        Json([]),
                        checked - timedelta(minutes=2),
                        checked,
                        f["encoding"],
                        f["delimiter"],
                        f["rows"],
                        len(f["fields"]),
                        f["schema"],
                        Json(f["profile"]),
                        Json(f["preview"]),
                        Json([]),
                        Json(f["geo"]),
                        created + timedelta(seconds=n),
                    ]
                )
            )
        docs = search_documents(
            d["title_ko"],
            d["title_en"],
            d["tags"],
            pub.name_ko,
            pub.name_en,
            d["department"],
            d["sentences"],
            d["description_en"],
            theme_ko,
            d["columns"],
        )
        area = " ".join(d["spatial_area"].split()[:2])[:60]  # catalog.services.entries.area_of
        out["entry"].write(
            tables["entry"].line(
                [
                    dataset_id,
                    version_id,
                    d["title_ko"],
                    d["title_en"],
                    pub.id,
                    theme_id,
                    licence_id,
                    d["formats"],
                    d["price_types"],
                    d["tags"],
                    d["cadence"],
                    area,
                    published,
                    d["downloads"],
                    facet_keys(
                        dataset_id=dataset_id,
                        theme_id=theme_id,
                        publisher_id=pub.id,
                        licence_id=licence_id,
                        cadence=d["cadence"],
                        area=area,
                        formats=d["formats"],
                        price_types=d["price_types"],
                        tags=d["tags"],
                        sample_levels=ctx.sample_levels,
                    ),
                    sort_keys(d["downloads"], published),
                    *_entry_prices(d["offers"]),
                ]
            )[:-1]
            + "\t"
            + "\t".join(copy_value(x) for x in docs)
            + "\n"
        )
    return {name: buf.getvalue() for name, buf in out.items()}


# --- Loading ------------------------------------------------------------------------------------------------


def seeded_counts() -> dict[str, int]:

    return {
        "datasets": Dataset.objects.filter(publisher__slug__startswith=SEED_PREFIX).count(),
        "entries": CatalogEntry.objects.filter(publisher__slug__startswith=SEED_PREFIX).count(),
        "real_datasets": Dataset.objects.exclude(publisher__slug__startswith=SEED_PREFIX).count(),
    }


def _reserve_ids(cursor, table: str, n: int) -> list[int]:
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (seq,) = cursor.fetchone()
    cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [seq, n])
    return [r[0] for r in cursor.fetchall()]


def _entry_indexes():
    """(name, CREATE sql, DROP sql) of the catalog entry's declared indexes (Meta.indexes)."""
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        return [
            (idx.name, str(idx.create_sql(CatalogEntry, editor)), str(idx.remove_sql(CatalogEntry, editor)))
            for idx in CatalogEntry._meta.indexes
        ]


def _existing_indexes(cursor, table) -> set[str]:
    cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
    return {r[0] for r in cursor.fetchall()}


def restore_indexes(log=print) -> list[str]:
    """Create any declared index of the catalog entry that is missing (after an interrupted load)."""
    created = []
    with connection.cursor() as cursor:
        present = _existing_indexes(cursor, CatalogEntry._meta.db_table)
        missing = [(name, create) for name, create, _drop in _entry_indexes() if name not in present]
        if missing:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            if connection.in_atomic_block:  # inside a caller's transaction: run deferred FK checks before the DDL
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name, create in missing:
            t0 = time.perf_counter()
            cursor.execute(create)
            created.append(name)
            log(f"  index {name}: {time.perf_counter() - t0:.1f}s")
    return created


@dataclass
class SeedResult:
    n: int
    seconds: float
    generate_seconds: float = 0.0
    load_seconds: float = 0.0
    python_cpu_seconds: float = 0.0  # loaders' own CPU (generating rows, sending COPY data)
    db_cpu_seconds: float | None = 0.0  # their PostgreSQL backends' CPU, when measurable
    index_seconds: float = 0.0
    vacuum_seconds: float = 0.0
    rows: dict = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.n / self.seconds if self.seconds else 0.0


STAGE = "seed_entry_stage"


def _load_sql(tables) -> tuple[str, str]:
    """(COPY into the staging table, INSERT … SELECT from it into the catalog entries with the search vector)."""
    quoted = [f'"{c}"' for c in tables["entry"].all_columns]
    copy = f"COPY {STAGE} ({', '.join(quoted + DOC_COLUMNS)}) FROM STDIN"
    insert = (
        f'INSERT INTO {CatalogEntry._meta.db_table} ({", ".join(quoted)}, "search_vector") '
        f"SELECT {', '.join('s.' + c for c in quoted)}, {vector_sql('s')} FROM {STAGE} s"
    )
    return copy, insert


def _ensure_stage(cursor) -> None:
    """The session's staging table for catalog entries: the entry's columns, the eight documents instead of the vector."""
    cursor.execute("SELECT to_regclass(%s)", [f"pg_temp.{STAGE}"])
    if cursor.fetchone()[0] is None:
        cursor.execute(f"CREATE TEMP TABLE {STAGE} (LIKE {CatalogEntry._meta.db_table})")
        cursor.execute(
            f"ALTER TABLE {STAGE} DROP COLUMN search_vector, "
            + ", ".join(f"ADD COLUMN {c} text NOT NULL" for c in DOC_COLUMNS)
        )


def load_batch(job) -> dict[str, float]:
    """Generate one batch and load it in one transaction: COPY into the four tables and the staging table,
    then INSERT … SELECT the catalog entries (PostgreSQL computes their vectors). Returns counts and timings."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    batch = generate_batch(job)
    t1, cpu1 = time.perf_counter(), time.process_time()
    tables = job[1]
    copy_stage, insert = _load_sql(tables)
    with transaction.atomic(), connection.cursor() as cursor:
        _ensure_stage(cursor)
        db_cpu0 = _backend_cpu(cursor)
        raw = cursor.cursor  # psycopg2's own cursor, for COPY
        for name in ("dataset", "version", "offer", "datafile"):
            raw.copy_expert(tables[name].copy_sql(), io.StringIO(batch[name]))
        raw.copy_expert(copy_stage, io.StringIO(batch["entry"]))
        cursor.execute(insert)
        cursor.execute(f"TRUNCATE {STAGE}")
    db_cpu = _backend_cpu(cursor)  # after the commit: FK checks run then
    return {
        "datasets": batch["dataset"].count("\n"),
        "offers": batch["offer"].count("\n"),
        "datafiles": batch["datafile"].count("\n"),
        "generate": t1 - t0,
        "load": time.perf_counter() - t1,
        "generate_cpu": cpu1 - cpu0,
        "load_cpu": time.process_time() - cpu1,
        "db_cpu": db_cpu - db_cpu0 if db_cpu is not None and db_cpu0 is not None else None,
    }


def _backend_cpu(cursor=None) -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend (when the server runs on this machine):
    on a busy machine, CPU time per row says more than wall time."""
    try:
        if cursor is None or cursor.closed:
            with connection.cursor() as fresh:
                return _backend_cpu(fresh)
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _worker_init():
    """A forked loader: opens its own database connection (the parent closed its own before forking) and
    dies with the parent (Linux), so an interrupted seeding leaves no loader behind."""

    for conn in connections.all(initialized_only=True):
        conn.connection = None
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def seed(
    n: int,
    *,
    seed: int = 1,
    files_ratio: float = 0.0,
    batch_size: int = 10_000,
    workers: int = 2,
    defer_indexes: bool | None = None,
    vacuum: bool = True,
    log=print,
) -> SeedResult:
    """Seed n published datasets in batches of batch_size.

    workers=0 generates and loads in this process (inside a caller's transaction, e.g. a test's); workers ≥ 1
    forks that many loader processes, each generating a batch and loading it through its own connection, so
    one's Python work overlaps another's PostgreSQL work (2 suit 2 cores). The data depends on n, seed,
    files_ratio and batch_size only (each batch has its own random stream), not on workers."""

    started = time.perf_counter()
    if n <= 0:
        return SeedResult(n=0, seconds=0.0)
    if workers and connection.in_atomic_block:
        workers = 0  # other connections could not see this transaction's rows
    restore_indexes(log)
    with transaction.atomic():
        user, publishers = ensure_publishers(seed)
    ctx = Context(
        seed=seed,
        user_id=user.pk,
        now=datetime.now(UTC).replace(microsecond=0),
        publishers=publishers,
        themes={t.code: (t.pk, t.name_ko) for t in Theme.objects.all()},
        licences=dict(Licence.objects.filter(organization=None).values_list("code", "id")),
        rich_files_ratio=files_ratio,
        sample_levels=tuple(settings.CATALOG_SAMPLE_LEVELS),
    )
    missing = {t for p in publishers for t in p.themes} - set(ctx.themes)
    if missing or not {"kogl-1", "kogl-3", "cc-by-4.0", "cc-by-nc-4.0", "cc0-1.0"} <= set(ctx.licences):
        raise SeedError("Themes or licences of the reference data are missing: run migrate first.")
    tables = _tables()
    entry_table = CatalogEntry._meta.db_table
    with connection.cursor() as cursor:
        dataset_ids = _reserve_ids(cursor, "catalog_dataset", n)
        version_ids = _reserve_ids(cursor, "catalog_datasetversion", n)
        cursor.execute(f"SELECT count(*) FROM {entry_table}")
        (existing,) = cursor.fetchone()
    if defer_indexes is None:
        defer_indexes = n >= 20_000 and n >= existing
    index_plan = _entry_indexes() if defer_indexes else []
    pairs = list(zip(dataset_ids, version_ids))
    jobs = [(ctx, tables, b, pairs[i : i + batch_size]) for b, i in enumerate(range(0, n, batch_size))]
    result = SeedResult(n=n, seconds=0.0)
    rows = {"datasets": 0, "offers": 0, "datafiles": 0}
    pool = None
    try:
        if index_plan:
            with connection.cursor() as cursor:
                present = _existing_indexes(cursor, entry_table)
                for name, _create, drop in index_plan:
                    if name in present:
                        cursor.execute(drop)
        if workers > 0:
            connections.close_all()
            pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_init)
            outcomes = pool.imap_unordered(load_batch, jobs)
        else:
            outcomes = map(load_batch, jobs)
        for outcome in outcomes:
            for key in rows:
                rows[key] += outcome[key]
            result.generate_seconds += outcome["generate"]
            result.load_seconds += outcome["load"]
            result.python_cpu_seconds += outcome["generate_cpu"] + outcome["load_cpu"]
            if outcome["db_cpu"] is None or result.db_cpu_seconds is None:
                result.db_cpu_seconds = None
            else:
                result.db_cpu_seconds += outcome["db_cpu"]
            done = rows["datasets"]
            log(f"  {done:>9,} / {n:,} datasets  {done / (time.perf_counter() - started):8,.0f} rows/s")
        if pool is not None:
            pool.close()
            pool.join()
            pool = None
        # Entries written here carry no title keys: a title bucket set is built anew (it keys every entry) when one
        # exists, and for a large catalog as the daily task would; before the indexes come back (none to update).
        if TitleBucketSet.objects.exists() or existing + n >= settings.CATALOG_TITLE_BUCKETS_FROM:
            t0 = time.perf_counter()
            title_buckets_build()
            log(f"  title buckets: {time.perf_counter() - t0:.1f}s")
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        if index_plan:
            t0 = time.perf_counter()
            restore_indexes(log)
            result.index_seconds = time.perf_counter() - t0
    _catalog_changed()
    if vacuum:
        t0 = time.perf_counter()
        # VACUUM cannot run inside a transaction (e.g. a test's): then ANALYZE only.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
        with connection.cursor() as cursor:
            for table in (
                "catalog_dataset",
                "catalog_datasetversion",
                "catalog_offer",
                "catalog_datafile",
                entry_table,
            ):
                cursor.execute(f"{command} {table}")
        result.vacuum_seconds = time.perf_counter() - t0
    result.rows = rows
    result.seconds = time.perf_counter() - started
    return result


def clear(log=print) -> dict[str, int]:
    """Remove every seeded dataset (with its versions, files, offers and entry), organization and the seed user."""
    counts = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE seed_clear_orgs ON COMMIT DROP AS "
            "SELECT id FROM accounts_organization WHERE slug LIKE %s",
            [SEED_PREFIX.replace("_", "\\_") + "%"],
        )
        cursor.execute(
            "CREATE TEMP TABLE seed_clear_datasets ON COMMIT DROP AS "
            "SELECT id FROM catalog_dataset WHERE publisher_id IN (SELECT id FROM seed_clear_orgs)"
        )
        cursor.execute("CREATE INDEX ON seed_clear_datasets (id)")
        cursor.execute("ANALYZE seed_clear_datasets")
        statements = [
            ("entries", "DELETE FROM catalog_catalogentry WHERE dataset_id IN (SELECT id FROM seed_clear_datasets)"),
            ("offers", "DELETE FROM catalog_offer WHERE dataset_id IN (SELECT id FROM seed_clear_datasets)"),
            (
                "datafiles",
                "DELETE FROM catalog_datafile WHERE version_id IN (SELECT v.id FROM catalog_datasetversion v "
                "JOIN seed_clear_datasets d ON d.id = v.dataset_id)",
            ),
            ("versions", "DELETE FROM catalog_datasetversion WHERE dataset_id IN (SELECT id FROM seed_clear_datasets)"),
            ("datasets", "DELETE FROM catalog_dataset WHERE id IN (SELECT id FROM seed_clear_datasets)"),
        ]
        for name, sql in statements:
            t0 = time.perf_counter()
            cursor.execute(sql)
            counts[name] = cursor.rowcount
            log(f"  {name}: {cursor.rowcount:,} removed ({time.perf_counter() - t0:.1f}s)")
        orgs = Organization.objects.filter(slug__startswith=SEED_PREFIX)
        departments = orgs.filter(parent__isnull=False)
        counts["organizations"] = departments.count()
        departments.delete()
        counts["organizations"] += orgs.count()
        orgs.delete()
        User.objects.filter(email=SEED_USER_EMAIL).delete()
    _catalog_changed()
    return counts


def _catalog_changed():
    """Counts the catalog cached for its previous contents are stale now (services do this on every change)."""
    bump_generation_on_commit()
