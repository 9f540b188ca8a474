"""사업자등록번호 (business registration number) rules, see shared/reference/korea.md §1.

Format errors are refused. The check digit is only *reported*: numbers that exist in the
real world fail it, so a failure is a flag for the verifying admin, never a refusal.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.kr import brn as stdnum_brn

_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
_ALLOWED = re.compile(r"^[0-9\-\s]+$")


def normalize(value: str) -> str:
    """Digits only: `116-82-00276` → `1168200276`. Raises ValidationError on a bad format."""
    raw = (value or "").strip()
    if not raw or not _ALLOWED.match(raw):
        raise ValidationError(
            _("Enter the business registration number as 10 digits, e.g. 123-45-67891."), code="brn_format"
        )
    digits = re.sub(r"[\-\s]", "", raw)
    if len(digits) != 10:
        raise ValidationError(
            _("A business registration number has exactly 10 digits (you entered %(n)d)."),
            code="brn_length",
            params={"n": len(digits)},
        )
    try:
        # python-stdnum checks the parts that are never issued (prefix < 101, 00 middle, 0000 serial);
        # it deliberately skips the check digit.
        stdnum_brn.validate(digits)
    except StdnumError as exc:
        raise ValidationError(
            _("This is not a business registration number that can be issued (check the digits)."),
            code="brn_component",
        ) from exc
    return digits


def checksum_ok(digits: str) -> bool:
    """The National Tax Service check digit (weights 1,3,7,1,3,7,1,3,5 plus floor(d9*5/10))."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    d = [int(c) for c in digits]
    total = sum(w * x for w, x in zip(_WEIGHTS, d[:9]))
    total += (d[8] * 5) // 10
    return (10 - total % 10) % 10 == d[9]


def format_brn(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}" if digits and len(digits) == 10 else digits or ""
