"""Swagger UI and Redoc over /api/schema/, served from our own origin (drf-spectacular-sidecar)."""

from django.shortcuts import render


def swagger(request):
    return render(request, "api/swagger.html", {"schema_url": "/api/schema/"})


def redoc(request):
    return render(request, "api/redoc.html", {"schema_url": "/api/schema/"})
