"""/api/v1/data/: the tables of a dataset, their rows and OpenAPI documents, and SQL (transactions.dataapi.views)."""

from django.urls import path, re_path

from transactions.dataapi import panel, views

TABLE = r"^(?P<slug>[-a-zA-Z0-9_]+)/(?P<version>latest|live|[0-9]+)/(?P<table>[a-z][a-z0-9_]*)"

urlpatterns = [
    path("<slug:slug>/", views.DatasetTables.as_view(), name="api-data-dataset"),
    path("<slug:slug>/sql", views.DatasetSql.as_view(), name="api-data-sql"),
    path("<slug:slug>/panel/", panel.panel, name="api-data-panel"),  # the dataset page's panel (HTML)
    re_path(TABLE + r"/openapi\.json$", views.TableOpenApi.as_view(), name="api-data-openapi"),
    re_path(TABLE + r"/docs/$", views.table_docs, name="api-data-docs"),
    re_path(TABLE + r"/datagokr$", views.TableDataGoKr.as_view(), name="api-data-datagokr"),
    re_path(TABLE + r"$", views.TableRows.as_view(), name="api-data-rows"),
]
