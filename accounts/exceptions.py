"""The accounts app's one domain error. Views show `message`; the API maps it to 400/403."""

from django.core.exceptions import PermissionDenied


class DomainError(Exception):
    """A use case refused: the message says why, in the user's language."""

    def __init__(self, message, *, code: str = "invalid"):
        super().__init__(str(message))
        self.message = message
        self.code = code


class IllegalTransition(DomainError):
    def __init__(self, message, *, code: str = "illegal_transition"):
        super().__init__(message, code=code)


class NotAllowed(PermissionDenied):
    """The actor may not do this. A PermissionDenied, so views answer 403 (never 500)."""
