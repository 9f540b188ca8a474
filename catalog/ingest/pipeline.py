"""Runs the checks of one stored file in order and returns a JSON-able report.

    CSV/TSV:  encoding → UTF-8 stream → DuckDB sniff, schema, profile, preview → personal data
    JSON/GeoJSON: converted to a UTF-8 CSV in a stream first, then the same steps
    XLSX:     each non-empty worksheet converted to a UTF-8 CSV in a stream, then the same steps per
              sheet; a workbook with several such sheets reports one table per sheet ("sheets")
    ZIP:      inspected without trusting it; each member is extracted (size-checked) and becomes
              a file of its own, checked by its own task

The report's "state" is one of DataFile.Check: failed (a check could not read the file; the
message says why), blocked (resident registration numbers), warning (other personal data or
notes), passed.
"""

import hashlib
import logging
from contextlib import closing
from dataclasses import asdict, is_dataclass
from pathlib import Path

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from catalog.ingest import maps
from catalog.ingest.archive import extract_member, inspect_zip
from catalog.ingest.encoding import detect_encoding, transcode_to_utf8
from catalog.ingest.errors import IngestError, in_every_language, lazy_format
from catalog.ingest.pii import mask_value, scan_csv
from catalog.ingest.tabular import analyse_csv
from catalog.services import format_for
from core.storage import local_copy

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


def _tabular(utf8_csv: Path, report: dict, progress, *, delimiter_hint: str | None = None, points: bool = True) -> None:
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
    located = maps.geo_columns(report["profile"]) if points else None
    if located:
        progress("map", 90)
        report["map_layer"] = maps.points_layer(
            utf8_csv,
            delimiter=report["delimiter"] or ",",
            quote=table.get("quote") or '"',
            ncols=len(columns),
            lat_index=located[0],
            lon_index=located[1],
            personal=bool(findings),
            memory_limit=settings.INGEST_MEMORY_LIMIT,
            threads=settings.INGEST_THREADS,
        )


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


def _conclude(report: dict) -> None:
    """The state of a table's report from its personal data and messages (see the module docstring)."""
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


STATE_ORDER = ("passed", "warning", "blocked")  # a workbook of several tables is as bad as its worst sheet


