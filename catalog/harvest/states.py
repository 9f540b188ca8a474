"""The harvest run's state table (registered with core.transitions)."""

from catalog.harvest.models import HarvestRun, HarvestRunState
from core.transitions import register

S = HarvestRunState
register(
    HarvestRun,
    {
        S.QUEUED: {S.RUNNING, S.FAILED},
        S.RUNNING: {S.RUNNING, S.DONE, S.FAILED},  # running → running: a stale lease taken over
        S.DONE: set(),
        S.FAILED: set(),
    },
    action="harvest",
    organization=lambda run: run.source.organization_id,
)
