"""The buyer's API under /api/v1/: cart, checkout, orders (by number), payments, entitlements, packages."""

from django.urls import path

from transactions.api import views

urlpatterns = [
    path("cart/", views.CartView.as_view(), name="api-cart"),
    path("cart/items/", views.CartItems.as_view(), name="api-cart-items"),
    path("cart/items/<int:offer_id>/", views.CartItem.as_view(), name="api-cart-item"),
    path("cart/items/<int:offer_id>/licence/", views.CartItemLicence.as_view(), name="api-cart-licence"),
    path("checkout/", views.Checkout.as_view(), name="api-checkout"),
    path("orders/", views.OrderList.as_view(), name="api-orders"),
    path("orders/<str:number>/", views.OrderDetail.as_view(), name="api-order"),
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
]
