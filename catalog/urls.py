from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.catalog_home, name="index"),
    path("provider/", views.provider_home, name="provider_home"),
]
