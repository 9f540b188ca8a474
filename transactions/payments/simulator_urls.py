"""The simulated PG (Toss Payments' HTTP shape), mounted at /pg-sim/ for the demo and the tests."""

from django.urls import path  # noqa: F401

urlpatterns = []
