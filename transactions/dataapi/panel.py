"""The data API and SQL panel of a dataset page, as a fragment the page loads after itself (htmx, `load`): per
queryable table its endpoint for the viewer's situation (the full data when access.data_access allows it, else the
public sample with `?sample=1`), its OpenAPI document and Swagger UI, and copyable curl and Python (requests)
examples; then a SQL editor over the version's tables (static/js/sql-editor.js: results table, row count, elapsed
time, a chart with x/y pickers, CSV export). A fragment of its own so the dataset page's queries stay what they
were (tests/catalog/test_dataset_page.py counts them): the tables and the viewer's access cost a few more. Reads
only."""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from transactions.dataapi import selectors as data
from transactions.dataapi.access import data_access

EXAMPLE_LIMIT = 10


def _curl(url: str, *, full: bool) -> str:
    if full:
        return f'curl -H "Authorization: Token $DATA_API_KEY" \\\n  "{url}?limit={EXAMPLE_LIMIT}"'
    return f'curl "{url}?sample=1&limit={EXAMPLE_LIMIT}"'


def _python(url: str, *, full: bool) -> str:
    if full:
        return (
            "import os\n\nimport requests\n\n"
            f'response = requests.get(\n    "{url}",\n    params={{"limit": {EXAMPLE_LIMIT}}},\n'
            '    headers={"Authorization": "Token " + os.environ["DATA_API_KEY"]},  # data 범위의 API 키\n'
            "    timeout=30,\n)\nresponse.raise_for_status()\n"
            'rows = response.json()["rows"]\nprint(len(rows), rows[:1])\n'
        )
    return (
        "import requests\n\n"
        f'response = requests.get(\n    "{url}",\n    params={{"sample": 1, "limit": {EXAMPLE_LIMIT}}},\n'
        "    timeout=30,\n)\nresponse.raise_for_status()\n"
        'rows = response.json()["rows"]\nprint(len(rows), rows[:1])\n'
    )


def panel_context(request, dataset, version) -> dict:
    """What the panel shows this viewer (the dataset's current version)."""
    user = request.user if request.user.is_authenticated else None
    membership = (getattr(request, "active_membership", None) or None) if user is not None else None
    organization = membership.organization if membership else None  # as the purchase panel (a page, not a key)
    tables = data.version_tables(version) if version is not None else []
    access = data_access(user=user, organization=organization, dataset=dataset, version=version)
    full = bool(access.full)
    number = str(version.number) if version is not None else data.LATEST
    items = []
    for table in tables:
        url = request.build_absolute_uri(reverse("api-data-rows", args=(dataset.slug, number, table.name)))
        items.append(
            {
                "table": table,
                "url": url if full else f"{url}?sample=1",
                "openapi_url": reverse("api-data-openapi", args=(dataset.slug, number, table.name)),
                "docs_url": reverse("api-data-docs", args=(dataset.slug, number, table.name)),
                "curl": _curl(url, full=full),
                "python": _python(url, full=full),
                "columns": [c["name"] for c in table.columns],
            }
        )
    can_sample = any("sample" in t.variants for t in tables)
    first = tables[0].name if tables else ""
    config = {
        "sqlUrl": reverse("api-data-sql", args=(dataset.slug,)),
        "version": number,
        "full": full,
        "tables": [{"name": t.name, "columns": [c["name"] for c in t.columns]} for t in tables],
    }
    return {
        "request": request,
        "dataset": dataset,
        "version": version,
        "items": items,
        "full": full,
        "why_not": access.why_not if not full else "",
        "signed_in": user is not None,
        "can_sample": can_sample,
        "store_status": data.store_status(version) if version is not None else None,
        "default_sql": f"SELECT * FROM {first} LIMIT 100" if first else "",
        "config": config,
        "dataset_api_url": reverse("api-data-dataset", args=(dataset.slug,)),
    }


@require_GET
def panel(request, slug):
    """GET /api/v1/data/<slug>/panel/: the panel of the dataset's current version (an HTML fragment)."""
    dataset = data.dataset_get(slug)
    version = dataset.entry.version
    return render(request, "transactions/dataapi/_panel.html", panel_context(request, dataset, version))
