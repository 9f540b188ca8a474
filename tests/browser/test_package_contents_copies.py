"""The dataset page's "What the package holds" once the publication's worker made the copies (issue 13):
a CSV that is already UTF-8 with a BOM and has no formula-looking cell is named as its own Excel copy,
and a CP949 GeoJSON's UTF-8 copy in data/utf8/ is announced. Korean, phone width, English."""

import json

import pytest
from playwright.sync_api import expect

from catalog.models import DerivedFile
from tests.browser.test_dataset_page import await_worker
from tests.catalog.test_dataset_page import publish
from tests.transactions.test_packaging import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLAIN = b"\xef\xbb\xbf" + "측정소,미세먼지,기온\n정왕동,31,-3.2\n대야동,28,1.5\n".encode()
FORMULAS = "항목,값,숫자\n가,=1+1,-3.2\n나,+cmd,7\n".encode()
GEOJSON = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"이름": "정왕동 측정소"},
                "geometry": {"type": "Point", "coordinates": [126.73, 37.34]},
            }
        ],
    },
    ensure_ascii=False,
).encode("cp949")


def test_the_package_contents_name_the_copies(
    live_server, page, celery_worker, official, admin_user, reference_data, shot
):
    version = publish(
        official,
        admin_user,
        files=[("깨끗한.csv", PLAIN), ("수식.csv", FORMULAS), ("측정소_cp949.geojson", GEOJSON)],
        checks=await_worker,
    )
    wait_for(lambda: DerivedFile.objects.filter(built_at__isnull=False).count() == 3)  # the publication's task
    url = f"{live_server.url}/catalog/datasets/{version.dataset.slug}/"

    page.goto(url)
    contents = page.locator("#package-contents")
    contents.scroll_into_view_if_needed()
    expect(contents).to_contain_text("data/excel/")
    expect(contents).to_contain_text(
        "깨끗한.csv 파일은 이미 UTF-8(BOM 포함)이고 수식처럼 보이는 셀이 없습니다. 따로 사본을 만들지 않으니 "
        "data/깨끗한.csv 파일을 그대로 Excel에서 여세요."
    )
    expect(contents).to_contain_text("UTF-8로 옮긴 사본도 data/utf8/ 폴더에 들어 있습니다")
    contents.screenshot(path=str(shot(page, "contents-ko").with_name("copies-ko.png")))

    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#package-contents").scroll_into_view_if_needed()
    page.locator("#package-contents").screenshot(path=str(shot(page, "contents-phone").with_name("copies-phone.png")))

    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("#lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    contents = page.locator("#package-contents")
    expect(contents).to_contain_text("깨끗한.csv is already UTF-8 with a byte order mark")
    expect(contents).to_contain_text("also comes in UTF-8 in data/utf8/")
    contents.scroll_into_view_if_needed()
    contents.screenshot(path=str(shot(page, "contents-en").with_name("copies-en.png")))
