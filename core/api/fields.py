"""Output fields the API's serializers share."""

from django.utils import translation
from django.utils.functional import Promise
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.errors import LANGUAGES

BILINGUAL_SCHEMA = {
    "type": "object",
    "description": "한국어와 영어 (the text in Korean and in English).",
    "properties": {"ko": {"type": "string"}, "en": {"type": "string"}},
    "required": ["ko", "en"],
    "additionalProperties": False,
}


def both_languages(value) -> dict[str, str]:
    """{"ko": …, "en": …} of a lazy translation (rendered in each language), of a text already stored in both
    ({"ko", "en"}, as the file checks keep their messages), or of a plain text (the same in both)."""
    if isinstance(value, dict):
        fallback = str(value.get("ko") or value.get("en") or "")
        return {language: str(value.get(language) or fallback) for language in LANGUAGES}
    if isinstance(value, Promise):
        out = {}
        for language in LANGUAGES:
            with translation.override(language):
                out[language] = str(value)
        return out
    text = "" if value is None else str(value)
    return dict.fromkeys(LANGUAGES, text)


@extend_schema_field(BILINGUAL_SCHEMA)
class Bilingual(serializers.Field):
    """A text in Korean and English: {"ko": "…", "en": "…"} (read-only)."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return both_languages(value)
