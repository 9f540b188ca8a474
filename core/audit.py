"""Recording decisions in the audit trail."""

from core.models import AuditEvent


def audit(
    *,
    actor,
    action: str,
    obj,
    organization=None,
    organization_id: int | None = None,
    reason: str = "",
    data: dict | None = None,
) -> AuditEvent:
    """Record a decision or change. Call inside the transaction of the change itself.

    The organization whose trail shows it is given as `organization` or, to spare a query, its id. A change made
    through the API with a key (the actor carries `api_token`, set by accounts.api.authentication) names the key.
    """
    data = dict(data or {})
    token = getattr(actor, "api_token", None)
    if token is not None:
        data["api_token"] = {"id": token.pk, "name": token.name, "prefix": token.prefix}
    event = AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        object_repr=str(obj)[:300],
        reason=str(reason or ""),
        data=data,
    )
    if organization is not None:
        event.organization = organization
    else:
        event.organization_id = organization_id
    event.save()
    return event
