"""The package a buyer downloads: one ZIP per entitlement and version, written in a stream.

Layout (at the root of the ZIP, so `frictionless validate package.zip` and `sha256sum -c` work on it):

    data/<file>          the version's data files exactly as stored (byte for byte: the SHA-256 the dataset
                         page shows); the members of an uploaded ZIP under data/<archive>/
    data/excel/<file>    a copy of each CSV/TSV for Excel: UTF-8 with a BOM, formula cells neutralised
    data/utf8/<file>     a UTF-8 copy of each JSON/GeoJSON stored in another encoding (RFC 8259)
    datapackage.json     Frictionless Data Package (v1 descriptors): one resource per data file with its
                         Table Schema, dialect, encoding, bytes and sha256 (an Excel copy names the
                         original in `derivedFrom`); licence, sources, contributors
    README.md            the dataset's metadata and the order it was made for (Korean, then English)
    LICENSE.txt          the licence text (Korean and English) and the terms of the purchase
    MANIFEST-SHA256      "<sha256>  <path>" for every other file: unzip, then `sha256sum -c MANIFEST-SHA256`

Choices (figures from bench/delivery.py on the 2-vCPU machine, 1 GB CSV, see its report):

- An uploaded ZIP is shipped as its extracted members, not as the archive: the members are what the
  checks read (schema, profile, personal data) and what the reviewer approved, each gets its own
  resource with its Table Schema, and a ZIP inside the ZIP would double the size for a file no Data
  Package tool can describe. Junk entries (__MACOSX, Thumbs.db) were never extracted. An archive
  without extracted members is shipped as it was uploaded.
- The data files are shipped as stored, byte for byte, in whatever encoding they were uploaded (CP949
  is as common as UTF-8): the file page promises "the file as you uploaded it" and shows its SHA-256,
  so `sha256sum -c` checks that promise. datapackage.json declares each file's encoding (cp949 is a
  name pandas, frictionless, R and DuckDB know). An earlier design transcoded CP949 to UTF-8 here,
  which broke the promise (another hash).
- A Korean Excel user double-clicks a CSV: Excel reads it as CP949 unless it starts with a UTF-8 BOM,
  and runs cells starting with =, +, -, @ as formulas. So each CSV/TSV also goes in as
  data/excel/<file>: decoded (strict: a byte that does not decode fails the build instead of shipping
  mojibake), formula-looking text cells prefixed with an apostrophe (catalog.exports.CsvFormulaGuard,
  the rule of the free sample CSV; a cell that is one number such as -3.2 stays), UTF-8 with a BOM.
  A spreadsheet shows that apostrophe, in the header too, so the copy's resource has its own Table
  Schema whose names are written the same way ('=합계). README counts the formula-looking cells.
  A CSV that is already UTF-8 with a BOM and has no such cell is its own Excel copy: not shipped
  twice, README and datapackage.json say to open data/<file>. A JSON/GeoJSON stored in CP949 also
  goes in as data/utf8/<file> (JSON between systems is UTF-8, RFC 8259).
- Those copies are per file and version, not per order: catalog.derived makes each once (the
  publication's task, or the first package that finds it missing, under a lease) and keeps it as one
  raw DEFLATE stream (level 1) with its CRC-32 and sizes. A package writes that stream into its ZIP as
  it is (_write_compressed: the local header with the known sizes, then the bytes), checking the
  stream's SHA-256, so a package build is copying the copies and compressing the originals once: the
  speed it had before the Excel copy existed (see docs/purchase.md for the figures).
- The SHA-256 of every stored file is recomputed while it is read and compared with the one recorded
  at upload: a file damaged in storage fails the build (permanently) instead of reaching a buyer.
- Compression: ZIP_STORED for formats that are compressed already (XLSX, ZIP); DEFLATE level 1 for
  text (CSV/TSV/JSON/GeoJSON): 7.5 s per GB and 3.9× smaller (1,039 MB → 270 MB), against 2.6 s per
  GB stored. Level 6 is 5.0× smaller but ~3.5× slower (63 against 18 MB/s on a 200 MB sample of
  the bench CSV), which breaks the < 20 s per GB target. So every buyer downloads (and storage keeps
  for PACKAGE_TTL_DAYS) a quarter of the bytes, for ~5 s of one core per GB, once.
- ZIP64 on every data member. The ZIP is written to a seekable file so each local header carries the
  real sizes and CRC (no data descriptors: Java's ZipInputStream refuses them on stored entries and
  some archive tools mishandle them with ZIP64).
- The ZIP's own SHA-256 is computed as it is written: zipfile rewrites a member's local header once
  the member is complete, so each finished stretch of the file is hashed right after (read back from
  the page cache), never the whole ZIP again at the end.
- On local storage the ZIP is written in place (a hidden .part name in the same directory, fsync,
  then an atomic rename): no second full copy, and "ready" never points at bytes still only in the
  page cache. On other storage (S3) it is written to PACKAGE_WORK_DIR and streamed to the storage by
  its save() (boto3 multipart), then the local copy is deleted.
- Memory is flat: 1 MiB chunks, at most READ_AHEAD of them queued (the worker's peak RSS was the same
  before and after packaging 1 GB).
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import json
import logging
import os
import re
import time
import unicodedata
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from catalog import derived, licences
from catalog import services as catalog_services
from catalog.models import DerivedFile, Offer
from core.storage import open_stream

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
TEXT_FORMATS = {"csv", "tsv", "json", "geojson"}
TABULAR_FORMATS = {"csv", "tsv", "xlsx"}  # declared with their Table Schema (see _resource)
# The frictionless resource kind of a file without a Table Schema: "json" for JSON and GeoJSON (what
# frictionless itself gives a .geojson), a plain "file" for the rest.
NON_TABLE_DATATYPES = {"json": "json", "geojson": "json"}
MEDIA_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "geojson": "application/geo+json",
    "zip": "application/zip",
}
# Text data files (see the module docstring); bench/delivery.py --stored measures ZIP_STORED instead.
TEXT_COMPRESSION = zipfile.ZIP_DEFLATED
DEFLATE_LEVEL = derived.DEFLATE_LEVEL  # the stored copies were compressed at this level too
MANIFEST = "MANIFEST-SHA256"
# data/excel/<file>: the Excel copy of each CSV/TSV; data/utf8/<file>: the UTF-8 copy of a JSON/GeoJSON
# stored in another encoding (see the module docstring and catalog.derived).
COPY_FOLDERS = {"excel": "excel/", "utf8": "utf8/"}
FILE_MODE = 0o644 << 16  # unzip on Unix creates readable files

Progress = Callable[[int, int], None]


class PackagingError(Exception):
    """The stored data cannot become a package (a damaged or undecodable file): retrying cannot help.

    `message` is for the buyer and the admins (translatable); `detail` is the technical part."""

    def __init__(self, message, *, detail: str = ""):
        super().__init__(f"{message} {detail}".strip())
        self.message = message
        self.detail = detail


@dataclass
class Member:
    """One data file of the package: the stored bytes, or (kind set) a copy of it made once per file
    (catalog.derived: `excel` or `utf8`) whose stored DEFLATE stream goes into the ZIP as it is."""

    datafile: object  # catalog.models.DataFile
    path: str  # inside the ZIP
    compress_type: int
    kind: str = ""  # "" (the original), "excel" or "utf8"
    derived_of: str = ""  # a copy: the path of its original
    copy: object = None  # a copy: its catalog.models.DerivedFile, once ready
    # A workbook of several tables: their DataFiles (catalog.models.DataFile.is_sheet), one resource each.
    sheets: list = field(default_factory=list)


@dataclass
class PackedFile:
    """A data file as written: what datapackage.json, README and the manifest say about it."""

    member: Member
    size: int
    sha256: str
    formula_cells: int | None = None  # an Excel copy: cells neutralised (as many look like formulas in the original)
    # An original whose Excel copy would be itself (UTF-8 with a BOM, no formula-looking cell): no copy is
    # shipped, README and datapackage.json say this file is the one to open in Excel.
    opens_in_excel: bool = False


@dataclass
class Context:
    """What the package is made for, beyond the version itself (README and LICENSE say it)."""

    order_number: str = ""
    organization: str = ""
    entitlement_kind: str = ""  # free / one_off / subscription
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    licence: object = None  # catalog.models.Licence (the licence accepted with the order line)
    terms: dict = field(default_factory=dict)  # the order line's terms snapshot
    site_url: str = ""
    built_at: datetime = field(default_factory=timezone.now)


@dataclass
class BuildResult:
    size: int
    sha256: str
    manifest: dict[str, str]  # {path in the ZIP: sha256}, MANIFEST-SHA256 itself included
    name: str = ""  # storage name, once stored


# --- What goes in ------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    """A file name safe inside a ZIP and in a sha256sum manifest: NFC (macOS uploads Korean names
    decomposed), no folders, no control characters or backslashes, no leading dots."""
    name = unicodedata.normalize("NFC", name)
    name = PurePosixPath(name.replace("\\", "/")).name
    name = "".join("_" if unicodedata.category(c).startswith("C") else c for c in name)
    return name.lstrip(". ").strip() or "file"


def _unique(path: str, taken: set[str]) -> str:
    stem, dot, suffix = path.rpartition(".")
    if not dot or "/" in suffix:
        stem, suffix, dot = path, "", ""
    candidate, n = path, 1
    while candidate.lower() in taken:  # case-insensitive: Windows and macOS unzip into one name
        n += 1
        candidate = f"{stem} ({n}){dot}{suffix}"
    taken.add(candidate.lower())
    return candidate


def plan_members(version) -> list[Member]:
    """The data files of `version` and where each goes in the ZIP (see the module docstring)."""
    files = list(version.files.select_related(None).defer("map_layer").order_by("created_at", "id"))
    members_of: dict[int, list] = {}
    for f in files:
        if f.parent_id:
            members_of.setdefault(f.parent_id, []).append(f)
    taken: set[str] = set()
    plan = []
    for f in files:
        if f.parent_id:
            continue
        if f.format == "zip" and members_of.get(f.pk):
            folder = _clean_name(Path(f.original_name).stem) or "archive"
            for m in members_of[f.pk]:
                path = _unique(f"data/{folder}/{_clean_name(m.original_name)}", taken)
                plan.append(_member(m, path, sheets=members_of.get(m.pk, [])))
        else:
            plan.append(
                _member(f, _unique(f"data/{_clean_name(f.original_name)}", taken), sheets=members_of.get(f.pk, []))
            )
    # The copies after every original (data/excel/ and data/utf8/ mirror data/), so `unzip -l` lists the
    # published files first (a name taken by an upload, such as excel.zip's members, gets " (2)").
    plan += [
        Member(
            datafile=m.datafile,
            path=_unique("data/" + COPY_FOLDERS[kind] + m.path.removeprefix("data/"), taken),
            compress_type=zipfile.ZIP_DEFLATED,
            kind=kind,
            derived_of=m.path,
        )
        for m in list(plan)
        for kind in derived.kinds_for(m.datafile)
    ]
    return plan


def _member(datafile, path: str, sheets=()) -> Member:
    return Member(
        datafile=datafile,
        path=path,
        compress_type=TEXT_COMPRESSION if datafile.format in TEXT_FORMATS else zipfile.ZIP_STORED,
        sheets=[s for s in sheets if s.is_sheet],
    )


# --- Writing -------------------------------------------------------------------------------------


class _HashedTarget:
    """The seekable file the ZIP is written to, hashing each finished stretch of it in order.

    zipfile seeks back only to rewrite the local header of the member it has just closed, so after
    each member (and after the central directory) everything up to the end is final: `catch_up`
    hashes it with positional reads (from the page cache), leaving the file position alone."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.sha = hashlib.sha256()
        self.hashed = 0

    def catch_up(self) -> None:
        self.fh.flush()
        fd = self.fh.fileno()
        end = os.fstat(fd).st_size
        while self.hashed < end:
            block = os.pread(fd, min(CHUNK * 4, end - self.hashed), self.hashed)
            if not block:
                break
            self.sha.update(block)
            self.hashed += len(block)


