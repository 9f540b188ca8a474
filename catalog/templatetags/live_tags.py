"""Template tags of live tables: freshness on the dataset page, the provider's panel on its version page. Read only."""

import json

from django import template
from django.urls import reverse

from catalog.live import selectors
from catalog.live.schema import table_name
from catalog.models import DatasetVersion

register = template.Library()

TABULAR = ("csv", "tsv", "xlsx", "json", "geojson")
CADENCES = dict(DatasetVersion.Cadence.choices)


@register.simple_tag
def live_freshness(dataset) -> list[dict]:
    """Each live table of the dataset with its last row's age, state, count and stream URL."""
    rows = selectors.freshness(dataset)
    for item in rows:
        table = item["table"]
        item["stream_url"] = reverse("api-live-stream", args=[dataset.slug, table.name])
        item["from_seq"] = max(0, table.last_seq - 10)
        item["columns"] = table.column_names
        item["cadence_label"] = CADENCES.get(table.cadence, table.cadence)
    return rows


@register.simple_tag
def live_provider(version) -> dict:
    """What the provider's live panel shows: the live tables with their last rows, the tables that could go live,
    the cadences and a curl example."""
    dataset = version.dataset
    tables = []
    for table in selectors.live_tables(dataset):
        rows_url = reverse("api-provider-live-rows", args=[dataset.slug, table.name])
        example_row = {c["name"]: _example(c) for c in table.columns}
        tables.append(
            {
                "table": table,
                "cadence_label": CADENCES.get(table.cadence, table.cadence),
                "columns": table.column_names,
                "last_rows": [
                    {"seq": seq, "values": [data.get(name) for name in table.column_names]}
                    for seq, data in selectors.last_rows(table, 10)
                ],
                "rows_url": rows_url,
                "curl": (
                    f'curl -X POST "$SITE{rows_url}" \\\n'
                    '  -H "Authorization: Token $API_KEY" \\\n'
                    '  -H "Content-Type: application/json" \\\n'
                    '  -H "Idempotency-Key: $(uuidgen)" \\\n'
                    f"  -d '{json.dumps({'rows': [example_row]}, ensure_ascii=False)}'"
                ),
            }
        )
    live_names = {t["table"].name for t in tables}
    candidates = [
        f
        for f in version.files.all()
        if f.format in TABULAR
        and f.column_names
        and not f.has_sheet_tables
        and table_name(f.display_name) not in live_names
    ]
    return {
        "tables": tables,
        "candidates": candidates,
        "cadences": [
            (v, label) for v, label in DatasetVersion.Cadence.choices if v in ("daily", "weekly", "monthly", "none")
        ],
    }


def _example(column: dict):
    kind = column.get("schema_type")
    return {
        "integer": 1,
        "year": 2026,
        "number": 12.5,
        "boolean": True,
        "date": "2026-12-05",
        "datetime": "2026-12-05T14:00:00+09:00",
        "time": "14:00:00",
    }.get(kind, "…")
