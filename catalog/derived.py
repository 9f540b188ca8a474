"""The copies of a published data file that every package of its version carries next to the original
(catalog.models.DerivedFile), and how they are made. Building one is the slow part a package used to
repeat for every order (decode, scan every cell, compress); it is made once per file and version and
kept as one raw DEFLATE stream, which a package writes into its ZIP as is (transactions.delivery.packaging).

- `excel` (CSV/TSV): UTF-8 with a BOM, each formula-looking text cell prefixed with an apostrophe
  (catalog.exports.CsvFormulaGuard: the OWASP advice; a cell that is one number such as -3.2 stays a
  number). A spreadsheet opening a CSV shows that apostrophe (LibreOffice 7.4 keeps "'=x" as the text
  'x with its apostrophe; a quoted "=x" is still run as a formula, so quoting is no protection), so a
  column *name* that looks like a formula is also written with the apostrophe, and the package's
  datapackage.json gives the copy its own Table Schema with those names (`excel_field_name`).
  A CP949 (or UTF-16) file is decoded strictly: a byte that does not decode fails the build.
  When the copy comes out byte for byte the original (a UTF-8 file with a BOM and no formula-looking
  cell) nothing is stored: `same_as_original`, and the package says data/<file> is the one for Excel.
- `utf8` (JSON/GeoJSON stored in another encoding, e.g. CP949): the same text in UTF-8 without a BOM,
  which RFC 8259 requires of JSON exchanged between systems.

The SHA-256 of the stored original is recomputed while it is read; a damaged file fails the copy.
"""

from __future__ import annotations

import codecs
import hashlib
import queue
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from catalog.exports import CsvFormulaGuard, looks_like_formula
from catalog.ingest.errors import lazy_format
from core.storage import open_stream

CHUNK = 1 << 20
READ_AHEAD = 4  # chunks read (and decoded) ahead of the compressor, in a thread
DEFLATE_LEVEL = 1  # what the package uses for text: see transactions.delivery.packaging
EXCEL_FORMATS = {"csv", "tsv"}
JSON_FORMATS = {"json", "geojson"}
# How long a stuck reader thread is waited for once its consumer stopped (a soft time limit, an error):
# a read that never returns (a hung network mount) must not hold the consumer too.
JOIN_SECONDS = 5.0

Progress = Callable[[int], None]


def time_limits(size: int) -> dict:
    """Celery's soft and hard time limits (seconds) for a task that reads `size` bytes of data files (a
    package build, or making a version's copies): PACKAGE_TIME_LIMIT_BASE_SECONDS plus
    PACKAGE_TIME_LIMIT_SECONDS_PER_GB per GB, the hard one PACKAGE_TIME_LIMIT_GRACE_SECONDS later. A build
    stuck while its worker lives (a storage read that never returns) thus ends: the soft limit raises
    SoftTimeLimitExceeded in the task (retried, then failed visibly), the hard one kills the pool process
    (the lease machinery then takes the build over)."""
    soft = int(settings.PACKAGE_TIME_LIMIT_BASE_SECONDS + settings.PACKAGE_TIME_LIMIT_SECONDS_PER_GB * size / 1e9)
    return {"soft_time_limit": soft, "time_limit": soft + settings.PACKAGE_TIME_LIMIT_GRACE_SECONDS}


class CopyError(Exception):
    """The stored original cannot become this copy (damaged, or not decodable): retrying cannot help.
    `message` is for people (translatable), `detail` technical."""

    def __init__(self, message, *, detail: str = ""):
        super().__init__(f"{message} {detail}".strip())
        self.message = message
        self.detail = detail


def is_utf8(encoding: str) -> bool:
    if not encoding:
        return True
    try:
        return codecs.lookup(encoding).name in ("utf-8", "ascii")
    except LookupError:
        return False


def kinds_for(datafile) -> list[str]:
    """The copies a package carries of `datafile` (kind values of DerivedFile.Kind)."""
    if datafile.format in EXCEL_FORMATS:
        return ["excel"]
    if datafile.format in JSON_FORMATS and not is_utf8(datafile.encoding) and datafile.encoding != "utf-8-sig":
        return ["utf8"]
    return []


def excel_field_name(name: str) -> str:
    """A column name as the Excel copy's header writes it (and a spreadsheet shows it)."""
    return "'" + name if looks_like_formula(name) else name


def excel_schema(schema: dict | None) -> dict | None:
    """The Table Schema of an Excel copy: the original's, with the names (and missing-value markers)
    that look like formulas written as the copy writes them, so the header matches its schema."""
    if not schema or not schema.get("fields"):
        return schema
    copy = {**schema, "fields": [{**f, "name": excel_field_name(f.get("name", ""))} for f in schema["fields"]]}
    if "missingValues" in schema:
        copy["missingValues"] = [excel_field_name(v) if isinstance(v, str) else v for v in schema["missingValues"]]
    for key in ("primaryKey",):
        if isinstance(schema.get(key), list):
            copy[key] = [excel_field_name(v) for v in schema[key]]
        elif isinstance(schema.get(key), str):
            copy[key] = excel_field_name(schema[key])
    return copy


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


