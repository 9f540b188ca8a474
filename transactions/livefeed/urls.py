"""Live streams and webhooks (included under /api/v1/ by marketplace.api_urls, before the data API)."""

from django.urls import path

from transactions.livefeed import views

urlpatterns = [
    path("data/<slug:slug>/live/<slug:name>/stream", views.LiveStream.as_view(), name="api-live-stream"),
    path("webhooks/", views.Webhooks.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/deactivate", views.WebhookDeactivate.as_view(), name="api-webhook-deactivate"),
]
