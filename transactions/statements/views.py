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
    return render(
        request,
        "transactions/statements/statement.html",
        {"statement": statement, "rows": selectors.statement_rows(statement), "staff": False},
    )


@publisher_required
def current(request):
    organization = _organization(request)
    current = selectors.statement_current(organization)
    return render(
        request, "transactions/statements/statement.html", {"current": current, "rows": current.rows, "staff": False}
    )
