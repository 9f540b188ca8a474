"""The PDF of a document, drawn from its frozen snapshot alone (so it is the same whenever it is printed).

fpdf2 (pure Python) with Pretendard embedded as a subset TrueType font (settings.DOCUMENT_FONT_DIR; installed from
npm, every Hangul syllable). Korean first, English beside it. Returned as bytes; the view streams them.
"""

import logging
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from fpdf import FPDF
from fpdf.enums import XPos, YPos

FONT = "Pretendard"
# fontTools logs every subsetting step at INFO (dozens of lines per PDF).
logging.getLogger("fontTools").setLevel(logging.WARNING)
KINDS_KO = {
    "receipt": "영수증",
    "tax_invoice": "세금계산서",
    "invoice": "계산서",
    "cancellation": "취소",
    "cash_receipt": "현금영수증",
}
METHODS = {"card": "카드 / Card", "bank_transfer": "무통장입금 / Bank transfer", "free": "무료 / Free"}


def won(value: int) -> str:
    return f"{value:,}원"


def _fonts() -> tuple[Path, Path]:
    folder = Path(settings.DOCUMENT_FONT_DIR)
    regular, bold = folder / "Pretendard-Regular.ttf", folder / "Pretendard-Bold.ttf"
    if not regular.exists() or not bold.exists():
        raise ImproperlyConfigured(
            f"The receipt font is missing in {folder} (DOCUMENT_FONT_DIR): run `npm ci` (package.json has pretendard)."
        )
    return regular, bold


class _PDF(FPDF):
    def footer(self):
        self.set_y(-14)
        self.set_font(FONT, size=7)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="C")