def read_ahead(items: Iterator, depth: int = READ_AHEAD):
    """Iterate `items` in a thread of its own, up to `depth` items ahead, so that reading, hashing and
    decoding overlap with compressing and writing (zlib and hashlib release the GIL: the second core
    does work). Memory stays bounded (depth × 1 MiB); an exception in the thread is raised here, and
    stopping early stops the thread. A thread stuck in a read that never returns is left behind (a
    daemon) after JOIN_SECONDS: the consumer (a task ending on its soft time limit) goes on."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run():
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer)
            put(_Raised(exc))
        finally:
            items.close()

    thread = threading.Thread(target=run, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(JOIN_SECONDS)


def open_source(datafile) -> BinaryIO:
    try:
        return open_stream(datafile.file.storage, datafile.file.name)  # S3: the GET body as it arrives
    except FileNotFoundError as exc:
        # Missing from storage: possibly a storage outage, so the task retries before giving up.
        raise FileNotFoundError(f"{datafile.original_name} ({datafile.file.name}) is missing from storage") from exc


def damaged(datafile, read_sha256: str, read: int) -> CopyError:
    return CopyError(
        lazy_format(
            _(
                "The stored copy of “%(name)s” is damaged: its SHA-256 is not the one recorded when it was "
                "uploaded. The platform admins must restore it from a backup (or the publisher upload it again)."
            ),
            {"name": datafile.original_name},
        ),
        detail=f"storage {datafile.file.name}: expected {datafile.sha256}, read {read_sha256} ({read} bytes)",
    )


def _undecodable(datafile, offset: int) -> CopyError:
    return CopyError(
        lazy_format(
            _("“%(name)s” cannot be converted to UTF-8: a byte near position %(offset)s is not valid %(encoding)s."),
            {"name": datafile.original_name, "offset": offset, "encoding": datafile.encoding},
        ),
        detail=f"storage {datafile.file.name}",
    )


def _copy_chunks(datafile, kind: str, source_sha, counts: dict) -> Iterator[tuple[int, bytes]]:
    """(source bytes read, copy bytes) per 1 MiB of the stored file, hashing the source. The copy is in
    UTF-8 (a UTF-8 source is not decoded again: the checks decoded it strictly and its SHA-256 is the
    one they read); the Excel copy starts with a BOM and goes through the formula guard."""
    encoding = datafile.encoding or "utf-8"
    utf8 = is_utf8(encoding) or encoding == "utf-8-sig"
    decoder = None if utf8 else codecs.getincrementaldecoder(encoding)(errors="strict")
    guard = None
    if kind == "excel":
        guard = CsvFormulaGuard("\t" if datafile.format == "tsv" else (datafile.delimiter or ","))
        yield 0, codecs.BOM_UTF8
    read = 0
    first = True
    with open_source(datafile) as src:
        while chunk := src.read(CHUNK):
            read += len(chunk)
            source_sha.update(chunk)
            if decoder is not None:
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    raise _undecodable(datafile, read - len(chunk) + exc.start) from exc
                data = (text[1:] if first and text.startswith("\ufeff") else text).encode("utf-8")
            else:
                data = chunk[3:] if first and chunk.startswith(codecs.BOM_UTF8) else chunk
            first = first and not data
            yield len(chunk), guard.feed(data) if guard else data
        tail = b""
        if decoder is not None:
            try:
                tail = decoder.decode(b"", final=True).encode("utf-8")
            except UnicodeDecodeError as exc:
                raise _undecodable(datafile, read) from exc
        if guard:
            tail = guard.feed(tail) + guard.finish()
        yield 0, tail
    counts["formula_cells"] = guard.cells if guard else None


@dataclass
class CopyResult:
    size: int
    sha256: str
    crc32: int
    compressed_size: int
    compressed_sha256: str
    formula_cells: int | None
    same_as_original: bool


def write_copy(datafile, kind: str, out: BinaryIO, *, progress: Progress | None = None) -> CopyResult:
    """Write the `kind` copy of `datafile` into `out` as one raw DEFLATE stream (what a ZIP member of
    compression method 8 holds). `progress(n)` gets the source bytes read, chunk by chunk."""
    source_sha, copy_sha, stored_sha = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc = size = compressed = read = 0
    counts: dict = {}

    def emit(block: bytes) -> None:
        nonlocal compressed
        if block:
            stored_sha.update(block)
            out.write(block)
            compressed += len(block)

    for n, data in read_ahead(_copy_chunks(datafile, kind, source_sha, counts)):
        if data:
            copy_sha.update(data)
            crc = zlib.crc32(data, crc)
            size += len(data)
            emit(compressor.compress(data))
        read += n
        if progress and n:
            progress(n)
    emit(compressor.flush())
    if datafile.sha256 and source_sha.hexdigest() != datafile.sha256:
        raise damaged(datafile, source_sha.hexdigest(), read)
    digest = copy_sha.hexdigest()
    return CopyResult(
        size=size,
        sha256=digest,
        crc32=crc,
        compressed_size=compressed,
        compressed_sha256=stored_sha.hexdigest(),
        formula_cells=counts.get("formula_cells"),
        same_as_original=digest == datafile.sha256,
    )


def inflate(stream: BinaryIO) -> Iterator[bytes]:
    """The copy itself from its stored raw DEFLATE stream (tests, support)."""
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
    while block := stream.read(CHUNK):
        yield decompressor.decompress(block)
    yield decompressor.flush()
