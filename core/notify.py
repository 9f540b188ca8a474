"""E-mail after commit and the site's absolute URLs."""

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from core.tasks import send_email_task
from core.text import tidy_sentence

_muted: ContextVar[bool] = ContextVar("notifications_muted", default=False)


@contextmanager
def notifications_muted():
    """Send no notification e-mail inside this block (bulk loads such as the demo data)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def email_on_commit(*, to: list[str], template: str, context: dict, language: str = "ko") -> None:
    """Render `templates/<template>_subject.txt` and `_body.txt` now; send once the transaction commits.

    Rendering happens in the caller so the worker needs no template context; sending happens in the
    worker so a slow SMTP server never holds a request or a database transaction.
    """
    recipients = sorted({addr for addr in to if addr})
    if not recipients or _muted.get():
        return
    with translation.override(language):
        subject = tidy_sentence(" ".join(render_to_string(f"{template}_subject.txt", context).split()))
        body = tidy_sentence(render_to_string(f"{template}_body.txt", context))
    transaction.on_commit(lambda: send_email_task.delay(subject=subject, body=body, to=recipients))


def site_url(path: str) -> str:
    """The absolute address of `path` on this site (SITE_URL, not the request's Host header): links in
    e-mails, canonical URLs and metadata name one site."""
    return settings.SITE_URL.rstrip("/") + path
