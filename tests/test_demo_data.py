import pytest
from django.core.management import call_command

from accounts.models import AuditEvent, Membership, Organization, User


@pytest.mark.django_db
def test_demo_data_loads_once_and_is_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", verbosity=0)
    counts = (User.objects.count(), Organization.objects.count(), Membership.objects.count(), AuditEvent.objects.count())
    call_command("load_demo", verbosity=0)
    assert (User.objects.count(), Organization.objects.count(), Membership.objects.count(), AuditEvent.objects.count()) == counts
    assert Organization.objects.filter(org_type="city_department", verification="verified").count() >= 5
    assert Organization.objects.filter(kind__in=["consumer", "both"]).count() == 3
    assert User.objects.filter(is_staff=True).exists()
    assert "demo-pass-2026" in (tmp_path / "demo_logins.txt").read_text()


@pytest.mark.django_db
def test_demo_data_mails_nobody(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.VAR_DIR = tmp_path
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("load_demo", verbosity=0)
    assert callbacks == []
    assert AuditEvent.objects.filter(action="organization.verified").count() == Organization.objects.count()
