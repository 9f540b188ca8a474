"""Dialect, Table Schema, profile and preview of UTF-8 CSV files (catalog.ingest.tabular).

Fixture files are written into tmp_path by the tests; nothing binary is committed.
"""

import json
import statistics

import pytest

from catalog.ingest.errors import IngestError
from catalog.ingest.tabular import SAMPLE_ROWS, analyse_csv

N = 30


def korean_rows(sep=","):
    """30 rows with the pitfalls of Korean public data, and the values the tests expect."""
    header = sep.join(
        ["측정소", "측정일", "기록일", "측정시각", "금액", "농도", "위도", "경도", "연도", "코드", "비고"]
    )
    lines = [header]
    for i in range(N):
        amount = "-" if i == 4 else f"{(i + 1) * 1000:,}"  # thousands separators, "-" = empty
        if sep == ",":
            amount = f'"{amount}"'  # quoted, as Excel writes them
        level = "" if i % 10 == 0 else str(i * 2)
        lines.append(
            sep.join(
                [
                    ["정왕동", "대야동", "신천동"][i % 3],
                    f"2024.01.{i + 1:02d}",
                    f"2024-01-{i + 1:02d}",
                    f"2024-01-01 {i % 24:02d}:30",
                    amount,
                    level,
                    f"{37.3 + i * 0.001:.4f}",
                    f"{126.7 + i * 0.001:.4f}",
                    str(2000 + i % 5),
                    f"{i:03d}",
                    "점검" if i % 2 == 0 else "",
                ]
            )
        )
    return "\n".join(lines) + "\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def by_name(report):
    return {p.name: p for p in report.profile}


def fields(report):
    return {f["name"]: f for f in report.schema["fields"]}


@pytest.fixture
def report(tmp_path):
    return analyse_csv(write(tmp_path, "air.csv", korean_rows()))


def test_shape_and_dialect(report):
    assert report.row_count == N
    assert report.column_count == 11
    assert report.delimiter == "," and report.quote == '"' and report.header is True
    assert report.schema["missingValues"] == ["", "-", "NA", "N/A", "null", "NULL"]


def test_types_formats_and_geo(report):
    f = fields(report)
    assert f["측정소"] == {"name": "측정소", "type": "string"}
    assert f["측정일"] == {"name": "측정일", "type": "date", "format": "%Y.%m.%d"}
    assert f["기록일"] == {"name": "기록일", "type": "date"}  # ISO: Frictionless default format
    assert f["측정시각"] == {"name": "측정시각", "type": "datetime", "format": "%Y-%m-%d %H:%M"}
    assert f["금액"] == {"name": "금액", "type": "integer", "groupChar": ","}  # whole amounts
    assert f["농도"]["type"] == "integer"
    assert f["위도"] == {"name": "위도", "type": "number", "geo": "latitude"}
    assert f["경도"] == {"name": "경도", "type": "number", "geo": "longitude"}
    assert f["연도"]["type"] == "year"
    assert f["코드"]["type"] == "string"  # leading zeros are kept
    assert f["비고"]["type"] == "string"
    codes = {n["code"] for n in report.notes}
    assert {"thousands_separator", "date_format", "leading_zeros"} <= codes


def test_numeric_profile(report):
    p = by_name(report)["농도"]
    values = [i * 2 for i in range(N) if i % 10 != 0]
    assert (p.count, p.nulls) == (len(values), 3)
    assert p.null_ratio == pytest.approx(3 / N, abs=1e-6)
    assert (p.min, p.max) == (min(values), max(values))
    assert p.mean == pytest.approx(statistics.mean(values))
    assert p.std == pytest.approx(statistics.stdev(values))
    assert (p.distinct, p.distinct_approximate) == (len(values), False)  # counted exactly
    assert sum(b["count"] for b in p.histogram) == p.count
    assert p.histogram[0]["from"] == min(values) and p.histogram[-1]["to"] == max(values)

    amount = by_name(report)["금액"]
    amounts = [(i + 1) * 1000 for i in range(N) if i != 4]
    assert (amount.count, amount.nulls) == (N - 1, 1)
    assert (amount.min, amount.max) == (1000, 30000)
    assert amount.mean == pytest.approx(statistics.mean(amounts))
    assert len(amount.histogram) == 10
    assert sum(b["count"] for b in amount.histogram) == N - 1

    year = by_name(report)["연도"]
    assert (year.min, year.max) == (2000, 2004)
    # 5 distinct years, 10 bins asked: one bin per year
    assert year.histogram == [{"from": y, "to": y, "count": 6} for y in range(2000, 2005)]


