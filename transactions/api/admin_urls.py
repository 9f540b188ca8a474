"""`/api/v1/admin/` of purchases: bank-transfer confirmations and failed packages; refunds, statements and payouts,
data vouchers and the ledger (platform admins)."""

from django.urls import path

from transactions.api import admin_views as views
from transactions.api import money_admin_views as money

urlpatterns = [
    path("bank-transfers/", views.BankTransferList.as_view(), name="api-admin-bank-transfers"),
    path(
        "bank-transfers/<int:payment_id>/confirm/",
        views.BankTransferConfirm.as_view(),
        name="api-admin-bank-transfer-confirm",
    ),
    path("packages/", views.PackageList.as_view(), name="api-admin-packages"),
    path("packages/<int:package_id>/retry/", views.PackageRetry.as_view(), name="api-admin-package-retry"),
    path("refunds/", money.RefundQueue.as_view(), name="api-admin-refunds"),
    path("refunds/<int:pk>/bank-confirm/", money.RefundBankConfirm.as_view(), name="api-admin-refund-bank-confirm"),
    path("refunds/<int:pk>/withdraw/", money.RefundWithdraw.as_view(), name="api-admin-refund-withdraw"),
    path("refunds/<int:pk>/send/", money.RefundSend.as_view(), name="api-admin-refund-send"),
    path("orders/<str:number>/refunds/", money.OrderRefundCreate.as_view(), name="api-admin-order-refund"),
    path("refund-requests/<int:pk>/approve/", money.RefundRequestApprove.as_view(), name="api-admin-refund-approve"),
    path("refund-requests/<int:pk>/refuse/", money.RefundRequestRefuse.as_view(), name="api-admin-refund-refuse"),
    path("statements/", money.StatementQueue.as_view(), name="api-admin-statements"),
    path("statements/close/", money.StatementCloseMonth.as_view(), name="api-admin-statements-close"),
    path("statements/<int:pk>/", money.StatementDetail.as_view(), name="api-admin-statement"),
    path("statements/<int:pk>/paid/", money.StatementMarkPaid.as_view(), name="api-admin-statement-paid"),
    path("ledger/<int:organization_id>/", money.OrganizationLedger.as_view(), name="api-admin-ledger"),
    path("vouchers/", money.VoucherList.as_view(), name="api-admin-vouchers"),
    path("vouchers/<int:pk>/", money.VoucherDetail.as_view(), name="api-admin-voucher"),
    path("vouchers/<int:pk>/verify/", money.VoucherVerify.as_view(), name="api-admin-voucher-verify"),
    path("vouchers/<int:pk>/reject/", money.VoucherReject.as_view(), name="api-admin-voucher-reject"),
    path("vouchers/<int:pk>/settle/", money.VoucherSettle.as_view(), name="api-admin-voucher-settle"),
    path("vouchers/<int:pk>/repay/", money.VoucherRepay.as_view(), name="api-admin-voucher-repay"),
]
