import os
import socket

from celery import shared_task


@shared_task(name="marketplace.tasks.ping_task")
def ping_task(value: int) -> dict:
    """Round trip used by the health check tests: proves a real worker ran it, on a real broker."""
    return {"value": value * 2, "pid": os.getpid(), "host": socket.gethostname()}
