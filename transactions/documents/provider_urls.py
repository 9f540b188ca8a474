from django.urls import path

from transactions.documents import views

app_name = "documents"

# /provider/tax-invoices/ (the supplier's members) and /staff/tax-invoices/ (platform admins).
urlpatterns = [
    path("provider/tax-invoices/", views.provider_tax_invoices, name="provider_tax_invoices"),
    path("staff/tax-invoices/", views.staff_tax_invoices, name="staff_tax_invoices"),
]
