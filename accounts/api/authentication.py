"""`Authorization: Token <key>` or `Authorization: Bearer <key>` (accounts.models.ApiToken)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts import selectors, services
from core.api.errors import failure
from core.http import client_ip

KEYWORDS = ("token", "bearer")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Finds the key by its SHA-256 (one indexed query that also checks the membership), refuses a revoked or
    expired key, an inactive user, and a user no longer in the key's organization, and marks the user object
    (`user.api_token`) so accounts.permissions.can holds every service to the key's scopes."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in KEYWORDS:
            return None
        if len(header) != 2:
            raise failure(exceptions.AuthenticationFailed, _("Send the key as “Authorization: Token <key>”."))
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise failure(exceptions.AuthenticationFailed, _("The API key is not valid.")) from exc
        found = selectors.api_token_for_digest(services.api_token_digest(key))
        if found is None:
            raise failure(exceptions.AuthenticationFailed, _("The API key is not valid."))
        token, member = found
        if token.revoked_at is not None:
            raise failure(exceptions.AuthenticationFailed, _("This API key was revoked."))
        if not token.is_active:
            raise failure(exceptions.AuthenticationFailed, _("This API key has expired. Make a new one on your page."))
        if not token.user.is_active:
            raise failure(exceptions.AuthenticationFailed, _("The account of this API key is disabled."))
        if token.organization_id is not None and not member:
            raise failure(
                exceptions.AuthenticationFailed,
                _("The owner of this API key is no longer a member of its organization."),
            )
        services.api_token_used(token=token, ip=client_ip(request))
        user = token.user
        user.api_token = token
        return user, token

    def authenticate_header(self, request):
        return 'Token realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "API 키: `Authorization: Token <key>` 또는 `Bearer <key>` (An API key, made on /me/api-keys/).",
        }
