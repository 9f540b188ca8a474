"""Encoding detection and the streamed transcode to UTF-8 (catalog.ingest.encoding).

Fixture files are written into tmp_path by the tests; nothing binary is committed.
"""

import codecs
import json

import pytest

from catalog.ingest.encoding import SAMPLE_SIZE, EncodingResult, detect_encoding, transcode_to_utf8
from catalog.ingest.errors import IngestError

HEADER = "측정소명,측정일시,미세먼지(㎍/㎥),비고\n"
ROWS = "".join(f"정왕동,2024-01-{d:02d} 01:00,{d * 3},점검 {d}회\n" for d in range(1, 29))
TEXT = HEADER + ROWS
CP949_ONLY = "똠방각하,2024-02-01 01:00,7,햏 뷁\n"  # syllables outside KS X 1001 (EUC-KR)


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def roundtrip(tmp_path, src, encoding, **kwargs):
    dst = tmp_path / (src.name + ".utf8")
    written = transcode_to_utf8(src, dst, encoding, **kwargs)
    data = dst.read_bytes()
    assert written == len(data)
    return data.decode("utf-8")


def test_utf8_without_bom(tmp_path):
    src = write(tmp_path, "a.csv", TEXT.encode("utf-8"))
    result = detect_encoding(src)
    assert result == EncodingResult("utf-8", False, "utf-8")
    assert json.loads(json.dumps(result.to_dict())) == {"encoding": "utf-8", "bom": False, "method": "utf-8"}
    assert roundtrip(tmp_path, src, result.encoding) == TEXT


def test_utf8_with_bom_is_stripped(tmp_path):
    src = write(tmp_path, "bom.csv", codecs.BOM_UTF8 + TEXT.encode("utf-8"))
    result = detect_encoding(src)
    assert result == EncodingResult("utf-8-sig", True, "bom")
    assert roundtrip(tmp_path, src, result.encoding) == TEXT
    # Named plainly "utf-8", the BOM is still dropped, even when it is split over chunks.
    assert roundtrip(tmp_path, src, "utf-8", chunk_size=2) == TEXT


