"""Under /orders/payments/, in the "transactions" namespace."""

from django.urls import path

from transactions.payments import views

urlpatterns = [
    path("<str:number>/card/", views.card_start, name="payment_card_start"),
    path("<str:number>/bank-transfer/", views.bank_start, name="payment_bank_start"),
    path("card/success/", views.card_success, name="payment_card_success"),
    path("card/fail/", views.card_fail, name="payment_card_fail"),
    path("webhook/", views.webhook, name="payment_webhook"),
    path("staff/bank-transfers/", views.bank_transfers, name="payment_bank_transfers"),
    path("staff/bank-transfers/<int:payment_id>/confirm/", views.bank_transfer_confirm, name="payment_bank_confirm"),
]
