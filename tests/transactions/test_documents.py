"""Receipts and tax documents (transactions.documents): one document per supplier when an order is paid, of the
kind the buyer's registration number and the supplier's 면세 status decide, with its amounts; immutable (model, service
and database); numbered per year without gaps even under concurrency; a refund issues a cancelling document with
negative amounts; the PDF draws Hangul with an embedded font; only the buyer's and the supplier's members and admins
see a document; the month's 홈택스 CSV; a 현금영수증 through the PG's HTTP shape."""

import base64
import csv
import io
import json
import threading
import uuid
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import ProgrammingError
from django.urls import reverse

from accounts.models import Organization
from devtools.pg_simulator import views as simulator
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, place_order, publish_dataset
from transactions import ledger
from transactions.documents import einvoice
from transactions.documents import services as documents
from transactions.documents.models import Document, DocumentCounter
from transactions.documents.pdf import render as pdf_render
from transactions.models import LedgerTransaction, Order
from transactions.payments import services as payments
from transactions.payments.toss import TossGateway

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TAXABLE = ({"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용"},)
EXEMPT = ({"kind": "one_off", "price_krw": 20_000, "cost_basis": "파일 가공·전송 비용"},)


@pytest.fixture
def exempt_official(db):
    """The owner of a second provider, VAT-exempt (면세), with a representative and an address."""
    user = make_user("official@gyeonggi.test", name="한서연")
    make_org(
        user,
        name_ko="경기데이터재단",
        name_en="Gyeonggi Data Foundation",
        kind="provider",
        brn="1048656659",
        vat_status=Organization.VatStatus.EXEMPT,
        representative="한서연",
        address="경기도 수원시 팔달구 효원로 1",
    )
    return user


def pay_by_bank(order, admin_user, buyer):
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(
        actor=admin_user, payment=payment, depositor_name="입금자", amount_krw=order.total_krw
    )
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def two_supplier_order(official, exempt_official, buyer, admin_user, reference_data):
    Organization.objects.filter(pk=official.active_organization_id).update(
        representative="임병택", address="경기도 시흥시 시청로 20 (장현동)"
    )
    taxable = publish_dataset(official, admin_user, offers=TAXABLE)
    exempt = publish_dataset(exempt_official, admin_user, title_ko="경기도 상권 분석 자료", offers=EXEMPT)
    order = place_order(buyer, offer_of(taxable, "one_off"), offer_of(exempt, "one_off"), method="bank_transfer")
    return pay_by_bank(order, admin_user, buyer)


@pytest.mark.django_db
def test_a_paid_order_gets_one_document_per_supplier_with_its_amounts(two_supplier_order, official, exempt_official):
    order = two_supplier_order
    docs = {d.supplier_id: d for d in Document.objects.filter(order=order)}
    assert len(docs) == 2
    taxable = docs[official.active_organization_id]
    exempt = docs[exempt_official.active_organization_id]
    # A business buyer (BRN given): 세금계산서 from the taxable supplier, 계산서 from the 면세 one.
    assert taxable.kind == "tax_invoice" and exempt.kind == "invoice"
    assert (taxable.supply_krw, taxable.vat_krw, taxable.total_krw, taxable.tax_free_krw) == (30_000, 3_000, 33_000, 0)
    assert (exempt.supply_krw, exempt.vat_krw, exempt.total_krw, exempt.tax_free_krw) == (20_000, 0, 20_000, 20_000)
    s = taxable.snapshot
    assert s["supplier"]["brn"] == "134-83-10008" and s["supplier"]["name"] == "환경정책과"
    assert s["supplier"]["representative"] == "임병택" and s["supplier"]["address"].startswith("경기도 시흥시")
    assert s["buyer"] == {**s["buyer"], "name": "(주)에어데이터랩", "brn": "116-82-00276"}
    assert [line["title"] for line in s["lines"]] == ["시흥시 대기질 측정 자료"]
    assert s["settlement"] == "영수" and s["date"] == taxable.issued_at.astimezone().date().isoformat()
    assert exempt.snapshot["lines"][0]["tax_free"] is True and exempt.snapshot["tax_free_krw"] == 20_000
    # Both documents belong to the payment's ledger transaction; numbers follow each other.
    booked = LedgerTransaction.objects.get(kind="payment", order=order)
    assert {d.ledger_transaction_id for d in docs.values()} == {booked.pk}
    assert sorted(d.sequence for d in docs.values()) == [1, 2]
    assert sorted(d.number for d in docs.values()) == [f"{taxable.year}-000001", f"{taxable.year}-000002"]
    # Issuing again (a retry, a second confirmation) issues nothing new.
    assert sorted(d.pk for d in documents.document_issue_for(booked)) == sorted(d.pk for d in docs.values())
    assert Document.objects.count() == 2 and DocumentCounter.objects.get().last == 2


