"""The base classes every API view uses (a test keeps it so).

DRF checks permissions before throttles, so a request refused for a missing or wrong key would never count
against its address: a key could be guessed at full speed. Here the throttles run right after authentication,
and a failed authentication is counted against the client's address before its 401 goes out."""

from rest_framework import exceptions, generics
from rest_framework.permissions import SAFE_METHODS
from rest_framework.views import APIView

from core.audit import audit


class ThrottleFirst:
    # A view whose POST only reads (the data API's SQL: the query is the body) sets this False: reads are not audited.
    audit_key_writes = True

    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        try:
            self.perform_authentication(request)
        except exceptions.AuthenticationFailed:
            self.check_throttles(request)  # request.auth is None now: the address's budget
            raise
        self.check_throttles(request)
        self.check_permissions(request)

    def finalize_response(self, request, response, *args, **kwargs):
        """Every writing request made with an API key is in the audit trail with the key's name, refused ones too
        (what the key was used for, not only what it changed: the services' own rows name the key as well)."""
        response = super().finalize_response(request, response, *args, **kwargs)
        # `_auth`, not `auth`: a request refused before authentication (406, an oversized upload's 413) must not
        # authenticate now, outside the exception handler. A throttled request (429) adds no row: a program
        # retrying in a loop must not grow the append-only table.
        if self.audit_key_writes:
            record_key_write(request, response.status_code, token=getattr(request, "_auth", None))
        return response


def record_key_write(request, status: int, *, token) -> None:
    """The audit row of a writing request made with an API key (`api.write`: method, path, status, the key's name),
    for every API view and for the tus upload endpoint, which is not a DRF view."""
    if request.method in SAFE_METHODS or not hasattr(token, "scopes") or status == 429:
        return
    audit(
        actor=request.user,
        action="api.write",
        obj=token,
        organization_id=token.organization_id,
        data={"method": request.method, "path": request.path[:300], "status": status},
    )


class ApiView(ThrottleFirst, APIView):
    pass


class ApiGenericView(ThrottleFirst, generics.GenericAPIView):
    pass
