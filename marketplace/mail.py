"""Development e-mail: printed to the console and kept as files a tester can read.

Each message is written to EMAIL_FILE_PATH as `<timestamp>-<id>.eml`; the dev mailbox
page (/dev/mail/) lists them. Production uses SMTP (EMAIL_MODE=smtp).
"""

import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.utils import timezone


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


def dev_mailbox(limit: int = 50) -> list[dict]:
    """The newest dev e-mails, parsed, for the dev mailbox page."""
    folder = Path(settings.EMAIL_FILE_PATH)
    if not folder.is_dir():
        return []
    messages = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:limit]:
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        body = msg.get_body(preferencelist=("plain", "html"))
        messages.append(
            {
                "id": path.stem,
                "to": msg["To"],
                "subject": msg["Subject"],
                "date": msg["Date"],
                "body": body.get_content() if body else "",
            }
        )
    return messages
