"""CKAN's package, resource, organization, group, tag and licence dictionaries, built from what the catalog shows.

What is public is exactly what the catalog shows anonymous visitors: a dataset with a catalog entry (published
version, active listing), the files of that published version (top-level files: what a package ships; never a
draft's, never a withdrawn version's), the link resources of a harvested listing (ExternalResource), the publishing
organizations, the themes (분류체계) as CKAN groups, the licences.

package_dicts() is BATCHED: a page of up to 1000 packages costs the same queries as one (entries with their
version, dataset, publisher, theme and licence; files; link resources and harvest records when the page has
harvested listings; nothing per package).

CKAN's field names throughout; what CKAN has no field for is in `extras` ([{key, value}], values as strings,
sorted by key as CKAN sorts them). Korean is the primary language (`title`, `notes`); both languages are in
`title_translated` / `notes_translated` ({"ko", "en"}), the convention of ckanext-fluent and ckanext-scheming.
"""

import json
import uuid
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from types import SimpleNamespace

from django.conf import settings
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.urls import reverse

from accounts.models import Organization
from catalog.harvest.models import ExternalResource, HarvestedDataset
from catalog.interop import OPEN_LICENCES, ckan_licence_id, object_uuid, public_source_url
from catalog.models import CatalogEntry, DataFile, DatasetVersion, Licence, Theme
from catalog.pricing import price_of
from catalog.selectors import SAMPLE_CHECK_STATES, valid_bbox

MEDIA_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "geojson": "application/geo+json",
    "zip": "application/zip",
}
_TAG_NAMESPACE = uuid.UUID("6f1b3c5e-2f4d-5a8e-9c7b-1d2e3f4a5b6c")  # tag ids: uuid5 of the portal and the tag


def site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def iso(value) -> str | None:
    """CKAN's timestamps: ISO 8601 in UTC without a zone ("2024-05-01T09:30:00.123456")."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@cache
def _path(name: str) -> str:
    """A URL pattern's path with the slug as a placeholder: reverse() once, not a thousand times a page."""
    return reverse(name, args=["__slug__"])


def slug_url(name: str, slug: str) -> str:
    return site(_path(name).replace("__slug__", slug))  # slugs are URL-safe ([-a-zA-Z0-9_])


def dataset_url(slug: str) -> str:
    return slug_url("catalog:dataset", slug)


# --- organizations, groups, tags, licences ------------------------------------------------------------------------


def organization_dict(org: Organization, *, package_count: int | None = None) -> dict:
    """A publisher as CKAN's organization (name = its slug)."""
    result = {
        "id": object_uuid("organization", org.pk),
        "name": org.slug,
        "title": org.name_ko,
        "display_name": org.name_ko,
        "title_translated": {"ko": org.name_ko, "en": org.name_en or org.name_ko},
        "type": "organization",
        "description": org.description,
        "image_url": "",
        "image_display_url": "",
        "created": iso(org.created_at),
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
        "url": slug_url("catalog:organization", org.slug),
    }
    if package_count is not None:
        result["package_count"] = package_count
    return result


def group_dict(theme: Theme, *, package_count: int | None = None) -> dict:
    """A theme of the 분류체계 as CKAN's group (name = the theme's code)."""
    result = {
        "id": object_uuid("theme", theme.pk),
        "name": theme.code,
        "title": theme.name_ko,
        "display_name": theme.name_ko,
        "title_translated": {"ko": theme.name_ko, "en": theme.name_en},
        "description": "",
        "image_url": "",
        "image_display_url": "",
    }
    if package_count is not None:
        result |= {
            "type": "group",
            "is_organization": False,
            "approval_status": "approved",
            "state": "active",
            "created": None,
            "package_count": package_count,
        }
    return result


@lru_cache(maxsize=50_000)
def _tag_id(site_url: str, name: str) -> str:
    return str(uuid.uuid5(_TAG_NAMESPACE, f"{site_url.rstrip('/')}|{name}"))


def tag_dict(name: str) -> dict:
    """A keyword as CKAN's tag; its id is stable (a name-based UUID of this portal and the keyword)."""
    return {
        "id": _tag_id(settings.SITE_URL, name),
        "name": name,
        "display_name": name,
        "state": "active",
        "vocabulary_id": None,
    }


