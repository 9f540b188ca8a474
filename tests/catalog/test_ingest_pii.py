"""Personal data in CSV files (catalog.ingest.pii): true positives, false positives, masking, counts.

Fixture files are written into tmp_path by the tests; nothing binary is committed. Registration
numbers are made with python-stdnum's check-digit function, not copied from real people.
"""

import csv
import json

import pytest
from stdnum import ean, luhn
from stdnum.kr import rrn

from catalog.ingest.pii import PiiFinding, scan_csv
from catalog.ingest.tabular import analyse_csv


def with_rrn_check(first12: str) -> str:
    return first12 + rrn.calc_check_digit(first12)


def failing_rrn_check(first12: str) -> str:
    return first12 + str((int(rrn.calc_check_digit(first12)) + 1) % 10)


VALID_RRN = with_rrn_check("900101123456")  # born 1990-01-01, checksum ok
POST_2020_RRN = failing_rrn_check("201015398765")  # born 2020-10-15, random tail: checksum fails
FRN = (
    "850505"
    + "612345"
    + str((13 - sum(w * int(d) for w, d in zip((2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), "850505612345")) % 11) % 10)
)


def ean_that_looks_like_an_rrn():
    """13 digits, valid EAN-13, first six a past date (1988-01-01), G=1, RRN checksum failing."""
    for serial in range(10000, 99999):
        first12 = f"8801011{serial:05d}"
        code = first12 + ean.calc_check_digit(first12)
        if not rrn.is_valid(code):
            return code
    raise AssertionError


def corporate_number():
    """A 법인등록번호-shaped value (110111-…) with a valid corporate check digit and a failing RRN one."""
    for serial in range(100000, 999999):
        first12 = f"110111{serial:06d}"
        s = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(first12))
        number = first12 + str((10 - s % 10) % 10)
        if number[6] in "1234" and not rrn.is_valid(number):
            return number
    raise AssertionError


def write_csv(tmp_path, rows, name="pii.csv"):
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def scan(tmp_path, rows, **kwargs):
    path = write_csv(tmp_path, rows)
    return scan_csv(path, list(rows[0]), delimiter=",", **kwargs)


def index(findings):
    return {(f.kind, f.column): f for f in findings}


def test_stdnum_agrees_with_the_fixtures():
    assert rrn.is_valid(VALID_RRN)
    assert not rrn.is_valid(POST_2020_RRN)
    assert rrn.is_valid("971013-9019902")  # stdnum's own example: born 1897
    assert ean.is_valid("8801234567893")
    assert luhn.is_valid("4111111111111111") and not luhn.is_valid("4111111111111112")


def test_true_positives_masks_and_counts(tmp_path):
    rows = [
        ("성명", "주민등록번호", "연락처", "이메일", "카드", "비고"),
        ("김시흥", f"{VALID_RRN[:6]}-{VALID_RRN[6:]}", "010-1234-5678", "kim@example.com", "4111-1111-1111-1111", ""),
        (
            "이정왕",
            f"{POST_2020_RRN[:6]}-{POST_2020_RRN[6:]}",
            "02-2133-0000",
            "lee.jw@siheung.go.kr",
            "",
            "문의 031)123-4567",
        ),
        ("박배곧", VALID_RRN, "+82 10 9876 5432", "", "", ""),
        ("Smith", f"{FRN[:6]}-{FRN[6:]}", "01012345678", "", "", ""),
    ]
    found = index(scan(tmp_path, rows))

    r = found[("rrn", "주민등록번호")]
    assert (r.count, r.blocking) == (3, True)
    assert r.details == {"checksum_ok": 2, "checksum_fails": 1}  # the post-2020 number still counts
    assert r.examples == ["900101-1******", "201015-3******"]
    assert "2" in str(r.note) and "1" in str(r.note)

    f = found[("frn", "주민등록번호")]
    assert (f.count, f.blocking, f.examples) == (1, True, ["850505-6******"])
    assert f.details == {"checksum_ok": 1, "checksum_fails": 0}

    m = found[("mobile_phone", "연락처")]
    assert (m.count, m.blocking) == (3, False)
    assert m.examples == ["010-****-5678", "010-****-5432"]
    land = found[("landline_phone", "연락처")]
    assert (land.count, land.examples) == (1, ["02-****-0000"])
    assert found[("landline_phone", "비고")].examples == ["031-***-4567"]

    e = found[("email", "이메일")]
    assert (e.count, e.examples, e.blocking) == (2, ["k***@example.com", "l***@siheung.go.kr"], False)

    c = found[("card_number", "카드")]
    assert (c.count, c.examples) == (1, ["4111-****-****-1111"])

    assert set(found) == {
        ("rrn", "주민등록번호"),
        ("frn", "주민등록번호"),
        ("mobile_phone", "연락처"),
        ("landline_phone", "연락처"),
        ("landline_phone", "비고"),
        ("email", "이메일"),
        ("card_number", "카드"),
    }
    findings = scan(tmp_path, rows)
    assert [f.blocking for f in findings][:2] == [True, True]  # blocking first
    data = [f.to_dict() for f in findings]
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


