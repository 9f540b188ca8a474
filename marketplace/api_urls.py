"""`/api/v1/` (each app's api package adds its resources), the OpenAPI document and its two readers."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from marketplace import api_docs

urlpatterns = [
    path("v1/", include("accounts.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", api_docs.swagger, name="api-docs"),
    path("docs/redoc/", api_docs.redoc, name="api-redoc"),
]
