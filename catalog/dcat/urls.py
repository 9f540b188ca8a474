"""The DCAT-AP documents (mounted at the site root by marketplace/urls.py)."""

from django.urls import path, re_path

from catalog.dcat import views

app_name = "dcat"

EXT = r"(?P<ext>ttl|jsonld|rdf)"

urlpatterns = [
    re_path(rf"^catalog\.{EXT}$", views.catalog_document, name="catalog"),
    re_path(rf"^dataset/(?P<slug>[-a-zA-Z0-9_]+)\.{EXT}$", views.dataset_document, name="dataset"),
    path("dataset/<slug:slug>/files/<int:file_id>/schema.json", views.table_schema, name="table_schema"),
    path("themes", views.themes_document, name="themes"),
    re_path(rf"^themes\.{EXT}$", views.themes_document, name="themes_document"),
]
