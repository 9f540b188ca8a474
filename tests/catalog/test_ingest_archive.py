"""catalog.ingest.archive: every ZIP is crafted here with zipfile, in tmp_path."""

import dataclasses
import json
import struct
import zipfile

import pytest

from catalog.ingest.archive import ArchiveReport, ZipMember, decode_member_name, extract_member, inspect_zip
from catalog.ingest.errors import IngestError


class RawNameInfo(zipfile.ZipInfo):
    """A ZipInfo whose name is stored as the exact bytes given (zipfile would otherwise write any
    non-ASCII name as UTF-8 and set flag bit 11): what Korean Windows archivers produce."""

    def __init__(self, raw: bytes, **kw):
        super().__init__(raw.decode("cp437"), **kw)

    def _encodeFilenameFlags(self):  # noqa: N802 (zipfile's name)
        return self.filename.encode("cp437"), self.flag_bits


def make_zip(path, entries, compression=zipfile.ZIP_DEFLATED):
    """entries: (name or ZipInfo, bytes) pairs."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def refused(path, **kw) -> IngestError:
    with pytest.raises(IngestError) as info:
        inspect_zip(path, **kw)
    return info.value


CSV = "측정소명,미세먼지\n정왕동,31\n".encode()


def test_cp949_names_without_utf8_flag_are_decoded(tmp_path):
    names = ["시흥시_가로등.csv", "자료/2024년 미세먼지.xlsx"]
    path = make_zip(
        tmp_path / "cp949.zip", [(RawNameInfo(n.encode("cp949")), CSV) for n in names] + [("readme.txt", b"ascii name")]
    )

    # The stored bytes really are CP949, flag bit 11 unset: Python alone shows mojibake.
    raw = path.read_bytes()
    assert "시흥시_가로등.csv".encode("cp949") in raw and "시흥시_가로등.csv".encode() not in raw
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
        assert not info.flag_bits & 0x800
        assert info.filename == "시흥시_가로등.csv".encode("cp949").decode("cp437") != "시흥시_가로등.csv"
        assert decode_member_name(info) == "시흥시_가로등.csv"

    report = inspect_zip(path)
    assert isinstance(report, ArchiveReport)
    assert [m.name for m in report.members] == ["시흥시_가로등.csv", "자료/2024년 미세먼지.xlsx", "readme.txt"]
    assert report.members[0] == ZipMember("시흥시_가로등.csv", len(CSV), report.members[0].compressed_size, ".csv")
    assert [m.suffix for m in report.members] == [".csv", ".xlsx", ".txt"]
    assert report.total_size == 2 * len(CSV) + len(b"ascii name")
    assert report.skipped == []
    json.dumps(dataclasses.asdict(report))  # JSON-serialisable

    dest = tmp_path / "out.bin"
    assert extract_member(path, "자료/2024년 미세먼지.xlsx", dest, max_size=1024) == len(CSV)
    assert dest.read_bytes() == CSV


def test_utf8_flag_and_nfd_names(tmp_path):
    nfd = "\u1109\u1175\u1112\u1173\u11bc.csv"  # "시흥.csv" decomposed, as macOS writes it
    path = make_zip(tmp_path / "utf8.zip", [("가로등.csv", CSV), (nfd, CSV)])
    with zipfile.ZipFile(path) as zf:
        assert all(i.flag_bits & 0x800 for i in zf.infolist())
    assert [m.name for m in inspect_zip(path).members] == ["가로등.csv", "시흥.csv"]


def test_utf8_bytes_without_flag(tmp_path):
    path = make_zip(tmp_path / "linux.zip", [(RawNameInfo("가로등.csv".encode()), CSV)])
    assert [m.name for m in inspect_zip(path).members] == ["가로등.csv"]


def test_folders_and_system_litter_are_skipped(tmp_path):
    path = make_zip(
        tmp_path / "mac.zip",
        [
            ("자료/", b""),
            ("자료/a.csv", CSV),
            ("__MACOSX/자료/._a.csv", b"\x00\x05\x16\x07"),
            ("자료/.DS_Store", b"\x00\x00\x00\x01Bud1"),
            ("자료/Thumbs.db", b"\xd0\xcf"),
            ("자료/._b.csv", b"\x00\x05\x16\x07"),
        ],
    )
    report = inspect_zip(path)
    assert [m.name for m in report.members] == ["자료/a.csv"]
    assert report.skipped == ["자료/", "__MACOSX/자료/._a.csv", "자료/.DS_Store", "자료/Thumbs.db", "자료/._b.csv"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("../../etc/passwd.csv", "zip_path_traversal"),
        ("data/../../x.csv", "zip_path_traversal"),
        ("..\\..\\windows\\x.csv", "zip_path_traversal"),
        ("/etc/x.csv", "zip_absolute_path"),
        ("\\server\\x.csv", "zip_absolute_path"),
        ("C:\\x.csv", "zip_absolute_path"),
        ("c:/data/x.csv", "zip_absolute_path"),
    ],
)
def test_unsafe_paths_are_refused(tmp_path, name, code):
    path = make_zip(tmp_path / "evil.zip", [("ok.csv", CSV), (name, CSV)])
    with zipfile.ZipFile(path) as zf:  # the name is stored as given
        assert zf.infolist()[1].orig_filename == name
    error = refused(path)
    assert error.code == code
    assert name.replace("\\", "/") in str(error.message)


def test_traversal_hidden_in_a_skipped_entry_is_still_refused(tmp_path):
    path = make_zip(tmp_path / "evil.zip", [("ok.csv", CSV), ("__MACOSX/../../x.csv", CSV)])
    assert refused(path).code == "zip_path_traversal"


def test_symlink_member_is_refused(tmp_path):
    link = zipfile.ZipInfo("link.csv")
    link.create_system = 3
    link.external_attr = 0o120777 << 16
    path = make_zip(tmp_path / "link.zip", [("ok.csv", CSV), (link, b"/etc/passwd")])
    error = refused(path)
    assert error.code == "zip_symlink"
    with pytest.raises(IngestError) as info:  # extract_member re-checks on its own
        extract_member(path, "link.csv", tmp_path / "out", max_size=100)
    assert info.value.code == "zip_symlink"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("inner", ["inner.zip", "data.7z", "data.rar", "data.csv.gz", "data.tar", "자료.alz"])
def test_nested_archive_is_refused(tmp_path, inner):
    path = make_zip(tmp_path / "nested.zip", [("ok.csv", CSV), (inner, b"PK\x03\x04...")])
    error = refused(path)
    assert error.code == "zip_nested"
    assert inner in str(error.message)


def test_unsupported_member_is_refused_by_name(tmp_path):
    path = make_zip(tmp_path / "exe.zip", [("ok.csv", CSV), ("도구/setup.exe", b"MZ\x90\x00")])
    error = refused(path)
    assert error.code == "zip_unsupported_member"
    assert "도구/setup.exe" in str(error.message)
    assert error.detail == ".exe"
    assert refused(make_zip(tmp_path / "noext.zip", [("README", b"x")])).code == "zip_unsupported_member"
    # A narrower list of accepted types applies.
    assert refused(make_zip(tmp_path / "x.zip", [("a.json", b"[]")]), allowed_suffixes=(".csv",)).code == (
        "zip_unsupported_member"
    )


def test_encrypted_member_is_refused(tmp_path):
    path = make_zip(tmp_path / "enc.zip", [("secret.csv", CSV)], compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    # Set flag bit 0 in the local header (offset 6) and in the central directory entry (offset 8).
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 6] |= 0x01
    data[central + 8] |= 0x01
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf:
        assert zf.infolist()[0].flag_bits & 0x1
    error = refused(path)
    assert error.code == "zip_encrypted"
    assert "secret.csv" in str(error.message)


def test_bzip2_member_is_refused(tmp_path):
    path = make_zip(tmp_path / "bz.zip", [("a.csv", CSV)], compression=zipfile.ZIP_BZIP2)
    assert refused(path).code == "zip_unsupported_compression"


def test_too_many_members(tmp_path):
    path = make_zip(tmp_path / "many.zip", [(f"{i}.csv", b"a\n1\n") for i in range(6)])
    assert len(inspect_zip(path, max_members=6).members) == 6
    error = refused(path, max_members=5)
    assert error.code == "zip_too_many_members"
    # Far too many entries is refused from the end record, before zipfile reads the directory.
    error = refused(path, max_members=1)
    from django.utils import translation

    with translation.override("en"):
        assert error.code == "zip_too_many_members" and "more than 1 files" in str(error.message)
    assert error.detail == "at least 6 entries"


def test_total_uncompressed_limit(tmp_path):
    path = make_zip(tmp_path / "big.zip", [("a.csv", b"x" * 6000), ("b.csv", b"y" * 6000)])
    assert inspect_zip(path, max_total_uncompressed=12000).total_size == 12000
    assert refused(path, max_total_uncompressed=11999).code == "zip_too_large"


def test_compression_ratio_bomb(tmp_path):
    zeros = bytes(4 * 1024 * 1024)  # 4 MiB of zeros deflate to about 4 KB (ratio ~1000)
    path = make_zip(tmp_path / "bomb.zip", [("bomb.csv", zeros)])
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
        assert info.file_size / info.compress_size > 500
    error = refused(path)
    assert error.code == "zip_bomb"
    assert "bomb.csv" in str(error.message)
    # Below ratio_min_size the ratio is not held against a member (tiny repetitive CSVs).
    assert inspect_zip(path, ratio_min_size=8 * 1024 * 1024).members[0].size == len(zeros)
    assert inspect_zip(path, max_ratio=5000).members[0].size == len(zeros)


def test_duplicate_names_after_decoding(tmp_path):
    # Same name once as CP949 bytes without the flag, once as UTF-8 with it.
    path = make_zip(tmp_path / "dup.zip", [(RawNameInfo("자료.csv".encode("cp949")), CSV), ("자료.csv", CSV)])
    with zipfile.ZipFile(path) as zf:
        assert len({i.filename for i in zf.infolist()}) == 2  # zipfile sees two different names
    error = refused(path)
    assert error.code == "zip_duplicate_name"
    assert "자료.csv" in str(error.message)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04" + b"\x00" * 40])
def test_corrupt_or_not_a_zip(tmp_path, content):
    path = tmp_path / "bad.zip"
    path.write_bytes(content)
    assert refused(path).code == "zip_corrupt"
    with pytest.raises(IngestError) as info:
        extract_member(path, "a.csv", tmp_path / "out", max_size=10)
    assert info.value.code == "zip_corrupt"


def test_empty_zip_and_only_litter(tmp_path):
    assert refused(make_zip(tmp_path / "empty.zip", [])).code == "zip_empty"
    assert refused(make_zip(tmp_path / "litter.zip", [("자료/", b""), (".DS_Store", b"x")])).code == "zip_empty"


def test_error_messages_are_lazy_and_translatable(tmp_path):
    from django.utils import translation
    from django.utils.functional import Promise

    error = refused(make_zip(tmp_path / "exe.zip", [("setup.exe", b"MZ")]))
    assert isinstance(error.message, Promise)
    with translation.override("en"):
        english = str(error.message)
    assert "setup.exe" in english and "Accepted types are .csv, .tsv, .txt, .xlsx, .json, .geojson" in english


# --- extract_member ---------------------------------------------------------------------------


def _patch_declared_size(path, new_size: int) -> None:
    """Make the headers lie: uncompressed size in the local header (offset 22) and the central
    directory entry (offset 24) set to `new_size`; the data and its CRC are left as they are."""
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, new_size)
    struct.pack_into("<I", data, central + 24, new_size)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_extract_stops_when_the_header_lies(tmp_path, compression):
    real = b"a,b\n" + b"1,2\n" * 500_000  # 2 MB actual
    path = make_zip(tmp_path / "liar.zip", [("data.csv", real)], compression=compression)
    _patch_declared_size(path, 1000)
    with zipfile.ZipFile(path) as zf:
        assert zf.infolist()[0].file_size == 1000
    report = inspect_zip(path, max_ratio=10_000)
    assert report.members[0].size == 1000  # the lie passes inspection …
    dest = tmp_path / "out.csv"
    with pytest.raises(IngestError) as info:  # … but not extraction
        extract_member(path, "data.csv", dest, max_size=10 * 1024**2)
    assert info.value.code == "zip_bomb"
    assert "declared 1000" in info.value.detail
    assert not dest.exists()  # the partial file is removed


def test_extract_enforces_max_size(tmp_path):
    path = make_zip(tmp_path / "ok.zip", [("data.csv", b"x" * 3_000_000)])
    dest = tmp_path / "out.csv"
    with pytest.raises(IngestError) as info:
        extract_member(path, "data.csv", dest, max_size=2_000_000)
    assert info.value.code == "zip_bomb"
    assert not dest.exists()
    assert extract_member(path, "data.csv", dest, max_size=3_000_000) == 3_000_000
    assert dest.stat().st_size == 3_000_000


def test_extract_detects_truncated_member(tmp_path):
    path = make_zip(tmp_path / "short.zip", [("data.csv", b"a,b\n1,2\n")], compression=zipfile.ZIP_STORED)
    _patch_declared_size(path, 5000)  # declares more than there is
    with pytest.raises(IngestError) as info:
        extract_member(path, "data.csv", tmp_path / "out.csv", max_size=10_000)
    assert info.value.code == "zip_corrupt"


def test_extract_detects_bad_crc(tmp_path):
    path = make_zip(tmp_path / "crc.zip", [("data.csv", b"a,b\n1,2\n")], compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[data.index(b"a,b\n1,2\n")] = ord("z")
    path.write_bytes(bytes(data))
    with pytest.raises(IngestError) as info:
        extract_member(path, "data.csv", tmp_path / "out.csv", max_size=10_000)
    assert info.value.code == "zip_corrupt"


def test_extract_writes_only_to_dest(tmp_path):
    # Even a traversal name cannot be extracted, and the destination is never derived from it.
    path = make_zip(tmp_path / "evil.zip", [("../escape.csv", CSV)])
    with pytest.raises(IngestError) as info:
        extract_member(path, "../escape.csv", tmp_path / "out.csv", max_size=1000)
    assert info.value.code == "zip_path_traversal"
    assert not (tmp_path.parent / "escape.csv").exists()
    assert not (tmp_path / "out.csv").exists()


def test_extract_refuses_a_symlink_destination(tmp_path):
    path = make_zip(tmp_path / "ok.zip", [("data.csv", CSV)])
    target = tmp_path / "target.txt"
    target.write_text("keep")
    (tmp_path / "link.csv").symlink_to(target)
    with pytest.raises(IngestError) as info:
        extract_member(path, "data.csv", tmp_path / "link.csv", max_size=1000)
    assert info.value.code == "zip_extract_failed"
    assert target.read_text() == "keep"


def test_extract_unknown_member(tmp_path):
    path = make_zip(tmp_path / "ok.zip", [("data.csv", CSV)])
    with pytest.raises(IngestError) as info:
        extract_member(path, "other.csv", tmp_path / "out.csv", max_size=1000)
    assert info.value.code == "zip_member_not_found"
