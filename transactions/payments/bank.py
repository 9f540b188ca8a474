"""Bank transfer (무통장입금): the buyer pays into the operator's account, an admin confirms the deposit.

There is no gateway to call: the order page shows the account (settings.BANK_TRANSFER_ACCOUNT), the
exact amount and the deadline (settings.BANK_TRANSFER_DAYS after the buyer chose bank transfer); the
platform admin compares the bank statement with the list of orders waiting for a deposit and confirms
receipt with the depositor's name (services.bank_transfer_confirm). An order not paid by its deadline
is cancelled by the overdue-orders task. Matching statements automatically (popbill EasyFinBank, or a
bank's own API) would feed the same confirm service.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

NAME = "bank"  # Payment.adapter


@dataclass(frozen=True)
class BankAccount:
    bank: str
    number: str
    holder: str

    def __str__(self):
        return f"{self.bank} {self.number} ({self.holder})"


def transfer_account() -> BankAccount:
    account = settings.BANK_TRANSFER_ACCOUNT
    return BankAccount(bank=account["bank"], number=account["number"], holder=account["holder"])


def deposit_deadline(start: datetime | None = None) -> datetime:
    """Until when a deposit is expected: BANK_TRANSFER_DAYS days from now, at the end of that day (Seoul time)."""
    start = timezone.localtime(start or timezone.now())
    last_day = start + timedelta(days=settings.BANK_TRANSFER_DAYS)
    return last_day.replace(hour=23, minute=59, second=59, microsecond=0)