@pytest.mark.django_db
def test_a_buyer_without_a_registration_number_gets_a_receipt(official, buyer, admin_user, reference_data):
    dataset = publish_dataset(official, admin_user, offers=TAXABLE)
    billing = {"billing_name": "문지호", "billing_email": "buyer@company.test", "billing_brn": ""}
    order = pay_by_bank(
        place_order(buyer, offer_of(dataset, "one_off"), method="bank_transfer", billing=billing), admin_user, buyer
    )
    document = Document.objects.get(order=order)
    assert document.kind == "receipt" and document.total_krw == 33_000 and document.snapshot["buyer"]["brn"] == ""


@pytest.mark.django_db
def test_a_free_order_issues_no_document(official, buyer, admin_user, reference_data):
    dataset = publish_dataset(official, admin_user)
    place_order(buyer, offer_of(dataset, "free"), method="free")
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_documents_are_immutable(two_supplier_order, official):
    document = Document.objects.filter(order=two_supplier_order).first()
    document.total_krw = 1
    with pytest.raises(PermissionError):
        document.save()
    with pytest.raises(PermissionError):
        document.delete()
    for statement in (
        f"UPDATE transactions_document SET snapshot = '{{}}'::jsonb WHERE id = {document.pk}",
        f"DELETE FROM transactions_document WHERE id = {document.pk}",
    ):
        with pytest.raises((InternalError, ProgrammingError)), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    # A second document for the same ledger transaction and supplier is refused by the database.
    with pytest.raises(IntegrityError), transaction.atomic():
        Document.objects.create(
            **{f.attname: getattr(document, f.attname) for f in Document._meta.concrete_fields if f.name != "id"}
            | {"number": "1999-000001", "year": 1999, "sequence": 1}
        )
    # What is printed is frozen: the supplier renaming itself changes no document.
    Organization.objects.filter(pk=official.active_organization_id).update(name_ko="기후환경정책과", brn="2118608983")
    fresh = Document.objects.get(pk=document.pk)
    assert fresh.snapshot == document.snapshot


@pytest.mark.django_db(transaction=True)
def test_numbers_are_unique_and_without_gaps_under_concurrency():
    """Eight threads take numbers at once, a third of them in transactions that roll back: the numbers kept are
    exactly 1…N (a rolled-back number is given again), none twice."""
    kept, errors, lock = [], [], threading.Lock()
    start = threading.Barrier(8)

    class Rollback(Exception):
        pass

    def work(worker):
        try:
            start.wait()
            for attempt in range(6):
                try:
                    with transaction.atomic():
                        sequence, number = documents._next_number(2031)
                        if (worker + attempt) % 3 == 0:
                            raise Rollback
                    with lock:
                        kept.append((sequence, number))
                except Rollback:
                    pass
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(s for s, _n in kept) == list(range(1, len(kept) + 1))
    assert len({n for _s, n in kept}) == len(kept) and DocumentCounter.objects.get(year=2031).last == len(kept)


