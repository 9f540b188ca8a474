"""Refunding is a platform admin's power: through an API key it needs the key's admin scope, like every other admin
power (accounts.permissions.SCOPE_OF_PERM), whichever service is called."""

import pytest

from accounts.models import ApiToken
from accounts.permissions import can
from core.errors import NotAllowed
from tests.api.test_money import dataset, order  # noqa: F401
from transactions.models import Refund
from transactions.refunds import services as refunds

pytestmark = pytest.mark.django_db


def as_key(user, make_key, scopes):
    make_key(user, scopes, organization=None)
    user.api_token = ApiToken.objects.filter(user=user).latest("pk")
    return user


def test_a_staff_key_without_the_admin_scope_cannot_refund(admin_user, make_key, order):  # noqa: F811
    reader = as_key(admin_user, make_key, ("read",))
    assert not can(reader, "transactions.refund")
    with pytest.raises(NotAllowed):
        refunds.refund_create(actor=reader, order=order, reason="키로")
    assert not Refund.objects.exists()


def test_a_staff_key_with_the_admin_scope_can_refund(admin_user, make_key, order):  # noqa: F811
    admin = as_key(admin_user, make_key, ("read", "admin"))
    assert can(admin, "transactions.refund")
    refund = refunds.refund_create(actor=admin, order=order, reason="키로")
    assert refund.amount_krw == order.total_krw
