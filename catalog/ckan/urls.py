"""CKAN's Action API paths: /api/3/action/<name> and /api/action/<name> (no trailing slash: ckanapi does not follow
redirects), and /api/3. Included by marketplace/urls.py before the REST API's `api/`."""

from django.urls import path

from catalog.ckan import views

urlpatterns = [
    path("api/3", views.api_version, name="ckan-api-version"),
    path("api/3/action/<str:name>", views.action, name="ckan-action-3"),
    path("api/action/<str:name>", views.action, name="ckan-action"),
]
