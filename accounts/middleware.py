from django.utils.functional import SimpleLazyObject


def _memberships(request):
    user = request.user
    if not user.is_authenticated:
        return []
    memberships = list(user.memberships.select_related("organization").order_by("organization__name_ko"))
    # Seed the permission predicates' role cache (accounts.permissions._role) from the rows just
    # loaded, so the header's checks of the active organization cost no further query.
    user._role_cache = {m.organization_id: m.role for m in memberships}
    return memberships


def _active_membership(request):
    memberships = request.user_memberships
    for membership in memberships:
        if membership.organization_id == request.user.active_organization_id:
            return membership
    # No choice stored, or the user left that organization: act for the first one.
    return memberships[0] if memberships else None


class ActiveOrganizationMiddleware:
    """Sets `request.user_memberships` and `request.active_membership` lazily (one query, when used)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.user_memberships = SimpleLazyObject(lambda: _memberships(request))
        request.active_membership = SimpleLazyObject(lambda: _active_membership(request))
        return self.get_response(request)