@pytest.mark.django_db
def test_a_refund_issues_a_cancelling_document_with_negative_amounts(two_supplier_order, official, admin_user):
    order = two_supplier_order
    item = order.items.get(seller_id=official.active_organization_id)
    original = Document.objects.get(order=order, supplier_id=official.active_organization_id)
    refund = ledger.record_refund(item=item, amount_krw=11_000, actor=admin_user, memo="partial")
    (cancelling,) = documents.document_issue_for(refund)
    assert cancelling.kind == "cancellation" and cancelling.original == original
    assert (cancelling.supply_krw, cancelling.vat_krw, cancelling.total_krw) == (-10_000, -1_000, -11_000)
    assert cancelling.snapshot["lines"][0]["total_krw"] == -11_000
    assert cancelling.snapshot["original"]["number"] == original.number
    assert cancelling.snapshot["title_ko"].startswith("수정세금계산서")
    # Its PDF says what it cancels, in negative amounts.
    pdf = pdfium.PdfDocument(pdf_render(cancelling.snapshot))
    text = pdf[0].get_textpage().get_text_range()
    assert "수정세금계산서" in text and "-11,000원" in text and original.number in text
    ARTIFACTS.mkdir(exist_ok=True)
    pdf[0].render(scale=2).to_pil().save(ARTIFACTS / "cancelling-receipt.png")
    # Once per refund: again returns the same; the rest of the line refunded later is a second cancellation.
    assert documents.document_issue_for(refund) == [cancelling]
    rest = ledger.record_refund(item=item, amount_krw=22_000, actor=admin_user)
    (second,) = documents.document_issue_for(rest)
    assert cancelling.total_krw + second.total_krw == -original.total_krw
    assert cancelling.vat_krw + second.vat_krw == -original.vat_krw
    # The other supplier's document is untouched by a refund of this supplier's line.
    assert Document.objects.filter(order=order).exclude(supplier_id=official.active_organization_id).count() == 1


def _char_crop(page, textpage, char_index, scale):
    left, bottom, right, top = textpage.get_charbox(char_index)
    height = page.get_height()
    image = page.render(scale=scale).to_pil().convert("L")
    return image.crop(
        (int(left * scale), int((height - top) * scale), int(right * scale) + 1, int((height - bottom) * scale) + 1)
    )


