"""The organization verification state machine (registered with core.transitions)."""

from accounts.models import Organization
from core.transitions import register

V = Organization.Verification

ORG_TRANSITIONS: dict[str, set[str]] = {
    V.REQUESTED: {V.VERIFIED, V.REJECTED},
    V.REJECTED: {V.REQUESTED},
    # A verified organization that changes its registration number is checked again.
    V.VERIFIED: {V.REQUESTED},
}

register(Organization, ORG_TRANSITIONS, field="verification", organization=lambda organization: organization.pk)
