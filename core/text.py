"""Sentences built from names: a name that ends with an abbreviation's full stop ("AirDataLab Inc.", "Jr.")
followed by the sentence's own full stop would read "Inc..". One rule, used by the e-mails (core.notify),
the flash messages and the sentences of the templates (the `sentence` filter, core.templatetags.text_tags)."""

import re

# A letter's full stop directly followed by one more full stop, and not part of an ellipsis ("..." stays).
_DOUBLE_STOP = re.compile(r"([A-Za-z]\.)\.(?!\.)")


def tidy_sentence(text: str) -> str:
    """The text with the doubled full stop after an abbreviation collapsed: "for AirDataLab Inc.." → "… Inc."."""
    return _DOUBLE_STOP.sub(r"\1", text) if text and ".." in text else text
