"""Platform admin pages of purchases, mounted at /staff/orders/ (namespace "staff_orders")."""

from django.urls import path, re_path

from transactions import staff_views

app_name = "staff_orders"

urlpatterns = [
    path("", staff_views.orders, name="list"),
    re_path(r"^(?P<number>[0-9]{8}-[0-9A-Z]{8})/$", staff_views.order, name="detail"),
]
