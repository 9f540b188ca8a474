"""The admins' delivery pages, mounted at /staff/packages/ (marketplace/urls.py)."""

from django.urls import path

from transactions.delivery import views

app_name = "delivery_staff"

urlpatterns = [
    path("failed/", views.failed_packages, name="failed_packages"),
]
