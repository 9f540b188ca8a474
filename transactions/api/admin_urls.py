"""`/api/v1/admin/` of purchases: bank-transfer confirmations and failed packages (platform admins)."""

from django.urls import path

from transactions.api import admin_views as views

urlpatterns = [
    path("bank-transfers/", views.BankTransferList.as_view(), name="api-admin-bank-transfers"),
    path(
        "bank-transfers/<int:payment_id>/confirm/",
        views.BankTransferConfirm.as_view(),
        name="api-admin-bank-transfer-confirm",
    ),
    path("packages/", views.PackageList.as_view(), name="api-admin-packages"),
    path("packages/<int:package_id>/retry/", views.PackageRetry.as_view(), name="api-admin-package-retry"),
]
