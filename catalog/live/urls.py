"""The provider's live-table forms (included by catalog.urls, namespace catalog)."""

from django.urls import path

from catalog.live import views

urlpatterns = [
    path("provider/versions/<int:pk>/live/", views.live_enable, name="live_enable"),
    path("provider/versions/<int:pk>/live/<slug:name>/state/", views.live_state, name="live_state"),
]
