"""API plans and usage (issue 16), under /orders/ in the "transactions" namespace."""

from django.urls import path

from transactions.apiplans import views

urlpatterns = [
    path("usage/", views.usage, name="api_usage"),
    path("api-plans/take/<int:offer_id>/", views.take, name="api_plan_take"),
    path("api-plans/<int:pk>/cap/", views.cap_change, name="api_plan_cap"),
    path("api-plans/<int:pk>/cancel/", views.cancel, name="api_plan_cancel"),
]