def _zipinfo(path: str, when: datetime, compress_type: int) -> zipfile.ZipInfo:
    local = timezone.localtime(when) if timezone.is_aware(when) else when
    info = zipfile.ZipInfo(path, date_time=max(local.timetuple()[:6], (1980, 1, 1, 0, 0, 0)))
    info.compress_type = compress_type
    info._compresslevel = DEFLATE_LEVEL if compress_type == zipfile.ZIP_DEFLATED else None  # compress_level (3.13+)
    info.external_attr = FILE_MODE
    return info


def _source_chunks(datafile, source_sha):
    """(bytes read, bytes) per 1 MiB of the stored file, hashing it."""
    with derived.open_source(datafile) as src:
        while chunk := src.read(CHUNK):
            source_sha.update(chunk)
            yield chunk


def _copy_member(zf: zipfile.ZipFile, member: Member, when: datetime, advance: Callable[[int], None]) -> PackedFile:
    """Stream one stored data file into the ZIP as it is; check its SHA-256 against the one recorded
    at upload."""
    datafile = member.datafile
    source_sha = hashlib.sha256()
    read = 0
    with zf.open(_zipinfo(member.path, when, member.compress_type), "w", force_zip64=True) as dst:
        for chunk in derived.read_ahead(_source_chunks(datafile, source_sha)):
            dst.write(chunk)
            read += len(chunk)
            advance(len(chunk))
    if datafile.sha256 and source_sha.hexdigest() != datafile.sha256:
        exc = derived.damaged(datafile, source_sha.hexdigest(), read)
        raise PackagingError(exc.message, detail=exc.detail)
    return PackedFile(member=member, size=read, sha256=source_sha.hexdigest())


def _stored_blocks(copy, sha) -> Iterator[bytes]:
    with open_stream(copy.file.storage, copy.file.name) as src:
        while block := src.read(CHUNK):
            sha.update(block)
            yield block


