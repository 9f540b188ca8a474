"""ZIP uploads: look inside without trusting the archive, then copy out one member at a time.

`inspect_zip` reads only the central directory (no member is decompressed) and refuses an
archive that could hurt us: paths that climb out of a folder or are absolute, symlinks, nested
archives, encrypted members, compression methods whose output we cannot bound, too many
members, too many bytes, a compression ratio typical of a zip bomb, and names that collide once
decoded. Folder entries and operating-system litter (`__MACOSX/`, `.DS_Store`, `Thumbs.db`, …)
are skipped and listed in `ArchiveReport.skipped`.

`extract_member` copies one member to a file path the *caller* chooses (never a path derived
from the member name) and counts the bytes it really writes: the sizes in a ZIP header are
written by whoever made the file and can lie.

Member names: ZIP files made by Korean Windows archivers (Windows Explorer, ALZip, Bandizip in
its default mode) store names in CP949 without the UTF-8 flag (bit 11), so Python shows them as
CP437 mojibake. `decode_member_name` undoes that: the UTF-8 flag wins; otherwise an Info-ZIP
Unicode Path extra field (0x7075) whose CRC matches; otherwise the raw bytes as strict UTF-8
(Linux/macOS zip writes UTF-8 without the flag), then strict CP949; otherwise the CP437 text as
Python read it. Names are NFC-normalised, because macOS writes Hangul decomposed (NFD).
"""

from __future__ import annotations

import binascii
import copy
import os
import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.utils.translation import gettext_lazy as _

from .errors import IngestError
from .errors import lazy_format as _fmt

__all__ = [
    "ArchiveReport",
    "ZipMember",
    "decode_member_name",
    "extract_member",
    "inspect_zip",
    "DEFAULT_ALLOWED_SUFFIXES",
    "NESTED_ARCHIVE_SUFFIXES",
]

DEFAULT_ALLOWED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".json", ".geojson")
# Archives inside the archive are refused, not unpacked (.alz/.egg are the Korean ALZip formats).
NESTED_ARCHIVE_SUFFIXES = frozenset(
    {
        ".zip",
        ".7z",
        ".rar",
        ".gz",
        ".tgz",
        ".tar",
        ".bz2",
        ".tbz2",
        ".xz",
        ".txz",
        ".zst",
        ".lz",
        ".lzma",
        ".z",
        ".cab",
        ".alz",
        ".egg",
        ".jar",
        ".arj",
        ".lzh",
    }
)
# Operating-system litter, skipped silently (compared case-insensitively on the last path part).
_JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db"})
# Only these compression methods have output we can bound per read (zlib's max_length).
# bzip2/LZMA decompress a whole input chunk at once, which a bomb turns into gigabytes.
_SAFE_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A compression ratio only matters once a member is big enough to hurt: small, very
# repetitive CSVs legitimately compress more than 100:1.
_RATIO_MIN_SIZE = 1024 * 1024


@dataclass
class ZipMember:
    name: str  # decoded, NFC, with "/" as separator
    size: int  # declared uncompressed size (extract_member enforces it)
    compressed_size: int
    suffix: str  # lower-case, with the dot: ".csv"


@dataclass
class ArchiveReport:
    """What `inspect_zip` returns. `skipped` lists folder entries and system files (decoded
    names) that were ignored; `total_size` is the sum of the members' declared sizes."""

    members: list[ZipMember] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    total_size: int = 0


def _unicode_path_extra(info: zipfile.ZipInfo, raw: bytes) -> str | None:
    """The Info-ZIP Unicode Path extra field (0x7075), if present and written for these bytes."""
    extra = info.extra or b""
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[i : i + 4])
        body = extra[i + 4 : i + 4 + size]
        if tag == 0x7075 and len(body) >= 5 and body[0] == 1:
            (crc,) = struct.unpack("<I", body[1:5])
            if crc == binascii.crc32(raw) & 0xFFFFFFFF:
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
        i += 4 + size
    return None


