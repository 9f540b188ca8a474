"""`/api/v1/admin/` of the accounts app: organizations to verify and the audit trail (platform admins)."""

from django.urls import path

from accounts.api import admin_views as views

urlpatterns = [
    path("organizations/", views.OrganizationQueue.as_view(), name="api-admin-organizations"),
    path("organizations/<int:organization_id>/", views.OrganizationDetail.as_view(), name="api-admin-organization"),
    path(
        "organizations/<int:organization_id>/verify/",
        views.OrganizationVerify.as_view(),
        name="api-admin-organization-verify",
    ),
    path(
        "organizations/<int:organization_id>/reject/",
        views.OrganizationReject.as_view(),
        name="api-admin-organization-reject",
    ),
    path("audit/", views.AuditTrail.as_view(), name="api-admin-audit"),
]
