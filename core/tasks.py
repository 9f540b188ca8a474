"""Tasks every app uses: sending e-mail (queued by core.notify.email_on_commit)."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail


@shared_task(bind=True, max_retries=5, default_retry_delay=30, name="core.tasks.send_email_task")
def send_email_task(self, *, subject: str, body: str, to: list[str]) -> int:
    try:
        return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    except OSError as exc:  # SMTP unreachable or refused: transient, retry with backoff
        raise self.retry(exc=exc, countdown=30 * (2**self.request.retries))
