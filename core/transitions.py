"""The one way any state field changes: `transition()` checks the model's state table, saves the field
(with `update_fields`) and writes the audit row, in one transaction.

Each app registers its state tables once (its `states.py`, imported by its AppConfig.ready):

    register(Order, ORDER_TRANSITIONS, organization=lambda order: order.buyer_id)

Callers hold the row lock (select_for_update) when a concurrent change is possible, and set any
other fields they want saved with the state before calling, naming them in `fields`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.audit import audit
from core.errors import IllegalTransition
from core.text import lazy_percent


@dataclass(frozen=True)
class Machine:
    table: dict[str, set[str]]
    field: str
    organization: Callable | None  # obj → the id of the organization whose trail records the change
    action: str  # prefix of the audit action: "<action>.<new state>"


_MACHINES: dict[type, Machine] = {}


def register(
    model, table: dict, *, field: str = "state", organization: Callable | None = None, action: str | None = None
) -> None:
    """Declare `model`'s state table. Every state must be a choice of `field`, and every choice a state."""
    choices = {value for value, _label in model._meta.get_field(field).choices}
    states = set(table) | {to for targets in table.values() for to in targets}
    if states != choices:
        raise ValueError(
            f"{model.__name__}.{field}: the table's states {sorted(states)} are not the choices {sorted(choices)}"
        )
    _MACHINES[model] = Machine(
        table={k: set(v) for k, v in table.items()},
        field=field,
        organization=organization,
        action=action or model._meta.model_name,
    )


def transition(
    obj,
    *,
    to: str,
    actor,
    reason: str | None = None,
    fields: Iterable[str] = (),
    action: str | None = None,
    data: dict | None = None,
) -> str:
    """Move `obj` to state `to` or raise IllegalTransition; save the state and `fields`; audit it.

    `actor` is the user who caused the change, or None for the system (a worker, beat, a gateway).
    The audit row's action is "<model>.<new state>" unless `action` names it; `data` joins the old
    and new state in it. Returns the old state.
    """
    m = _MACHINES[type(obj)]
    old = getattr(obj, m.field)
    if to not in m.table.get(old, set()):
        labels = dict(obj._meta.get_field(m.field).choices)
        raise IllegalTransition(
            lazy_percent(
                _("%(what)s cannot go from “%(old)s” to “%(new)s”."),
                {
                    "what": str(obj._meta.verbose_name).capitalize(),
                    "old": labels.get(old, old),
                    "new": labels.get(to, to),
                },
            )
        )
    setattr(obj, m.field, to)
    update = [m.field, *fields]
    if any(f.name == "updated_at" for f in obj._meta.concrete_fields) and "updated_at" not in update:
        update.append("updated_at")
    organization_id = m.organization(obj) if m.organization else None
    with transaction.atomic():
        obj.save(update_fields=update)
        audit(
            actor=actor,
            action=action or f"{m.action}.{to}",
            obj=obj,
            organization_id=organization_id,
            reason=reason or "",
            data={"from": old, "to": to, **(data or {})},
        )
    return old


transition.alters_data = True
