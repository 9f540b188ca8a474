from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("profile/", views.profile, name="profile"),
    path("switch-organization/", views.switch_organization, name="switch_organization"),
    path("organizations/new/", views.organization_register, name="organization_register"),
    path("organizations/<int:pk>/", views.organization_detail, name="organization"),
    path("organizations/<int:pk>/edit/", views.organization_edit, name="organization_edit"),
    path("organizations/<int:pk>/invitations/", views.invitation_create, name="invitation_create"),
    path(
        "organizations/<int:pk>/invitations/<int:invitation_pk>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("organizations/<int:pk>/members/<int:membership_pk>/role/", views.membership_role, name="membership_role"),
    path(
        "organizations/<int:pk>/members/<int:membership_pk>/remove/", views.membership_remove, name="membership_remove"
    ),
    path("invitations/<str:token>/", views.invitation_detail, name="invitation"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
