"""Mounted under /orders/documents/ (transactions.urls); the supplier's and staff's CSV pages are in
provider_urls and staff_urls."""

from django.urls import path, re_path

from transactions.documents import views

urlpatterns = [
    path("", views.documents, name="documents"),
    re_path(r"^(?P<number>[0-9]{4}-[0-9]{6,})/$", views.document_detail, name="document"),
    re_path(r"^(?P<number>[0-9]{4}-[0-9]{6,})/pdf/$", views.document_pdf, name="document_pdf"),
    re_path(r"^(?P<number>[0-9]{4}-[0-9]{6,})/cash-receipt/$", views.cash_receipt_request, name="cash_receipt"),
]
