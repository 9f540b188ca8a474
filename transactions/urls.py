from django.urls import include, path

from transactions import views

app_name = "transactions"

urlpatterns = [
    path("", views.orders, name="orders"),
    path("payments/", include("transactions.payments.urls")),
    path("delivery/", include("transactions.delivery.urls")),
]
