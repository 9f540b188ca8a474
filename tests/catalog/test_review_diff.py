"""The reviewer's diff (issue 13): descriptions compared word by word, replaced files paired with their
predecessor (by name, else by shared columns) with their column and row changes flagged."""

import re

import pytest
from django.urls import reverse

from catalog import selectors, services
from catalog.models import DataFile, DatasetVersion, Licence, Offer

S = DatasetVersion.State

LONG_KO = (
    "시흥시 정왕동 측정소에서 2019년부터 수집한 시간별 대기질 자료입니다. 미세먼지와 초미세먼지 농도를 "
    "매시간 기록하며, 측정 장비 점검 기간의 값은 비어 있습니다. 자료는 매월 초에 갱신되고, 이상값은 "
    "환경정책과가 검토한 뒤 표시합니다. 활용 시 출처를 밝혀 주십시오."
)
SCHEMA = {"fields": [{"name": "측정소명", "type": "string"}, {"name": "측정일시", "type": "datetime"}]}


def _file(version, name, schema, *, rows=100, sha="a" * 64):
    return DataFile.objects.create(
        version=version,
        file=f"datasets/test/{version.number}/{name}",
        original_name=name,
        format="csv",
        size=10,
        sha256=sha,
        check_state="passed",
        row_count=rows,
        table_schema=schema,
    )


def _published(official, admin_user, draft, files):
    for name, schema, rows in files:
        _file(draft, name, schema, rows=rows)
    Offer.objects.get_or_create(dataset=draft.dataset, kind="free")
    services.version_update_metadata(
        actor=official, version=draft, licence=Licence.objects.get(code="kogl-1"), description_ko=LONG_KO
    )
    services._refresh_version_state(draft)
    services.version_submit(actor=official, version=draft)
    return services.version_approve(actor=admin_user, version=draft)


def test_a_changed_word_in_a_long_paragraph_is_the_only_thing_marked():
    from catalog.textdiff import word_diff  # new in issue 13: imported here so the page tests run on old code

    new = LONG_KO.replace("매월 초에", "매주 월요일에")
    diff = word_diff(LONG_KO, new)
    deleted = [s["text"] for s in diff["old"] if s["op"] == "delete"]
    inserted = [s["text"] for s in diff["new"] if s["op"] == "insert"]
    assert (deleted, inserted) == (["매월 초에"], ["매주 월요일에"])
    assert "".join(s["text"] for s in diff["old"]) == LONG_KO  # nothing lost on either side
    assert "".join(s["text"] for s in diff["new"]) == new
    assert diff["changed"] == 1


def test_word_diff_of_english_and_of_equal_texts():
    from catalog.textdiff import word_diff  # new in issue 13 (see above)

    diff = word_diff("Hourly air quality, updated monthly.", "Hourly air quality, updated weekly.")
    assert [s for s in diff["new"] if s["op"] != "equal"] == [{"op": "insert", "text": "weekly"}]
    assert word_diff("같음", "같음") == {
        "old": [{"op": "equal", "text": "같음"}],
        "new": [{"op": "equal", "text": "같음"}],
        "changed": 0,
    }


@pytest.mark.django_db
def test_the_review_page_marks_only_the_changed_words_escaped(login, official, admin_user, draft):
    published = _published(official, admin_user, draft, [("대기질.csv", SCHEMA, 100)])
    second = services.version_start_new(actor=official, dataset=published.dataset, change_note="갱신 주기 변경")
    services.version_update_metadata(
        actor=official,
        version=second,
        description_ko=LONG_KO.replace("매월 초에", "매주 월요일에") + " <script>alert(1)</script>",
    )
    html = login(admin_user).get(reverse("catalog:review_version", args=[second.pk])).content.decode()
    row = re.search(r'<tr data-field="description_ko">.*?</tr>', html, re.S).group(0)
    dels = re.findall(r'<del class="rv-del">(.*?)</del>', row, re.S)
    inss = re.findall(r'<ins class="rv-ins">(.*?)</ins>', row, re.S)
    assert dels == ['<span class="sr-only">[삭제: </span>매월 초에<span class="sr-only">]</span>']
    assert inss[0] == '<span class="sr-only">[추가: </span>매주 월요일에<span class="sr-only">]</span>'
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in inss[1]
    assert "<script>alert(1)" not in html
    # The unchanged words are plain text on both sides, not struck through as a whole.
    assert row.count("측정 장비 점검 기간의 값은 비어 있습니다.") == 2


@pytest.mark.django_db
def test_a_replaced_file_is_paired_by_its_columns_and_its_changes_flagged(login, official, admin_user, draft):
    places = {"fields": [{"name": "측정소명", "type": "string"}, {"name": "주소", "type": "string"}]}
    published = _published(official, admin_user, draft, [("대기질_2024.csv", SCHEMA, 100), ("측정소.csv", places, 5)])
    second = services.version_start_new(actor=official, dataset=published.dataset, change_note="2025년 자료")
    second.files.filter(original_name="대기질_2024.csv").delete()  # the official removed it, uploaded the new one
    new_schema = {
        "fields": [
            {"name": "측정소명", "type": "string"},
            {"name": "측정일시", "type": "date"},
            {"name": "초미세먼지", "type": "integer"},
        ]
    }
    _file(second, "대기질_2025.csv", new_schema, rows=130, sha="b" * 64)
    _file(second, "민원.csv", {"fields": [{"name": "접수번호", "type": "integer"}]}, rows=3, sha="c" * 64)
    diff = selectors.version_diff(second)
    files = {f["name"]: f for f in diff["files"]}
    assert set(files) == {"대기질_2025.csv", "측정소.csv", "민원.csv"}
    replaced = files["대기질_2025.csv"]
    assert (replaced["status"], replaced["old_name"], replaced["matched_by"]) == (
        "replaced",
        "대기질_2024.csv",
        "schema",
    )
    assert replaced["added"] == ["초미세먼지"] and replaced["removed"] == []
    assert replaced["retyped"] == [{"name": "측정일시", "old": "datetime", "new": "date"}]
    assert (replaced["rows_old"], replaced["rows_new"], replaced["rows_delta"]) == (100, 130, 30)
    assert replaced["column_change"] is True
    assert (files["측정소.csv"]["status"], files["측정소.csv"]["matched_by"]) == ("unchanged", "predecessor")
    assert files["민원.csv"]["status"] == "added"  # no shared column: a new file, not a replacement
    assert diff["column_changes"] == 1

    html = login(admin_user).get(reverse("catalog:review_version", args=[second.pk])).content.decode()
    assert 'id="column-changes"' in html
    row = re.search(r'<tr class="rv-flagged" data-file="대기질_2025.csv".*?</tr>', html, re.S).group(0)
    assert "대기질_2024.csv" in row and "교체됨" in row
    assert 'data-change="added"' in row and "초미세먼지" in row and 'data-change="retyped"' in row
    assert "30행 늘어남" in row


@pytest.mark.django_db
def test_a_file_of_the_same_name_is_paired_by_name(official, admin_user, draft):
    published = _published(official, admin_user, draft, [("대기질.csv", SCHEMA, 100)])
    second = services.version_start_new(actor=official, dataset=published.dataset, change_note="열 삭제")
    second.files.all().delete()
    _file(second, "대기질.csv", {"fields": [{"name": "완전히다른열", "type": "string"}]}, rows=90, sha="d" * 64)
    (entry,) = selectors.version_diff(second)["files"]
    assert (entry["status"], entry["matched_by"], entry["rows_delta"]) == ("changed", "name", -10)
    assert entry["removed"] == ["측정소명", "측정일시"] and entry["added"] == ["완전히다른열"]
