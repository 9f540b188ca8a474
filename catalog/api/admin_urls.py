"""`/api/v1/admin/` of the catalog: the review queue, decisions and listings (platform admins)."""

from django.urls import path

from catalog.api import admin_views as views

urlpatterns = [
    path("reviews/", views.ReviewQueue.as_view(), name="api-admin-reviews"),
    path("reviews/<int:version_id>/", views.ReviewDetail.as_view(), name="api-admin-review"),
    path("reviews/<int:version_id>/approve/", views.ReviewApprove.as_view(), name="api-admin-review-approve"),
    path("reviews/<int:version_id>/reject/", views.ReviewReject.as_view(), name="api-admin-review-reject"),
    path("datasets/<slug:slug>/suspend/", views.DatasetSuspend.as_view(), name="api-admin-dataset-suspend"),
    path("datasets/<slug:slug>/reinstate/", views.DatasetReinstate.as_view(), name="api-admin-dataset-reinstate"),
]
