from django.contrib import admin

from catalog.models import (
    DataFile,
    Dataset,
    DatasetVersion,
    Licence,
    Offer,
    Review,
    Theme,
    Upload,
)


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ["code", "name_ko", "name_en", "position"]


@admin.register(Licence)
class LicenceAdmin(admin.ModelAdmin):
    list_display = ["code", "family", "name_ko", "allows_commercial_use", "allows_derivatives", "organization"]
    list_filter = ["family"]


class VersionInline(admin.TabularInline):
    model = DatasetVersion
    fields = ["number", "state", "title_ko", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["slug", "publisher", "listing", "updated_at"]
    list_filter = ["listing"]
    search_fields = ["slug", "versions__title_ko"]
    # The listing is changed on the review pages, where every decision is recorded.
    readonly_fields = ["listing"]
    inlines = [VersionInline]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["title_ko", "number", "state", "dataset", "updated_at"]
    list_filter = ["state", "data_kind", "theme"]
    search_fields = ["title_ko", "title_en"]
    readonly_fields = ["state"]


@admin.register(DataFile)
class DataFileAdmin(admin.ModelAdmin):
    list_display = ["original_name", "version", "format", "size", "check_state", "row_count"]
    list_filter = ["check_state", "format"]
    readonly_fields = [f.name for f in DataFile._meta.fields]


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["dataset", "kind", "price_krw", "subscription_days", "active"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["created_at", "version", "action", "actor", "reason"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["filename", "version", "offset", "length", "state", "created_at"]