def _workbook(path: Path, report: dict, workdir: Path, progress) -> None:
    """Every non-empty worksheet becomes a table with its own schema, profile, preview and personal-data
    scan, each sheet read once (formats.xlsx_sheets_to_csv) and its CSV deleted once checked. One table:
    the workbook's report is that table's, as before. Several: each is a report in report["sheets"]
    (stored as a table of its own under the workbook, catalog.services.datafile_check_finished) and the
    workbook's state is its worst sheet's. Empty sheets are listed in a note."""
    # heavy: see analyse_path (openpyxl is needed only for XLSX, JSON and GeoJSON)
    from catalog.ingest import formats

    progress("convert", 10)
    tables, empty = [], []
    with closing(formats.xlsx_sheets_to_csv(path, lambda index: workdir / f"sheet-{index}.csv")) as sheets:
        for index, (name, sheet) in enumerate(sheets):
            if sheet is None:
                empty.append(name)
                continue
            sheet = _plain(sheet)
            csv_path = workdir / f"sheet-{index}.csv"
            table: dict = {"state": "passed", "messages": [], "pii_findings": [], "encoding": "utf-8"}
            table["sheet"] = {
                "name": name,
                "index": index,
                "header_rows": list(range(sheet["header_row"], sheet["header_row"] + sheet["header_depth"])),
                "title": sheet["title"] or "",
            }
            if sheet["rows_with_extra_cells"]:
                table["messages"].append(
                    _message(
                        "warning",
                        "xlsx_extra_cells",
                        lazy_format(
                            _(
                                "%(n)s rows have values right of the last named column; those values were not "
                                "read. Give the column a name in the header row and upload the file again."
                            ),
                            {"n": f"{sheet['rows_with_extra_cells']:,}"},
                        ),
                    )
                )
            _tabular(csv_path, table, lambda stage, percent: None, delimiter_hint=",")
            _conclude(table)
            with open(csv_path, "rb") as fh:
                # The table's fingerprint (the review diff tells a changed sheet from an unchanged one).
                table["sha256"] = hashlib.file_digest(fh, "sha256").hexdigest()
            csv_path.unlink()
            tables.append(table)
            progress("convert", 10 + 80 * (index + 1) // len(sheet["sheet_names"]))
    if empty:
        report["messages"].append(
            _message(
                "info",
                "xlsx_empty_sheets",
                lazy_format(
                    ngettext_lazy(
                        "The empty sheet was skipped: %(names)s.",
                        "The empty sheets were skipped: %(names)s.",
                        "count",
                    ),
                    {"names": ", ".join(f"“{n}”" for n in empty), "count": len(empty)},
                ),
                detail=", ".join(empty),
            )
        )
    if len(tables) == 1:
        (table,) = tables
        table.pop("sha256")
        table["messages"] = report["messages"] + table["messages"]
        table["sheet"]["empty"] = empty
        report.update(table)
        return
    report["encoding"] = "utf-8"
    report["sheet"] = {"tables": len(tables), "empty": empty}
    report["sheets"] = tables
    report["state"] = max((t["state"] for t in tables), key=STATE_ORDER.index)
    report["messages"].insert(
        0,
        _message(
            "info",
            "xlsx_sheets",
            lazy_format(
                _("The workbook has %(n)s sheets with data: each is a table of its own, checked on its own."),
                {"n": len(tables)},
            ),
        ),
    )
    for table in tables:
        if table["state"] == "blocked":
            report["messages"].append(
                _message(
                    "error",
                    "xlsx_sheet_blocked",
                    lazy_format(
                        _("The sheet “%(sheet)s” holds resident or foreigner registration numbers."),
                        {"sheet": table["sheet"]["name"]},
                    ),
                )
            )
        elif table["pii_findings"]:
            report["messages"].append(
                _message(
                    "warning",
                    "xlsx_sheet_pii",
                    lazy_format(
                        _("The sheet “%(sheet)s” holds personal data."),
                        {"sheet": table["sheet"]["name"]},
                    ),
                )
            )


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
        elif fmt == "xlsx":
            _workbook(path, report, workdir, progress)
        elif fmt in ("json", "geojson"):
            # heavy: formats loads openpyxl, pyproj and shapely (measured 0.22-0.27 s, +29 MB RSS), needed only for
            # these formats, so a worker child that only ever checks CSV files never pays for them
            from catalog.ingest import formats

            progress("convert", 10)
            utf8 = workdir / "data.utf8.csv"
            converted = _plain({"json": formats.json_to_csv, "geojson": formats.geojson_to_csv}[fmt](path, utf8))
            # The converters read UTF-8, a BOM or CP949 JSON; record which, so that packaging ships UTF-8.
            report["encoding"] = converted.get("encoding") or "utf-8"
            if fmt == "geojson":
                report["geo"] = {k: converted.get(k) for k in ("bbox_wgs84", "crs", "geometry_types", "features")}
            layer = converted.get("map_layer")
            _tabular(utf8, report, progress, delimiter_hint=",", points=layer is None)
            if layer is not None and report["pii_findings"]:
                report["messages"].append(
                    _message(
                        "info",
                        "map_personal_data",
                        _(
                            "The shapes are not drawn on the public map because the file holds personal data; "
                            "the page shows only the area it covers."
                        ),
                    )
                )
            elif layer is not None:
                report["map_layer"] = layer
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
    if fmt != "xlsx":  # _workbook concluded each sheet's table
        _conclude(report)
    progress("done", 100)
    return report


def analyse_datafile(datafile, *, workdir, progress=lambda stage, percent: None) -> dict:
    # The stored file itself on a file system; on S3 a copy streamed into the work folder (the checks seek and
    # reread: DuckDB, openpyxl and the ZIP reader need a file).
    suffix = Path(datafile.original_name).suffix.lower()
    path = local_copy(datafile.file.storage, datafile.file.name, Path(workdir), f"source{suffix}")
    return _jsonable(analyse_path(path, datafile.format, workdir=Path(workdir), progress=progress))
