"""`/api/v1/provider/`: a department's datasets, versions, files, licences, offers, submissions and decisions.
Large files go through the resumable tus endpoint the browser uses (/catalog/uploads/, docs/api.md)."""

from django.urls import include, path

from catalog.api import provider_views as views

urlpatterns = [
    path("datasets/", views.DatasetList.as_view(), name="api-provider-datasets"),
    path("datasets/<slug:slug>/", views.DatasetDetail.as_view(), name="api-provider-dataset"),
    path("datasets/<slug:slug>/versions/", views.DatasetVersions.as_view(), name="api-provider-dataset-versions"),
    path("versions/<int:pk>/", views.VersionDetail.as_view(), name="api-provider-version"),
    path("versions/<int:pk>/files/", views.VersionFiles.as_view(), name="api-provider-files"),
    path("versions/<int:pk>/files/<int:file_id>/", views.VersionFile.as_view(), name="api-provider-file"),
    path(
        "versions/<int:pk>/files/<int:file_id>/dictionary/",
        views.FileDictionary.as_view(),
        name="api-provider-file-dictionary",
    ),
    path("versions/<int:pk>/licence/", views.VersionLicence.as_view(), name="api-provider-licence"),
    path("versions/<int:pk>/offers/", views.VersionOffers.as_view(), name="api-provider-offers"),
    path("versions/<int:pk>/submit/", views.VersionSubmit.as_view(), name="api-provider-submit"),
    path("versions/<int:pk>/withdraw/", views.VersionWithdraw.as_view(), name="api-provider-withdraw"),
    path("versions/<int:pk>/reopen/", views.VersionReopen.as_view(), name="api-provider-reopen"),
    path("versions/<int:pk>/reviews/", views.VersionReviews.as_view(), name="api-provider-reviews"),
    path("offers/<int:pk>/", views.OfferDetail.as_view(), name="api-provider-offer"),
    path("", include("catalog.live.api_urls")),  # live tables: make a table live, push rows (issue 16)
]
