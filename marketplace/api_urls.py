"""`/api/v1/` (each app's api package adds its resources), the OpenAPI document and its two readers."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from marketplace import api_docs

urlpatterns = [
    path("v1/", include("transactions.livefeed.urls")),  # live streams and webhooks (issue 16)
    path("v1/", include("accounts.api.urls")),
    path("v1/", include("catalog.api.urls")),  # the catalog, read by anyone
    path("v1/provider/", include("catalog.api.provider_urls")),  # a department's datasets, files and offers
    path("v1/", include("transactions.api.urls")),  # cart, orders, payments, packages, refunds, documents, …
    path("v1/provider/", include("transactions.api.provider_urls")),  # a provider's statements and tax invoices
    path("v1/data/", include("transactions.dataapi.urls")),  # every published table answers queries (issue 16)
    path("v1/admin/", include("accounts.api.admin_urls")),  # platform admins: organizations
    path("v1/admin/", include("catalog.api.admin_urls")),  # platform admins: reviews and listings
    path("v1/admin/", include("transactions.api.admin_urls")),  # platform admins: payments and packages
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", api_docs.swagger, name="api-docs"),
    path("docs/redoc/", api_docs.redoc, name="api-redoc"),
    path("docs/guide/", api_docs.guide, name="api-guide"),
]
