from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import Invitation, Membership, Organization, User
from core.admin import BumpsCatalogGeneration
from core.models import AuditEvent


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "phone", "active_organization")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(BumpsCatalogGeneration, admin.ModelAdmin):
    # Names, slug and contact details show on catalog pages: an edit here bumps the catalog generation.
    list_display = ["name_ko", "kind", "org_type", "brn", "brn_checksum_ok", "verification"]
    list_filter = ["kind", "org_type", "verification"]
    search_fields = ["name_ko", "name_en", "brn"]
    # Verification is decided on the staff pages so that every decision is audited.
    readonly_fields = ["verification", "verification_reason", "verified_at", "verified_by", "brn_checksum_ok"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "state", "expires_at"]
    list_filter = ["state"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "object_repr", "actor", "reason"]
    list_filter = ["action"]
    search_fields = ["object_repr", "reason", "actor__email"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
