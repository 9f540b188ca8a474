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
from catalog.services import catalog_entry_refresh
from core.admin import BumpsCatalogGeneration


class RefreshesCatalogEntry(BumpsCatalogGeneration):
    """For rows the catalog entry is made of (a dataset, its versions, its offers): an admin's edit rewrites the
    dataset's entry too (its title, prices and search words), as the services do; the generation is bumped by it."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        catalog_entry_refresh(self._dataset_of(obj))

    def delete_model(self, request, obj):
        dataset = self._dataset_of(obj)
        super().delete_model(request, obj)
        if dataset.pk is not None:
            catalog_entry_refresh(dataset)

    def delete_queryset(self, request, queryset):
        datasets = {self._dataset_of(obj).pk for obj in queryset}
        super().delete_queryset(request, queryset)
        for dataset in Dataset.objects.filter(pk__in=datasets):
            catalog_entry_refresh(dataset)

    @staticmethod
    def _dataset_of(obj) -> Dataset:
        return obj if isinstance(obj, Dataset) else obj.dataset


@admin.register(Theme)
class ThemeAdmin(BumpsCatalogGeneration, admin.ModelAdmin):
    list_display = ["code", "name_ko", "name_en", "position"]


@admin.register(Licence)
class LicenceAdmin(BumpsCatalogGeneration, admin.ModelAdmin):
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
class DatasetAdmin(RefreshesCatalogEntry, admin.ModelAdmin):
    list_display = ["slug", "publisher", "listing", "updated_at"]
    list_filter = ["listing"]
    search_fields = ["slug", "versions__title_ko"]
    # The listing is changed on the review pages, where every decision is recorded.
    readonly_fields = ["listing"]
    inlines = [VersionInline]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(RefreshesCatalogEntry, admin.ModelAdmin):
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
class OfferAdmin(RefreshesCatalogEntry, admin.ModelAdmin):
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