@pytest.mark.parametrize("codec, bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_utf16_with_bom(tmp_path, codec, bom):
    src = write(tmp_path, "u16.csv", bom + TEXT.encode(codec))
    result = detect_encoding(src)
    assert result == EncodingResult(codec, True, "bom")
    out = roundtrip(tmp_path, src, result.encoding, chunk_size=5)
    assert out == TEXT and not out.startswith("\ufeff")


def test_utf16_without_bom_by_nul_bytes(tmp_path):
    src = write(tmp_path, "u16le.csv", TEXT.encode("utf-16-le"))
    assert detect_encoding(src) == EncodingResult("utf-16-le", False, "utf-16")
    assert roundtrip(tmp_path, src, "utf-16-le") == TEXT


def test_cp949_only_syllables_are_reported_as_cp949(tmp_path):
    text = TEXT + CP949_ONLY
    data = text.encode("cp949")
    with pytest.raises(UnicodeDecodeError):
        data.decode("euc_kr")  # 똠/햏/뷁 are not in EUC-KR
    src = write(tmp_path, "cp949.csv", data)
    result = detect_encoding(src)
    assert result == EncodingResult("cp949", False, "cp949")
    assert roundtrip(tmp_path, src, result.encoding, chunk_size=3) == text


def test_euc_kr_text_is_reported_as_cp949(tmp_path):
    src = write(tmp_path, "euckr.csv", TEXT.encode("euc_kr"))
    result = detect_encoding(src)
    assert result.encoding == "cp949"  # a superset: decodes EUC-KR identically
    assert roundtrip(tmp_path, src, result.encoding) == TEXT


def test_tsv_in_cp949(tmp_path):
    text = TEXT.replace(",", "\t")
    src = write(tmp_path, "a.tsv", text.encode("cp949"))
    assert detect_encoding(src).encoding == "cp949"
    assert roundtrip(tmp_path, src, "cp949") == text


def test_utf8_sample_cut_in_the_middle_of_a_character(tmp_path):
    # 3-byte Hangul characters make the 1 MiB sample end inside a character.
    line = "가나다라마바사,1\n"
    for pad in range(3):
        data = ("x" * pad + HEADER + line * (SAMPLE_SIZE // len(line.encode()) + 10)).encode("utf-8")
        try:
            data[:SAMPLE_SIZE].decode("utf-8")
        except UnicodeDecodeError:
            break  # the sample ends inside a character
    else:
        pytest.fail("could not place the cut inside a character")
    src = write(tmp_path, "big.csv", data)
    assert detect_encoding(src) == EncodingResult("utf-8", False, "utf-8")


def test_korean_text_only_after_the_first_mebibyte(tmp_path):
    """A file whose first 1 MiB is ASCII: the sample is taken where the Korean text starts."""
    ascii_part = "id,value,note\n" + "".join(f"{i},{i * 2},\n" for i in range(150_000))
    assert len(ascii_part) > SAMPLE_SIZE
    text = ascii_part + "150000,1,시흥시 정왕동\n"
    src = write(tmp_path, "late.csv", text.encode("cp949"))
    assert detect_encoding(src) == EncodingResult("cp949", False, "cp949")
    assert roundtrip(tmp_path, src, "cp949") == text


def test_all_ascii_is_utf8(tmp_path):
    src = write(tmp_path, "ascii.csv", b"a,b\n1,2\n")
    assert detect_encoding(src) == EncodingResult("utf-8", False, "utf-8")


def test_empty_file(tmp_path):
    src = write(tmp_path, "empty.csv", b"")
    with pytest.raises(IngestError) as exc:
        detect_encoding(src)
    assert exc.value.code == "empty_file"
    assert str(exc.value.message)


@pytest.mark.parametrize("chunk_size", [1 << 20, 7, 2])
def test_bad_byte_in_the_middle_names_line_and_offset(tmp_path, chunk_size):
    good = TEXT.encode("cp949")
    lines = good.split(b"\n")
    broken_line = 11  # 1-based line number of the damaged line
    prefix = b"\n".join(lines[: broken_line - 1]) + b"\n" + lines[broken_line - 1][:9]
    data = prefix + b"\xff" + good[len(prefix) :]
    src = write(tmp_path, "broken.csv", data)
    # The sample is the whole (small) file here, so detection cannot call it UTF-8 or CP949.
    dst = tmp_path / "out.csv"
    with pytest.raises(IngestError) as exc:
        transcode_to_utf8(src, dst, "cp949", chunk_size=chunk_size)
    err = exc.value
    assert err.code == "encoding_error"
    assert err.line == broken_line
    assert err.position == len(prefix)
    assert f"byte {len(prefix)}" in err.detail and "line 11" in err.detail
    assert "11" in str(err.message)
    assert not dst.exists()  # no half-written output is left behind


def test_bad_byte_after_the_sample_is_caught_by_the_transcode(tmp_path):
    """Detection reads 1 MiB; the transcode decodes everything strictly."""
    head = HEADER + "시흥,1,\n" * (SAMPLE_SIZE // 10 + 100)
    data = head.encode("utf-8") + b"\xc0\xaf,2,\n"  # an overlong (invalid) UTF-8 sequence
    src = write(tmp_path, "late-bad.csv", data)
    assert detect_encoding(src).encoding == "utf-8"
    with pytest.raises(IngestError) as exc:
        transcode_to_utf8(src, tmp_path / "out.csv", "utf-8")
    assert exc.value.code == "encoding_error"
    assert exc.value.line == head.count("\n") + 1
    assert exc.value.position == len(head.encode("utf-8"))


def test_truncated_last_character(tmp_path):
    data = TEXT.encode("utf-8") + "가".encode()[:2]
    src = write(tmp_path, "cut.csv", data)
    with pytest.raises(IngestError) as exc:
        transcode_to_utf8(src, tmp_path / "out.csv", "utf-8", chunk_size=64)
    assert exc.value.code == "encoding_error"
    assert exc.value.position == len(TEXT.encode("utf-8"))


def test_line_endings_are_kept(tmp_path):
    text = TEXT.replace("\n", "\r\n")
    src = write(tmp_path, "crlf.csv", text.encode("cp949"))
    dst = tmp_path / "crlf.utf8"
    transcode_to_utf8(src, dst, "cp949")
    assert dst.read_bytes() == text.encode("utf-8")


@pytest.mark.parametrize("codec", ["cp949", "utf-8"])
def test_bad_byte_inside_the_sample_is_named_by_detection(tmp_path, codec):
    """Neither strict decode nor the detector accepts the sample: the damaged line is named."""
    good = TEXT.encode(codec)
    cut = good.index(b"\n", 300) + 1 + len("정왕".encode(codec))  # two characters into a line
    src = write(tmp_path, "damaged.csv", good[:cut] + b"\xff" + good[cut:])
    with pytest.raises(IngestError) as exc:
        detect_encoding(src)
    assert exc.value.code == "encoding_error"
    assert exc.value.position == cut
    assert exc.value.line == good[:cut].count(b"\n") + 1


def test_unknown_encoding(tmp_path):
    src = write(tmp_path, "latin1.csv", "name,city\nJosé,Zürich\n".encode("latin-1"))
    with pytest.raises(IngestError) as exc:
        detect_encoding(src)
    assert exc.value.code == "encoding_unknown"


def png_bytes() -> bytes:
    """A real 1×1 PNG, made here (no binary fixture in the repository)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def zip_bytes(members) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _binaries():
    import gzip
    import random

    return {
        "png": (png_bytes(), "PNG 이미지", "a PNG image"),
        "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)), "JPEG 이미지", "a JPEG image"),
        "gif": (b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + bytes(40), "GIF 이미지", "a GIF image"),
        "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF 문서", "a PDF document"),
        "zip": (zip_bytes({"a.csv": TEXT.encode()}), "ZIP 압축 파일", "a ZIP archive"),
        "gzip": (gzip.compress(TEXT.encode()), "gzip 압축 파일", "a gzip-compressed file"),
        "random": (random.Random(13).randbytes(4096), "바이너리 파일", "a binary file"),
    }


@pytest.mark.parametrize("kind", ["png", "jpeg", "gif", "pdf", "zip", "gzip", "random"])
def test_a_binary_named_csv_is_called_what_it_is(tmp_path, kind):
    """Such files were refused as "cannot decode, save it as UTF-8", advice that cannot help."""
    from django.utils import translation

    data, korean, english = _binaries()[kind]
    with pytest.raises(IngestError) as exc:
        detect_encoding(write(tmp_path, "data.csv", data))
    assert exc.value.code == "not_text"
    with translation.override("ko"):
        message = str(exc.value.message)
        assert message.startswith("이 파일은 텍스트 표(CSV)가 아니라 " + korean) and "UTF-8" in message
    with translation.override("en"):
        assert str(exc.value.message).startswith("This file is not a text table (CSV) but " + english)


def test_an_xlsx_named_csv_is_called_an_excel_file(tmp_path):
    from django.utils import translation
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["측정소", "값"])
    book.save(tmp_path / "real.xlsx")
    with pytest.raises(IngestError) as exc:
        detect_encoding(write(tmp_path, "data.csv", (tmp_path / "real.xlsx").read_bytes()))
    assert exc.value.code == "not_text"
    with translation.override("ko"):
        assert "Excel 통합 문서" in str(exc.value.message) and ".xlsx" in str(exc.value.message)
    with translation.override("en"):
        assert "Excel workbook (.xlsx)" in str(exc.value.message) and "ends in .xlsx" in str(exc.value.message)


def test_utf16_text_is_not_taken_for_a_binary(tmp_path):
    for codec in ("utf-16-le", "utf-16-be"):
        assert detect_encoding(write(tmp_path, f"{codec}.csv", TEXT.encode(codec))).encoding == codec


def test_the_pipeline_reports_a_png_named_csv(tmp_path):
    from catalog.ingest.pipeline import analyse_path

    report = analyse_path(write(tmp_path, "data.csv", png_bytes()), "csv", workdir=tmp_path)
    assert report["state"] == "failed"
    (message,) = report["messages"]
    assert message["code"] == "not_text" and "PNG" in message["message"]["ko"]
