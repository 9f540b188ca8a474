from django.urls import include, path

from catalog import public_views, uploads, views
from catalog.dcat.views import catalog_rdf_alternative

app_name = "catalog"

urlpatterns = [
    path("", catalog_rdf_alternative(views.catalog_home), name="index"),  # Accept: RDF → 303 to /catalog.ttl …
    path("datasets/<slug:slug>/", public_views.dataset_detail, name="dataset"),
    path("datasets/<slug:slug>/map/<int:file_id>.json", public_views.dataset_map, name="dataset_map"),
    path("datasets/<slug:slug>/sample.csv", public_views.dataset_sample, name="dataset_sample"),
    path("organizations/<slug:slug>/", public_views.organization_detail, name="organization"),
    path("provider/", views.provider_home, name="provider_home"),
    path("provider/datasets/new/", views.dataset_create, name="dataset_create"),
    path("provider/versions/<int:pk>/", views.version_detail, name="version"),
    path("provider/versions/<int:pk>/edit/", views.version_edit, name="version_edit"),
    path("provider/files/<int:pk>/", views.datafile_detail, name="datafile"),
    path("provider/files/<int:pk>/dictionary/", views.datafile_dictionary, name="datafile_dictionary"),
    path("provider/files/<int:pk>/remove/", views.datafile_remove, name="datafile_remove"),
    path("uploads/", uploads.create, name="upload_create"),
    path("uploads/<uuid:pk>/", uploads.resource, name="upload"),
]

# Submission (publisher) and review (platform admin): catalog/review_views.py
from catalog import review_views  # noqa: E402

urlpatterns += [
    path("provider/versions/<int:pk>/submission/", review_views.version_submission, name="version_submission"),
    path("provider/versions/<int:pk>/licence/", review_views.version_licence, name="version_licence"),
    path("provider/versions/<int:pk>/submit/", review_views.version_submit, name="version_submit"),
    path("provider/versions/<int:pk>/reopen/", review_views.version_reopen, name="version_reopen"),
    path("provider/versions/<int:pk>/withdraw/", review_views.version_withdraw, name="version_withdraw"),
    path("provider/versions/<int:pk>/new-version/", review_views.version_start_new, name="version_start_new"),
    path("provider/versions/<int:pk>/offers/", review_views.offer_create, name="offer_create"),
    path(
        "provider/versions/<int:pk>/offers/<int:offer_pk>/stop/", review_views.offer_deactivate, name="offer_deactivate"
    ),
    path("review/", review_views.review_queue, name="review_queue"),
    path("review/versions/<int:pk>/", review_views.review_version, name="review_version"),
    path("review/versions/<int:pk>/approve/", review_views.review_approve, name="review_approve"),
    path("review/versions/<int:pk>/reject/", review_views.review_reject, name="review_reject"),
    path("review/files/<int:pk>/", review_views.review_datafile, name="review_datafile"),
    path(
        "review/datasets/<int:pk>/suspend/",
        review_views.review_dataset_listing,
        {"action": "suspend"},
        name="dataset_suspend",
    ),
    path(
        "review/datasets/<int:pk>/reinstate/",
        review_views.review_dataset_listing,
        {"action": "reinstate"},
        name="dataset_reinstate",
    ),
    path("", include("catalog.live.urls")),  # live tables: the provider's forms (issue 16)
]