@pytest.mark.django_db
def test_the_pdf_draws_hangul_with_an_embedded_font(two_supplier_order, official, login):
    document = Document.objects.get(order=two_supplier_order, supplier_id=official.active_organization_id)
    response = login(official).get(reverse("transactions:document_pdf", args=[document.number]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    data = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"/FontFile2" in data and b"Pretendard" in data  # the TrueType font travels inside the PDF
    pdf = pdfium.PdfDocument(data)
    page = pdf[0]
    textpage = page.get_textpage()
    text = textpage.get_text_range()
    for expected in (
        "세금계산서",
        "환경정책과",
        "134-83-10008",
        "(주)에어데이터랩",
        "시흥시 대기질 측정 자료",
        "33,000원",
    ):
        assert expected in text
    ARTIFACTS.mkdir(exist_ok=True)
    page.render(scale=2).to_pil().save(ARTIFACTS / "receipt.png")
    # Each Hangul glyph is drawn (ink in its box), and two different syllables look different: a missing glyph
    # would be the same empty box (tofu) for both.
    first = text.index("세금계산서")
    se, geum = _char_crop(page, textpage, first, 3), _char_crop(page, textpage, first + 1, 3)
    ink = [sum(crop.histogram()[:128]) for crop in (se, geum)]
    assert all(count > 30 for count in ink)
    assert se.resize((40, 40)).tobytes() != geum.resize((40, 40)).tobytes()
    textpage.close()
    page.close()
    pdf.close()
    # Drawn from the snapshot: the same bytes' text whatever the organization is called today.
    Organization.objects.filter(pk=official.active_organization_id).update(name_ko="다른이름과")
    again = login(official).get(reverse("transactions:document_pdf", args=[document.number])).content
    assert "환경정책과" in pdfium.PdfDocument(again)[0].get_textpage().get_text_range()


@pytest.mark.django_db
def test_only_the_buyer_the_supplier_and_admins_see_a_document(
    two_supplier_order, official, exempt_official, buyer, admin_user, client
):
    document = Document.objects.get(order=two_supplier_order, supplier_id=official.active_organization_id)
    urls = [reverse(name, args=[document.number]) for name in ("transactions:document", "transactions:document_pdf")]
    stranger = make_user("rival@other.test", name="경쟁사")
    make_org(stranger, name_ko="(주)다른회사", name_en="Other", kind="consumer", brn="2118608983")
    for user, status in ((buyer, 200), (official, 200), (admin_user, 200), (stranger, 404), (exempt_official, 404)):
        client.force_login(user)
        assert [client.get(url).status_code for url in urls] == [status, status], user.email
    client.logout()
    assert client.get(urls[0]).status_code == 302  # to the login page
    # The buyer's list shows its documents with PDF links; the order page links them.
    client.force_login(buyer)
    page = client.get(reverse("transactions:documents")).content.decode()
    assert document.number in page and reverse("transactions:document_pdf", args=[document.number]) in page
    order_page = client.get(reverse("transactions:order", args=[two_supplier_order.number])).content.decode()
    assert 'id="order-documents"' in order_page and document.number in order_page
    client.force_login(stranger)
    assert document.number not in client.get(reverse("transactions:documents")).content.decode()


@pytest.mark.django_db
def test_the_month_csv_for_hometax(two_supplier_order, official, exempt_official, buyer, admin_user, client):
    dataset = publish_dataset(official, admin_user, title_ko='=HYPERLINK("http://x")', offers=TAXABLE)
    # An individual buyer's receipt is not a tax invoice and stays out of the CSV.
    individual = {"billing_name": "문지호", "billing_email": "buyer@company.test", "billing_brn": ""}
    pay_by_bank(
        place_order(buyer, offer_of(dataset, "one_off"), method="bank_transfer", billing=individual), admin_user, buyer
    )
    tax_invoice = Document.objects.get(order=two_supplier_order, supplier_id=official.active_organization_id)
    month = tax_invoice.snapshot["date"][:7]
    url = reverse("documents:provider_tax_invoices")
    client.force_login(official)
    response = client.get(url, {"month": month, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert (
        header[:4] == ["종류", "작성일자", "공급자 등록번호", "공급자 종사업장번호"]
        and header[-1] == "영수(01)/청구(02)"
    )
    assert len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    assert row["종류"] == "01" and row["작성일자"] == month.replace("-", "") + tax_invoice.snapshot["date"][8:10]
    assert (
        row["공급자 등록번호"] == "1348310008" and row["공급자 상호"] == "환경정책과" and row["공급자 성명"] == "임병택"
    )
    assert row["공급받는자 등록번호"] == "1168200276" and row["공급받는자 상호"] == "(주)에어데이터랩"
    assert (row["공급가액"], row["세액"], row["품목1"], row["공급가액1"], row["세액1"]) == (
        "30000",
        "3000",
        "시흥시 대기질 측정 자료",
        "30000",
        "3000",
    )
    assert row["영수(01)/청구(02)"] == "01" and tax_invoice.number in row["비고"]
    # A refund appears as a negative row referring to the original.
    refund = ledger.record_refund(
        item=two_supplier_order.items.get(seller_id=official.active_organization_id), amount_krw=33_000
    )
    documents.document_issue_for(refund)
    rows = list(csv.reader(io.StringIO(client.get(url, {"month": month, "format": "csv"}).content.decode("utf-8-sig"))))
    assert [(r[header.index("공급가액")], r[header.index("세액")]) for r in rows[1:]] == [
        ("30000", "3000"),
        ("-30000", "-3000"),
    ]
    # The 면세 supplier's month: its 계산서 (code 05), not the taxable supplier's invoice.
    client.force_login(exempt_official)
    rows = list(csv.reader(io.StringIO(client.get(url, {"month": month, "format": "csv"}).content.decode("utf-8-sig"))))
    assert [(r[0], r[header.index("공급자 등록번호")], r[header.index("세액")]) for r in rows[1:]] == [
        ("05", "1048656659", "0")
    ]
    # Another month is empty; a buyer (not a provider) is refused; staff choose the organization.
    client.force_login(official)
    assert (
        len(
            list(
                csv.reader(
                    io.StringIO(client.get(url, {"month": "2001-01", "format": "csv"}).content.decode("utf-8-sig"))
                )
            )
        )
        == 1
    )
    client.force_login(buyer)
    assert client.get(url, {"month": month}).status_code == 403
    client.force_login(admin_user)
    staff = client.get(
        reverse("documents:staff_tax_invoices"), {"organization": official.active_organization_id, "month": month}
    )
    assert staff.status_code == 200 and tax_invoice.number in staff.content.decode()


@pytest.mark.django_db
def test_formula_cells_are_neutralised_in_the_csv(official, buyer, admin_user, reference_data, client):
    dataset = publish_dataset(official, admin_user, offers=TAXABLE)
    billing = {
        "billing_name": '=HYPERLINK("http://evil.test","x")',
        "billing_email": "b@company.test",
        "billing_brn": "116-82-00276",
    }
    order = pay_by_bank(
        place_order(buyer, offer_of(dataset, "one_off"), method="bank_transfer", billing=billing), admin_user, buyer
    )
    month = Document.objects.get(order=order).snapshot["date"][:7]
    client.force_login(official)
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    reverse("documents:provider_tax_invoices"), {"month": month, "format": "csv"}
                ).content.decode("utf-8-sig")
            )
        )
    )
    assert rows[1][rows[0].index("공급받는자 상호")] == '\'=HYPERLINK("http://evil.test","x")'


