"""The live table's state table (registered with core.transitions)."""

from catalog.live.models import LiveState, LiveTable
from core.transitions import register

register(
    LiveTable,
    {LiveState.ACTIVE: {LiveState.PAUSED}, LiveState.PAUSED: {LiveState.ACTIVE}},
    action="live",
    organization=lambda table: table.dataset.publisher_id,
)
