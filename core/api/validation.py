"""Input validation whose field errors come in Korean and English (the error shape's `fields`).

DRF renders a field's message when it validates, in the active language; validating again under the other
language gives the second one. Validation has no side effects, so running it twice is safe."""

from django.utils import translation

from core.api.errors import LANGUAGES, BilingualValidationError


def _flatten(errors, prefix="") -> dict:
    out = {}
    if isinstance(errors, dict):
        for name, value in errors.items():
            key = prefix if name == "non_field_errors" and not prefix else (f"{prefix}.{name}" if prefix else name)
            out |= _flatten(value, key or "non_field_errors")
    elif isinstance(errors, list) and errors and not isinstance(errors[0], (dict, list)):
        out[prefix or "non_field_errors"] = [(getattr(e, "code", "invalid"), str(e)) for e in errors]
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            out |= _flatten(value, f"{prefix}.{index}" if prefix else str(index))
    return out


def validated(serializer_class, data, **kwargs) -> dict:
    """The serializer's validated_data, or BilingualValidationError with every field's errors in both languages."""
    serializer = serializer_class(data=data, **kwargs)
    if serializer.is_valid():
        return serializer.validated_data
    rendered = {}
    for language in LANGUAGES:
        with translation.override(language):
            again = serializer_class(data=data, **kwargs)
            again.is_valid()
            rendered[language] = _flatten(again.errors)
    fields = {}
    for name, errors in rendered["ko"].items():
        english = rendered["en"].get(name, errors)
        fields[name] = [
            {"code": code, "message_ko": ko, "message_en": english[i][1] if i < len(english) else ko}
            for i, (code, ko) in enumerate(errors)
        ]
    raise BilingualValidationError(fields)
