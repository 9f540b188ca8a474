from django.urls import path

from accounts import staff_views

app_name = "staff"

urlpatterns = [
    path("", staff_views.home, name="home"),
    path("organizations/", staff_views.organizations, name="organizations"),
    path("organizations/<int:pk>/", staff_views.organization, name="organization"),
    path("organizations/<int:pk>/decide/", staff_views.organization_decide, name="organization_decide"),
    path("audit/", staff_views.audit, name="audit"),
    path("policies/", staff_views.policies, name="policies"),
]
