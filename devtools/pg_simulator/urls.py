"""The simulated PG's URLs, mounted at /pg-sim/ by marketplace/urls.py (PG_SIMULATOR) or standalone_urls.py."""

from django.urls import path

from devtools.pg_simulator import views

urlpatterns = [
    path("checkout/", views.checkout, name="pg_sim_checkout"),
    path("v1/cash-receipts", views.api_cash_receipt, name="pg_sim_cash_receipt"),
    path("v1/cash-receipts/<str:receipt_key>/cancel", views.api_cash_receipt_cancel, name="pg_sim_cash_receipt_cancel"),
    path("v1/payments/confirm", views.api_confirm, name="pg_sim_confirm"),
    path("v1/payments/orders/<str:order_id>", views.api_payment_by_order, name="pg_sim_payment_by_order"),
    path("v1/payments/<str:payment_key>", views.api_payment, name="pg_sim_payment"),
    path("v1/payments/<str:payment_key>/cancel", views.api_cancel, name="pg_sim_cancel"),
]
