"""Runs the checks of one stored file in order and returns a JSON-able report.

    CSV/TSV:  encoding → UTF-8 stream → DuckDB sniff, schema, profile, preview → personal data
    XLSX/JSON/GeoJSON: converted to a UTF-8 CSV in a stream first, then the same steps
    ZIP:      inspected without trusting it; each member is extracted (size-checked) and becomes
              a file of its own, checked by its own task

The report's "state" is one of DataFile.Check: failed (a check could not read the file; the
message says why), blocked (resident registration numbers), warning (other personal data or
notes), passed.
"""

import hashlib
import logging
from dataclasses import asdict, is_dataclass
from pathlib import Path

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from catalog.ingest.archive import extract_member, inspect_zip
from catalog.ingest.encoding import detect_encoding, transcode_to_utf8
from catalog.ingest.errors import IngestError, in_every_language, lazy_format
from catalog.ingest.pii import mask_value, scan_csv
from catalog.ingest.tabular import analyse_csv
from catalog.services import format_for, local_copy_path

logger = logging.getLogger(__name__)


def _plain(value):
    if is_dataclass(value):
        return asdict(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def _jsonable(value):
    """Lazy (translatable) strings become {"ko": …, "en": …}; everything else is left as it is."""
    if isinstance(value, Promise):
        return in_every_language(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _message(level: str, code: str, message, detail: str = "") -> dict:
    return {"level": level, "code": code, "message": in_every_language(message), "detail": detail}


def _tabular(utf8_csv: Path, report: dict, progress, *, delimiter_hint: str | None = None) -> None:
    progress("profile", 40)
    table = _plain(
        analyse_csv(
            utf8_csv,
            memory_limit=settings.INGEST_MEMORY_LIMIT,
            threads=settings.INGEST_THREADS,
            exact_distinct_limit=settings.INGEST_EXACT_DISTINCT_LIMIT,
        )
    )
    report.update(
        delimiter=table.get("delimiter", delimiter_hint or ""),
        row_count=table["row_count"],
        column_count=table["column_count"],
        table_schema=table["schema"],
        profile=table["profile"],
        # rows: the cells as written in the file; types, marks and expected: how they were read
        preview={
            "columns": [f["name"] for f in table["schema"]["fields"]],
            "types": [c["type"] for c in table["profile"]],
            "rows": table["preview"],
            "marks": table["preview_marks"],
            "expected": table["preview_expected"],
        },
    )
    for note in table.get("notes", []):
        report["messages"].append(_message(note.get("level", "info"), note.get("code", "table_note"), note["message"]))
    progress("personal_data", 75)
    columns = [f["name"] for f in table["schema"]["fields"]]
    findings = [
        _plain(f)
        for f in scan_csv(
            utf8_csv,
            columns,
            delimiter=report["delimiter"] or ",",
            quote=table.get("quote") or '"',
            memory_limit=settings.INGEST_MEMORY_LIMIT,
            threads=settings.INGEST_THREADS,
        )
    ]
    report["pii_findings"] = findings
    _mask_personal_data(report, {f["column"] for f in findings})


def _mask_personal_data(report: dict, columns: set[str]) -> None:
    """Previews and profiles are shown to people (and later as free samples): in a column with
    personal data, sample values are masked and the value statistics (min/max/top) are dropped."""
    if not columns:
        return
    names = report["preview"]["columns"]
    report["preview"]["rows"] = [
        [mask_value(cell, names[i]) if names[i] in columns else cell for i, cell in enumerate(row)]
        for row in report["preview"]["rows"]
    ]
    for column in report["profile"]:
        if column.get("name") in columns:
            column.update(min=None, max=None, top_values=[], personal_data=True)


def analyse_path(path: Path, fmt: str, *, workdir: Path, progress=lambda stage, percent: None) -> dict:
    """Check one local file of a known format. Never raises for a bad file: the report says why."""
    workdir = Path(workdir)
    report: dict = {"state": "passed", "messages": [], "pii_findings": []}
    try:
        if fmt in ("csv", "tsv"):
            progress("encoding", 5)
            detected = _plain(detect_encoding(path))
            report["encoding"] = detected["encoding"]
            utf8 = workdir / "data.utf8.csv"
            progress("transcode", 15)
            transcode_to_utf8(path, utf8, detected["encoding"])
            _tabular(utf8, report, progress)
        elif fmt in ("xlsx", "json", "geojson"):
            # heavy: formats loads openpyxl, pyproj and shapely (measured 0.22-0.27 s, +29 MB RSS), needed only for
            # these three formats, so a worker child that only ever checks CSV files never pays for them
            from catalog.ingest import formats

            progress("convert", 10)
            utf8 = workdir / "data.utf8.csv"
            converted = _plain(
                {"xlsx": formats.xlsx_to_csv, "json": formats.json_to_csv, "geojson": formats.geojson_to_csv}[fmt](
                    path, utf8
                )
            )
            # The converters read UTF-8, a BOM or CP949 JSON; record which, so that packaging ships UTF-8.
            report["encoding"] = converted.get("encoding") or "utf-8"
            if fmt == "geojson":
                report["geo"] = {k: converted.get(k) for k in ("bbox_wgs84", "crs", "geometry_types", "features")}
            if fmt == "xlsx" and len(converted.get("sheet_names", [])) > 1:
                report["messages"].append(
                    _message(
                        "warning",
                        "xlsx_sheets",
                        lazy_format(
                            _("Only the sheet “%(sheet)s” was read; the workbook has %(n)d sheets."),
                            {"sheet": converted["sheet_name"], "n": len(converted["sheet_names"])},
                        ),
                    )
                )
            _tabular(utf8, report, progress, delimiter_hint=",")
        elif fmt == "zip":
            progress("inspect_zip", 10)
            inspected = _plain(inspect_zip(path))
            members = inspected["members"] if isinstance(inspected, dict) else [_plain(m) for m in inspected]
            extracted = []
            for index, member in enumerate(members):
                progress("extract", 10 + int(80 * index / max(1, len(members))))
                target = workdir / f"member-{index}{member['suffix']}"
                size = extract_member(path, member["name"], target, max_size=member["size"])
                with open(target, "rb") as fh:
                    digest = hashlib.file_digest(fh, "sha256").hexdigest()
                extracted.append(
                    {
                        "name": member["name"],
                        "local_path": str(target),
                        "size": size,
                        "sha256": digest,
                        "format": format_for(member["name"]),
                    }
                )
            report["members"] = extracted
            report["messages"].append(
                _message(
                    "info",
                    "zip_members",
                    lazy_format(
                        _("The archive holds %(n)d data files; each is checked on its own."), {"n": len(extracted)}
                    ),
                )
            )
        else:
            raise IngestError("format_unsupported", _("This file format is not supported."))
    except IngestError as exc:
        report["state"] = "failed"
        report["messages"].append(_message("error", exc.code, exc.message, exc.detail))
        return report
    if any(f.get("blocking") for f in report["pii_findings"]):
        report["state"] = "blocked"
        report["messages"].append(
            _message(
                "error",
                "pii_blocking",
                _(
                    "Resident or foreigner registration numbers were found. The law forbids publishing them "
                    "(개인정보 보호법 제24조의2): remove the column or the values and upload the file again."
                ),
            )
        )
    elif report["pii_findings"]:
        report["state"] = "warning"
        report["messages"].append(
            _message(
                "warning",
                "pii_found",
                _(
                    "Personal data was found. You can submit only with a justification (for example, pseudonymised), "
                    "which the reviewer reads."
                ),
            )
        )
    elif any(m["level"] == "warning" for m in report["messages"]):
        report["state"] = "warning"
    progress("done", 100)
    return report


def analyse_datafile(datafile, *, workdir, progress=lambda stage, percent: None) -> dict:
    path = local_copy_path(datafile, Path(workdir))
    return _jsonable(analyse_path(path, datafile.format, workdir=Path(workdir), progress=progress))