def render(snapshot: dict) -> bytes:
    regular, bold = _fonts()
    pdf = _PDF(format="A4", unit="mm")
    pdf.set_title(f"{snapshot['title_ko']} {snapshot['number']}")
    pdf.set_author((snapshot.get("supplier") or {}).get("name") or "시흥 데이터거래소")
    pdf.set_creator("시흥 데이터거래소")
    pdf.set_creation_date(_date(snapshot))
    pdf.add_font(FONT, "", str(regular))
    pdf.add_font(FONT, "B", str(bold))
    pdf.set_margins(16, 16, 16)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    width = pdf.epw

    pdf.set_font(FONT, "B", 18)
    pdf.cell(0, 10, snapshot["title_ko"], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(90)
    pdf.cell(0, 5, snapshot["title_en"], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.ln(4)

    pdf.set_font(FONT, "", 9)
    meta = [
        ("문서번호 / No.", snapshot["number"]),
        ("작성일자 / Date", snapshot["date"]),
        ("주문번호 / Order", snapshot["order_number"]),
        ("결제수단 / Paid by", METHODS.get(snapshot.get("payment_method"), snapshot.get("payment_method") or "")),
    ]
    if snapshot.get("original"):
        meta.append(("원 문서 / Original", f"{snapshot['original']['number']} ({snapshot['original']['date']})"))
    for label, value in meta:
        pdf.set_font(FONT, "B", 9)
        pdf.cell(38, 6, label)
        pdf.set_font(FONT, "", 9)
        pdf.cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    # Supplier | buyer, side by side.
    half = width / 2 - 2
    top = pdf.get_y()
    supplier = snapshot.get("supplier")
    _party_box(pdf, pdf.l_margin, top, half, "공급자 / Supplier", supplier)
    left_end = pdf.get_y()
    _party_box(pdf, pdf.l_margin + half + 4, top, half, "공급받는자 / Buyer", snapshot["buyer"])
    pdf.set_y(max(left_end, pdf.get_y()) + 4)

    # Lines.
    cols = (width - 3 * 26, 26, 26, 26)
    heads = ("품목 / Item", "공급가액 / Supply", "세액 / VAT", "합계 / Total")
    pdf.set_font(FONT, "B", 8.5)
    pdf.set_fill_color(238, 241, 246)
    for w, head in zip(cols, heads, strict=True):
        pdf.cell(w, 7, head, border=1, align="C" if w != cols[0] else "L", fill=True)
    pdf.ln()
    pdf.set_font(FONT, "", 8.5)
    for line in snapshot["lines"]:
        title = line["title"] + (" (면세)" if line.get("tax_free") else "")
        pdf.cell(cols[0], 7, _fit(pdf, title, cols[0] - 2), border=1)
        for w, key in zip(cols[1:], ("supply_krw", "vat_krw", "total_krw"), strict=True):
            pdf.cell(w, 7, won(line[key]), border=1, align="R")
        pdf.ln()
    pdf.ln(3)

    # Totals.
    totals = [
        ("공급가액 / Supply value", snapshot["supply_krw"]),
        ("부가세 / VAT", snapshot["vat_krw"]),
        ("면세 금액 / VAT-exempt amount", snapshot["tax_free_krw"]),
        ("합계 / Total", snapshot["total_krw"]),
    ]
    for label, value in totals:
        bold_row = label.startswith("합계")
        pdf.set_font(FONT, "B" if bold_row else "", 10 if bold_row else 9)
        pdf.cell(width - 50, 7, label, align="R")
        pdf.cell(50, 7, won(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.cell(
        0, 7, "이 금액을 환불함 / Refunded" if snapshot["total_krw"] < 0 else "이 금액을 영수함 / Received", align="R"
    )
    pdf.ln(10)

    cash = snapshot.get("cash_receipt")
    if cash:
        pdf.set_font(FONT, "B", 9)
        pdf.cell(0, 6, "현금영수증 / Cash receipt", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, "", 9)
        for label, value in (
            ("구분 / Type", cash.get("type", "")),
            ("식별번호 / Number", cash.get("registration_number", "")),
            ("승인번호 / Approval", cash.get("issue_number", "")),
        ):
            pdf.cell(38, 6, label)
            pdf.cell(0, 6, str(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)

    pdf.set_font(FONT, "", 7.5)
    pdf.set_text_color(90)
    pdf.multi_cell(0, 4.2, _note(snapshot), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _date(snapshot):
    return datetime.fromisoformat(snapshot["issued_at"])


def _fit(pdf, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _party_box(pdf, x, y, w, heading, party):
    pdf.set_xy(x, y)
    pdf.set_font(FONT, "B", 9)
    pdf.set_fill_color(238, 241, 246)
    pdf.cell(w, 7, heading, border=1, fill=True, new_x=XPos.LEFT, new_y=YPos.NEXT)
    rows = [
        ("상호 / Name", (party or {}).get("name") or "시흥 데이터거래소"),
        ("등록번호 / BRN", (party or {}).get("brn") or "—"),
        ("대표자 / Representative", (party or {}).get("representative") or "—"),
        ("주소 / Address", (party or {}).get("address") or "—"),
    ]
    for label, value in rows:
        pdf.set_x(x)
        pdf.set_font(FONT, "", 7.5)
        pdf.set_text_color(90)
        pdf.cell(30, 6, label, border="L")
        pdf.set_text_color(0)
        pdf.set_font(FONT, "", 8.5)
        pdf.multi_cell(w - 30, 6, str(value), border="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(x)
    pdf.cell(w, 0, "", border="T", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _note(snapshot) -> str:
    kind = snapshot["kind"]
    original_kind = (snapshot.get("original") or {}).get("kind")
    if kind in ("tax_invoice", "invoice") or original_kind in ("tax_invoice", "invoice"):
        return (
            "이 문서는 전자세금계산서(전자계산서)의 필요적 기재사항을 옮긴 사본입니다. 전자(세금)계산서는 공급자가 "
            "홈택스 일괄발행 또는 전자세금계산서 발행 서비스로 발급하며, 국세청에 전송된 것이 원본입니다.\n"
            "This copy shows the required particulars of the electronic tax invoice; the supplier issues the "
            "electronic invoice itself through Hometax or an e-invoice service."
        )
    if kind == "cancellation":
        return (
            "환불된 금액만큼 원 문서를 취소하는 문서입니다(마이너스 금액).\n"
            "This document cancels the refunded part of the original (negative amounts)."
        )
    if kind == "cash_receipt":
        return (
            "현금영수증은 결제대행사를 통해 국세청에 발급 신청되었습니다.\n"
            "The cash receipt was issued to the NTS through the payment gateway."
        )
    return (
        "카드 결제의 경우 카드 매출전표도 영수증으로 인정됩니다. 공급자는 각 데이터의 제공 기관입니다.\n"
        "Each dataset's provider is its supplier; for card payments the card slip also counts as a receipt."
    )
