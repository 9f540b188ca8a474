"""Platform admin pages of harvesting, mounted at /staff/harvest/ (namespace "staff_harvest")."""

from django.urls import path

from catalog.harvest import views

app_name = "staff_harvest"

urlpatterns = [
    path("", views.sources, name="sources"),
    path("new/", views.source_create, name="source_create"),
    path("<int:pk>/", views.source, name="source"),
    path("<int:pk>/edit/", views.source_edit, name="source_edit"),
    path("<int:pk>/run/", views.source_run, name="source_run"),
    path("<int:pk>/active/", views.source_active, name="source_active"),
    path("runs/<int:pk>/", views.run, name="run"),
]
