from django.urls import include, path, re_path

from transactions import views

app_name = "transactions"

urlpatterns = [
    path("", views.orders, name="orders"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/remove/<int:offer_id>/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("data/", views.entitlements, name="entitlements"),
    path("subscriptions/", views.subscriptions, name="subscriptions"),
    path("subscriptions/<int:pk>/cancel/", views.subscription_cancel, name="subscription_cancel"),
    path("subscriptions/<int:pk>/resume/", views.subscription_resume, name="subscription_resume"),
    path("subscriptions/<int:pk>/renew/", views.subscription_renew, name="subscription_renew"),
    path("payments/", include("transactions.payments.urls")),
    path("", include("transactions.apiplans.urls")),  # API plans and usage (issue 16)
    path("delivery/", include("transactions.delivery.urls")),
    path("documents/", include("transactions.documents.urls")),
    path("refunds/", include("transactions.refunds.urls")),
    path("webhooks/", include("transactions.livefeed.page_urls")),  # live rows by webhook (issue 16)
    # Order numbers look like 20250101-7K3M9Q2X (also the PG's orderId).
    re_path(r"^(?P<number>[0-9]{8}-[0-9A-Z]{8})/$", views.order_detail, name="order"),
    re_path(r"^(?P<number>[0-9]{8}-[0-9A-Z]{8})/live/$", views.order_live, name="order_live"),
    re_path(r"^(?P<number>[0-9]{8}-[0-9A-Z]{8})/cancel/$", views.order_cancel, name="order_cancel"),
]