def decode_member_name(info: zipfile.ZipInfo) -> str:
    """The member's real name (see the module docstring for the order of attempts)."""
    name = info.orig_filename  # ZipInfo.filename is cut at a NUL byte; the original is not
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")  # Python decoded the stored bytes as CP437: undo it
        except UnicodeEncodeError:  # ZipFile opened with metadata_encoding=: already decoded
            raw = None
        if raw is not None and not raw.isascii():
            decoded = _unicode_path_extra(info, raw)
            if decoded is None:
                for encoding in ("utf-8", "cp949"):
                    try:
                        decoded = raw.decode(encoding)
                        break
                    except UnicodeDecodeError:
                        continue
            if decoded is not None:
                name = decoded
    return unicodedata.normalize("NFC", name).replace("\\", "/")


def _is_junk(name: str) -> bool:
    parts = [p for p in name.split("/") if p]
    if not parts:
        return True
    if parts[0] == "__MACOSX":
        return True
    base = parts[-1]
    return base.lower() in _JUNK_NAMES or base.startswith("._")  # ._x = macOS resource fork


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _suffix(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def _check_entry(info: zipfile.ZipInfo, name: str) -> None:
    """Refusals that apply to every entry, skipped or not (a hostile archive is refused whole)."""
    if _CONTROL.search(info.orig_filename):
        raise IngestError(
            "zip_bad_name",
            _fmt(
                _(
                    "The ZIP file contains a file with an invalid name (%(name)s). Create the ZIP file again from "
                    "ordinary files and upload it."
                ),
                {"name": name.replace("\x00", "?")},
            ),
            detail=repr(info.orig_filename),
        )
    if name.startswith("/") or _DRIVE.match(name):
        raise IngestError(
            "zip_absolute_path",
            _fmt(
                _(
                    "The ZIP file contains a file stored with a full disk path (%(name)s). Put the files in one "
                    "folder, create the ZIP file from that folder and upload it again."
                ),
                {"name": name},
            ),
            detail=info.orig_filename,
        )
    if ".." in name.split("/"):
        raise IngestError(
            "zip_path_traversal",
            _fmt(
                _(
                    "The ZIP file contains a file whose path points outside the archive (%(name)s). This is not "
                    "accepted for safety. Create the ZIP file again from ordinary files."
                ),
                {"name": name},
            ),
            detail=info.orig_filename,
        )
    if _is_symlink(info):
        raise IngestError(
            "zip_symlink",
            _fmt(
                _(
                    "The ZIP file contains a shortcut (symbolic link), %(name)s, instead of a real file. Replace it "
                    "with the file itself and create the ZIP file again."
                ),
                {"name": name},
            ),
            detail=f"external_attr={info.external_attr:#x}",
        )


def _check_member(info: zipfile.ZipInfo, name: str, allowed_suffixes=None) -> str:
    """Refusals for an entry we would extract; returns its suffix. `allowed_suffixes=None`
    skips the suffix check (extract_member: the caller chose the member from inspect_zip)."""
    if info.flag_bits & 0x1:
        raise IngestError(
            "zip_encrypted",
            _fmt(
                _(
                    "The file %(name)s in the ZIP file is protected by a password. Create the ZIP file again "
                    "without a password and upload it."
                ),
                {"name": name},
            ),
        )
    suffix = _suffix(name)
    if suffix in NESTED_ARCHIVE_SUFFIXES:
        raise IngestError(
            "zip_nested",
            _fmt(
                _(
                    "The ZIP file contains another compressed file (%(name)s). Unpack it and put its files directly "
                    "into a single ZIP file, or upload them one by one."
                ),
                {"name": name},
            ),
        )
    if allowed_suffixes is not None and suffix not in allowed_suffixes:
        raise IngestError(
            "zip_unsupported_member",
            _fmt(
                _(
                    "The ZIP file contains %(name)s, which is not a data file we can publish. Accepted types are "
                    "%(types)s. Remove the other files and upload the ZIP file again."
                ),
                {"name": name, "types": ", ".join(allowed_suffixes)},
            ),
            detail=suffix or "(no extension)",
        )
    if info.compress_type not in _SAFE_COMPRESSION:
        raise IngestError(
            "zip_unsupported_compression",
            _fmt(
                _(
                    "The file %(name)s in the ZIP file uses a compression method we do not accept. Create the ZIP "
                    "file with the standard (Deflate) method, e.g. Windows “Send to > Compressed folder”."
                ),
                {"name": name},
            ),
            detail=f"compress_type={info.compress_type}",
        )
    return suffix


def _corrupt(exc: Exception) -> IngestError:
    return IngestError(
        "zip_corrupt",
        _(
            "The ZIP file is damaged or is not a ZIP file. Create it again and upload it, or upload the data file "
            "itself."
        ),
        detail=f"{type(exc).__name__}: {exc}",
    )


def _declared_entry_count(path) -> int | None:
    """The entry count in the end-of-central-directory record, read before ZipFile parses the
    whole directory (a million tiny entries would otherwise cost hundreds of MB)."""
    try:
        with open(path, "rb") as fp:
            endrec = zipfile._EndRecData(fp)  # noqa: SLF001 — stable since Python 2, handles ZIP64
    except (AttributeError, OSError, TypeError, ValueError, struct.error):  # TypeError: a file object
        return None
    if not endrec:
        return None
    return endrec[zipfile._ECD_ENTRIES_TOTAL]  # noqa: SLF001


def _too_many(count: int, limit: int) -> IngestError:
    return IngestError(
        "zip_too_many_members",
        _fmt(
            _(
                "The ZIP file contains more than %(limit)s files, the most we accept in one upload. Split it into "
                "several uploads."
            ),
            {"limit": limit},
        ),
        detail=f"at least {count} entries",
    )


def inspect_zip(
    path,
    *,
    max_members: int = 1000,
    max_total_uncompressed: int = 20 * 1024**3,
    max_ratio: float = 100,
    allowed_suffixes=DEFAULT_ALLOWED_SUFFIXES,
    ratio_min_size: int = _RATIO_MIN_SIZE,
) -> ArchiveReport:
    """List the data files in the ZIP at `path`, or raise IngestError.

    Codes: zip_corrupt, zip_bad_name, zip_absolute_path, zip_path_traversal, zip_symlink,
    zip_encrypted, zip_nested, zip_unsupported_member, zip_unsupported_compression,
    zip_too_many_members, zip_too_large, zip_bomb, zip_duplicate_name, zip_empty.

    `max_members` counts data members; skipped entries (folders, `__MACOSX/…`) are allowed on
    top, up to 3 × max_members entries in all. `max_ratio` (uncompressed / compressed size) is
    checked for members of at least `ratio_min_size` bytes.
    """
    allowed = tuple(s.lower() for s in allowed_suffixes)
    entry_limit = 3 * max_members
    declared = _declared_entry_count(path)
    if declared is not None and declared > entry_limit:
        raise _too_many(declared, max_members)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, OSError) as exc:
        raise _corrupt(exc) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > entry_limit:
            raise _too_many(len(infos), max_members)
        report = ArchiveReport()
        seen: dict[str, str] = {}
        for info in infos:
            name = decode_member_name(info)
            _check_entry(info, name)
            if info.is_dir() or name.endswith("/") or _is_junk(name):
                report.skipped.append(name)
                continue
            suffix = _check_member(info, name, allowed)
            key = name.casefold()
            if key in seen:
                raise IngestError(
                    "zip_duplicate_name",
                    _fmt(
                        _(
                            "The ZIP file contains two files named %(name)s. Rename one of them and create the ZIP "
                            "file again."
                        ),
                        {"name": name},
                    ),
                    detail=f"{seen[key]!r} / {info.orig_filename!r}",
                )
            seen[key] = info.orig_filename
            if info.file_size >= ratio_min_size and info.file_size > max_ratio * max(info.compress_size, 1):
                raise IngestError(
                    "zip_bomb",
                    _fmt(
                        _(
                            "The file %(name)s in the ZIP file expands to far more than its compressed size, as "
                            "harmful archives do. Upload the data file itself instead of the ZIP file."
                        ),
                        {"name": name},
                    ),
                    detail=f"{info.file_size} / {info.compress_size} > {max_ratio}",
                )
            report.members.append(ZipMember(name, info.file_size, info.compress_size, suffix))
            report.total_size += info.file_size
            if len(report.members) > max_members:
                raise _too_many(len(report.members), max_members)
            if report.total_size > max_total_uncompressed:
                raise IngestError(
                    "zip_too_large",
                    _fmt(
                        _("Unpacked, the ZIP file would be larger than %(limit)s GB. Split it into several uploads."),
                        {"limit": f"{max_total_uncompressed / 1024**3:g}"},
                    ),
                    detail=f"{report.total_size} > {max_total_uncompressed}",
                )
    if not report.members:
        raise IngestError(
            "zip_empty",
            _("The ZIP file contains no data files. Check that you compressed the right folder and upload it again."),
            detail=f"skipped={len(report.skipped)}",
        )
    return report


