"""Sentences built from names: a name that ends with an abbreviation's full stop ("AirDataLab Inc.", "Jr.")
followed by the sentence's own full stop would read "Inc..". One rule, used by the e-mails (core.notify),
the flash messages and the sentences of the templates (the `sentence` filter, core.templatetags.text_tags)."""

import re

from django.utils.functional import Promise, lazy

# A letter's full stop directly followed by one more full stop, and not part of an ellipsis ("..." stays).
_DOUBLE_STOP = re.compile(r"([A-Za-z]\.)\.(?!\.)")


def tidy_sentence(text: str) -> str:
    """The text with the doubled full stop after an abbreviation collapsed: "for AirDataLab Inc.." → "… Inc."."""
    return _DOUBLE_STOP.sub(r"\1", text) if text and ".." in text else text


def _percent(template, params) -> str:
    return str(template) % {key: str(value) if isinstance(value, Promise) else value for key, value in params.items()}


def lazy_percent(template, params: dict):
    """`template % params`, rendered when shown and in the language active then (a lazy string).

    `gettext_lazy("…%(name)s…") % {...}` renders at once in the request's language; a domain error built with this
    instead can be shown in Korean and in English (the API's error shape gives both)."""
    return _lazy_percent(template, params)


_lazy_percent = lazy(_percent, str)


def choice_label(obj, field: str = "state"):
    """The (lazy) label of a choice field's value, so a message built from it renders in either language;
    `get_<field>_display()` renders it at once in the active one."""
    value = getattr(obj, field)
    return dict(obj._meta.get_field(field).flatchoices).get(value, value)