def test_dates_strings_and_top_values(report):
    p = by_name(report)
    assert (p["측정일"].min, p["측정일"].max) == ("2024-01-01", "2024-01-30")
    assert (p["기록일"].min, p["기록일"].max) == ("2024-01-01", "2024-01-30")
    assert p["측정시각"].min == "2024-01-01T00:30:00"
    station = p["측정소"]
    assert station.top_values == [
        {"value": "대야동", "count": 10},
        {"value": "신천동", "count": 10},
        {"value": "정왕동", "count": 10},
    ]
    assert station.histogram is None and station.mean is None
    note = p["비고"]
    assert (note.count, note.nulls) == (15, 15)
    assert note.top_values == [{"value": "점검", "count": 15}]


def test_preview_is_the_text_of_the_file_and_json_safe(report, tmp_path):
    assert len(report.preview) == 20
    first = report.preview[0]
    assert first == [
        "정왕동",
        "2024.01.01",
        "2024-01-01",
        "2024-01-01 00:30",
        "1,000",
        "",
        "37.3000",
        "126.7000",
        "2000",
        "000",
        "점검",
    ]
    assert report.preview[4][4] == "-" and report.preview_marks[4][4] == "empty"  # "-" is read as empty
    assert report.preview_marks[0] == [None] * 11  # an empty cell needs no mark
    data = report.to_dict()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert all(isinstance(n["message"], str) for n in data["notes"])
    assert len(analyse_csv(write(tmp_path, "p.csv", korean_rows()), preview_rows=5).preview) == 5


def test_tsv(tmp_path):
    report = analyse_csv(write(tmp_path, "a.tsv", korean_rows(sep="\t")))
    assert report.delimiter == "\t"
    assert report.row_count == N and report.column_count == 11
    # 1,000 without quotes in a TSV is still a number with separators
    assert fields(report)["금액"] == {"name": "금액", "type": "integer", "groupChar": ","}


def test_korean_date_styles(tmp_path):
    text = "일자,점검일,값\n2024년 1월 5일,2024. 1. 5.,1\n2024년 12월 31일,2024. 12. 31.,2\n"
    report = analyse_csv(write(tmp_path, "k.csv", text))
    f = fields(report)
    assert f["일자"] == {"name": "일자", "type": "date", "format": "%Y년 %m월 %d일"}
    assert f["점검일"] == {"name": "점검일", "type": "date", "format": "%Y. %m. %d."}
    assert by_name(report)["일자"].max == "2024-12-31"


def test_ragged_rows_name_the_line(tmp_path):
    text = "a,b,c\n" + "1,2,3\n" * 40 + "4,5\n" + "6,7,8\n" * 5
    with pytest.raises(IngestError) as exc:
        analyse_csv(write(tmp_path, "ragged.csv", text))
    assert exc.value.code == "ragged_rows"
    assert exc.value.line == 42
    assert "42" in str(exc.value.message)


def test_ragged_row_that_the_sniffer_reads_as_one_column(tmp_path):
    # DuckDB's own sniffer answers "one |-delimited column" for this file.
    with pytest.raises(IngestError) as exc:
        analyse_csv(write(tmp_path, "blank.csv", "a,b\n1,2\n   \n3,4\n"))
    assert exc.value.code == "ragged_rows" and exc.value.line == 3


def test_unbalanced_quote_does_not_swallow_rows(tmp_path):
    text = 'a,b,c\n1,"x",3\n4,"5,6\n7,8,9\n10,11,12\n13,"y",15\n'
    with pytest.raises(IngestError) as exc:
        analyse_csv(write(tmp_path, "quote.csv", text))
    assert exc.value.code == "unbalanced_quote"
    assert exc.value.line == 3


def test_quotes_that_close_later_are_reported(tmp_path):
    """Balanced quotes around several lines are valid CSV: one row, with a warning."""
    text = 'a,b,c\n1,"x",3\n4,"5,6\n7,8,9\n10,11",12\n13,14,15\n'
    report = analyse_csv(write(tmp_path, "multi.csv", text))
    assert report.row_count == 3
    (note,) = [n for n in report.notes if n["code"] == "multiline_values"]
    assert note["column"] == "b" and note["count"] == 1 and note["level"] == "warning"


