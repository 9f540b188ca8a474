"""Harvest tasks (scaffold of the contract: C1 replaces this module with the real, leased, resumable run)."""

from celery import shared_task


@shared_task(name="catalog.harvest.tasks.harvest_run")
def harvest_run(run_id: int) -> None:
    raise NotImplementedError("catalog.harvest.tasks.harvest_run is being built (issue 17)")
