"""Delivery URLs, mounted at /orders/delivery/ in the "transactions" namespace."""

from django.urls import path

from transactions.delivery import views

urlpatterns = [
    path("packages/<int:pk>/retry/", views.package_retry, name="package_retry"),
    path("packages/<int:pk>/link/", views.package_link, name="package_link"),
    path("download/<str:token>/", views.package_download, name="package_download"),
]
