"""A workbook of three sheets (a titled two-row-header table, an empty sheet, phone numbers) in Chromium at
390 px, in Korean and English: the provider's file list shows a row per sheet's table under the workbook,
the workbook's page lists its sheets and the skipped empty one, a sheet's page shows its columns and the
personal data found there, and the public dataset page shows each sheet's table. Nothing is wider than the
screen."""

import re

import pytest
from playwright.sync_api import expect

from catalog.models import DataFile
from tests.catalog.workbooks import AIR_SHEET, CONTACT_SHEET, EMPTY_SHEET, three_sheet_workbook
from tests.conftest import PASSWORD
from tests.transactions.test_packaging import _check_all, publish_files, upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "ko": {
        "sheet_of": "통합 문서 시흥시 대기질.xlsx의 시트",
        "tables": "시트별 표 2개, 각각 따로 검사함",
        "holds": "이 통합 문서에는 시트별로 표가 2개 있습니다",
        "empty": f"비어 있어 뺀 시트: “{EMPTY_SHEET}”",
        "two_rows": "열 이름은 두 행(4행과 5행)에서 만들었습니다.",
        "title": "표 위의 제목(열이 아님): “2024년 시흥시 대기질 측정 현황”",
        "phones": "휴대전화번호",
        "sheet_word": "엑셀 시트",
    },
    "en": {
        "sheet_of": "a sheet of the workbook 시흥시 대기질.xlsx",
        "tables": "2 tables, one per sheet, each checked separately",
        "holds": "The workbook holds 2 tables, one per sheet",
        "empty": f"Empty sheet left out: “{EMPTY_SHEET}”",
        "two_rows": "Column names from two rows (rows 4 and 5)",
        "title": "Title above the table (not a column): “2024년 시흥시 대기질 측정 현황”",
        "phones": "Mobile phone numbers",
        "sheet_word": "Excel sheet",
    },
}


def _fits(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_workbook_of_sheets_on_a_phone(live_server, browser, official, admin_user, draft, shot, lang):
    text, base = TEXT[lang], live_server.url
    upload(official, draft, "시흥시 대기질.xlsx", three_sheet_workbook())
    _check_all(draft)
    workbook = DataFile.objects.get(version=draft, parent=None)
    air, contacts = DataFile.objects.filter(parent=workbook).order_by("id")

    ctx = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844})
    ctx.add_cookies([{"name": "django_language", "value": lang, "url": base}])
    page = ctx.new_page()
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(official.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/catalog/"))

    # The version's files: the workbook, then a row per sheet's table under it.
    page.goto(f"{base}/catalog/provider/versions/{draft.pk}/")
    files = page.locator("#version-files")
    expect(files).to_contain_text(text["tables"])
    expect(files.locator("tr.pg-member-row", has_text=AIR_SHEET)).to_contain_text(text["sheet_of"])
    expect(files.locator("tr.pg-member-row", has_text=CONTACT_SHEET)).to_contain_text(text["sheet_word"])
    expect(files).to_contain_text(EMPTY_SHEET)  # the note naming the skipped sheet
    _fits(page)
    shot(page, f"{lang}-version-files")

    # The workbook's page: its sheets and the empty one left out.
    page.goto(f"{base}/catalog/provider/files/{workbook.pk}/")
    expect(page.locator("#outcome-title")).to_contain_text(text["holds"])
    expect(page.locator("#sheets")).to_contain_text(AIR_SHEET)
    expect(page.locator("#sheets")).to_contain_text(CONTACT_SHEET)
    expect(page.locator("#empty-sheets")).to_contain_text(text["empty"])
    _fits(page)
    shot(page, f"{lang}-workbook")

    # A sheet's page: its title row and two-row header explained, its columns and first rows.
    page.locator("#sheets a", has_text=AIR_SHEET).click()
    expect(page.locator("h1")).to_have_text(AIR_SHEET)
    expect(page.locator("#sheets")).to_contain_text(text["two_rows"])
    expect(page.locator("#sheets")).to_contain_text(text["title"])
    expect(page.locator("#columns")).to_contain_text("미세먼지 PM2.5")
    expect(page.locator("#preview")).to_contain_text("정왕동")
    _fits(page)
    shot(page, f"{lang}-sheet-air")

    page.goto(f"{base}/catalog/provider/files/{contacts.pk}/")
    expect(page.locator("#personal-data")).to_contain_text(text["phones"])
    expect(page.locator("#personal-data")).to_contain_text("010-****-6789")
    _fits(page)
    shot(page, f"{lang}-sheet-contacts")

    # The public page of a published dataset with the same workbook: a section per sheet's table.
    version = publish_files(
        official, admin_user, [("시흥시 대기질.xlsx", three_sheet_workbook())], title_ko="시흥시 대기질 시트"
    )
    published = DataFile.objects.filter(version=version, parent__isnull=False).order_by("id")
    page.goto(f"{base}/catalog/datasets/{version.dataset.slug}/")
    table = page.locator("#dataset-files")
    expect(table).to_contain_text(text["empty"])
    for sheet in published:
        expect(page.locator(f"#file-{sheet.pk} .ds-file-title")).to_have_text(
            f"시흥시 대기질.xlsx › {sheet.original_name}"
        )
    page.locator(f"#file-{published[1].pk} > summary").click()
    expect(page.locator(f"#file-{published[1].pk}")).to_contain_text("010-****-6789")
    _fits(page)
    shot(page, f"{lang}-dataset-page")
    ctx.close()

    # The reviewer's page of that version: a row per sheet's table, the personal data under the sheet's
    # name with its workbook; a sheet's review page.
    ctx = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844})
    ctx.add_cookies([{"name": "django_language", "value": lang, "url": base}])
    admin = ctx.new_page()
    admin.goto(f"{base}/accounts/login/")
    admin.locator("#id_login").fill(admin_user.email)
    admin.locator("#id_password").fill(PASSWORD)
    admin.locator("main form button[type=submit]").click()
    admin.wait_for_url(re.compile(r"/me/|/staff/|/catalog/"))
    admin.goto(f"{base}/catalog/review/versions/{version.pk}/")
    expect(admin.locator("#review-files tr.pg-member-row", has_text=AIR_SHEET)).to_contain_text(text["sheet_of"])
    expect(admin.locator("#checks")).to_contain_text(f"시흥시 대기질.xlsx › {CONTACT_SHEET}")
    _fits(admin)
    shot(admin, f"{lang}-review")
    admin.goto(f"{base}/catalog/review/files/{published[0].pk}/")
    expect(admin.locator("main")).to_contain_text(text["sheet_of"])
    expect(admin.locator("main")).to_contain_text("미세먼지 PM10")
    _fits(admin)
    shot(admin, f"{lang}-review-sheet")
    ctx.close()
