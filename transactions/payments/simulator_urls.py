"""The simulated PG (Toss Payments' HTTP shape), mounted at /pg-sim/ for the demo and the tests."""

from django.urls import path

from transactions.payments import simulator

urlpatterns = [
    path("checkout/", simulator.checkout, name="pg_sim_checkout"),
    path("v1/payments/confirm", simulator.api_confirm, name="pg_sim_confirm"),
    path("v1/payments/orders/<str:order_id>", simulator.api_payment_by_order, name="pg_sim_payment_by_order"),
    path("v1/payments/<str:payment_key>", simulator.api_payment, name="pg_sim_payment"),
    path("v1/payments/<str:payment_key>/cancel", simulator.api_cancel, name="pg_sim_cancel"),
]
