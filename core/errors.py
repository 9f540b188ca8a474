"""The one family of domain errors. Views show `message`; the API maps them to 400/403/409 once."""

from django.core.exceptions import PermissionDenied


class DomainError(Exception):
    """A use case refused: the message says why, in the user's language (a lazy translation)."""

    def __init__(self, message, *, code: str = "invalid"):
        super().__init__(str(message))
        self.message = message
        self.code = code


class IllegalTransition(DomainError):
    """A state change the state table does not allow."""

    def __init__(self, message, *, code: str = "illegal_transition"):
        super().__init__(message, code=code)


class NotAllowed(PermissionDenied):
    """The actor may not do this. A PermissionDenied, so views answer 403 (never 500)."""