def extract_member(path, member_name: str, dest_path, *, max_size: int) -> int:
    """Copy the member called `member_name` (the decoded name from `inspect_zip`) to the file
    `dest_path`, which is created or truncated (a symlink there is refused, not followed).

    The copy is streamed in 1 MiB chunks and the bytes actually written are counted: more than
    the header declares, or more than `max_size`, raises IngestError("zip_bomb") at once and the
    partial file is removed. Fewer bytes than declared, or a CRC mismatch, raises "zip_corrupt".
    Per-member checks (path, symlink, encryption, suffix, compression) are repeated here; the
    archive-wide limits are `inspect_zip`'s, which callers run first. Returns the bytes written.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, OSError) as exc:
        raise _corrupt(exc) from exc
    with zf:
        matches = [info for info in zf.infolist() if decode_member_name(info) == member_name]
        if len(matches) != 1:
            raise IngestError(
                "zip_member_not_found",
                _fmt(
                    _("The file %(name)s was not found in the ZIP file. Upload the ZIP file again."),
                    {"name": member_name},
                ),
                detail=f"matches={len(matches)}",
            )
        info = matches[0]
        _check_entry(info, member_name)
        _check_member(info, member_name)
        declared = info.file_size
        limit = min(declared, max_size)
        # Read through a copy whose declared size is "unbounded", so zipfile does not silently
        # cut the data at the (possibly lying) header size: we count and stop ourselves.
        probe = copy.copy(info)
        probe.file_size = 1 << 62

        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        written = 0
        ok = False
        try:
            fd = os.open(dest_path, flags, 0o600)
        except OSError as exc:
            raise IngestError(
                "zip_extract_failed",
                _(
                    "The file could not be unpacked on the server. Try again later; if it happens again, contact the "
                    "portal administrator."
                ),
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        try:
            with os.fdopen(fd, "wb") as out, zf.open(probe) as src:
                while True:
                    chunk = src.read(_CHUNK)
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > limit:
                        raise IngestError(
                            "zip_bomb",
                            _fmt(
                                _(
                                    "The file %(name)s in the ZIP file unpacks to more data than the archive "
                                    "declares or than we accept. Upload the data file itself instead of the ZIP "
                                    "file."
                                ),
                                {"name": member_name},
                            ),
                            detail=f"written>{limit} (declared {declared}, max_size {max_size})",
                        )
                    out.write(chunk)
            if written < declared:
                raise IngestError(
                    "zip_corrupt",
                    _fmt(
                        _(
                            "The file %(name)s in the ZIP file is incomplete or damaged. Create the ZIP file again "
                            "and upload it."
                        ),
                        {"name": member_name},
                    ),
                    detail=f"written {written} < declared {declared}",
                )
            ok = True
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise IngestError(
                "zip_corrupt",
                _fmt(
                    _(
                        "The file %(name)s in the ZIP file is incomplete or damaged. Create the ZIP file again and "
                        "upload it."
                    ),
                    {"name": member_name},
                ),
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        finally:
            if not ok:
                try:
                    os.unlink(dest_path)
                except OSError:
                    pass
    return written