def test_header_and_rows_with_different_delimiters(tmp_path):
    with pytest.raises(IngestError) as exc:
        analyse_csv(write(tmp_path, "semi.csv", "a;b;c\n1,2,3\n4,5,6\n"))
    assert exc.value.code == "delimiter_unknown"


def test_single_column_file_is_fine(tmp_path):
    report = analyse_csv(write(tmp_path, "one.csv", "이름\n가\n나\n"))
    assert report.column_count == 1 and report.row_count == 2


def test_empty_and_header_only(tmp_path):
    with pytest.raises(IngestError) as exc:
        analyse_csv(write(tmp_path, "empty.csv", ""))
    assert exc.value.code == "empty_file"
    report = analyse_csv(write(tmp_path, "header.csv", "a,b\n"))
    assert (report.row_count, report.column_count, report.preview) == (0, 2, [])
    assert [f["type"] for f in report.schema["fields"]] == ["string", "string"]


def test_blank_and_duplicate_column_names(tmp_path):
    report = analyse_csv(write(tmp_path, "names.csv", "a,,a\n1,2,3\n"))
    assert [f["name"] for f in report.schema["fields"]] == ["a", "column2", "a_2"]
    assert {"blank_header", "duplicate_header"} <= {n["code"] for n in report.notes}


def test_values_after_the_type_sample_are_checked(tmp_path):
    """Types are chosen on the first rows; the full pass checks every row and falls back."""
    rows = [f"{i},{i},{i},{i % 900}" for i in range(SAMPLE_ROWS + 100)]
    rows += ['미상,2.5,"1,234","12,345"']
    report = analyse_csv(write(tmp_path, "late.csv", "a,b,c,d\n" + "\n".join(rows) + "\n"))
    f = fields(report)
    assert f["a"]["type"] == "string"
    assert f["b"]["type"] == "number"
    assert f["c"] == {"name": "c", "type": "integer", "groupChar": ","}
    assert f["d"] == {"name": "d", "type": "integer", "groupChar": ","}
    assert by_name(report)["b"].max == SAMPLE_ROWS + 99
    assert by_name(report)["d"].max == 12345
    (mixed,) = [n for n in report.notes if n["code"] == "mixed_values"]
    assert (mixed["column"], mixed["bad"], mixed["example"]) == ("a", 1, "미상")
    assert report.row_count == SAMPLE_ROWS + 101


def test_coordinates_outside_korea_are_not_marked(tmp_path):
    # EPSG:5186 metres, as many Korean files have them
    text = "x좌표,y좌표,lat\n190000.5,550000.25,37.5\n190100.5,550100.25,37.6\n"
    report = analyse_csv(write(tmp_path, "tm.csv", text))
    f = fields(report)
    assert "geo" not in f["x좌표"] and "geo" not in f["y좌표"]
    assert f["lat"]["geo"] == "latitude"
    assert [n["column"] for n in report.notes if n["code"] == "geo_outside_korea"] == ["x좌표", "y좌표"]


def test_year_needs_a_year_name_and_range(tmp_path):
    text = "YEAR,기준년도,count\n1999,2023,1999\n2024,2024,2024\n"
    f = fields(analyse_csv(write(tmp_path, "y.csv", text)))
    assert (f["YEAR"]["type"], f["기준년도"]["type"], f["count"]["type"]) == ("year", "year", "integer")


def test_booleans_and_times(tmp_path):
    text = "ok,at\ntrue,09:30\nfalse,18:05:10\nTRUE,\n"
    report = analyse_csv(write(tmp_path, "b.csv", text))
    f = fields(report)
    assert f["ok"]["type"] == "boolean"
    assert f["at"]["type"] == "string"  # two time formats mixed
    ok = by_name(report)["ok"]
    assert sum(t["count"] for t in ok.top_values) == 3


