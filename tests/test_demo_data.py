import pytest
from django.core.management import call_command

from accounts.models import Membership, Organization, User
from core.models import AuditEvent


@pytest.mark.django_db
def test_demo_data_loads_once_and_is_idempotent(reference_data, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", verbosity=0)
    counts = (
        User.objects.count(),
        Organization.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
    )
    call_command("load_demo", verbosity=0)
    assert (
        User.objects.count(),
        Organization.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
    ) == counts
    assert Organization.objects.filter(org_type="city_department", verification="verified").count() >= 5
    assert Organization.objects.filter(kind__in=["consumer", "both"]).count() == 3
    assert User.objects.filter(is_staff=True).exists()
    assert "demo-pass-2026" in (tmp_path / "demo_logins.txt").read_text()
    # The air-quality dataset is described column by column, and its second version inherited it.
    from catalog.models import DataFile  # catalog after accounts: the demo's datasets

    files = DataFile.objects.filter(version__dataset__slug="siheung-air-quality", table_schema__isnull=False)
    assert [f.version.number for f in files.order_by("version__number")] == [1, 2]
    for f in files:
        assert f.dictionary["미세먼지(㎍/㎥)"]["unit"] == "㎍/㎥"


def test_demo_data_mails_nobody(celery_worker, reference_data, settings, tmp_path, mailoutbox):
    """Registrations, verifications and approvals in the demo are real and audited, but no one gets mail."""
    import time

    from catalog.models import DatasetVersion

    settings.VAR_DIR = tmp_path
    call_command("load_demo", verbosity=0)
    time.sleep(1)  # let the worker drain what was queued (check tasks that find their files already checked)
    assert mailoutbox == []
    assert AuditEvent.objects.filter(action="organization.verified").count() == Organization.objects.count()
    assert DatasetVersion.objects.filter(state="published").count() >= 29
    assert DatasetVersion.objects.filter(state="submitted").count() == 1  # one waits in the review queue
    assert DatasetVersion.objects.filter(state="superseded").count() == 1
    # The live air-quality feed is live and offers the three data API plans (issue 16).
    from catalog.models import Offer

    kinds = set(Offer.objects.filter(dataset__slug="siheung-air-live", active=True).values_list("kind", flat=True))
    assert {"api_dev", "api_metered", "api_subscription"} <= kinds
    assert Offer.objects.get(dataset__slug="siheung-air-live", kind="api_dev").daily_quota == 1000
