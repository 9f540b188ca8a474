"""The data dictionary: the publisher describes each column (meaning in Korean and English, unit, codes),
it survives re-checks, only an editable version's publisher may change it, the dataset and review pages
show it in the page's language, the next version inherits it, and packages carry it (datapackage.json
and README)."""

import json
import zipfile

import pytest
from django.urls import reverse
from django.utils import translation
from frictionless import Package

from catalog import services
from catalog.models import DataFile, Licence
from catalog.services.checks import datafile_check_finished
from core.errors import DomainError, NotAllowed
from tests.catalog.test_dataset_page import page_of, publish, upload
from transactions.delivery import packaging

pytestmark = pytest.mark.django_db


def air(rows=12) -> bytes:
    lines = ["측정소,측정값,등급"] + [f"{['정왕동', '대야동'][i % 2]},{10 + i},{1 + i % 3}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def form_data(datafile, entries: dict) -> dict:
    """The POST of the publisher's form: c<i>_<part> per column, in the schema's order."""
    data = {}
    for i, name in enumerate(datafile.column_names):
        entry = entries.get(name, {})
        for part in ("description_ko", "description_en", "unit", "codes"):
            data[f"c{i}_{part}"] = entry.get(part, "")
    return data


ENTRIES = {
    "측정값": {
        "description_ko": "미세먼지(PM10) 1시간 평균 농도",
        "description_en": "PM10, hourly mean",
        "unit": "㎍/㎥",
    },
    "등급": {"description_ko": "대기질 등급", "codes": "1 = 좋음 | Good\n2 = 보통 | Moderate\n3 = 나쁨"},
}


@pytest.fixture
def checked_draft(draft, official):
    upload(official, draft, "대기질.csv", air())
    return draft, draft.files.get()


def test_the_publisher_describes_columns_on_the_file_page(client, login, official, checked_draft):
    draft, datafile = checked_draft
    login(official)
    page = client.get(reverse("catalog:datafile", args=[datafile.pk])).content.decode()
    # Prefilled for a non-technical official: the column name, its kind and example values, the units offered.
    assert 'id="dictionary-form"' in page
    assert "측정소" in page and "정왕동" in page and '<option value="㎍/㎥">' in page
    response = client.post(reverse("catalog:datafile_dictionary", args=[datafile.pk]), form_data(datafile, ENTRIES))
    assert response.status_code == 302
    datafile.refresh_from_db()
    assert datafile.dictionary["측정값"] == {
        "description_ko": "미세먼지(PM10) 1시간 평균 농도",
        "description_en": "PM10, hourly mean",
        "unit": "㎍/㎥",
        "codes": [],
    }
    assert datafile.dictionary["등급"]["codes"] == [
        {"code": "1", "label_ko": "좋음", "label_en": "Good"},
        {"code": "2", "label_ko": "보통", "label_en": "Moderate"},
        {"code": "3", "label_ko": "나쁨", "label_en": ""},
    ]
    assert "측정소" not in datafile.dictionary  # nothing written, nothing stored
    version_page = client.get(reverse("catalog:version", args=[draft.pk])).content.decode()
    assert "열 설명: 3개 중 2개" in version_page


def test_bad_codes_are_refused_with_a_clear_message_and_nothing_is_lost(client, login, official, checked_draft):
    _draft, datafile = checked_draft
    login(official)
    entries = {**ENTRIES, "등급": {"description_ko": "대기질 등급", "codes": "1 = 좋음\n보통"}}
    response = client.post(reverse("catalog:datafile_dictionary", args=[datafile.pk]), form_data(datafile, entries))
    assert response.status_code == 200
    page = response.content.decode()
    assert "2번째 줄" in page  # which line, in Korean
    assert "미세먼지(PM10) 1시간 평균 농도" in page  # what was typed is still in the form
    datafile.refresh_from_db()
    assert datafile.dictionary == {}
    with pytest.raises(DomainError, match="두 번"):
        services.datafile_dictionary_update(
            actor=official,
            datafile=datafile,
            entries={"등급": {"codes": [{"code": "1", "label_ko": "a"}, {"code": "1", "label_ko": "b"}]}},
        )
    with pytest.raises(DomainError):
        services.datafile_dictionary_update(actor=official, datafile=datafile, entries={"없는열": {"unit": "m"}})


def test_only_the_publisher_of_an_editable_version_may_change_it(
    client, login, official, admin_user, buyer, checked_draft
):
    draft, datafile = checked_draft
    with pytest.raises(NotAllowed):
        services.datafile_dictionary_update(actor=buyer, datafile=datafile, entries={"측정값": {"unit": "m"}})
    services.offer_create(actor=official, dataset=draft.dataset, kind="free")
    services.version_update_metadata(actor=official, version=draft, licence=Licence.objects.get(code="kogl-1"))
    services.version_submit(actor=official, version=draft)
    with pytest.raises(DomainError, match="변경할 수 없습니다"):
        services.datafile_dictionary_update(actor=official, datafile=datafile, entries={"측정값": {"unit": "m"}})
    login(official)
    page = client.get(reverse("catalog:datafile", args=[datafile.pk])).content.decode()
    assert 'id="dictionary-form"' not in page  # frozen: read-only


def test_the_dictionary_survives_a_recheck(official, checked_draft):
    _draft, datafile = checked_draft
    services.datafile_dictionary_update(actor=official, datafile=datafile, entries={"측정값": {"unit": "㎍/㎥"}})
    DataFile.objects.filter(pk=datafile.pk).update(check_state="running")
    report = {
        "state": "passed",
        "table_schema": {"fields": [{"name": "측정소", "type": "string"}, {"name": "측정값", "type": "number"}]},
        "messages": [],
    }
    datafile_check_finished(datafile_id=datafile.pk, report=report)
    datafile.refresh_from_db()
    assert datafile.table_schema["fields"][1]["type"] == "number"
    assert datafile.dictionary["측정값"]["unit"] == "㎍/㎥"


def _published_with_dictionary(official, admin_user):
    version = publish(
        official,
        admin_user,
        files=[("대기질.csv", air()), ("지점.csv", b"\xec\xb8\xa1\xec\xa0\x95\xec\x86\x8c,x\na,1\n")],
    )
    files = {f.original_name: f for f in version.files.all()}
    # Written as a publisher would, before the version was frozen (the rows are the same).
    DataFile.objects.filter(pk=files["대기질.csv"].pk).update(
        dictionary={
            "측정값": {"description_ko": "PM10 농도", "description_en": "PM10", "unit": "㎍/㎥", "codes": []},
            "등급": {
                "description_ko": "등급",
                "description_en": "",
                "unit": "",
                "codes": [
                    {"code": "1", "label_ko": "좋음", "label_en": "Good"},
                    {"code": "2", "label_ko": "보통", "label_en": ""},
                    {"code": "3", "label_ko": "나쁨", "label_en": "Bad"},
                ],
            },
        }
    )
    DataFile.objects.filter(pk=files["지점.csv"].pk).update(
        dictionary={"측정소": {"description_ko": "측정소 이름", "description_en": "", "unit": "", "codes": []}}
    )
    return version


def test_the_dataset_page_shows_the_dictionary_in_its_language(client, official, admin_user, reference_data):
    version = _published_with_dictionary(official, admin_user)
    html = page_of(client, version)
    assert "열 설명" in html and "PM10 농도" in html and "㎍/㎥" in html
    assert '<span class="pg-mono">1</span> = 좋음' in html
    with translation.override("en"):
        client.cookies["django_language"] = "en"
        html = client.get(
            reverse("catalog:dataset", args=[version.dataset.slug]), HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
    assert "Column descriptions" in html
    assert "<p>PM10</p>" in html  # the English description
    assert '<span class="pg-mono">1</span> = Good' in html and '<span class="pg-mono">2</span> = 보통' in html
    assert '<p lang="ko">등급</p>' in html  # no English written: the Korean, marked as Korean


def test_the_review_page_shows_the_dictionary(client, login, official, admin_user, checked_draft):
    _draft, datafile = checked_draft
    services.datafile_dictionary_update(
        actor=official, datafile=datafile, entries={"측정값": {"description_ko": "PM10 농도", "unit": "㎍/㎥"}}
    )
    login(admin_user)
    html = client.get(reverse("catalog:review_version", args=[datafile.version_id])).content.decode()
    assert 'id="review-dictionary-' in html and "PM10 농도" in html and "열 3개 중 1개 설명됨" in html


def test_a_new_version_inherits_the_dictionary(official, admin_user, reference_data):
    version = _published_with_dictionary(official, admin_user)
    new = services.version_start_new(actor=official, dataset=version.dataset, change_note="2025년 자료")
    # The same file name first; a column of another file (측정소 in 지점.csv) when the same file lacks it.
    upload(official, new, "대기질.csv", air(rows=20))
    upload(official, new, "새파일.csv", "측정소,등급\n정왕동,1\n".encode())
    files = {f.original_name: f for f in new.files.all()}
    same = files["대기질.csv"].dictionary
    assert same["측정값"]["unit"] == "㎍/㎥" and same["등급"]["codes"][0]["label_en"] == "Good"
    assert same["측정소"]["description_ko"] == "측정소 이름"
    other = files["새파일.csv"].dictionary
    assert other["등급"]["description_ko"] == "등급" and other["측정소"]["description_ko"] == "측정소 이름"
    # What the publisher writes is kept when the checks run again.
    services.datafile_dictionary_update(
        actor=official,
        datafile=files["새파일.csv"],
        entries={**other, "등급": {"description_ko": "새 등급 체계", "codes": []}},
    )
    target = DataFile.objects.get(pk=files["새파일.csv"].pk)
    assert services.datafile_dictionary_inherit(datafile=target) is False
    assert DataFile.objects.get(pk=target.pk).dictionary["등급"]["description_ko"] == "새 등급 체계"


def test_the_package_carries_the_dictionary(official, admin_user, reference_data, tmp_path):
    version = _published_with_dictionary(official, admin_user)
    with open(tmp_path / "package.zip", "w+b") as fh:  # a real file: packaging syncs it as it writes
        packaging.write_package(fh, version=version, context=packaging.Context(site_url="http://testserver"))
    with zipfile.ZipFile(tmp_path / "package.zip") as zf:
        descriptor = json.loads(zf.read("datapackage.json"))
        readme = zf.read("README.md").decode()
        zf.extractall(tmp_path)
    resource = next(r for r in descriptor["resources"] if r["path"] == "data/대기질.csv")
    fields = {f["name"]: f for f in resource["schema"]["fields"]}
    assert fields["측정값"]["description"] == "PM10 농도 / PM10" and fields["측정값"]["unit"] == "㎍/㎥"
    assert fields["등급"]["type"] == "integer"
    assert fields["등급"]["categories"] == [
        {"value": 1, "label": "좋음", "label_en": "Good"},
        {"value": 2, "label": "보통"},
        {"value": 3, "label": "나쁨", "label_en": "Bad"},
    ]
    assert "description" not in fields["측정소"]
    assert "## 열 설명 / Columns" in readme
    assert "| `측정값` | integer | ㎍/㎥ | PM10 농도 / PM10 | — |" in readme
    assert "| `등급` | integer | — | 등급 | 1 = 좋음 (Good); 2 = 보통; 3 = 나쁨 (Bad) |" in readme
    # Frictionless still reads the package as valid.
    report = Package(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["type", "note"])


def test_a_sheet_inherits_from_the_same_sheet_of_the_same_workbook(official, admin_user, reference_data):
    # Two workbooks of version 1 both have a sheet "Sheet1" with a column 값, described differently: a sheet of the
    # next version takes the description of its own workbook's sheet, not of the first sheet with that name.
    version = _published_with_dictionary(official, admin_user)
    schema = {"fields": [{"name": "값", "type": "integer"}]}
    for book, meaning in (("가.xlsx", "가 통합문서의 값"), ("나.xlsx", "나 통합문서의 값")):
        parent = DataFile.objects.create(
            version=version, file=f"datasets/t/{book}", original_name=book, format="xlsx", size=1
        )
        DataFile.objects.create(
            version=version,
            parent=parent,
            original_name="Sheet1",
            format="xlsx",
            size=0,
            table_schema=schema,
            dictionary={"값": {"description_ko": meaning, "description_en": "", "unit": "", "codes": []}},
        )
    new = services.version_start_new(actor=official, dataset=version.dataset, change_note="2025년 자료")
    book = DataFile.objects.create(
        version=new, file="datasets/t/n.xlsx", original_name="나.xlsx", format="xlsx", size=1
    )
    sheet = DataFile.objects.create(
        version=new, parent=book, original_name="Sheet1", format="xlsx", size=0, table_schema=schema
    )
    assert services.datafile_dictionary_inherit(datafile=sheet) is True
    assert DataFile.objects.get(pk=sheet.pk).dictionary["값"]["description_ko"] == "나 통합문서의 값"


def test_a_partial_update_merges_with_what_is_stored_now_not_with_a_stale_copy(official, checked_draft):
    """The API's PATCH sends some columns: the service merges them into the locked row, so a change made meanwhile
    by someone else (or by the inheritance when checks finish) is kept."""
    _draft, datafile = checked_draft
    stale = DataFile.objects.get(pk=datafile.pk)  # read before the other change
    services.datafile_dictionary_update(
        actor=official,
        datafile=DataFile.objects.get(pk=datafile.pk),
        entries={"측정값": {"unit": "㎍/㎥"}},
        partial=True,
    )
    services.datafile_dictionary_update(
        actor=official, datafile=stale, entries={"측정소": {"description_ko": "측정소 이름"}}, partial=True
    )
    datafile.refresh_from_db()
    assert set(datafile.dictionary) == {"측정값", "측정소"}
    assert datafile.dictionary["측정값"]["unit"] == "㎍/㎥"