def test_grouped_whole_numbers_are_integers(tmp_path):
    """ "12,345" is a whole number written with separators; a fraction makes the column a number,
    also when it comes after the rows that chose the type."""
    late = [f'"{i * 1000:,}",{i}' for i in range(SAMPLE_ROWS + 10)] + ['"12,345.5",1']
    text = "금액,평균\n" + '"12,345","1,234.5"\n"1,000","12,345"\n"-2,000",7\n'
    report = analyse_csv(write(tmp_path, "g.csv", text))
    f = fields(report)
    assert f["금액"] == {"name": "금액", "type": "integer", "groupChar": ","}
    assert f["평균"] == {"name": "평균", "type": "number", "groupChar": ","}
    assert (by_name(report)["금액"].min, by_name(report)["금액"].max) == (-2000, 12345)
    assert report.preview[0] == ["12,345", "1,234.5"]  # as written; the profile has the numbers

    f = fields(analyse_csv(write(tmp_path, "late.csv", "a,b\n" + "\n".join(late) + "\n")))
    assert f["a"] == {"name": "a", "type": "number", "groupChar": ","}
    assert f["b"]["type"] == "integer" and "groupChar" not in f["b"]


def test_decimal_commas_in_a_semicolon_file_are_not_thousands(tmp_path):
    """A file delimited by ";" (European Excel) writes 1,2 for 1.2: never 12, never a grouped number."""
    text = "name;value;mixed\na;1,2;1,234\nb;3,45;2,5\nc;10,5;7\n"
    report = analyse_csv(write(tmp_path, "eu.csv", text))
    assert report.delimiter == ";" and report.row_count == 3
    f = fields(report)
    assert f["value"] == {"name": "value", "type": "string"}
    assert f["mixed"] == {"name": "mixed", "type": "string"}
    assert [row[1] for row in report.preview] == ["1,2", "3,45", "10,5"]


# --- issue 13: exact distinct counts, the preview as written, date charts, flat memory ----------------------


def test_distinct_values_are_counted_exactly_up_to_the_limit(tmp_path, settings):
    """240 different values are 240, not "≈246" (HyperLogLog); above the limit the count is an estimate and
    says so. The limit is the sum of the columns' estimates, smallest first (INGEST_EXACT_DISTINCT_LIMIT)."""
    from catalog.ingest.pipeline import analyse_path

    lines = ["코드,지점,번호"] + [f"C{i % 240:04d},{['정왕동', '대야동'][i % 2]},{i}" for i in range(6000)]
    path = write(tmp_path, "d.csv", "\n".join(lines) + "\n")
    p = by_name(analyse_csv(path))
    assert [(p[n].distinct, p[n].distinct_approximate) for n in ("코드", "지점", "번호")] == [
        (240, False),
        (2, False),
        (6000, False),
    ]

    p = by_name(analyse_csv(path, exact_distinct_limit=300))  # 2 + 240 fit; 6000 does not
    assert [p[n].distinct_approximate for n in ("코드", "지점", "번호")] == [False, False, True]
    assert p["코드"].distinct == 240 and p["번호"].distinct == pytest.approx(6000, rel=0.05)

    settings.INGEST_EXACT_DISTINCT_LIMIT = 100  # the pipeline's setting: only 지점 (2) fits
    profile = {c["name"]: c for c in analyse_path(path, "csv", workdir=tmp_path)["profile"]}
    assert [profile[n]["distinct_approximate"] for n in ("코드", "지점", "번호")] == [True, False, True]
    assert profile["지점"]["distinct"] == 2


def test_an_empty_column_has_exactly_no_distinct_values(tmp_path):
    p = by_name(analyse_csv(write(tmp_path, "e.csv", "a,b\n1,\n2,\n")))
    assert (p["b"].distinct, p["b"].distinct_approximate) == (0, False)


def test_preview_cells_are_the_raw_text_with_how_they_were_read(tmp_path):
    """A date-time written 2026-11-01 00:00 is shown so, not 2026-11-01T00:00:00; "-" is marked as read as
    empty; in a column kept as text because one value is not a number, that value is marked."""
    rows = ["일시,금액,수량,코드,메모"]
    rows += [f'2026-11-{d:02d} 00:00,"{d * 1000:,}",{"없음" if d == 3 else d},{d:03d},"a, b"' for d in range(1, 6)]
    rows.append("2026-11-06 00:00,-,6,006,NA")
    report = analyse_csv(write(tmp_path, "r.csv", "\n".join(rows) + "\n"))
    assert [f["type"] for f in report.schema["fields"]] == ["datetime", "integer", "string", "string", "string"]
    assert report.preview[0] == ["2026-11-01 00:00", "1,000", "1", "001", "a, b"]
    assert report.preview[2][2] == "없음" and report.preview_marks[2][2] == "invalid"
    assert report.preview_expected == [None, None, "integer", None, None]  # 수량 was expected to be whole numbers
    assert report.preview[5] == ["2026-11-06 00:00", "-", "6", "006", "NA"]
    assert report.preview_marks[5] == [None, "empty", None, None, "empty"]
    assert sum(m is not None for row in report.preview_marks for m in row) == 3


