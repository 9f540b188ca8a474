"""`/api/v1/provider/` of money: a provider's statements, sales chart data and monthly tax-invoice export."""

from django.urls import path

from transactions.api import money_views as views
from transactions.apiplans import api as apiplan_api

urlpatterns = [
    path("statements/", views.StatementList.as_view(), name="api-provider-statements"),
    path("statements/current/", views.StatementCurrent.as_view(), name="api-provider-statement-current"),
    path("statements/<int:pk>/", views.StatementDetail.as_view(), name="api-provider-statement"),
    path("sales-charts/", views.SalesCharts.as_view(), name="api-provider-sales-charts"),
    path("tax-invoices/", views.TaxInvoices.as_view(), name="api-provider-tax-invoices"),
    path("usage/", apiplan_api.ProviderUsage.as_view(), name="api-provider-usage"),  # data API usage (issue 16)
]
