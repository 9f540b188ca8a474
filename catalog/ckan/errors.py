"""CKAN's action errors (ckan.logic and ckan.lib.search), each answered by the view with CKAN's status and shape.

Search errors say what is wrong in English (`message`, CKAN's wording where CKAN has one: clients compare it) and in
Korean (`message_ko`)."""

from django.utils import translation


class ActionError(Exception):
    status = 500


class NotFound(ActionError):
    """404 "Not Found Error"; the message is "Not found" or "Not found: <detail>"."""

    status = 404

    def __init__(self, detail: str = ""):
        super().__init__(detail)
        self.detail = detail


class NotAuthorized(ActionError):
    status = 403

    def __init__(self, detail: str = ""):
        super().__init__(detail)
        self.detail = detail


class ValidationError(ActionError):
    """409 "Validation Error": {field: [messages]} beside "__type"."""

    status = 409

    def __init__(self, error_dict: dict):
        super().__init__(error_dict)
        self.error_dict = error_dict


class _Explained(ActionError):
    """An error with a gettext msgid and its %(placeholders)s, told in English (args[0]) and in Korean."""

    def __init__(self, msgid, **params):
        self.msgid, self.params = msgid, params
        super().__init__(self.text("en"))

    def text(self, language: str) -> str:
        with translation.override(language):
            message = str(self.msgid)
            return message % self.params if self.params else message


class SearchQueryError(_Explained):
    """400 "Search Query Error": the query or its parameters cannot be read."""

    status = 400


class SearchError(_Explained):
    """409 "Search Error": a well-formed query this search cannot run."""

    status = 409


def missing(field: str) -> ValidationError:
    """CKAN's get_or_bust."""
    return ValidationError({field: ["Missing value"]})
