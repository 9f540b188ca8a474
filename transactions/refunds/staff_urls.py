"""Platform admin pages of refunds, mounted at /staff/refunds/ (namespace "staff_refunds")."""

from django.urls import path, re_path

from transactions.refunds import views

app_name = "staff_refunds"

urlpatterns = [
    path("", views.queue, name="queue"),
    re_path(r"^orders/(?P<number>[0-9]{8}-[0-9A-Z]{8})/$", views.refund_create, name="create"),
    path("requests/<int:pk>/approve/", views.request_approve, name="approve"),
    path("requests/<int:pk>/refuse/", views.request_refuse, name="refuse"),
    path("<int:pk>/bank-confirm/", views.bank_confirm, name="bank_confirm"),
    path("<int:pk>/send/", views.refund_send, name="send"),
    path("<int:pk>/withdraw/", views.refund_withdraw, name="withdraw"),
]
