"""The provider's sales and statements, mounted at /sales/ (namespace "statements")."""

from django.urls import path

from transactions.apiplans import views as apiplan_views
from transactions.statements import views

app_name = "statements"

urlpatterns = [
    path("", views.sales, name="sales"),
    path("statements/current/", views.current, name="current"),
    path("statements/<int:pk>/", views.statement, name="statement"),
    path("usage/", apiplan_views.provider_usage, name="api_usage"),  # data API usage of the datasets (issue 16)
]
