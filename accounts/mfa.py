"""The second factor (allauth.mfa): who must have one, and allauth's MFA adapter.

Every user may protect their account with an authenticator app (TOTP), security keys (WebAuthn) and recovery codes
(/accounts/2fa/). With MFA_REQUIRED_FOR_STAFF on, platform admins and organization owners must: the middleware
(accounts.middleware.MfaRequiredMiddleware) sends them to the set-up until they have one, and they cannot remove
their last one. docs/security.md.
"""

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership

# The kinds that count as a second factor: recovery codes alone are a way back in, not a factor set up.
SECOND_FACTOR_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def is_mfa_required(user, memberships=None) -> bool:
    """Whether this user must have a second factor: a platform admin, or an owner of any organization, when
    MFA_REQUIRED_FOR_STAFF is on. `memberships`: the user's memberships when already loaded (the request's)."""
    if not settings.MFA_REQUIRED_FOR_STAFF or not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    if memberships is not None:
        return any(m.role == Membership.Role.OWNER for m in memberships)
    return user.memberships.filter(role=Membership.Role.OWNER).exists()


def has_second_factor(user) -> bool:
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTOR_TYPES).exists()


class MfaAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": _(
            "Your role requires two-factor authentication: add a security key before you turn off the authenticator "
            "app."
        ),
    }

    def get_totp_label(self, user) -> str:
        return user.email

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """Someone who must have a second factor keeps at least one (they may add a key, then remove the app)."""
        if authenticator.type not in SECOND_FACTOR_TYPES or not is_mfa_required(authenticator.user):
            return True
        others = Authenticator.objects.filter(user_id=authenticator.user_id, type__in=SECOND_FACTOR_TYPES).exclude(
            pk=authenticator.pk
        )
        return others.exists()
