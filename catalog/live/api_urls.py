"""`/api/v1/provider/datasets/<slug>/live/…` (included by catalog.api.provider_urls)."""

from django.urls import path

from catalog.live import api_views as views

urlpatterns = [
    path("datasets/<slug:slug>/live/", views.LiveTables.as_view(), name="api-provider-live"),
    path("datasets/<slug:slug>/live/<slug:name>", views.LiveTableDetail.as_view(), name="api-provider-live-table"),
    path("datasets/<slug:slug>/live/<slug:name>/rows", views.LiveRows.as_view(), name="api-provider-live-rows"),
    path("datasets/<slug:slug>/live/<slug:name>/pause", views.LivePause.as_view(), name="api-provider-live-pause"),
    path("datasets/<slug:slug>/live/<slug:name>/resume", views.LiveResume.as_view(), name="api-provider-live-resume"),
]