def licence_dict(licence: Licence) -> dict:
    """A licence as CKAN's license_list gives it (our own ids for 공공누리 and contract licences; always a url)."""
    is_open = licence.code in OPEN_LICENCES
    return {
        "id": ckan_licence_id(licence.code),
        "title": licence.name_ko,
        "title_translated": {"ko": licence.name_ko, "en": licence.name_en},
        "url": licence.url or site("/"),
        "status": "active",
        "maintainer": "",
        "family": licence.family,
        "od_conformance": "approved" if is_open else "not reviewed",
        "osd_conformance": "not reviewed",
        "is_okd_compliant": is_open,
        "is_osi_compliant": False,
        "is_generic": False,
        "domain_content": True,
        "domain_data": True,
        "domain_software": False,
    }


# --- resources ----------------------------------------------------------------------------------------------------


def file_resource_dict(f: DataFile, *, slug: str, package_id: str, position: int, published_at) -> dict:
    """A public file of the published version. `url` is where the dataset page offers it (its section on the page:
    buy or take it there); never a storage address. A file with free sample rows also has `sample_url`."""
    page = dataset_url(slug)
    fmt = (f.format or "").upper()
    result = {
        "id": object_uuid("datafile", f.pk),
        "package_id": package_id,
        "url": f"{page}#file-{f.pk}",
        "name": f.original_name,
        "description": "",
        "format": "GeoJSON" if fmt == "GEOJSON" else fmt,
        "mimetype": MEDIA_TYPES.get(f.format),
        "mimetype_inner": None,
        "size": f.size,
        "hash": f.sha256 or "",
        "created": iso(f.created_at),
        "last_modified": iso(f.checked_at or f.created_at),
        "metadata_modified": iso(published_at),
        "position": position,
        "resource_type": None,
        "url_type": None,
        "cache_url": None,
        "cache_last_updated": None,
        "state": "active",
        "datastore_active": False,
        "row_count": f.row_count,
        "column_count": f.column_count,
    }
    if f.has_sample:
        result["sample_url"] = slug_url("catalog:dataset_sample", slug) + f"?file={f.pk}"
    return result


def external_resource_dict(r: ExternalResource, *, package_id: str, position: int, published_at) -> dict:
    """A link resource of a harvested listing: it stays at its source (`url`)."""
    return {
        "id": str(r.uuid),
        "package_id": package_id,
        "url": r.url,
        "name": r.name,
        "description": r.description,
        "format": r.format,
        "mimetype": r.media_type or None,
        "mimetype_inner": None,
        "size": r.size,
        "hash": r.checksum,
        "created": iso(r.created_at),
        "last_modified": None,
        "metadata_modified": iso(published_at),
        "position": position,
        "resource_type": None,
        "url_type": None,
        "cache_url": None,
        "cache_last_updated": None,
        "state": "active",
        "datastore_active": False,
    }


FILE_FIELDS = (
    "id",
    "version_id",
    "original_name",
    "format",
    "size",
    "sha256",
    "created_at",
    "checked_at",
    "row_count",
    "column_count",
)


def _public_files(version_ids) -> dict[int, list[DataFile]]:
    """The top-level files of these published versions (what a package ships), in page order: one query."""
    has_sample = ExpressionWrapper(
        Q(check_state__in=SAMPLE_CHECK_STATES, preview__rows__0__isnull=False), output_field=BooleanField()
    )
    files = (
        DataFile.objects.filter(version_id__in=version_ids, parent__isnull=True)
        .annotate(has_sample=has_sample)
        .order_by("created_at", "id")
        .values(*FILE_FIELDS, "has_sample")
    )
    by_version: dict[int, list] = {}
    for row in files:
        f = SimpleNamespace(pk=row["id"], **row)
        by_version.setdefault(f.version_id, []).append(f)
    return by_version


def _external_resources(version_ids) -> dict[int, list[ExternalResource]]:
    by_version: dict[int, list[ExternalResource]] = {}
    for r in ExternalResource.objects.filter(version_id__in=version_ids).order_by("version", "position", "id"):
        by_version.setdefault(r.version_id, []).append(r)
    return by_version


# --- packages -----------------------------------------------------------------------------------------------------


