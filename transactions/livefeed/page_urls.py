"""The buyer's webhook page (included by transactions.urls under /orders/webhooks/, namespace transactions)."""

from django.urls import path

from transactions.livefeed import page_views

urlpatterns = [
    path("", page_views.webhooks, name="webhooks"),
    path("<int:pk>/off/", page_views.webhook_deactivate, name="webhook_deactivate"),
]
