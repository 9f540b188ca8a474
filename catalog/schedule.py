"""When a dataset is expected to be updated next: one rule, used by the dataset page and its JSON-LD."""

import calendar
from datetime import date, timedelta

# Cadence → (months, days) added to the last publication. Real time, irregular and "not updated"
# datasets have no expected date: the first changes all the time, the others never on a schedule.
_STEPS = {
    "daily": (0, 1),
    "weekly": (0, 7),
    "monthly": (1, 0),
    "quarterly": (3, 0),
    "half_yearly": (6, 0),
    "yearly": (12, 0),
}


def _add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_update_due(cadence: str, last_published: date | None) -> date | None:
    """The date the next version is expected: the last publication date plus one period of the cadence.

    Counted from the publication of the current version (not from today), so a dataset whose
    publisher missed an update shows a date in the past and the page can say it is late.
    None when the cadence has no schedule (real time, irregular, not updated) or nothing was published.
    """
    if last_published is None or cadence not in _STEPS:
        return None
    months, days = _STEPS[cadence]
    return _add_months(last_published, months) + timedelta(days=days)
