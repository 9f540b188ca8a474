"""The dataset version state machine (registered with core.transitions)."""

from catalog.models import DatasetVersion
from core.transitions import register

S = DatasetVersion.State

VERSION_TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.CHECKING, S.READY},
    S.CHECKING: {S.READY, S.DRAFT},
    S.READY: {S.CHECKING, S.DRAFT, S.SUBMITTED},
    S.SUBMITTED: {S.PUBLISHED, S.REJECTED},
    S.REJECTED: {S.DRAFT},
    S.PUBLISHED: {S.SUPERSEDED, S.WITHDRAWN},
    S.SUPERSEDED: set(),
    S.WITHDRAWN: set(),
}

register(
    DatasetVersion, VERSION_TRANSITIONS, action="version", organization=lambda version: version.dataset.publisher_id
)
from catalog.harvest import states as _harvest_states  # noqa: E402,F401  (registers the harvest run state table)
from catalog.live import states as _live_states  # noqa: E402,F401  (registers the live table state table)
from catalog.querystore import states as _querystore_states  # noqa: E402,F401  (registers the query store machine)
