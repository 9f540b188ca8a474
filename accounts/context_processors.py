from accounts.permissions import can


def active_organization(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "active_membership"):
        return {}
    membership = request.active_membership or None
    organization = membership.organization if membership else None
    return {
        "active_membership": membership,
        "active_organization": organization,
        "user_memberships": request.user_memberships,
        # What the header offers: the same rules the views enforce.
        "can_publish_here": bool(organization) and can(user, "accounts.publish_for_org", organization),
        "can_buy_here": bool(organization) and can(user, "accounts.buy_for_org", organization),
    }