def test_date_columns_get_counts_over_time(tmp_path):
    """Bins from the range: days (≤ 62 days), months (≤ 72), years (several a bin beyond 60), hours of
    date-times within two days, hours of the day for times; every period, empty ones included."""
    days = [f"2024.01.{d:02d}" for d in range(1, 31)] + ["2024.01.05"] * 4  # 30 days, one with 5
    months = [f"2023-{m:02d}-15" for m in (1, 2, 2, 5)]  # a gap in March and April
    hours = [f"2024-03-01 {h:02d}:10" for h in (0, 0, 5)] + ["2024-03-02 01:00"]
    times = ["08:30", "08:45", "17:00", ""]
    years = [f"{y}-06-01" for y in (1900, 1950, 2100)]
    n = max(map(len, (days, months, hours, times, years)))
    pad = lambda col: col + [""] * (n - len(col))  # noqa: E731
    lines = ["일,월,시각,시간,연"] + [",".join(r) for r in zip(*map(pad, (days, months, hours, times, years)))]
    p = by_name(analyse_csv(write(tmp_path, "t.csv", "\n".join(lines) + "\n")))

    day = p["일"].timeline
    assert (day["unit"], len(day["bins"]), day["bins"][0]) == ("day", 30, {"from": "2024-01-01", "count": 1})
    assert day["bins"][4] == {"from": "2024-01-05", "count": 5}
    assert [(b["from"], b["count"]) for b in p["월"].timeline["bins"]] == [
        ("2023-01", 1),
        ("2023-02", 2),
        ("2023-03", 0),
        ("2023-04", 0),
        ("2023-05", 1),
    ]
    hour = p["시각"].timeline
    assert hour["unit"] == "hour" and len(hour["bins"]) == 26
    assert hour["bins"][0] == {"from": "2024-03-01 00:00", "count": 2} and hour["bins"][-1]["count"] == 1
    clock = p["시간"].timeline
    assert clock["unit"] == "hour_of_day" and len(clock["bins"]) == 24
    assert (clock["bins"][8]["count"], clock["bins"][17]["count"]) == (2, 1)
    year = p["연"].timeline
    assert (year["unit"], year["step"], len(year["bins"])) == ("year", 4, 51)
    assert year["bins"][0] == {"from": "1900–1903", "count": 1} and year["bins"][-1] == {"from": "2100", "count": 1}
    for name in ("일", "월", "시각", "시간", "연"):
        assert sum(b["count"] for b in p[name].timeline["bins"]) == p[name].count
    assert p["일"].histogram is None


_PEAK_RSS = """
import os, resource, sys, tempfile
from pathlib import Path
import django
django.setup()
from catalog.ingest.pipeline import analyse_path
with tempfile.TemporaryDirectory() as workdir:
    report = analyse_path(Path(sys.argv[1]), "csv", workdir=Path(workdir))
assert report["state"] != "failed", report["messages"]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_check_memory_does_not_grow_with_the_file(tmp_path):
    """The worker's check with the settings' DuckDB limits (INGEST_THREADS, INGEST_MEMORY_LIMIT): a file
    10 times longer (200 MB) costs no more than a few MB more at the peak. Two DuckDB threads keep the CSV
    buffers they read until the memory limit (the 5 GB file peaked at 626 MB)."""
    import subprocess
    import sys

    from bench.csvdata import generate_csv

    def peak(rows):
        path = tmp_path / f"m{rows}.csv"
        generate_csv(path, rows, "utf-8")
        out = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        path.unlink()
        return int(out.stdout.split()[-1])

    small, large = peak(200_000), peak(2_000_000)
    assert large - small < 15, (small, large)
