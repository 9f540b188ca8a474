"""Persisting the data API's usage counters (Redis → ApiUsage), exactly once.

transactions.dataapi.metering.finish adds each call to one Redis hash (`dapi:usage`). `usage_flush` (beat,
every minute) first renames that hash to a batch key of its own and records the batch in a pending set, in one
Lua script (atomic: a call counted during the flush lands in the next hash, never in neither); then, for each
pending batch, it adds the batch's counters to ApiUsage (INSERT … ON CONFLICT DO UPDATE SET calls = calls +
EXCLUDED.calls, i.e. an upsert with increments) and inserts an `ApiUsageFlush` row named after the batch in the
SAME database transaction; only after the commit is the batch deleted from Redis. So:

- killed before the commit: nothing was added, the batch is still pending and the next run adds it;
- killed after the commit, before the delete: the next run finds the flush row and only deletes the batch;
- two runs at once: both insert the flush row, the unique constraint makes the second wait for the first and
  fail, so it adds nothing.
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, connection, transaction

from accounts.models import Organization
from catalog.models import Dataset
from transactions.apiplans.models import ApiPlan, ApiUsage, ApiUsageFlush
from transactions.dataapi import metering

_ROTATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[1])
end
return redis.call('SMEMBERS', KEYS[2])
"""


def _rows(raw: dict[bytes, bytes]) -> dict[tuple, list[int]]:
    """The batch's hash fields (organization|plan|dataset|day|table|c|e|b) as rows: key → [calls, errors, bytes]."""
    rows: dict[tuple, list[int]] = {}
    index = {"c": 0, "e": 1, "b": 2}
    for field, value in raw.items():
        parts = field.decode().split("|")
        if len(parts) != 6 or parts[5] not in index:
            continue
        organization, plan, dataset, day, table, what = parts
        key = (int(organization) if organization else None, int(plan) if plan else None, int(dataset), table, day)
        rows.setdefault(key, [0, 0, 0])[index[what]] += int(value)
    return rows


def _persist(rows: dict[tuple, list[int]]) -> int:
    """Add the rows to ApiUsage (inside the caller's transaction); rows of a dataset, plan or organization deleted
    since the call are dropped. Returns the calls added."""
    if not rows:
        return 0
    datasets = set(Dataset.objects.filter(pk__in={k[2] for k in rows}).values_list("pk", flat=True))
    plans = set(ApiPlan.objects.filter(pk__in={k[1] for k in rows if k[1]}).values_list("pk", flat=True))
    organizations = set(Organization.objects.filter(pk__in={k[0] for k in rows if k[0]}).values_list("pk", flat=True))
    values, params = [], []
    for (organization, plan, dataset, table, day), (calls, errors, nbytes) in sorted(
        rows.items(), key=lambda kv: tuple(str(x) for x in kv[0])
    ):
        if (
            dataset not in datasets
            or (plan and plan not in plans)
            or (organization and organization not in organizations)
        ):
            continue
        values.append("(%s, %s, %s, %s, %s, %s, %s, %s)")
        params += [organization, plan, dataset, table[:63], day, calls, errors, nbytes]
    if not values:
        return 0
    table = ApiUsage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {table} (organization_id, plan_id, dataset_id, "table", day, calls, errors, bytes) '  # noqa: S608
            f"VALUES {', '.join(values)} "
            f'ON CONFLICT (organization_id, plan_id, dataset_id, "table", day) DO UPDATE SET '
            f"calls = {table}.calls + EXCLUDED.calls, errors = {table}.errors + EXCLUDED.errors, "
            f"bytes = {table}.bytes + EXCLUDED.bytes",
            params,
        )
    return sum(params[5::8])


def usage_flush() -> dict:
    """Persist every pending batch of usage counters (see the module's docstring). Idempotent, safe to overlap."""
    r = metering.client()
    batch = f"dapi:usage:batch:{uuid.uuid4().hex}"
    pending = r.eval(_ROTATE, 2, metering.USAGE_KEY, metering.PENDING_KEY, batch)
    added = batches = 0
    for name in sorted(p.decode() for p in pending):
        raw = r.hgetall(name)
        done = False
        try:
            with transaction.atomic():
                ApiUsageFlush.objects.create(batch=name)
                added += _persist(_rows(raw))
            done = True
            batches += 1
        except IntegrityError:
            done = ApiUsageFlush.objects.filter(batch=name).exists()  # another run persisted it
        if done:
            r.delete(name)
            r.srem(metering.PENDING_KEY, name)
    return {"batches": batches, "calls": added}
