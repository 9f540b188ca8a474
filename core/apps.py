from django.apps import AppConfig
from django.core.cache import caches
from django.core.cache.backends.base import InvalidCacheBackendError
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.autoreload import file_changed
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = _("Core")


@receiver(file_changed, dispatch_uid="core_forget_template_fragments_file_changed")
@receiver(setting_changed, dispatch_uid="core_forget_template_fragments_setting_changed")
def forget_template_fragments(**kwargs):
    """Empty the {% cache %} parts of the pages (settings CACHES["template_fragments"], kept per process: made of
    templates and settings). runserver then shows a template edited while it runs (Django resets its template
    loaders, not this cache), and a test that changes a setting sees pages made with it."""
    try:
        caches["template_fragments"].clear()
    except InvalidCacheBackendError:  # a test's CACHES without the alias (the handler already follows it)
        pass
