from django.urls import path

from accounts.api import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("api-keys/", views.ApiKeyList.as_view(), name="api-keys"),
    path("api-keys/<int:pk>/", views.ApiKeyDetail.as_view(), name="api-key"),
]
