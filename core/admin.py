"""What the Django admin's pages of catalog-visible rows share: an edit there changes what anonymous visitors see."""

from core.generation import bump_generation_on_commit


class BumpsCatalogGeneration:
    """A ModelAdmin mixin for rows that catalog pages show (organizations, themes, licences, datasets, offers): every
    save or delete bumps the catalog generation on commit (core.generation), so the anonymous page cache, the cached
    counts and every process's labels of facet values are of the new rows on the next request, not minutes later.
    The admin saves in one transaction (changeform_view, delete_view, the delete action), so on_commit is after it."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        bump_generation_on_commit()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        bump_generation_on_commit()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        bump_generation_on_commit()
