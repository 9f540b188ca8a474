"""Character encoding of an uploaded text file: detect it, then transcode the file to UTF-8.

Korean public data comes as UTF-8 (with or without a BOM) or as CP949 ("ANSI" in Korean Excel).
DuckDB reads only UTF-8/UTF-16/Latin-1 offline, so every text file is transcoded to UTF-8 first.

Detection is a fixed cascade, not a guess (docs: shared/reference/ecosystem.md §2):

1. a BOM (UTF-8, UTF-16 LE/BE; UTF-32 is recognised so it is not mistaken for UTF-16);
2. a strict UTF-8 decode of a sample (the first 1 MiB, trimmed to the last newline; if that
   sample is pure ASCII, the first 1 MiB that is not);
3. a strict CP949 decode of the same sample. CP949 is a superset of EUC-KR (KS X 1001), so an
   EUC-KR file is always reported as "cp949": it decodes identically, and CP949-only syllables
   such as 똠/햏/뷁 still decode;
4. UTF-16 without a BOM, recognised by its NUL bytes;
5. charset-normalizer restricted to the encodings we accept, as the last resort (method "detector":
   the uploader should confirm the result).

The sample decides; `transcode_to_utf8` decodes the whole file strictly and reports the line of a
byte that does not fit.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import asdict, dataclass

from charset_normalizer import from_bytes
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .errors import IngestError, lazy_format

SAMPLE_SIZE = 1 << 20
# UTF-32 first: its little-endian BOM starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DETECTOR_CANDIDATES = ["utf_8", "cp949", "euc_kr", "utf_16"]
# Names the detector may answer with, mapped to what we report (EUC-KR files are decoded as CP949).
_REPORTED_NAME = {"euc_kr": "cp949", "euc-kr": "cp949", "utf_8": "utf-8", "utf-16": "utf-16"}


@dataclass(frozen=True)
class EncodingResult:
    encoding: str  # a Python codec name: "utf-8", "utf-8-sig", "cp949", "utf-16-le", …
    bom: bool
    method: str  # "bom" | "utf-8" | "cp949" | "utf-16" | "detector"

    def to_dict(self) -> dict:
        return asdict(self)


def detect_encoding(path) -> EncodingResult:
    """Tell the encoding of the text file at `path` (see the module docstring for the order)."""
    with open(path, "rb") as fh:
        head = fh.read(SAMPLE_SIZE)
        if not head:
            raise IngestError(
                "empty_file",
                _("The file is empty. Check that you chose the right file, and upload it again."),
            )
        for bom, name in _BOMS:
            if head.startswith(bom):
                return EncodingResult(name, True, "bom")
        if problem := not_text(head):
            raise problem
        whole = len(head) < SAMPLE_SIZE
        base, base_lines = 0, 0  # where the sample starts in the file
        if head.isascii() and not whole:
            # Korean text may start only after many ASCII lines (numbers first, a 비고 column later):
            # look further for the first window that is not plain ASCII.
            head, whole, base, base_lines = _first_non_ascii_window(fh, head)
    sample = head if whole else _trim_to_last_newline(head)

    if b"\x00" not in sample:
        errors = {}
        for name in ("utf-8", "cp949"):
            errors[name] = _first_error(sample, name, final=whole)
            if errors[name] is None:
                return EncodingResult(name, False, name)
    else:
        guess = _utf16_by_nul_bytes(sample)
        if guess and _decodes(sample[: len(sample) // 2 * 2], guess, final=True):
            return EncodingResult(guess, False, "utf-16")

    best = from_bytes(sample, cp_isolation=_DETECTOR_CANDIDATES).best()
    if best is None and b"\x00" not in sample:
        # Korean text that is damaged in one place: name the place, in the encoding that reads
        # further (and has read non-ASCII text, so it is evidenced at all).
        name = max(errors, key=lambda n: errors[n].start)
        exc = errors[name]
        if not sample[: exc.start].isascii():
            position = base + exc.start
            line = base_lines + sample[: exc.start].count(b"\n") + 1
            raise _decode_error(path, name, position, line, exc)
    if best is None:
        raise IngestError(
            "encoding_unknown",
            _(
                "We could not tell how the text in this file is encoded, so it cannot be read. "
                "Open it in Excel or a text editor and save it as “CSV UTF-8” (or CP949/EUC-KR), "
                "then upload it again."
            ),
            detail="charset-normalizer found no match among " + ", ".join(_DETECTOR_CANDIDATES),
        )
    name = codecs.lookup(best.encoding).name
    name = _REPORTED_NAME.get(name, name)
    return EncodingResult(name, bool(best.bom), "detector")


def transcode_to_utf8(src, dst, encoding: str, *, chunk_size: int = 1 << 20) -> int:
    """Decode `src` strictly as `encoding` and write it to `dst` as UTF-8 without a BOM.

    Streams in chunks (flat memory). Nothing but the BOM is changed: line endings and every
    character stay as they are. Returns the number of bytes written. A byte that does not belong
    to `encoding` raises IngestError("encoding_error") naming its line and byte offset; `dst`
    is then removed.
    """
    codec = codecs.lookup(encoding).name
    plain_utf8 = codec == "utf-8"  # validate only, and write the bytes as they are
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    written = 0
    offset = 0  # bytes of src consumed before the current chunk
    newlines = 0  # b"\n" bytes before the current chunk (gives the line number of an error)
    at_start = True  # no character decoded yet: a BOM may still come
    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            skip = len(codecs.BOM_UTF8) if plain_utf8 and fin.read(3) == codecs.BOM_UTF8 else 0
            fin.seek(0)
            while True:
                chunk = fin.read(chunk_size)
                final = not chunk
                try:
                    text = decoder.decode(chunk, final)
                except UnicodeDecodeError as exc:
                    pending = max(0, len(exc.object) - len(chunk))
                    position = offset - pending + exc.start
                    line = newlines + chunk[: max(0, exc.start - pending)].count(b"\n") + 1
                    raise _decode_error(src, codec, position, line, exc) from exc
                if plain_utf8:
                    data = chunk
                    if skip:
                        data, skip = data[skip:], max(0, skip - len(data))
                else:
                    if at_start and text:
                        at_start = False
                        if text.startswith("\ufeff"):
                            text = text[1:]
                    data = text.encode("utf-8")
                if data:
                    fout.write(data)
                    written += len(data)
                if final:
                    break
                offset += len(chunk)
                newlines += chunk.count(b"\n")
    except BaseException:
        try:
            os.remove(dst)
        except OSError:
            pass
        raise
    return written


# --- files that are not text --------------------------------------------------------------------

# Magic bytes of the binaries people pick by mistake (a chart, a scan, the workbook itself).
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"\x1f\x8b", "gzip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),  # .xls, .hwp, .doc of before 2007
)
_BINARY_WORDS = {
    "png": pgettext_lazy("file kind", "a PNG image"),
    "jpeg": pgettext_lazy("file kind", "a JPEG image"),
    "gif": pgettext_lazy("file kind", "a GIF image"),
    "pdf": pgettext_lazy("file kind", "a PDF document"),
    "zip": pgettext_lazy("file kind", "a ZIP archive"),
    "gzip": pgettext_lazy("file kind", "a gzip-compressed file"),
    "ole": pgettext_lazy("file kind", "an old-format Office or Hangul document (such as .xls or .hwp)"),
    "binary": pgettext_lazy("file kind", "a binary file (it holds bytes that text never has)"),
}


def not_text(head: bytes) -> IngestError | None:
    """An IngestError("not_text") if the first bytes of a file said to be CSV are a known binary
    format, or hold NUL bytes that are not UTF-16 text; otherwise None. Without it such a file
    was refused as "cannot decode, save it as UTF-8", which sends people the wrong way."""
    kind = next((k for magic, k in _MAGIC if head.startswith(magic)), None)
    if kind == "zip" and (b"[Content_Types].xml" in head or b"xl/" in head):
        return IngestError(
            "not_text",
            _(
                "This file is not a text table (CSV): it looks like an Excel workbook (.xlsx) that was given a .csv "
                "name. Rename it so that it ends in .xlsx and upload it again, or open it in Excel and save it as "
                "“CSV UTF-8 (comma delimited)”."
            ),
            detail="ZIP with an Office Open XML part in its first bytes",
        )
    if kind is None and b"\x00" in head[:65536] and _utf16_by_nul_bytes(head[:65536]) is None:
        kind = "binary"
    if kind is None:
        return None
    return IngestError(
        "not_text",
        lazy_format(
            _(
                "This file is not a text table (CSV) but %(kind)s, so it cannot be read as data. Check that you "
                "chose the right file: upload the table itself, saved from Excel as “CSV UTF-8 (comma delimited)”."
            ),
            {"kind": _BINARY_WORDS[kind]},
        ),
        detail=f"first bytes {head[:8].hex(' ')} ({kind})",
    )


# --- helpers -----------------------------------------------------------------------------------


def _decodes(data: bytes, encoding: str, *, final: bool) -> bool:
    """Strict decode; with final=False an incomplete character at the very end is allowed."""
    return _first_error(data, encoding, final=final) is None


def _first_error(data: bytes, encoding: str, *, final: bool) -> UnicodeDecodeError | None:
    try:
        codecs.getincrementaldecoder(encoding)(errors="strict").decode(data, final)
    except UnicodeDecodeError as exc:
        return exc
    return None


def _trim_to_last_newline(data: bytes) -> bytes:
    cut = data.rfind(b"\n")
    return data[: cut + 1] if cut > 0 else data


def _first_non_ascii_window(fh, head: bytes) -> tuple[bytes, bool, int, int]:
    """From an open file whose first chunk is ASCII, a 1 MiB window starting at the line that
    holds the first non-ASCII byte (or the last chunk read, if the file is all ASCII).
    Returns (window, reaches the end, its byte offset, newlines before it)."""
    previous, offset, lines = head, 0, 0
    while True:
        chunk = fh.read(SAMPLE_SIZE)
        if not chunk:
            return previous, True, offset, lines  # all ASCII: utf-8
        offset += len(previous)
        lines += previous.count(b"\n")
        if not chunk.isascii():
            first = next(i for i, b in enumerate(chunk) if b >= 0x80)
            start = chunk.rfind(b"\n", 0, first) + 1
            window = chunk[start:] + fh.read(start)  # keep the window about 1 MiB long
            whole = len(window) < SAMPLE_SIZE
            return window, whole, offset + start, lines + chunk[:start].count(b"\n")
        previous = chunk


def _utf16_by_nul_bytes(sample: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII characters put their NUL byte on the odd (LE) or even (BE) side."""
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) // 2 or 1
    if odd > even and odd > half * 0.3:
        return "utf-16-le"
    if even > odd and even > half * 0.3:
        return "utf-16-be"
    return None


def _decode_error(src, encoding: str, position: int, line: int, exc: UnicodeDecodeError) -> IngestError:
    bad = exc.object[exc.start : exc.start + 8]
    message = lazy_format(
        _(
            "The file could not be read as %(encoding)s: line %(line)s (near byte %(position)s) "
            "contains characters that do not belong to it. The file may mix two encodings or be "
            "damaged. Open it in Excel or a text editor, check that line, save the file as "
            "“CSV UTF-8” (or CP949/EUC-KR) and upload it again."
        ),
        {"encoding": encoding.upper(), "line": f"{line:,}", "position": f"{position:,}"},
    )
    detail = (
        f"{os.path.basename(str(src))}: {exc.reason} at byte {position} (line {line}) "
        f"decoding as {encoding}; bytes {bad.hex(' ')}"
    )
    err = IngestError("encoding_error", message, detail=detail)
    err.line = line
    err.position = position
    return err
