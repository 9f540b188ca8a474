from django.conf import settings
from django.utils import translation
from django.utils.functional import lazy


def _interpolate(message, params):
    return message % params  # not str(message) first: an ngettext_lazy needs the count in params


# `_("… %(name)s …") % {...}` would translate at once, in the worker's language; this stays lazy.
lazy_format = lazy(_interpolate, str)


def in_every_language(message) -> dict[str, str]:
    """A (lazy) message rendered in each site language, stored with a check report: the worker
    runs in one language, the official and the reviewer read it in theirs."""
    rendered = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            rendered[code] = str(message)
    return rendered


class IngestError(Exception):
    """A file that fails a check. `message` says what is wrong and what to do, for a non-technical official."""

    def __init__(self, code: str, message, *, detail: str = ""):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.detail = detail
