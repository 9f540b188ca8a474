"""The platform admins' payouts and ledger pages, mounted at /staff/payouts/ (namespace "staff_statements")."""

from django.urls import path

from transactions.statements import staff_views

app_name = "staff_statements"

urlpatterns = [
    path("", staff_views.payouts, name="payouts"),
    path("close/", staff_views.close_month, name="close"),
    path("statements/<int:pk>/", staff_views.statement, name="statement"),
    path("statements/<int:pk>/paid/", staff_views.mark_paid, name="mark_paid"),
    path("ledger/", staff_views.ledger_index, name="ledger_index"),
    path("ledger/<int:organization_id>/", staff_views.ledger, name="ledger"),
]
