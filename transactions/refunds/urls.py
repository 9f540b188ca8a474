"""Under /orders/refunds/, in the "transactions" namespace."""

from django.urls import path, re_path

from transactions.refunds import views

urlpatterns = [
    path("policy/", views.refund_policy, name="refund_policy"),
    # Order numbers look like 20250101-7K3M9Q2X (as in transactions/urls.py).
    re_path(r"^(?P<number>[0-9]{8}-[0-9A-Z]{8})/request/$", views.refund_request, name="refund_request"),
]