def test_false_positives_are_not_flagged(tmp_path):
    barcode = ean_that_looks_like_an_rrn()
    corp = corporate_number()
    rows = [
        ("일시", "상품코드", "바코드", "사업자등록번호", "법인등록번호", "카드", "비고"),
        (
            "20240101-1200",
            "8801234567893",
            barcode,
            "1168200276",
            f"{corp[:6]}-{corp[6:]}",
            "4111-1111-1111-1112",
            "971013-9019902",
        ),
        ("2024-01-01 12:00", "8801234567893", barcode, "116-82-00276", corp, "1234567812345678", "면적 1,234,567"),
        ("20240101120000", "", "", "", "", "", "031-310"),
    ]
    assert scan(tmp_path, rows) == []


def test_hyphenated_barcode_shape_is_still_flagged(tmp_path):
    """The EAN exception applies only to values written without a hyphen."""
    barcode = ean_that_looks_like_an_rrn()
    found = index(scan(tmp_path, [("번호",), (f"{barcode[:6]}-{barcode[6:]}",)]))
    assert found[("rrn", "번호")].details == {"checksum_ok": 0, "checksum_fails": 1}


def test_corporate_check_applies_only_in_a_corporate_column(tmp_path):
    corp = corporate_number()
    found = index(scan(tmp_path, [("번호",), (f"{corp[:6]}-{corp[6:]}",)]))
    assert found[("rrn", "번호")].count == 1


def test_future_birth_dates_are_not_rrns(tmp_path):
    # 8801234567893: G=4 means born 2088, so it cannot be an RRN (and it is a valid EAN anyway)
    assert scan(tmp_path, [("번호",), ("880123-4567893",)]) == []


def test_examples_are_capped_and_counts_are_per_cell(tmp_path):
    rows = [("비고",)] + [(f"연락처 010-1234-{i:04d}, 010-9999-{i:04d}",) for i in range(10)]
    (finding,) = scan(tmp_path, rows, examples_per_kind=2)
    assert (finding.kind, finding.count) == ("mobile_phone", 10)
    assert finding.examples == ["010-****-0000", "010-****-0001"]  # distinct masked values


def test_many_matches_are_extrapolated(tmp_path):
    rows = [("전화", "x")] + [(f"010-2000-{i:04d}", "1") for i in range(40)] + [("없음", "1")] * 5
    (finding,) = scan(tmp_path, rows, max_rows=10)
    assert finding.estimated is True
    assert finding.count == 40


def test_with_the_table_analysis(tmp_path):
    """The pipeline passes the analysed column names and delimiter."""
    path = tmp_path / "people.tsv"
    path.write_text(f"이름\t주민번호\t전화\n홍길동\t{VALID_RRN}\t010-1234-5678\n", encoding="utf-8")
    report = analyse_csv(path)
    columns = [f["name"] for f in report.schema["fields"]]
    findings = scan_csv(path, columns, delimiter=report.delimiter, quote=report.quote)
    assert [(f.kind, f.column) for f in findings] == [("rrn", "주민번호"), ("mobile_phone", "전화")]
    assert isinstance(findings[0], PiiFinding)


def test_big_integers_typed_as_numbers_are_scanned_as_text(tmp_path):
    rows = [("id", "값")] + [(with_rrn_check(f"9{m:01d}0101123{m:03d}"[:12]), str(m)) for m in range(1, 10)]
    findings = scan(tmp_path, rows)
    assert [(f.kind, f.count) for f in findings] == [("rrn", 9)]


@pytest.mark.parametrize("value", ["010-1234-567", "010-12345-6789", "02-213-00001", "1588-1234", "0505-123-4567"])
def test_phone_shaped_but_invalid(tmp_path, value):
    assert scan(tmp_path, [("전화",), (value,)]) == []


def test_decimal_fractions_are_not_card_or_resident_numbers(tmp_path):
    """A coordinate's fraction digits (16 of them) once passed the card check by chance."""
    from catalog.ingest.pii import scan_csv

    path = tmp_path / "coords.csv"
    # 4111111111111111 is a Luhn-valid card number and 9001011234568 is RRN-shaped, after the point.
    path.write_text("위도,경도\n37.4111111111111111,126.9001011234568\n", encoding="utf-8")
    assert scan_csv(path, ["위도", "경도"], delimiter=",") == []


