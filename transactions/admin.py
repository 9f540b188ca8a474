"""Django admin: read-only views of purchases for debugging. Every change goes through the services and
the /staff/ pages, where it is checked and audited."""

from django.contrib import admin

from transactions.models import Entitlement, LicenceAcceptance, Order, OrderItem, Payment


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    fields = ["title", "kind", "version", "seller", "supply_krw", "vat_krw", "total_krw", "tax_free", "licence"]
    readonly_fields = fields
    extra = 0
    can_delete = False


class PaymentInline(admin.TabularInline):
    model = Payment
    fields = ["created_at", "method", "adapter", "state", "amount_krw", "payment_key", "approved_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "buyer", "state", "method", "total_krw", "created_at", "paid_at"]
    list_filter = ["state", "method"]
    search_fields = ["number", "buyer__name_ko", "billing_name", "items__title"]
    inlines = [OrderItemInline, PaymentInline]


@admin.register(Entitlement)
class EntitlementAdmin(ReadOnlyAdmin):
    list_display = ["organization", "dataset", "kind", "version", "valid_from", "valid_until", "revoked_at"]
    list_filter = ["kind"]
    search_fields = ["organization__name_ko", "dataset__slug"]


@admin.register(LicenceAcceptance)
class LicenceAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ["accepted_at", "user", "organization", "licence_code", "licence_sha256", "ip"]
    search_fields = ["user__email", "organization__name_ko", "licence_code"]