def _extras(entry: CatalogEntry, version: DatasetVersion, harvest: HarvestedDataset | None) -> list[dict]:
    """What CKAN's package has no field for, as extras (string values; CKAN's "spatial" extra is GeoJSON, the
    convention of ckanext-spatial)."""
    publisher = entry.publisher
    values = {
        "data_kind": version.data_kind,
        "update_cadence": version.update_cadence,
        "spatial_area": version.spatial_area,
        "temporal_start": iso(version.temporal_start),
        "temporal_end": iso(version.temporal_end),
        "department": version.department,
        "legal_basis": version.legal_basis,
        "collection_method": version.collection_method,
        "contact_name": version.contact_name,
        "contact_phone": version.contact_phone,
        "contact_email": version.contact_email,
        "theme": entry.theme.code,
        "language": "ko",
        "price_types": ",".join(entry.price_types),
        "landing_page": dataset_url(entry.dataset.slug),
    }
    bbox = valid_bbox(version.spatial_bbox)
    if bbox:
        west, south, east, north = bbox
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        values["spatial"] = json.dumps({"type": "Polygon", "coordinates": [ring]})
        values["spatial_bbox"] = ",".join(str(v) for v in bbox)
    tax_free = publisher.vat_status == Organization.VatStatus.EXEMPT
    if entry.price_from_krw is not None:
        values["price_from_krw"] = str(price_of(int(entry.price_from_krw), tax_free=tax_free).total_krw)
    subscriptions = entry.subscription_prices
    if isinstance(subscriptions, str):
        subscriptions = json.loads(subscriptions)
    if subscriptions:
        values["subscription_prices_krw"] = json.dumps(
            [
                {"days": int(days), "price_krw": price_of(int(won), tax_free=tax_free).total_krw}
                for days, won in subscriptions
            ]
        )
    if entry.price_types or entry.price_from_krw is not None:
        values["price_currency"] = "KRW"
    if harvest is not None:
        values |= {
            "harvest_source_title": harvest.source.name,
            "harvest_source_url": public_source_url(harvest.source.url),
            "harvest_identifier": harvest.identifier,
            "harvest_record_url": harvest.source_url,
        }
    return [{"key": key, "value": str(value)} for key, value in sorted(values.items()) if value not in (None, "")]


def _once(shared: dict, key, build):
    if key not in shared:
        shared[key] = build()
    return shared[key]


def _package_dict(entry, files, externals, harvest, shared: dict) -> dict:
    version, dataset, publisher, theme, licence = (
        entry.version,
        entry.dataset,
        entry.publisher,
        entry.theme,
        entry.licence,
    )
    package_id = object_uuid("dataset", dataset.pk)
    resources = [
        file_resource_dict(f, slug=dataset.slug, package_id=package_id, position=i, published_at=entry.published_at)
        for i, f in enumerate(files)
    ]
    resources += [
        external_resource_dict(r, package_id=package_id, position=len(resources) + i, published_at=entry.published_at)
        for i, r in enumerate(externals)
    ]
    tags = [tag_dict(t) for t in dict.fromkeys(version.tags)]
    page = dataset_url(dataset.slug)
    return {
        "id": package_id,
        "name": dataset.slug,
        "title": version.title_ko,
        "title_translated": {"ko": version.title_ko, "en": version.title_en},
        "version": str(version.number),
        "url": (harvest.source_url if harvest is not None and harvest.source_url else page),
        "author": publisher.name_ko,
        "author_email": None,
        "maintainer": version.contact_name,
        "maintainer_email": version.contact_email,
        "notes": version.description_ko,
        "notes_translated": {"ko": version.description_ko, "en": version.description_en},
        "license_id": ckan_licence_id(licence.code if licence else None),
        "license_title": licence.name_ko if licence else "License not specified",
        "license_url": (licence.url or page) if licence else None,
        "isopen": bool(licence and licence.code in OPEN_LICENCES),
        "type": "dataset",
        "owner_org": object_uuid("organization", publisher.pk),
        "creator_user_id": None,
        "private": False,
        "state": "active",
        "metadata_created": iso(dataset.created_at),
        "metadata_modified": iso(entry.published_at),
        "num_resources": len(resources),
        "num_tags": len(tags),
        "extras": _extras(entry, version, harvest),
        "tags": tags,
        "groups": [_once(shared, ("theme", theme.pk), lambda: group_dict(theme))],
        "organization": _once(shared, ("organization", publisher.pk), lambda: organization_dict(publisher)),
        "relationships_as_subject": [],
        "relationships_as_object": [],
        "resources": resources,
    }


