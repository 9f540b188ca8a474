"""The query store's state machine (registered with core.transitions; imported by catalog.states)."""

from catalog.querystore.models import QueryStore
from core.transitions import register

S = QueryStore.State

STORE_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.BUILDING},
    S.BUILDING: {S.READY, S.FAILED, S.PENDING},
    S.READY: {S.PENDING},  # its file went missing: built again
    S.FAILED: {S.BUILDING, S.PENDING},
}

register(
    QueryStore,
    STORE_TRANSITIONS,
    action="querystore",
    organization=lambda store: store.version.dataset.publisher_id,
)