def _write_compressed(zf: zipfile.ZipFile, info: zipfile.ZipInfo, blocks, *, crc: int, size: int, compressed: int):
    """Add a member whose DEFLATE stream, CRC-32 and sizes are known already (a stored copy): its local
    header carries them (ZIP64, as every data member), then the stream as it is. What zipfile does for a
    member it compresses itself (ZipFile._open_to_write and _ZipWriteFile.close), minus the compressing."""
    if zf._writing:
        raise ValueError("another member is being written")
    info.compress_type = zipfile.ZIP_DEFLATED
    info.flag_bits = 0
    info.CRC, info.file_size, info.compress_size = crc, size, compressed
    zf.fp.seek(zf.start_dir)
    info.header_offset = zf.fp.tell()
    zf._writecheck(info)
    zf._didModify = True
    zf.fp.write(info.FileHeader(True))
    written = 0
    for block in blocks:
        zf.fp.write(block)
        written += len(block)
    zf.start_dir = zf.fp.tell()
    zf.filelist.append(info)
    zf.NameToInfo[info.filename] = info
    return written


def _copy_stored(zf: zipfile.ZipFile, member: Member, when: datetime) -> PackedFile:
    """Write a copy made once for the file (catalog.derived) into the ZIP: its stored DEFLATE stream as
    it is, the stream's SHA-256 checked. A damaged or missing stream is forgotten (the next attempt
    makes it again) and the attempt fails as transient."""
    copy = member.copy
    sha = hashlib.sha256()
    try:
        written = _write_compressed(
            zf,
            _zipinfo(member.path, when, zipfile.ZIP_DEFLATED),
            derived.read_ahead(_stored_blocks(copy, sha)),
            crc=copy.crc32,
            size=copy.size,
            compressed=copy.compressed_size,
        )
    except FileNotFoundError:
        catalog_services.derived_file_discard(pk=copy.pk)
        raise
    if written != copy.compressed_size or sha.hexdigest() != copy.compressed_sha256:
        catalog_services.derived_file_discard(pk=copy.pk)
        raise OSError(f"the stored {copy.kind} copy {copy.file.name} is damaged; it is made again")
    return PackedFile(member=member, size=copy.size, sha256=copy.sha256, formula_cells=copy.formula_cells)


class _Advance:
    """Counts the source bytes read across members and reports them to the progress callback."""

    def __init__(self, total: int, progress: Progress | None):
        self.total, self.progress, self.done = total, progress, 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(min(self.done, self.total), self.total)


def _ensure_copies(copies: list[Member], advance: _Advance, pending: set) -> None:
    """Each copy ready (catalog.services.derived_file_ensure: stored once per file, built here by the
    first package that finds it missing); progress and the caller's checks run while one is built."""
    for member in copies:
        before = advance.done
        try:
            member.copy = catalog_services.derived_file_ensure(
                datafile=member.datafile, kind=member.kind, check=advance
            )
        except derived.CopyError as exc:
            raise PackagingError(exc.message, detail=exc.detail) from exc
        if (member.datafile.pk, member.kind) in pending:  # counted in the total: whatever was not read yet
            advance(max(0, member.datafile.size - (advance.done - before)))


def write_package(fh: BinaryIO, *, version, context: Context, progress: Progress | None = None) -> BuildResult:
    """Write the package of `version` into the seekable binary file `fh` (at position 0).

    `progress(done, total)` is called after every chunk with source bytes read so far (a copy the
    package has to make first counts its source once more); the caller decides how often to record it.
    Memory stays flat: data moves in 1 MiB chunks.
    """
    members = plan_members(version)
    originals = [m for m in members if not m.kind]
    copies = [m for m in members if m.kind]
    ready = set(
        DerivedFile.objects.filter(datafile__in=[m.datafile for m in copies], built_at__isnull=False).values_list(
            "datafile_id", "kind"
        )
    )
    pending = {(m.datafile.pk, m.kind) for m in copies} - ready
    total = sum(m.datafile.size for m in originals) + sum(
        m.datafile.size for m in copies if (m.datafile.pk, m.kind) in pending
    )
    advance = _Advance(total or 1, progress)
    _ensure_copies(copies, advance, pending)
    same = {m.derived_of for m in copies if m.copy.same_as_original}
    members = [m for m in members if not (m.kind and m.copy.same_as_original)]
    target = _HashedTarget(fh)
    manifest: dict[str, str] = {}
    packed: list[PackedFile] = []
    when = context.built_at
    with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        for member in members:
            if member.kind:
                item = _copy_stored(zf, member, when)
            else:
                item = _copy_member(zf, member, when, advance)
                item.opens_in_excel = member.path in same
                if item.opens_in_excel:
                    item.formula_cells = 0
            packed.append(item)
            manifest[member.path] = item.sha256
            target.catch_up()
        documents = [
            (
                "datapackage.json",
                json.dumps(datapackage_descriptor(version, packed, context), ensure_ascii=False, indent=2) + "\n",
            ),
            ("README.md", readme_text(version, packed, context)),
            ("LICENSE.txt", licence_text(version, context)),
        ]
        for name, text in documents:
            data = text.encode("utf-8")
            zf.writestr(_zipinfo(name, when, zipfile.ZIP_DEFLATED), data)
            manifest[name] = hashlib.sha256(data).hexdigest()
        body = "".join(f"{digest}  {path}\n" for path, digest in manifest.items()).encode("utf-8")
        zf.writestr(_zipinfo(MANIFEST, when, zipfile.ZIP_DEFLATED), body)
        manifest[MANIFEST] = hashlib.sha256(body).hexdigest()
    target.catch_up()
    if progress:
        progress(total, total)
    return BuildResult(size=target.hashed, sha256=target.sha.hexdigest(), manifest=manifest)


def _partials(storage_name: str, storage) -> tuple[Path | None, str, Path, str]:
    """Where the partial files of the package stored as `storage_name` go: (the local folder of its
    .part files or None, their name prefix, the work folder, the work files' prefix). Every attempt's
    names start with these prefixes (then the attempt's token), so a sweep finds what any attempt left."""
    try:
        final = Path(storage.path(storage_name))
    except NotImplementedError:
        final = None
    flat = re.sub(r"[^A-Za-z0-9._-]+", "_", storage_name)
    return (
        final.parent if final else None,
        f".{final.name}." if final else "",
        Path(settings.PACKAGE_WORK_DIR),
        f"{flat}.",
    )


