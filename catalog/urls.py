from django.urls import path

from catalog import uploads, views

app_name = "catalog"

urlpatterns = [
    path("", views.catalog_home, name="index"),
    path("provider/", views.provider_home, name="provider_home"),
    path("provider/datasets/new/", views.dataset_create, name="dataset_create"),
    path("provider/versions/<int:pk>/", views.version_detail, name="version"),
    path("provider/versions/<int:pk>/edit/", views.version_edit, name="version_edit"),
    path("provider/files/<int:pk>/", views.datafile_detail, name="datafile"),
    path("provider/files/<int:pk>/remove/", views.datafile_remove, name="datafile_remove"),
    path("uploads/", uploads.create, name="upload_create"),
    path("uploads/<uuid:pk>/", uploads.resource, name="upload"),
]