MOBILE_SPELLINGS = [
    "010 5983 9614",
    "010.5983.9614",
    "(010)5983-9614",
    "(010) 5983-9614",
    "+82 10-5983-9614",
    "+82-10-5983-9614",
    "+82 (0)10-5983-9614",
    "+821059839614",
    "010-5983-9614",  # 010-5970…5999: phonenumbers' metadata calls these invalid
    "010 - 2345 - 6789",
    "tel.010-2345-6789",
]
LANDLINE_SPELLINGS = [
    "02-310-2114",
    "031 310 2114",
    "(031)310-2114",
    "(02) 310-2114",
    "031.310.2114",
    "+82 2-310-2114",
    "+82-31-310-2114",
]
PHONE_DECOYS = [
    "20241205-00012345",  # order number
    "15073",  # postal code
    "2024.12.05",
    "2024-12-05 10:30",
    "2024.03.10 21:14",
    "12,345,678",  # amount
    "37.01059839614",  # a coordinate whose fraction holds a mobile's digits
    "126.7312345",
    "SKU-2024-0312-3456",  # product code
    "8801234567893",
    "2024-12-05T10:30:00",
]


def test_every_spelling_of_a_korean_phone_number_is_found(tmp_path):
    assert len(PHONE_DECOYS) == len(MOBILE_SPELLINGS)
    rows = [("휴대전화", "전화", "기타")]
    rows += [(m, land, decoy) for m, land, decoy in zip(MOBILE_SPELLINGS, LANDLINE_SPELLINGS * 2, PHONE_DECOYS)]
    found = index(scan(tmp_path, rows))
    assert set(found) == {("mobile_phone", "휴대전화"), ("landline_phone", "전화")}  # no decoy is a phone
    assert found[("mobile_phone", "휴대전화")].count == len(MOBILE_SPELLINGS)
    assert found[("mobile_phone", "휴대전화")].examples == ["010-****-9614", "010-****-6789"]
    assert found[("landline_phone", "전화")].count == len(MOBILE_SPELLINGS)
    assert found[("landline_phone", "전화")].examples == ["02-***-2114", "031-***-2114"]


def test_forty_mobiles_written_with_spaces_are_forty(tmp_path):
    """The case the issue measured: one of 40 mobiles, written with spaces, went unseen."""
    rows = [("연락처",)] + [(f"010-{2000 + i * 97:04d}-{1000 + i:04d}",) for i in range(39)] + [("010 5983 9614",)]
    (finding,) = scan(tmp_path, rows)
    assert (finding.kind, finding.count) == ("mobile_phone", 40)


def test_preview_masks_spaced_numbers():
    from catalog.ingest.pii import mask_value

    assert mask_value("담당 010 5983 9614, (02) 310-2114") == "담당 010-****-9614, 02-***-2114"


def _checked_file(version, name, *, state, pii=()):
    from catalog.models import DataFile

    return DataFile.objects.create(
        version=version,
        file=f"datasets/test/{name}",
        original_name=name,
        format="csv",
        size=10,
        sha256=name.encode().hex()[:64].ljust(64, "0"),
        check_state=state,
        row_count=3,
        table_schema={"fields": [{"name": "연락처", "type": "string"}]},
        pii_findings=list(pii),
    )


@pytest.mark.django_db
def test_the_version_banner_says_personal_data_was_found(login, official, draft):
    """A file with phones and e-mails passed "with warnings" while the banner turned green:
    "모든 파일이 검사를 통과했습니다", and nothing said a justification would be needed."""
    from django.urls import reverse
    from django.utils import translation

    from catalog import services

    email = {"kind": "email", "column": "이메일", "count": 2, "blocking": False, "examples": ["k***@example.com"]}
    phone = {"kind": "mobile_phone", "column": "연락처", "count": 3, "blocking": False, "examples": []}
    datafile = _checked_file(draft, "연락처.csv", state="warning", pii=[phone, email])
    services._refresh_version_state(draft)
    draft.refresh_from_db()
    assert draft.state == "ready"
    client = login(official)
    url = reverse("catalog:version", args=[draft.pk])
    with translation.override("ko"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert 'id="personal-data-banner"' in page and "개인정보가 발견" in page and "사유" in page
    assert "모든 파일이 검사를 통과했습니다" not in page
    client.cookies["django_language"] = "en"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "personal data was found" in page and "justification" in page

    # the e-mail finding is headed as a kind of personal data, not as the account menu's "manage"
    client.cookies["django_language"] = "ko"
    page = client.get(reverse("catalog:datafile", args=[datafile.pk]), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "이메일 주소 관리" not in page.split("</header>", 1)[-1]
    assert "이메일 주소" in page


@pytest.mark.django_db
def test_the_version_banner_stays_green_without_personal_data(login, official, draft):
    from django.urls import reverse

    from catalog import services

    _checked_file(draft, "측정.csv", state="passed")
    services._refresh_version_state(draft)
    page = login(official).get(reverse("catalog:version", args=[draft.pk])).content.decode()
    assert "모든 파일이 검사를 통과했습니다" in page and 'id="personal-data-banner"' not in page