def sweep_work_dir(*, older_than: float) -> int:
    """Delete temporary ZIPs in this node's PACKAGE_WORK_DIR not touched for `older_than` seconds: with
    object storage a killed worker's ZIP is on its own node, where the next attempt or the housekeeping
    (running elsewhere) cannot see it. A worker calls this as it starts. Returns how many were deleted."""
    work = Path(settings.PACKAGE_WORK_DIR)
    if not work.is_dir():
        return 0
    cutoff = time.time() - older_than
    deleted = 0
    for path in work.glob("*.zip"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                deleted += 1
        except FileNotFoundError:
            pass
    return deleted


def sweep_partials(storage_name: str, *, keep: str | Callable[[], str] = "", storage=None) -> int:
    """Delete the partial files (.part in the storage folder, temporary ZIPs in PACKAGE_WORK_DIR) that
    attempts at the package `storage_name` left behind, except those of the attempt `keep` (its token).
    A killed worker runs no cleanup: the next attempt, a failure or the housekeeping calls this. A file
    still open by a stale attempt that is somehow alive loses its name only; that attempt then cannot
    install it. Returns how many were deleted.

    `keep` may be a function that reads the token of the attempt holding the build now: it is called after the
    files are listed, so an attempt (on any node sharing the volume) that claimed the build before it is kept,
    and one that claims it later writes a file this listing never saw."""
    folder, prefix, work, work_prefix = _partials(storage_name, storage or default_storage)
    found = []
    if folder is not None and folder.is_dir():
        found += list(folder.glob(f"{glob.escape(prefix)}*.part"))
    if work.is_dir():
        found += list(work.glob(f"{glob.escape(work_prefix)}*.zip"))
    if callable(keep):
        keep = keep() if found else ""
    deleted = 0
    for path in found:
        if keep and keep in path.name:
            continue
        try:
            path.unlink()
            deleted += 1
        except FileNotFoundError:
            pass
    return deleted


Install = Callable[[BuildResult, Callable[[], None]], object]


def build_into_storage(
    *,
    version,
    context: Context,
    storage_name: str,
    storage=None,
    progress: Progress | None = None,
    attempt: str = "",
    install: Install | None = None,
) -> BuildResult:
    """Build the package and put it into storage under `storage_name` (replacing an older file of
    that name). Local storage: written in place and renamed atomically when complete. Other storage:
    written to PACKAGE_WORK_DIR, then streamed to the storage and deleted locally.

    `attempt` (a token) names the partial files of this attempt, so two attempts never write one file.
    `install(result, commit)` is called once the ZIP is complete: the caller runs `commit()` (the rename
    into place) only while the build is still its own, so a stale attempt never replaces the file of a
    newer one. Whatever happens, this attempt's partial file is gone when this returns or raises."""
    storage = storage or default_storage
    tag = attempt or uuid.uuid4().hex
    folder, prefix, work, work_prefix = _partials(storage_name, storage)
    if folder is not None:
        final = Path(storage.path(storage_name))
        final.parent.mkdir(parents=True, exist_ok=True)
        part = folder / f"{prefix}{tag}.part"
        try:
            with open(part, "w+b") as fh:
                result = write_package(fh, version=version, context=context, progress=progress)
                fh.flush()
                os.fsync(fh.fileno())  # "ready" must never point at a file still in the page cache only
            result.name = storage_name
            commit = lambda: os.replace(part, final)  # noqa: E731
            install(result, commit) if install else commit()
        finally:
            part.unlink(missing_ok=True)
        return result
    work.mkdir(parents=True, exist_ok=True)
    local = work / f"{work_prefix}{tag}.zip"
    try:
        with open(local, "w+b") as fh:
            result = write_package(fh, version=version, context=context, progress=progress)
            fh.seek(0)
            if storage.exists(storage_name):
                storage.delete(storage_name)
            result.name = storage.save(storage_name, File(fh, name=storage_name))
        if install:
            install(result, lambda: None)
    finally:
        local.unlink(missing_ok=True)
    return result


# --- The documents -------------------------------------------------------------------------------


def _resource_name(path: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9._-]+", "-", slugify(PurePosixPath(path).stem).lower()).strip("-.") or "data"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def _schema(table_schema: dict | None, dictionary: dict | None = None) -> dict | None:
    """The Table Schema stored by the checks, made strictly valid for Data Package v1 readers (frictionless
    5, pandas, R): DuckDB's "grouped" format becomes the standard groupChar alone, and a whole number
    written with separators ("12,345"), an integer with groupChar in Table Schema v2, is shipped as a
    number with groupChar, since v1's integer has no groupChar (its values are whole all the same).

    The publisher's data dictionary (catalog.dictionary) goes on each field: `description` (Korean, then
    English after " / "; the English alone also as `description_en`), `unit` (a custom property: Table
    Schema has none) and the codes as Table Schema v2 `categories` ({"value", "label"} with the Korean
    label, `label_en` beside it) for string and integer fields whose codes are all of the field's type
    and whose labels are unique; otherwise the codes go in a custom `codes` list, as stored."""
    if not table_schema or not table_schema.get("fields"):
        return None
    schema = json.loads(json.dumps(table_schema))
    for f in schema["fields"]:
        if f.get("format") == "grouped" and f.get("type") in ("number", "integer"):
            f.pop("format")
        if f.get("type") == "integer" and "groupChar" in f:
            f["type"] = "number"
        _describe_field(f, (dictionary or {}).get(f["name"]) or {})
    return schema


def _describe_field(spec: dict, entry: dict) -> None:
    ko, en = entry.get("description_ko", ""), entry.get("description_en", "")
    if ko or en:
        spec["description"] = " / ".join(t for t in (ko, en) if t)
    if en:
        spec["description_en"] = en
    if entry.get("unit"):
        spec["unit"] = entry["unit"]
    codes = entry.get("codes") or []
    if not codes:
        return
    values = [c["code"] for c in codes]
    if spec.get("type") == "integer":
        values = [int(v) for v in values] if all(re.fullmatch(r"[+-]?\d+", v) for v in values) else None
    elif spec.get("type") != "string":
        values = None  # Table Schema v2 allows categories on string and integer fields only
    labels = [c["label_ko"] for c in codes]
    if values is None or len(set(values)) != len(values) or len(set(labels)) != len(labels):
        spec["codes"] = codes
        return
    spec["categories"] = [
        {"value": value, "label": c["label_ko"], **({"label_en": c["label_en"]} if c.get("label_en") else {})}
        for value, c in zip(values, codes)
    ]


def _dataset_url(version, context: Context) -> str:
    return context.site_url.rstrip("/") + reverse("catalog:dataset", args=[version.dataset.slug])


def datapackage_descriptor(version, packed: list[PackedFile], context: Context) -> dict:
    """datapackage.json, built and checked with frictionless (Data Package v1 descriptors, which
    every Data Package reader understands). Raises PackagingError when it cannot be built."""
    publisher = version.dataset.publisher
    licence = context.licence or version.licence
    url = _dataset_url(version, context)
    names: set[str] = set()
    try:
        descriptor, errors = _describe(version, packed, context, publisher, licence, url, names)
    except (DatabaseError, OSError):
        raise  # transient: the task retries
    except Exception as exc:
        # Everything here is computed from rows already read, so the same input fails the same way on
        # every retry (a frictionless refusal, or a bug such as the TypeError of a frictionless API
        # change): fail the package at once, visibly, with the traceback in the log for the developers.
        logger.exception("datapackage.json could not be built", extra={"version_id": version.pk})
        raise PackagingError(
            _("The package description (datapackage.json) is not valid."), detail=f"{type(exc).__name__}: {exc}"[:1000]
        ) from exc
    if errors:
        raise PackagingError(
            _("The package description (datapackage.json) is not valid."), detail="; ".join(errors)[:1000]
        )
    return descriptor


def _describe(
    version, packed: list[PackedFile], context: Context, publisher, licence, url: str, names: set[str]
) -> tuple[dict, list[str]]:
    # heavy: frictionless costs a web process 0.13 s and 11 MB at import; only workers build packages.
    from frictionless import Package, system

    with system.use_context(standards="v1"):
        resources = [
            resource
            for item in packed
            for resource in (
                [_resource(item, names, table=sheet) for sheet in item.member.sheets]
                if item.member.sheets and not item.member.kind
                else [_resource(item, names)]
            )
        ]
        package = Package(
            name=re.sub(r"[^a-z0-9._-]+", "-", version.dataset.slug.lower()) or "dataset",
            title=version.title_ko,
            description=version.description_ko + (f"\n\n{version.description_en}" if version.description_en else ""),
            version=str(version.number),
            homepage=url,
            keywords=list(version.tags or []),
            created=(version.published_at or context.built_at).isoformat(),
            licenses=[
                {k: v for k, v in {"name": licence.code, "path": licence.url, "title": licence.name_ko}.items() if v}
            ]
            if licence
            else [],
            sources=[{"title": publisher.name_ko, "path": url}],
            contributors=[
                {
                    "title": publisher.name_ko,
                    "role": "publisher",
                    "email": publisher.contact_email or version.contact_email,
                    "organization": version.department or publisher.name_ko,
                },
                {"title": version.contact_name, "role": "maintainer", "email": version.contact_email},
            ],
            resources=resources,
        )
        if version.title_en:
            package.custom["title_en"] = version.title_en
        if version.spatial_area or version.spatial_bbox:
            package.custom["spatial"] = {"area": version.spatial_area, "bbox": version.spatial_bbox}
        if version.temporal_start or version.temporal_end:
            package.custom["temporal"] = {
                "start": version.temporal_start.isoformat() if version.temporal_start else None,
                "end": version.temporal_end.isoformat() if version.temporal_end else None,
            }
        descriptor = package.to_descriptor()
        return descriptor, [e.message for e in Package.metadata_validate(descriptor)]


def _resource(item: PackedFile, names: set[str], table=None):
    """One data file's resource, or with `table` (a sheet's table of a workbook) one sheet's: a
    workbook of several tables is shipped once and described by one resource per sheet, each on the
    same path with a dialect naming its sheet (and its header rows, when not the first row), so that
    frictionless, pandas (sheet_name=) or R read each table from the file as it was uploaded. Frictionless 5 picks the resource class from `datatype` (its `type`
    is a class attribute it writes into the descriptor, not an argument: `type="file"` raised
    TypeError for every file without a Table Schema, so GeoJSON and JSON could not be packaged).
    The checks' Table Schema is declared only where frictionless reads the file as that table:
    JSON and GeoJSON were flattened into a CSV for the checks, so their schema describes that copy
    (columns such as "addr.road" or the coordinates), not the file shipped."""
    # heavy: see _describe (workers only).
    from frictionless import Dialect, Resource, Schema, formats

    df = item.member.datafile
    kind = item.member.kind
    title = df.original_name + {"excel": " (Excel)", "utf8": " (UTF-8)"}.get(kind, "")
    name_from = item.member.path
    if table is not None:
        title = f"{df.original_name} — {table.original_name}"
        name_from = f"{PurePosixPath(item.member.path).stem}-sheet-{(table.sheet or {}).get('index', 0) + 1}"
        df = table  # its Table Schema and rows; the file (format, bytes, hash) is the workbook's
    options = dict(
        name=_resource_name(name_from, names),
        path=item.member.path,
        title=title,
        format=df.format,
        mediatype=MEDIA_TYPES.get(df.format, "application/octet-stream"),
        bytes=item.size,
        hash=f"sha256:{item.sha256}",
        datatype=NON_TABLE_DATATYPES.get(df.format, "file"),
    )
    original = item.member.derived_of
    if kind == "excel":
        options["encoding"] = "utf-8-sig"  # frictionless and pandas read the BOM with this name
        options["description"] = (
            f"{original}의 Excel용 사본: UTF-8(BOM), 수식처럼 보이는 셀 {item.formula_cells}개 앞에 '. 이름이 수식처럼 "
            "보이는 열은 머리글에도 '가 붙어 있고, 이 자원의 스키마가 그 이름을 씁니다. / "
            f"A copy of {original} for Excel: UTF-8 with a BOM, an apostrophe before the "
            f"{item.formula_cells} cells that look like formulas. A column whose name looks like a formula has "
            "the apostrophe in the header too (a spreadsheet shows it), and this resource's schema uses that name."
        )
    elif kind == "utf8":
        options["encoding"] = "utf-8"
        options["description"] = (
            f"{original}({_declared_encoding(df.encoding)})를 UTF-8로 옮긴 사본 (JSON은 시스템 사이에서 UTF-8이어야 "
            f"합니다, RFC 8259). / {original} ({_declared_encoding(df.encoding)}) in UTF-8: JSON exchanged between "
            "systems must be UTF-8 (RFC 8259)."
        )
    elif df.format in TEXT_FORMATS:
        options["encoding"] = _declared_encoding(df.encoding)
        if item.opens_in_excel:
            options["description"] = (
                "UTF-8(BOM)이고 수식처럼 보이는 셀이 없어 이 파일을 그대로 Excel에서 열면 됩니다 (따로 사본이 없습니다). / "
                "UTF-8 with a BOM and no cell that looks like a formula: open this file in Excel as it is (there is "
                "no separate copy)."
            )
    schema = _schema(df.table_schema, df.dictionary) if df.format in TABULAR_FORMATS else None
    if schema and kind == "excel":
        schema = derived.excel_schema(schema)
    if schema:
        options["datatype"] = "table"
        options["schema"] = Schema.from_descriptor(schema)
        if df.format in ("csv", "tsv"):
            delimiter = "\t" if df.format == "tsv" else (df.delimiter or ",")
            options["dialect"] = Dialect(controls=[formats.CsvControl(delimiter=delimiter)])
        elif df.format == "xlsx" and (df.sheet or {}).get("name"):
            options["dialect"] = _sheet_dialect(df.sheet)
    resource = Resource(**options)
    if original:
        resource.custom["derivedFrom"] = original
    if schema and df.row_count is not None:
        # Frictionless checks "rows" against the rows it reads, so only a table declares it: the
        # count of a JSON or GeoJSON file is of records or features (README names it).
        resource.custom["rows"] = df.row_count
    return resource


def _sheet_dialect(sheet: dict):
    """The dialect that reads one sheet's table as the checks did: the sheet by name, the header at the
    row (or two rows) the checks found below a title; a two-row header's merged group labels filled
    across their cells and joined to the sub-labels with a space, as the checks named the columns."""
    # heavy: see _describe (workers only).
    from frictionless import Dialect, formats

    header_rows = sheet.get("header_rows") or [1]
    control = formats.ExcelControl(sheet=sheet["name"])
    options = {}
    if header_rows != [1]:
        options["header_rows"] = header_rows
    if len(header_rows) > 1:
        control.fill_merged_cells = True
        options["header_join"] = " "
    return Dialect(controls=[control], **options)


def _declared_encoding(encoding: str) -> str:
    """The encoding a Data Package reader must use for the stored bytes: the one the checks found."""
    return "utf-8" if not encoding or derived.is_utf8(encoding) else codecs.lookup(encoding).name


def _date(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z") if timezone.is_aware(value) else value.isoformat()
        )
    return value.isoformat()


def _lines(pairs) -> str:
    return "".join(f"- **{label}**: {value}\n" for label, value in pairs if value not in (None, "", [], "—"))


def readme_text(version, packed: list[PackedFile], context: Context) -> str:
    """README.md: the dataset's metadata, the files and the purchase, in Korean then English. The
    package is one file for every reader, so both languages are written out (not the viewer's)."""
    publisher = version.dataset.publisher
    licence = context.licence or version.licence
    with translation.override("ko"):
        cadence_ko = str(version.get_update_cadence_display())
        kind_ko = str(version.get_data_kind_display())
    with translation.override("en"):
        cadence_en = str(version.get_update_cadence_display())
        kind_en = str(version.get_data_kind_display())
    coverage = version.spatial_area or ""
    if version.spatial_bbox:
        coverage += f" (bbox WGS84: {', '.join(str(v) for v in version.spatial_bbox)})"
    period = ""
    if version.temporal_start or version.temporal_end:
        period = f"{_date(version.temporal_start)} – {_date(version.temporal_end)}"
    until = _date(context.valid_until) if context.valid_until else "기한 없음 / no end"
    kinds = {"free": "무료 / free", "one_off": "단건 구매 / one-off purchase", "subscription": "구독 / subscription"}
    out = [f"# {version.title_ko} (v{version.number})\n"]
    if version.title_en:
        out.append(f"\n*{version.title_en}*\n")
    out.append("\n## 데이터셋 정보 / About the dataset\n\n")
    out.append(
        _lines(
            [
                (
                    "제공기관 / Publisher",
                    f"{publisher.name_ko}" + (f" ({publisher.name_en})" if publisher.name_en else ""),
                ),
                ("담당부서 / Department", version.department),
                ("담당자 / Contact", f"{version.contact_name}, {version.contact_phone}, {version.contact_email}"),
                ("갱신주기 / Update cadence", f"{cadence_ko} / {cadence_en}"),
                ("데이터 구분 / Kind of data", f"{kind_ko} / {kind_en}"),
                ("공간 범위 / Spatial coverage", coverage),
                ("시간 범위 / Temporal coverage", period),
                ("보유근거 / Legal basis", version.legal_basis),
                ("수집방법 / Collection method", version.collection_method),
                ("키워드 / Keywords", ", ".join(version.tags or [])),
                ("버전 / Version", f"{version.number} ({_date(version.published_at)})"),
                ("변경 내용 / What changed", version.change_note),
                ("라이선스 / Licence", f"{licence.name_ko} / {licence.name_en} — LICENSE.txt" if licence else ""),
                ("데이터셋 페이지 / Dataset page", _dataset_url(version, context)),
            ]
        )
    )
    out.append(f"\n### 설명\n\n{version.description_ko.strip()}\n")
    if version.description_en.strip():
        out.append(f"\n### Description\n\n{version.description_en.strip()}\n")
    if version.data_limits.strip():
        out.append(f"\n### 데이터 한계 / Limits of the data\n\n{version.data_limits.strip()}\n")
    out.append("\n## 파일 / Files\n\n")
    originals = [item for item in packed if not item.member.kind]
    copies = [item for item in packed if item.member.kind == "excel"]
    utf8_copies = [item for item in packed if item.member.kind == "utf8"]
    formulas = {item.member.derived_of: item.formula_cells for item in copies}
    formulas.update({item.member.path: 0 for item in originals if item.opens_in_excel})
    out.append(
        "| 파일 / File | 형식 / Format | 크기 / Bytes | 행 / Rows | 인코딩 / Encoding | 수식처럼 보이는 셀 / "
        "Formula-looking cells | SHA-256 |\n"
    )
    out.append("| --- | --- | ---: | ---: | --- | ---: | --- |\n")
    for item in originals:
        df = item.member.datafile
        rows = f"{df.row_count:,}" if df.row_count is not None else "—"
        cells = formulas.get(item.member.path)
        out.append(
            f"| `{item.member.path}` | {df.get_format_display()} | {item.size:,} | {rows} | {df.encoding or '—'} | "
            f"{'—' if cells is None else f'{cells:,}'} | `{item.sha256}` |\n"
        )
    out.append(
        "\n`data/`의 파일은 제공기관이 올린 그대로입니다(바이트 단위로 같고, SHA-256은 데이터셋 페이지에 공개된 값과 같습니다). "
        "인코딩은 위 표와 같습니다(cp949는 한국어 Windows의 ANSI).\n\n"
        "The files in `data/` are exactly as the publisher uploaded them (byte for byte; their SHA-256 is the one the "
        "dataset page shows). Their encodings are in the table above (cp949 is Korean Windows' ANSI).\n"
    )
    out.append(_columns_text(originals))

    workbooks = [item for item in originals if item.member.sheets]
    if workbooks:
        out.append("\n### 통합 문서의 표 / Tables in the workbooks\n\n")
        out.append("| 파일 / File | 시트 / Sheet | 행 / Rows | 열 / Columns |\n")
        out.append("| --- | --- | ---: | ---: |\n")
        for item in workbooks:
            for table in item.member.sheets:
                rows = f"{table.row_count:,}" if table.row_count is not None else "—"
                columns = f"{table.column_count:,}" if table.column_count is not None else "—"
                out.append(f"| `{item.member.path}` | {table.original_name} | {rows} | {columns} |\n")
        out.append(
            "\n시트마다 표가 하나씩 있습니다. `datapackage.json`에는 시트마다 자원(resource)이 하나씩 있고, 그 `dialect`에 "
            "시트 이름과 머리글 행이 적혀 있습니다. 비어 있는 시트는 빠졌습니다.\n\n"
            "Each sheet holds one table. `datapackage.json` has one resource per sheet, whose `dialect` names the sheet "
            "and its header rows. Empty sheets are left out.\n"
        )
    as_is = [item for item in originals if item.opens_in_excel]
    if copies or as_is:
        out.append("\n### Excel용 사본 / Copies for Excel\n\n")
    if copies:
        out.append("| 파일 / File | 원본 / Original | 바꾼 셀 / Cells changed | 크기 / Bytes | SHA-256 |\n")
        out.append("| --- | --- | ---: | ---: | --- |\n")
        for item in copies:
            out.append(
                f"| `{item.member.path}` | `{item.member.derived_of}` | {item.formula_cells:,} | {item.size:,} | "
                f"`{item.sha256}` |\n"
            )
        out.append(
            "\n`data/excel/`의 CSV/TSV는 Excel에서 두 번 클릭해 열 수 있도록 만든 사본입니다: UTF-8(BOM 포함)로 저장했고, "
            "수식처럼 보이는 텍스트 셀(=, +, -, @, 탭, CR로 시작)은 앞에 작은따옴표(')를 붙여 수식으로 실행되지 않게 했습니다. "
            "Excel은 CSV를 열 때 이 작은따옴표를 셀에 그대로 보여 줍니다. 열 이름이 수식처럼 보이면 머리글에도 작은따옴표가 붙고, "
            "`datapackage.json`에서 이 사본의 스키마는 그 이름('=합계 등)을 씁니다. "
            "-3.2나 +82처럼 숫자 하나로 된 셀은 그대로 숫자입니다. 분석에는 `data/`의 원본을 쓰세요.\n\n"
            "The CSV/TSV files in `data/excel/` are copies made to open in Excel with a double click: UTF-8 with a byte "
            "order mark, and every text cell that looks like a formula (starting with =, +, -, @, tab or CR) begins with "
            "an apostrophe (') so that it is not run as one. Excel shows that apostrophe in the cell when it opens a CSV. "
            "A column whose name looks like a formula has the apostrophe in the header too, and the copy's schema in "
            "`datapackage.json` uses that name (such as '=total). Cells that are a single number, such as -3.2 or +82, "
            "stay numbers. For analysis, use the originals in `data/`.\n"
        )
    if as_is:
        names = ", ".join(f"`{item.member.path}`" for item in as_is)
        out.append(
            f"\n{names}: UTF-8(BOM 포함)이고 수식처럼 보이는 셀이 없어 따로 사본을 만들지 않았습니다. 이 파일을 그대로 "
            f"Excel에서 여세요.\n\n{names}: UTF-8 with a byte order mark and no cell that looks like a formula, so "
            "there is no separate copy: open this file in Excel as it is.\n"
        )
    if utf8_copies:
        out.append("\n### UTF-8 사본 / UTF-8 copies\n\n")
        out.append("| 파일 / File | 원본 / Original | 원본 인코딩 / Original encoding | 크기 / Bytes | SHA-256 |\n")
        out.append("| --- | --- | --- | ---: | --- |\n")
        for item in utf8_copies:
            out.append(
                f"| `{item.member.path}` | `{item.member.derived_of}` | {item.member.datafile.encoding} | "
                f"{item.size:,} | `{item.sha256}` |\n"
            )
        out.append(
            "\n`data/utf8/`의 JSON/GeoJSON은 UTF-8이 아닌 인코딩(예: cp949)으로 올라온 원본을 UTF-8로 옮긴 사본입니다 "
            "(BOM 없음). JSON은 시스템 사이에서 UTF-8이어야 하므로(RFC 8259) 프로그램에서는 이 사본을 쓰세요. 원본은 `data/`에 "
            "그대로 있습니다.\n\n"
            "The JSON/GeoJSON files in `data/utf8/` are UTF-8 copies (no byte order mark) of originals uploaded in "
            "another encoding (such as cp949). JSON exchanged between systems must be UTF-8 (RFC 8259): give programs "
            "these copies. The originals are in `data/` as uploaded.\n"
        )
    out.append("\n## 구매 정보 / This package was made for\n\n")
    out.append(
        _lines(
            [
                ("기관 / Organization", context.organization),
                ("주문번호 / Order", context.order_number),
                ("이용권 / Entitlement", kinds.get(context.entitlement_kind, context.entitlement_kind)),
                ("이용 기간 / Valid", f"{_date(context.valid_from)} – {until}" if context.valid_from else ""),
                ("패키지 생성 / Built", _date(context.built_at)),
            ]
        )
    )
    out.append(
        "\n## 무결성 확인 / Checking the files\n\n"
        "압축을 푼 폴더에서 / In the unzipped folder:\n\n"
        "```\nsha256sum -c MANIFEST-SHA256\n```\n\n"
        "`datapackage.json`은 Frictionless Data Package입니다 (표 스키마, 바이트 수, SHA-256). / "
        "`datapackage.json` is a Frictionless Data Package (Table Schemas, byte counts, SHA-256): "
        "`frictionless validate datapackage.json`.\n"
    )
    return "".join(out)


def _cell(text) -> str:
    """Text inside a Markdown table cell: no line breaks, no column bars."""
    return " ".join(str(text).split()).replace("|", "\\|") or "—"


def _columns_text(originals: list[PackedFile]) -> str:
    """The column tables of README: every table's columns (each sheet of a workbook of several tables) with
    their type, unit, meaning and codes."""
    out = []
    tables = [
        (
            item,
            table,
            f"{item.member.path} — {table.original_name}" if table is not item.member.datafile else item.member.path,
        )
        for item in originals
        for table in (item.member.sheets or [item.member.datafile])
    ]
    for _item, df, heading in tables:
        fields = (df.table_schema or {}).get("fields") or []
        if df.format not in TABULAR_FORMATS or not fields:
            continue
        if not out:
            out.append("\n## 열 설명 / Columns\n")
        out.append(f"\n### `{heading}`\n\n")
        out.append("| 열 / Column | 형식 / Type | 단위 / Unit | 설명 / Description | 코드 / Codes |\n")
        out.append("| --- | --- | --- | --- | --- |\n")
        dictionary = df.dictionary or {}
        for column in fields:
            entry = dictionary.get(column["name"]) or {}
            description = " / ".join(t for t in (entry.get("description_ko"), entry.get("description_en")) if t)
            codes = "; ".join(
                f"{c['code']} = {c['label_ko']}" + (f" ({c['label_en']})" if c.get("label_en") else "")
                for c in entry.get("codes") or []
            )
            out.append(
                f"| `{_cell(column['name'])}` | {column.get('type', 'string')} | {_cell(entry.get('unit', ''))} | "
                f"{_cell(description)} | {_cell(codes)} |\n"
            )
    return "".join(out)


LICENCE_BEGIN = "----- 이용허락 본문 시작 / Licence text begins -----"
LICENCE_END = "----- 이용허락 본문 끝 / Licence text ends -----"
_RULE_EN = {"공공데이터법": "Public Data Act", "데이터산업법": "Data Industry Act"}


def _accepted_licence(version, context: Context):
    """(rendered licence or None, the accepted text, the SHA-256 recorded with the order or "").

    The order line's snapshot is the text the buyer accepted; a package built without one (a preview)
    renders the licence of the version. Orders placed before the blanks were filled at checkout kept
    the template: its blanks are filled here from the version, and the recorded digest (of the template)
    is then written next to the text's own one."""
    terms = context.terms or {}
    licence = context.licence or version.licence
    recorded = terms.get("licence_sha256", "")
    if licence is None:
        return None, "", recorded
    if not terms.get("licence_text_ko"):
        rendered = licences.render_for_version(licence, version)
        return rendered, rendered.accepted_text, recorded
    text_ko, text_en = terms["licence_text_ko"], terms.get("licence_text_en", "")
    if licences.has_placeholder(text_ko + text_en) and recorded != licences.text_sha256(
        licences.accepted_text(text_ko, text_en)
    ):
        values = licences.values_for(version)
        text_ko, text_en = licences.fill(text_ko, values.for_ko()), licences.fill(text_en, values.for_en())
    rendered = licences.RenderedLicence(
        code=terms.get("licence_code") or licence.code,
        name_ko=terms.get("licence_name_ko") or licence.name_ko,
        name_en=terms.get("licence_name_en") or licence.name_en,
        url=terms.get("licence_url", licence.url),
        text_ko=text_ko.strip(),
        text_en=text_en.strip(),
    )
    return rendered, rendered.accepted_text, recorded


def _purchase_terms(context: Context) -> list[tuple[str, str]]:
    """The terms of this purchase as the order recorded them, worded in Korean and English."""
    terms = context.terms or {}
    kind = terms.get("offer_kind") or context.entitlement_kind
    kinds = {
        "free": "무료 이용 / Free of charge",
        "one_off": "단건 구매 / One-off purchase",
        "subscription": "구독 / Subscription",
    }
    price = int(terms.get("price_krw") or 0)
    if kind == "free" or not price:
        price_text = "무료 / Free of charge"
    else:
        vat = terms.get("vat_rate_percent")
        if vat == 0:
            vat_ko, vat_en = "부가세 면세", "VAT exempt"
        else:
            vat_ko, vat_en = f"부가세 {vat}% 별도", f"excluding {vat}% VAT"
        price_text = f"{price:,}원 ({vat_ko}) / KRW {price:,} ({vat_en})"
        if kind == "subscription":
            price_text += " — 구독 기간당 / per subscription period"
    number = terms.get("version_number")
    version_text = ""
    if number is not None:
        if kind == "subscription":
            version_text = (
                f"v{number} — 구독 기간 중 새로 공개되는 버전도 받습니다 / "
                "versions published during the subscription are included"
            )
        elif terms.get("latest_at_purchase"):
            version_text = f"v{number} — 구매 시점의 최신 공개 버전 / the latest published version at purchase"
        else:
            version_text = f"v{number} — 이 버전만을 위한 제안 / an offer for this version only"
    contract = terms.get("contract_type", "")
    contract_text = ""
    if contract in Offer.Contract.values:
        with translation.override("ko"):
            label_ko = str(Offer.Contract(contract).label)
        with translation.override("en"):
            label_en = str(Offer.Contract(contract).label)
        contract_text = label_ko if label_ko == label_en else f"{label_ko} / {label_en}"
    rule = terms.get("rule", "")
    until = _date(context.valid_until) if context.valid_until else "기한 없음 / no end"
    if terms.get("private"):
        offer_text = "비공개 제안: 이 기관에만 제시된 조건 / Private offer: made to this organization only"
    else:
        offer_text = "공개 제안: 모든 구매자에게 같은 조건 / Public offer: the same for every buyer"
    return [
        ("이용권 / Kind of purchase", kinds.get(kind, kind)),
        ("가격 / Price", price_text),
        ("구매 시점 버전 / Version at purchase", version_text),
        ("이용 기간 / Valid", f"{_date(context.valid_from)} – {until}" if context.valid_from else ""),
        ("제안 / Offer", offer_text),
        ("적용 법률 / Law applied", f"{rule} ({_RULE_EN[rule]})" if rule in _RULE_EN else rule),
        ("비용부과기준 및 단위 / Basis of the fee", (terms.get("cost_basis") or "").strip()),
        ("데이터 표준계약서 유형 / Standard contract type", contract_text),
        ("구매 기관 / Buyer", context.organization),
        ("주문번호 / Order", context.order_number),
    ]


def licence_text(version, context: Context) -> str:
    """LICENSE.txt: the licence text the buyer accepted (byte for byte, between two marker lines, so its
    SHA-256 can be checked against the acceptance), then the terms of this purchase in Korean and English."""
    rule = "=" * 72
    out = [f"{version.title_ko} (v{version.number}) — 이용 조건 / Terms of use\n", rule + "\n\n"]
    rendered, text, recorded = _accepted_licence(version, context)
    if rendered is None:
        out.append("라이선스가 지정되지 않았습니다. 제공기관에 문의하세요.\nNo licence was set: ask the publisher.\n")
    else:
        digest = licences.text_sha256(text)
        out.append(f"라이선스 / Licence: {rendered.name_ko} / {rendered.name_en} ({rendered.code})\n")
        if rendered.url:
            out.append(f"공식 페이지 / Official page: {rendered.url}\n")
        out.append(
            "\n아래 두 표시줄 사이의 본문이 구매자가 읽고 동의한 이용허락 본문입니다 (UTF-8, 줄바꿈 LF, 표시줄 다음 줄부터 "
            "끝 표시줄 앞까지).\nThe text between the two marker lines below is the licence text the buyer read and "
            "accepted (UTF-8, LF line ends, from the line after the first marker up to the second marker).\n"
            f"SHA-256: {digest}\n"
        )
        if recorded == digest:
            out.append("(주문 시 동의 기록의 SHA-256과 같습니다 / the same as recorded when the order was accepted)\n")
        elif recorded:
            out.append(
                f"(주문 시 기록된 SHA-256 / recorded with the order: {recorded} — 빈칸이 채워지기 전의 본문 / "
                "the text before its blanks were filled)\n"
            )
        out.append(f"\n{LICENCE_BEGIN}\n{text}{LICENCE_END}\n")
        if not rendered.text_en:
            out.append("(No English text was given: the Korean text above applies.)\n")
    terms = [(label, value) for label, value in _purchase_terms(context) if value]
    if context.terms or context.order_number:
        out.append(f"\n{rule}\n이 구매의 조건 / Terms of this purchase\n{rule}\n\n")
        out.extend(f"{label}: {value}\n" for label, value in terms)
        extra = (context.terms or {}).get("private_terms", "").strip()
        if extra:
            out.append("\n추가 조건 (비공개 제안) / Extra terms of the private offer:\n")
            out.extend(f"  {line}\n" for line in extra.splitlines())
    return "".join(out)


# --- Checking a package (tests, support) ---------------------------------------------------------


def verify_package(path_or_file) -> dict:
    """Check a package the way a buyer would: every member's CRC, MANIFEST-SHA256 against every
    other file (and nothing missing or extra), datapackage.json's bytes and hashes. Streams every
    member. Returns {"manifest": {...}, "datapackage": {...}, "names": [...]}; raises ValueError."""
    with zipfile.ZipFile(path_or_file) as zf:
        bad = zf.testzip()
        if bad:
            raise ValueError(f"CRC error in {bad}")
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        if MANIFEST not in names:
            raise ValueError("no MANIFEST-SHA256")
        manifest = {}
        for line in zf.read(MANIFEST).decode("utf-8").splitlines():
            digest, sep, path = line.partition("  ")
            if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError(f"malformed manifest line: {line!r}")
            manifest[path] = digest
        expected = set(names) - {MANIFEST}
        if set(manifest) != expected:
            raise ValueError(f"manifest lists {sorted(set(manifest) ^ expected)} wrongly")
        sizes = {}
        for path, digest in manifest.items():
            sha, n = hashlib.sha256(), 0
            with zf.open(path) as fh:
                while block := fh.read(CHUNK):
                    sha.update(block)
                    n += len(block)
            if sha.hexdigest() != digest:
                raise ValueError(f"sha256 mismatch for {path}")
            sizes[path] = n
        descriptor = json.loads(zf.read("datapackage.json"))
        for resource in descriptor.get("resources", []):
            path = resource["path"]
            if resource.get("hash") != f"sha256:{manifest.get(path)}" or resource.get("bytes") != sizes.get(path):
                raise ValueError(f"datapackage.json disagrees with {path}")
    return {"manifest": manifest, "datapackage": descriptor, "names": names}


def sha256_of(fh: BinaryIO) -> str:
    """SHA-256 of a whole (binary) file object, read in chunks."""
    return hashlib.file_digest(fh, "sha256").hexdigest()


__all__ = [
    "BuildResult",
    "Context",
    "Member",
    "PackagingError",
    "build_into_storage",
    "datapackage_descriptor",
    "licence_text",
    "plan_members",
    "readme_text",
    "sha256_of",
    "sweep_partials",
    "verify_package",
    "write_package",
]
