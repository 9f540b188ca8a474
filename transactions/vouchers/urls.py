"""The buyer organization's data vouchers, mounted at /me/vouchers/ (namespace "vouchers")."""

from django.urls import path

from transactions.vouchers import views

app_name = "vouchers"

urlpatterns = [path("", views.vouchers, name="mine")]
