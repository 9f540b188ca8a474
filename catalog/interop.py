"""Identifiers and licence ids shared by the CKAN Action API (catalog.ckan), the DCAT-AP output (catalog.dcat) and
the harvester (catalog.harvest).

Identifiers. CKAN clients and harvesters key records by a package's `id`, a UUID in CKAN. Ours are RFC 9562
version-8 UUIDs that carry the kind of object and its primary key, under 48 bits naming this portal (a hash of
INTEROP_ID_NAMESPACE, which defaults to SITE_URL: set it once in production and keep it when the address changes,
or every harvester re-imports everything), so two exchanges never hand out the same id, and an id resolves
without a lookup table:

    [48 bits portal][4 bits version 8][12 bits kind][2 bits variant][62 bits primary key]

Licences. CKAN's own licence ids where one is the same licence (cc-by for CC BY 4.0 …); 공공누리 and contract
licences get ids of our own ("kogl-type1" …, or the licence's code), always with `license_url`.
"""

import hashlib
import uuid
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

KINDS = {"dataset": 0x001, "datafile": 0x002, "organization": 0x003, "theme": 0x004, "version": 0x005}
_KIND_NAMES = {v: k for k, v in KINDS.items()}
_PK_BITS = 62


def _portal_bits(site_url: str | None = None) -> int:
    site = (site_url or settings.INTEROP_ID_NAMESPACE or settings.SITE_URL).rstrip("/").lower()
    return int.from_bytes(hashlib.sha256(site.encode()).digest()[:6], "big")


def object_uuid(kind: str, pk: int, *, site_url: str | None = None) -> str:
    """The public UUID of object `pk` of `kind` ("dataset", "datafile", "organization", …) on this portal."""
    if not 0 <= pk < (1 << _PK_BITS):
        raise ValueError(f"primary key out of range: {pk}")
    value = (_portal_bits(site_url) << 80) | (0x8 << 76) | (KINDS[kind] << 64) | (0b10 << 62) | pk
    return str(uuid.UUID(int=value))


def parse_object_uuid(value: str, *, site_url: str | None = None) -> tuple[str, int] | None:
    """(kind, pk) of one of this portal's UUIDs; None for anything else (another portal's, random, not a UUID)."""
    try:
        number = uuid.UUID(str(value)).int
    except (ValueError, AttributeError, TypeError):
        return None
    if number >> 80 != _portal_bits(site_url) or (number >> 76) & 0xF != 0x8 or (number >> 62) & 0b11 != 0b10:
        return None
    kind = _KIND_NAMES.get((number >> 64) & 0xFFF)
    return (kind, number & ((1 << _PK_BITS) - 1)) if kind else None


# Our Licence.code → CKAN license_id. CKAN's default list has the CC ones; the rest are ids of our own.
CKAN_LICENCE_IDS = {
    "kogl-1": "kogl-type1",
    "kogl-2": "kogl-type2",
    "kogl-3": "kogl-type3",
    "kogl-4": "kogl-type4",
    "cc-by-4.0": "cc-by",
    "cc-by-sa-4.0": "cc-by-sa",
    "cc-by-nc-4.0": "cc-nc",
    "cc-by-nd-4.0": "cc-by-nd",
    "cc0-1.0": "cc-zero",
}
# Open licences in CKAN's sense (`isopen`): free use, commercial use and derivatives included (Open Definition).
OPEN_LICENCES = {"kogl-1", "cc-by-4.0", "cc-by-sa-4.0", "cc0-1.0"}


def ckan_licence_id(code: str | None) -> str:
    """CKAN's license_id for our licence code (its own code for contract licences; "notspecified" for none)."""
    if not code:
        return "notspecified"
    return CKAN_LICENCE_IDS.get(code, code)


def licence_code_for_ckan_id(license_id: str | None) -> str | None:
    """Our licence code for a CKAN license_id (ours or CKAN's common ids and their aliases); None if unknown."""
    if not license_id:
        return None
    value = license_id.strip().lower()
    reverse = {v: k for k, v in CKAN_LICENCE_IDS.items()}
    aliases = {
        "cc-by-4.0": "cc-by-4.0",
        "cc-by-sa-4.0": "cc-by-sa-4.0",
        "cc-by-nc-4.0": "cc-by-nc-4.0",
        "cc-by-nd-4.0": "cc-by-nd-4.0",
        "cc0-1.0": "cc0-1.0",
        "cc0": "cc0-1.0",
        "odc-pddl": "cc0-1.0",
        "kogl-1": "kogl-1",
        "kogl-2": "kogl-2",
        "kogl-3": "kogl-3",
        "kogl-4": "kogl-4",
    }
    return reverse.get(value) or aliases.get(value)


def public_source_url(url: str) -> str:
    """A harvest source's address as we may publish it: scheme, host and path only. Its query string and any
    user:password are dropped (a data.go.kr `serviceKey=` or a token in the address an admin typed stays private)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in parts.hostname:  # IPv6 literal
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