def _mock_pg(calls):
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "receiptKey": "csk_test_1",
                "issueNumber": "123456789",
                "receiptUrl": "https://pg.example/receipt/1",
                "amount": body["amount"],
                "taxFreeAmount": body["taxFreeAmount"],
                "orderId": body["orderId"],
                "type": body["type"],
                "issueStatus": "IN_PROGRESS",
            },
        )

    return TossGateway(api_base="https://pg.example", secret_key="test_sk_x", transport=httpx.MockTransport(handler))


@pytest.mark.django_db
def test_a_cash_receipt_goes_through_the_pg_shape(official, buyer, admin_user, reference_data, monkeypatch, client):
    calls = []
    monkeypatch.setattr(documents, "get_card_gateway", lambda: _mock_pg(calls))
    dataset = publish_dataset(official, admin_user, offers=TAXABLE)
    billing = {"billing_name": "문지호", "billing_email": "buyer@company.test", "billing_brn": ""}
    order = pay_by_bank(
        place_order(buyer, offer_of(dataset, "one_off"), method="bank_transfer", billing=billing), admin_user, buyer
    )
    receipt = Document.objects.get(order=order)
    client.force_login(buyer)
    page = client.get(reverse("transactions:document", args=[receipt.number])).content.decode()
    assert 'id="cash-receipt-form"' in page
    response = client.post(
        reverse("transactions:cash_receipt", args=[receipt.number]),
        {"receipt_type": "income_deduction", "registration_number": "010-1234-5678"},
    )
    cash = Document.objects.get(order=order, kind="cash_receipt")
    assert response.status_code == 302 and response["Location"] == reverse("transactions:document", args=[cash.number])
    (call,) = calls
    assert call.method == "POST" and call.url.path == "/v1/cash-receipts"
    assert call.headers["Authorization"] == "Basic " + base64.b64encode(b"test_sk_x:").decode()
    assert call.headers["Idempotency-Key"] == str(uuid.uuid5(order.checkout_token, "cash-receipt"))
    body = json.loads(call.content)
    assert body == {
        "amount": 33_000,
        "orderId": order.number,
        "orderName": order.number,
        "customerIdentityNumber": "01012345678",
        "type": "소득공제",
        "taxFreeAmount": 0,
    }
    assert cash.snapshot["cash_receipt"]["registration_number"] == "010****5678"
    assert cash.snapshot["cash_receipt"]["receipt_key"] == "csk_test_1" and cash.total_krw == 33_000
    # Once per order: the form is gone and a second request is refused without calling the PG.
    assert (
        'id="cash-receipt-form"'
        not in client.get(reverse("transactions:document", args=[receipt.number])).content.decode()
    )
    with pytest.raises(documents.DomainError):
        documents.cash_receipt_request(
            actor=buyer, order=order, registration_number="01012345678", receipt_type="income_deduction"
        )
    assert len(calls) == 1


