"""Development e-mail: printed to the console and kept as files a tester can read.

Each message is written to EMAIL_FILE_PATH as `<timestamp>-<id>.eml`; the dev mailbox
page (/dev/mail/) lists them. Production uses SMTP (EMAIL_MODE=smtp).
"""

import re
import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.translation import gettext

# A link is one-time (a password reset, an e-mail confirmation, an invitation) when the portal's URL
# pattern it resolves to takes one of these: whoever holds the link acts as the addressee.
ONE_TIME_URL_KWARGS = frozenset({"key", "token", "uidb36", "uidb64"})
SECRET_QUERY_PARAMS = frozenset({"key", "token", "code", "signature", "sig"})
_LINK = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"


class ConsoleAndFileBackend(BaseEmailBackend):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.console = ConsoleBackend(*args, **kwargs)

    def send_messages(self, email_messages):
        if not email_messages:
            return 0
        folder = Path(settings.EMAIL_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            name = f"{timezone.now():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
            (folder / name).write_bytes(message.message().as_bytes())
        self.console.send_messages(email_messages)
        return len(email_messages)


def is_one_time_link(url: str) -> bool:
    parts = urlsplit(url)
    if any(name.lower() in SECRET_QUERY_PARAMS for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return True
    try:
        match = resolve(parts.path or "/")
    except Resolver404:
        return False
    return bool(ONE_TIME_URL_KWARGS & set(match.kwargs))


def hide_one_time_links(text: str) -> tuple[str, int]:
    """The text with its one-time links replaced by a placeholder, and how many were hidden."""
    hidden = 0

    def replace(found):
        nonlocal hidden
        link = found.group(0).rstrip(_TRAILING)  # "…/key/abc/." ends a sentence, not the link
        if not is_one_time_link(link):
            return found.group(0)
        hidden += 1
        return gettext("[one-time link hidden]") + found.group(0)[len(link) :]

    return _LINK.sub(replace, text), hidden


def dev_mailbox(limit: int = 50, *, show_one_time_links: bool = False) -> list[dict]:
    """The newest dev e-mails, parsed, for the dev mailbox page; one-time links hidden unless asked for."""
    folder = Path(settings.EMAIL_FILE_PATH)
    if not folder.is_dir():
        return []
    messages = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:limit]:
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        part = msg.get_body(preferencelist=("plain", "html"))
        body, hidden = part.get_content() if part else "", 0
        if not show_one_time_links:
            body, hidden = hide_one_time_links(body)
        messages.append(
            {
                "id": path.stem,
                "to": msg["To"],
                "subject": msg["Subject"],
                "date": msg["Date"],
                "body": body,
                "hidden_links": hidden,
            }
        )
    return messages
