from django.utils.translation import gettext_lazy as _  # noqa: F401  (messages are lazy, in the user's language)


class IngestError(Exception):
    """A file that fails a check. `message` says what is wrong and what to do, for a non-technical official."""

    def __init__(self, code: str, message, *, detail: str = ""):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.detail = detail
