"""The package keeps the file page's promise: data/<file> is the upload byte for byte (the SHA-256 the
public page shows, checkable with `sha256sum -c`), and data/excel/<file> is a copy a Korean Excel user
can double-click (UTF-8 with a BOM, formula-looking cells neutralised). The free sample CSV follows the
same spreadsheet rule: text that looks like a formula gets an apostrophe, a number stays a number."""

import csv
import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.core.files import storage
from django.urls import reverse

from catalog import exports
from catalog.models import DataFile
from tests.transactions.conftest import offer_of, place_order
from tests.transactions.test_packaging import publish_files, wait_for
from transactions.delivery import packaging
from transactions.models import Package

BOM = b"\xef\xbb\xbf"
# The rule: a text cell starting with =, +, -, @, tab or CR gets a leading apostrophe, unless the whole
# cell is one decimal number (-3.2, +82, 1e3): "+82 10" (a phone number's start) is text, so it is
# neutralised; "+82" alone is the number 82 to a spreadsheet, so it stays.
ROWS = [
    ("가", "=1+1", "-3.2"),
    ("나", "@SUM(A1)", "+82"),
    ("다", "+cmd", "7"),
    ("라", "-2+3", "1e3"),
    ("마", '"\t탭"', "0.5"),
    ("바", "+82 10", "-1"),
    ("사", "-3.2", "2"),
    ("아", "+82", "3"),
]
NEUTRALISED = {"=1+1", "@SUM(A1)", "+cmd", "-2+3", "\t탭", "+82 10"}


def _text(newline: str) -> str:
    return "항목,값,숫자" + newline + "".join(",".join(row) + newline for row in ROWS)


def _excel_text(newline: str) -> str:
    lines = ["항목,값,숫자"]
    for name, value, number in ROWS:
        if value.startswith('"'):
            value = "\"'" + value[1:]
        elif value in NEUTRALISED:
            value = "'" + value
        lines.append(f"{name},{value},{number}")
    return newline.join(lines) + newline


UTF8 = _text("\n").encode("utf-8")
CP949 = _text("\r\n").encode("cp949")  # Korean Excel's "CSV": CP949 and CRLF
FILES = [("수식_utf8.csv", UTF8), ("수식_cp949.csv", CP949)]


