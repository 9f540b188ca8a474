"""Platform admin pages of data vouchers, mounted at /staff/vouchers/ (namespace "staff_vouchers")."""

from django.urls import path

from transactions.vouchers import staff_views

app_name = "staff_vouchers"

urlpatterns = [
    path("", staff_views.vouchers, name="list"),
    path("<int:pk>/", staff_views.voucher, name="detail"),
    path("<int:pk>/verify/", staff_views.voucher_verify, name="verify"),
    path("<int:pk>/reject/", staff_views.voucher_reject, name="reject"),
    path("<int:pk>/settle/", staff_views.voucher_settle, name="settle"),
    path("<int:pk>/repay/<int:order_pk>/", staff_views.voucher_repay, name="repay"),
]