@pytest.mark.django_db
def test_no_cash_receipt_for_a_business_or_a_card_payment(two_supplier_order, buyer, monkeypatch):
    calls = []
    monkeypatch.setattr(documents, "get_card_gateway", lambda: _mock_pg(calls))
    with pytest.raises(documents.DomainError) as refused:
        documents.cash_receipt_request(
            actor=buyer, order=two_supplier_order, registration_number="01012345678", receipt_type="income_deduction"
        )
    assert refused.value.code == "cash_receipt_not_available" and not calls
    Order.objects.filter(pk=two_supplier_order.pk).update(billing_brn="", method="card")
    assert "카드 매출전표" in str(documents.cash_receipt_eligibility(Order.objects.get(pk=two_supplier_order.pk)))


@pytest.mark.django_db
def test_the_simulated_pg_issues_cash_receipts_once_per_idempotency_key(client, settings):
    url = reverse("pg_sim_cash_receipt")
    auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{settings.PG_SECRET_KEY}:".encode()).decode()}
    payload = {
        "amount": 33_000,
        "orderId": f"20261205-{uuid.uuid4().hex[:8].upper()}",
        "orderName": "자료",
        "customerIdentityNumber": "01012345678",
        "type": "소득공제",
        "taxFreeAmount": 0,
    }
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    first = client.post(url, json.dumps(payload), content_type="application/json", **auth, **key)
    again = client.post(url, json.dumps(payload), content_type="application/json", **auth, **key)
    assert first.status_code == 200 and first.json()["issueStatus"] == "COMPLETED"
    assert again.json()["receiptKey"] == first.json()["receiptKey"]
    bad = client.post(url, json.dumps({**payload, "type": "기타"}), content_type="application/json", **auth)
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_REQUEST"
    assert client.post(url, json.dumps(payload), content_type="application/json").status_code == 401
    assert simulator.CASH_RECEIPT_TYPES == ("소득공제", "지출증빙")


@pytest.mark.django_db
def test_the_e_invoice_adapter_point(two_supplier_order, settings):
    tax_invoice, invoice = sorted(
        Document.objects.filter(order=two_supplier_order), key=lambda d: d.kind != "tax_invoice"
    )
    issuer = einvoice.get_issuer()
    assert isinstance(issuer, einvoice.EInvoiceIssuer) and issuer.name == "export"
    assert issuer.issue(tax_invoice).status == "exported"
    assert einvoice.applies_to(tax_invoice) and einvoice.applies_to(invoice)
    settings.E_INVOICE_ADAPTER = "popbill"
    with pytest.raises(ImproperlyConfigured, match="popbill"):
        einvoice.get_issuer()
