"""The provider's sales and statements, mounted at /sales/ (namespace "statements")."""

from django.urls import path

from transactions.statements import views

app_name = "statements"

urlpatterns = [
    path("", views.sales, name="sales"),
    path("statements/current/", views.current, name="current"),
    path("statements/<int:pk>/", views.statement, name="statement"),
]
