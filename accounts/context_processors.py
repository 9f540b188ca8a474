def active_organization(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "active_membership"):
        return {}
    membership = request.active_membership or None
    return {
        "active_membership": membership,
        "active_organization": membership.organization if membership else None,
        "user_memberships": request.user_memberships,
    }
