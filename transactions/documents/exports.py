"""The month's 세금계산서 / 계산서 of one supplier as the CSV its accounting clerk takes to 홈택스 (전자세금계산서
일괄발행).

Columns follow the order of 홈택스's 일괄발행 Excel form as far as it could be established (third-party converters
that fill it, not the NTS's own specification): 종류, 작성일자, the supplier's 등록번호 / 종사업장번호 / 상호 / 성명 /
사업장주소 / 업태 / 종목 / 이메일, the buyer's same fields and a second e-mail, 공급가액, 세액, 비고, then four item
blocks (일자, 품목, 규격, 수량, 단가, 공급가액, 세액, 비고), then 현금 / 수표 / 어음 / 외상미수금 and 영수(01) / 청구(02).
The form itself is an .xls/.xlsx whose data start below its header rows: the clerk pastes these rows into it.
업태 / 종목 are not kept by the exchange and stay empty for the clerk.

- 종류: 01 (일반 세금계산서) for a taxable supplier, 05 (일반 계산서) for a 면세 one [U: the codes of the 계산서 form
  must be checked against the form the clerk downloads].
- A refund is a row with negative amounts and the original's number in 비고 (수정(세금)계산서, 환입).
- UTF-8 with a BOM (Excel opens it as UTF-8); a text cell that a spreadsheet would read as a formula gets an
  apostrophe first (catalog.exports.neutralise).
- A document with more than four lines puts the fourth and later ones together in the fourth block.
"""

import csv
import io

from catalog.exports import neutralise
from transactions.documents.services import digits

PARTY = ["등록번호", "종사업장번호", "상호", "성명", "사업장주소", "업태", "종목", "이메일"]
ITEM = ["일자", "품목", "규격", "수량", "단가", "공급가액", "세액", "비고"]
HEADER = (
    ["종류", "작성일자"]
    + [f"공급자 {c}" for c in PARTY]
    + [f"공급받는자 {c}" for c in PARTY]
    + ["공급받는자 이메일2", "공급가액", "세액", "비고"]
    + [f"{c}{n}" for n in range(1, 5) for c in ITEM]
    + ["현금", "수표", "어음", "외상미수금", "영수(01)/청구(02)"]
)
KIND_CODES = {"tax_invoice": "01", "invoice": "05"}


def _party(p: dict) -> list:
    return [
        digits(p.get("brn", "")),
        "",
        p.get("name", ""),
        p.get("representative", ""),
        p.get("address", ""),
        "",
        "",
        p.get("email", ""),
    ]


def _items(snapshot: dict) -> list:
    day = snapshot["date"][8:10]
    lines = snapshot["lines"]
    if len(lines) > 4:
        rest = lines[3:]
        lines = lines[:3] + [
            {
                "title": f"{rest[0]['title']} 외 {len(rest) - 1}건",
                "supply_krw": sum(line["supply_krw"] for line in rest),
                "vat_krw": sum(line["vat_krw"] for line in rest),
            }
        ]
    cells = []
    for line in lines:
        cells += [day, line["title"], "", 1, line["supply_krw"], line["supply_krw"], line["vat_krw"], ""]
    return cells + [""] * (len(ITEM) * 4 - len(cells))


def row(document) -> list:
    s = document.snapshot
    kind = s["original"]["kind"] if document.kind == "cancellation" else document.kind
    note = (
        f"수정(환입) 원 문서 {s['original']['number']}" if document.kind == "cancellation" and s.get("original") else ""
    )
    note = (note + " " if note else "") + f"주문 {s['order_number']} 문서 {s['number']}"
    return (
        [KIND_CODES[kind], s["date"].replace("-", "")]
        + _party(s["supplier"])
        + _party(s["buyer"])
        + ["", s["supply_krw"], s["vat_krw"], note]
        + _items(s)
        + [s["total_krw"], "", "", "", "01"]  # paid (현금·카드 등으로 영수): 영수 = 01
    )


def tax_invoice_csv(documents) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for document in documents:
        writer.writerow([neutralise(cell) for cell in row(document)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
