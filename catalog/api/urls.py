"""The public catalog (/api/v1/): anyone may read it (catalog/api/views.py)."""

from django.urls import path

from catalog.api import views

urlpatterns = [
    path("datasets/", views.DatasetList.as_view(), name="api-catalog-datasets"),
    path("datasets/<slug:slug>/", views.DatasetDetail.as_view(), name="api-catalog-dataset"),
    path("datasets/<slug:slug>/versions/<int:number>/", views.VersionDetail.as_view(), name="api-catalog-version"),
    path("datasets/<slug:slug>/files/<int:file_id>/", views.FileDetail.as_view(), name="api-catalog-file"),
    path("datasets/<slug:slug>/sample.csv", views.DatasetSample.as_view(), name="api-catalog-sample"),
    path("licences/", views.LicenceList.as_view(), name="api-catalog-licences"),
    path("themes/", views.ThemeList.as_view(), name="api-catalog-themes"),
    path("organizations/", views.OrganizationList.as_view(), name="api-catalog-organizations"),
    path("organizations/<slug:slug>/", views.OrganizationDetail.as_view(), name="api-catalog-organization"),
]
