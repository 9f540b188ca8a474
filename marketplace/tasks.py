from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail


@shared_task(bind=True, max_retries=5, default_retry_delay=30, name="marketplace.tasks.send_email_task")
def send_email_task(self, *, subject: str, body: str, to: list[str]) -> int:
    try:
        return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    except OSError as exc:  # SMTP unreachable or refused: transient, retry with backoff
        raise self.retry(exc=exc, countdown=30 * (2**self.request.retries))


@shared_task(name="marketplace.tasks.ping_task")
def ping_task(value: int) -> dict:
    """Round trip used by the health check tests: proves a real worker ran it, on a real broker."""
    import os
    import socket

    return {"value": value * 2, "pid": os.getpid(), "host": socket.gethostname()}
