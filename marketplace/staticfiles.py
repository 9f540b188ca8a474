from django.contrib.staticfiles.apps import StaticFilesConfig as BaseStaticFilesConfig


class StaticFilesConfig(BaseStaticFilesConfig):
    """collectstatic skips the parts of the npm packages we don't serve.

    krds-uiux: component.css has broken `../../img/img/...` paths (the manifest storage refuses
    it) and the CDN build hot-links icons from krds.go.kr; output.css is the complete sheet.
    """

    ignore_patterns = [*BaseStaticFilesConfig.ignore_patterns, "*.scss", "*_bak*", "component.css", "cdn", "scss"]
