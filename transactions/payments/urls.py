"""Under /orders/payments/, in the "transactions" namespace."""

from django.urls import path, re_path

from transactions.payments import views

urlpatterns = [
    # Order numbers look like 20250101-7K3M9Q2X (as in transactions/urls.py).
    re_path(r"^(?P<number>[0-9]{8}-[0-9A-Z]{8})/card/$", views.card_start, name="payment_card_start"),
    re_path(r"^(?P<number>[0-9]{8}-[0-9A-Z]{8})/bank-transfer/$", views.bank_start, name="payment_bank_start"),
    path("card/success/", views.card_success, name="payment_card_success"),
    path("card/fail/", views.card_fail, name="payment_card_fail"),
    path("webhook/", views.webhook, name="payment_webhook"),
    path("staff/bank-transfers/", views.bank_transfers, name="payment_bank_transfers"),
    path("staff/bank-transfers/<int:payment_id>/confirm/", views.bank_transfer_confirm, name="payment_bank_confirm"),
]
