"""Small read-only shapes the catalog's API modules share (the public catalog, the provider's and the reviewer's)."""

from rest_framework import serializers

from catalog.models import Licence, Theme


class ThemeBrief(serializers.ModelSerializer):
    class Meta:
        model = Theme
        fields = ["code", "name_ko", "name_en"]
        read_only_fields = fields


class LicenceBrief(serializers.ModelSerializer):
    class Meta:
        model = Licence
        fields = ["code", "family", "name_ko", "name_en", "allows_commercial_use", "allows_derivatives", "url"]
        read_only_fields = fields
