"""The URL conf of the simulator's own process: only the PG, under the same /pg-sim/ prefix."""

from django.urls import include, path

urlpatterns = [path("pg-sim/", include("devtools.pg_simulator.urls"))]
