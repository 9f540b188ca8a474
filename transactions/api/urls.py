"""The buyer's API under /api/v1/: cart, checkout, orders (by number), payments, entitlements, packages; and money
after checkout: refunds, the refund policy, documents, subscriptions, data vouchers."""

from django.urls import path

from transactions.api import money_views, views
from transactions.apiplans import api as apiplan_api

urlpatterns = [
    path("usage/", apiplan_api.BuyerUsage.as_view(), name="api-usage"),  # data API usage and plans (issue 16)
    path("api-plans/", apiplan_api.PlanTake.as_view(), name="api-plan-take"),
    path("cart/", views.CartView.as_view(), name="api-cart"),
    path("cart/items/", views.CartItems.as_view(), name="api-cart-items"),
    path("cart/items/<int:offer_id>/", views.CartItem.as_view(), name="api-cart-item"),
    path("cart/items/<int:offer_id>/licence/", views.CartItemLicence.as_view(), name="api-cart-licence"),
    path("checkout/", views.Checkout.as_view(), name="api-checkout"),
    path("orders/", views.OrderList.as_view(), name="api-orders"),
    path("orders/<str:number>/", views.OrderDetail.as_view(), name="api-order"),
    path("orders/<str:number>/refunds/", money_views.OrderRefunds.as_view(), name="api-order-refunds"),
    path("orders/<str:number>/cash-receipt/", money_views.OrderCashReceipt.as_view(), name="api-order-cash-receipt"),
    path("orders/<str:number>/cancel/", views.OrderCancel.as_view(), name="api-order-cancel"),
    path("orders/<str:number>/payments/", views.OrderPayments.as_view(), name="api-order-payments"),
    path("orders/<str:number>/payments/card/", views.CardStart.as_view(), name="api-order-pay-card"),
    path(
        "orders/<str:number>/payments/bank-transfer/",
        views.BankTransferStart.as_view(),
        name="api-order-pay-bank-transfer",
    ),
    path("entitlements/", views.EntitlementList.as_view(), name="api-entitlements"),
    path("packages/", views.PackageList.as_view(), name="api-packages"),
    path("packages/<int:pk>/", views.PackageDetail.as_view(), name="api-package"),
    path("packages/<int:pk>/download-link/", views.PackageDownloadLink.as_view(), name="api-package-download-link"),
    path("packages/<int:pk>/retry/", views.PackageRetry.as_view(), name="api-package-retry"),
    # Money after checkout (issue 15): the refund policy, documents, subscriptions, data vouchers.
    path("refund-policy/", money_views.RefundPolicy.as_view(), name="api-refund-policy"),
    path("documents/", money_views.DocumentList.as_view(), name="api-documents"),
    path("documents/<str:number>/", money_views.DocumentDetail.as_view(), name="api-document"),
    path("documents/<str:number>/pdf/", money_views.DocumentPdf.as_view(), name="api-document-pdf"),
    path("subscriptions/", money_views.SubscriptionList.as_view(), name="api-subscriptions"),
    path("subscriptions/<int:pk>/cancel/", money_views.SubscriptionCancel.as_view(), name="api-subscription-cancel"),
    path("subscriptions/<int:pk>/resume/", money_views.SubscriptionResume.as_view(), name="api-subscription-resume"),
    path("subscriptions/<int:pk>/renew/", money_views.SubscriptionRenew.as_view(), name="api-subscription-renew"),
    path("vouchers/", money_views.VoucherList.as_view(), name="api-vouchers"),
]
