"""The provider's sales pages: charts of sales and downloads, the statement under way, and its statements. Thin:
every number comes from transactions.statements.selectors (the ledger)."""

from django.shortcuts import render

from accounts.decorators import publisher_required
from transactions.statements import selectors


def _organization(request):
    return request.active_membership.organization


@publisher_required
def sales(request):
    organization = _organization(request)
    charts = selectors.sales_charts(organization)
    return render(
        request,
        "transactions/statements/sales.html",
        {
            "charts": charts,
            "charts_json": charts.as_json(),
            "current": selectors.statement_current(organization, with_rows=False),
            "statements": selectors.statements_for_provider(organization),
        },
    )


@publisher_required
def statement(request, pk):
    organization = _organization(request)
    statement = selectors.statement_get_for_provider(organization=organization, pk=pk)
    page = selectors.statement_rows_page(statement, request.GET.get("page"))
    return render(
        request,
        "transactions/statements/statement.html",
        {"statement": statement, "page": page, "rows": page.object_list, "staff": False},
    )


@publisher_required
def current(request):
    organization = _organization(request)
    current = selectors.statement_current(organization, rows_page_number=request.GET.get("page") or 1)
    return render(
        request,
        "transactions/statements/statement.html",
        {"current": current, "page": current.page, "rows": current.rows, "staff": False},
    )