# What a package dict reads of its entry and the rows joined to it, as (name in the dict's builders, ORM path).
ENTRY_FIELDS = {
    "dataset": ("dataset_id:pk", "dataset__slug:slug", "dataset__created_at:created_at"),
    "version": tuple(
        f"version__{name}:{name}"
        for name in (
            "number", "title_ko", "title_en", "description_ko", "description_en", "tags", "department",
            "contact_name", "contact_phone", "contact_email", "update_cadence", "spatial_area", "spatial_bbox",
            "temporal_start", "temporal_end", "legal_basis", "collection_method", "data_kind",
        )
    ),
    "publisher": (
        "publisher_id:pk", "publisher__slug:slug", "publisher__name_ko:name_ko", "publisher__name_en:name_en",
        "publisher__description:description", "publisher__created_at:created_at", "publisher__vat_status:vat_status",
    ),
    "theme": ("theme_id:pk", "theme__code:code", "theme__name_ko:name_ko", "theme__name_en:name_en"),
    "licence": ("licence_id:pk", "licence__code:code", "licence__name_ko:name_ko", "licence__url:url"),
    "entry": (
        "dataset_id:dataset_id", "version_id:version_id", "published_at:published_at", "price_types:price_types",
        "price_from_krw:price_from_krw", "subscription_prices:subscription_prices",
    ),
}  # fmt: skip


def _entries(dataset_ids) -> list[SimpleNamespace]:
    """The catalog entries of these datasets with their version, dataset, publisher, theme and licence: one query of
    plain values (building 5,000 model instances for a page of 1000 cost more than the query)."""
    paths = {part: [f.split(":") for f in fields] for part, fields in ENTRY_FIELDS.items()}
    rows = (
        CatalogEntry.objects.filter(dataset_id__in=list(dataset_ids))
        # Whether the listing was harvested and has link resources: most pages have neither, and skip two queries.
        .annotate(
            harvested=Exists(HarvestedDataset.objects.filter(dataset_id=OuterRef("dataset_id"))),
            linked=Exists(ExternalResource.objects.filter(version_id=OuterRef("version_id"))),
        )
        .values_list(*(path for fields in paths.values() for path, _name in fields), "harvested", "linked")
    )
    entries = []
    for row in rows:
        values, i = {}, 0
        for part, fields in paths.items():
            values[part] = {name: row[i + j] for j, (_path, name) in enumerate(fields)}
            i += len(fields)
        entry = SimpleNamespace(**values["entry"])
        for part in ("dataset", "version", "publisher", "theme"):
            setattr(entry, part, SimpleNamespace(**values[part]))
        entry.licence = SimpleNamespace(**values["licence"]) if values["licence"]["pk"] is not None else None
        entry.harvested, entry.linked = row[-2], row[-1]
        entries.append(entry)
    return entries


def package_dicts(dataset_ids: list[int]) -> list[dict]:
    """The package dicts of these datasets, in the order given; datasets the catalog does not show are left out.
    Two queries whatever the number (entries with everything joined to them, files), and one more each when the
    page holds harvested listings (their records) or link resources."""
    if not dataset_ids:
        return []
    entries = {e.dataset_id: e for e in _entries(dataset_ids)}
    shared: dict = {}  # organization and group dicts, built once per page (they repeat)
    version_ids = [e.version_id for e in entries.values()]
    files = _public_files(version_ids)
    linked = [e.version_id for e in entries.values() if e.linked]
    externals = _external_resources(linked) if linked else {}
    harvested = [pk for pk, e in entries.items() if e.harvested]
    harvests = (
        {h.dataset_id: h for h in HarvestedDataset.objects.filter(dataset_id__in=harvested).select_related("source")}
        if harvested
        else {}
    )
    return [
        _package_dict(
            entries[pk],
            files.get(entries[pk].version_id, []),
            externals.get(entries[pk].version_id, []),
            harvests.get(pk),
            shared,
        )
        for pk in dataset_ids
        if pk in entries
    ]