@pytest.mark.django_db(transaction=True)
def test_the_package_holds_the_uploads_byte_for_byte_and_a_copy_for_excel(
    celery_worker, official, buyer, admin_user, reference_data, client, tmp_path
):
    version = publish_files(official, admin_user, FILES, title_ko="수식 셀 자료")
    stored = {f.original_name: f for f in DataFile.objects.filter(version=version)}
    assert stored["수식_cp949.csv"].encoding == "cp949"
    order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
    package = wait_for(
        lambda: Package.objects.filter(entitlement__order_item__order=order, state__in=["ready", "failed"]).first()
    )
    assert package.state == Package.State.READY, package.error
    local = Path(storage.default_storage.path(package.file.name))
    packaging.verify_package(local)
    with zipfile.ZipFile(local) as zf:
        zf.extractall(tmp_path)

    # What the buyer checks: every file against the manifest, the data against the public page.
    check = subprocess.run(["sha256sum", "-c", "--strict", "MANIFEST-SHA256"], cwd=tmp_path, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    page = client.get(reverse("catalog:dataset", args=[version.dataset.slug])).content.decode()
    for name, raw in reversed(FILES):
        digest = hashlib.sha256(raw).hexdigest()
        assert (tmp_path / "data" / name).read_bytes() == raw  # the CP949 one failed: it was transcoded
        assert stored[name].sha256 == digest == package.manifest[f"data/{name}"]
    for _name, raw in FILES:
        assert f"SHA-256 {hashlib.sha256(raw).hexdigest()}" in page  # the public page shows the same hash
    assert "data/excel/" in page

    # The Excel copies: a BOM, then the same text in UTF-8 (line ends kept), formula cells neutralised.
    utf8_copy = (tmp_path / "data/excel/수식_utf8.csv").read_bytes()
    cp949_copy = (tmp_path / "data/excel/수식_cp949.csv").read_bytes()
    assert utf8_copy == BOM + _excel_text("\n").encode("utf-8")
    assert cp949_copy == BOM + _excel_text("\r\n").encode("utf-8")
    cells = [row[1] for row in csv.reader(io.StringIO(cp949_copy.decode("utf-8-sig")))][1:]
    assert cells == ["'=1+1", "'@SUM(A1)", "'+cmd", "'-2+3", "'\t탭", "'+82 10", "-3.2", "+82"]
    assert cp949_copy.decode("utf-8-sig").replace("'", "") == CP949.decode("cp949")  # nothing else changed

    # README and datapackage.json say what each file is and how many cells look like formulas.
    readme = (tmp_path / "README.md").read_text(encoding="utf-8").splitlines()
    line = next(x for x in readme if x.startswith("| `data/수식_cp949.csv`"))
    assert "| cp949 | 6 |" in line and stored["수식_cp949.csv"].sha256 in line
    assert any(x.startswith("| `data/excel/수식_utf8.csv` | `data/수식_utf8.csv` | 6 |") for x in readme)
    descriptor = packaging.verify_package(local)["datapackage"]
    resources = {r["path"]: r for r in descriptor["resources"]}
    assert resources["data/수식_cp949.csv"]["encoding"] == "cp949"
    excel = resources["data/excel/수식_cp949.csv"]
    assert excel["encoding"] == "utf-8-sig" and excel["derivedFrom"] == "data/수식_cp949.csv"
    assert "6" in excel["description"]


@pytest.mark.django_db
def test_the_free_sample_neutralises_formulas_and_keeps_numbers(official, admin_user, reference_data, client):
    version = publish_files(official, admin_user, FILES[:1], title_ko="수식 셀 견본")
    response = client.get(reverse("catalog:dataset_sample", args=[version.dataset.slug]))
    assert response.status_code == 200 and response.content.startswith(BOM)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    values = [row[1] for row in rows[1:]]
    for formula in ("=1+1", "@SUM(A1)", "+cmd", "-2+3", "+82 10"):
        assert "'" + formula in values
    # Text cells of the same column that are numbers stay numbers (the old code wrote '-3.2 and '+82).
    assert "-3.2" in values and "+82" in values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("+82 10-1234-5678", "'+82 10-1234-5678"),
        ("-5%", "'-5%"),
        ("-inf", "'-inf"),
        ("-3.2", "-3.2"),
        ("+82", "+82"),
        ("-1,234.5", "-1,234.5"),
        ("1e-5", "1e-5"),
        ("정왕동", "정왕동"),
        (-3.2, -3.2),
    ],
)
def test_the_spreadsheet_rule(value, expected):
    assert exports.neutralise(value) == expected


@pytest.mark.parametrize("step", [1, 2, 7, 1 << 20])
def test_the_streaming_guard_tracks_quotes_and_lines_across_blocks(step):
    text = (
        '=a,정왕,=b,-3.2,"=1+1","-3.2","a,=b","x""=y","-1""","",-\r\n'  # quoted cells, delimiters and quotes inside
        '=h,"line\n=2",+82 10,"\r\n=3"\n'  # a line break inside quotes starts no cell
        "-3.2,@x"  # no final line break
    ).encode()
    guard = exports.CsvFormulaGuard(",")
    out = b"".join(guard.feed(text[i : i + step]) for i in range(0, len(text), step)) + guard.finish()
    assert out.decode() == (
        '\'=a,정왕,\'=b,-3.2,"\'=1+1","-3.2","a,=b","x""=y","\'-1""","",\'-\r\n'
        "'=h,\"line\n=2\",'+82 10,\"'\r\n=3\"\n-3.2,'@x"
    )
    assert guard.cells == 9
    tsv = exports.CsvFormulaGuard("\t")
    assert tsv.feed(b'a\t=b\t-3\t"\tx"\n') + tsv.finish() == b"a\t'=b\t-3\t\"'\tx\"\n" and tsv.cells == 2
