"""A new version starts from the published one with its description AND its files (issue 13): each file
is carried over (the same stored object, its checks kept), can be replaced or removed without touching the
published bytes; asking twice gives one draft; only the owning organization's publishers may do it; the
action is on the published version's page and on the dataset list."""

import io
import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.urls import reverse

from catalog import selectors, services
from catalog.models import DataFile, DatasetVersion, Licence
from catalog.tasks import datafile_check_task
from core.errors import NotAllowed
from core.models import AuditEvent

S = DatasetVersion.State

AIR = "측정소명,측정일시,미세먼지\n" + "".join(f"정왕동,2024-06-01 {h:02d}:00,{20 + h}\n" for h in range(24))
PLACES = "측정소명,주소\n정왕동,시흥시 정왕동\n대야동,시흥시 대야동\n"


def _upload(actor, version, name, text, replaces=None):
    data = text.encode("utf-8")
    extra = {"replaces": replaces} if replaces is not None else {}
    upload = services.upload_create(actor=actor, version=version, filename=name, length=len(data), **extra)
    services.upload_append(actor=actor, upload=upload, offset=0, stream=io.BytesIO(data))
    for datafile in DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING):
        datafile_check_task.apply(args=[datafile.pk])
    version.refresh_from_db()
    return version


def _publish(official, admin_user, draft):
    _upload(official, draft, "대기질.csv", AIR)
    _upload(official, draft, "측정소.csv", PLACES)
    services.offer_create(actor=official, dataset=draft.dataset, kind="free")
    services.version_update_metadata(actor=official, version=draft, licence=Licence.objects.get(code="kogl-1"))
    services.version_submit(actor=official, version=draft)
    services.version_approve(actor=admin_user, version=draft)
    draft.refresh_from_db()
    assert draft.state == S.PUBLISHED
    return draft


@pytest.mark.django_db
def test_a_new_version_carries_every_file_with_its_checks(official, admin_user, draft):
    published = _publish(official, admin_user, draft)
    second = services.version_start_new(actor=official, dataset=published.dataset, change_note="2025년 자료 추가")
    old_files = {f.original_name: f for f in published.files.all()}
    new_files = {f.original_name: f for f in second.files.all()}
    assert set(new_files) == {"대기질.csv", "측정소.csv"}
    # Every field of the row is carried (copied generically, so a field added later is too), except what
    # belongs to the row itself.
    row_fields = {"id", "version", "parent", "predecessor", "created_at"}
    for name, new in new_files.items():
        old = old_files[name]
        for field in DataFile._meta.concrete_fields:
            if field.name not in row_fields:
                assert getattr(new, field.attname) == getattr(old, field.attname), (name, field.name)
        assert new.file.name == old.file.name  # the same stored object: nothing uploaded or copied
        assert (new.predecessor_id, new.is_carried, new.check_state) == (old.pk, True, DataFile.Check.PASSED)
    # Already checked: nothing is queued again, and the new version is ready to submit at once.
    assert second.state == S.READY
    assert selectors.version_lineage(second) == {"from": 1, "carried": 2, "replaced": 0}
    event = AuditEvent.objects.get(action="version.started")
    assert event.data == {"from": 1, "files": 2}


@pytest.mark.django_db
def test_zip_members_are_carried_under_their_new_archive(official, admin_user, draft):
    published = _publish(official, admin_user, draft)
    archive = DataFile.objects.create(
        version=published, file="datasets/t/a.zip", original_name="a.zip", format="zip", size=1, sha256="z" * 64
    )
    DataFile.objects.create(
        version=published, parent=archive, file="datasets/t/m.csv", original_name="m.csv", format="csv", size=1
    )
    second = services.version_start_new(actor=official, dataset=published.dataset, change_note="x")
    member = second.files.get(original_name="m.csv")
    assert member.parent.version_id == second.pk and member.parent.original_name == "a.zip"


@pytest.mark.django_db
def test_sheets_of_a_workbook_inside_a_zip_are_carried_under_their_new_workbook(official, admin_user, draft):
    # Three levels: an archive, a workbook in it, the workbook's sheet tables (a member of a member).
    published = _publish(official, admin_user, draft)
    archive = DataFile.objects.create(
        version=published, file="datasets/t/b.zip", original_name="b.zip", format="zip", size=1, sha256="z" * 64
    )
    book = DataFile.objects.create(
        version=published, parent=archive, file="datasets/t/b.xlsx", original_name="b.xlsx", format="xlsx", size=1
    )
    for name in ("1월", "2월"):
        DataFile.objects.create(version=published, parent=book, original_name=name, format="xlsx", size=0)
    second = services.version_start_new(actor=official, dataset=published.dataset, change_note="x")
    sheets = second.files.filter(original_name__in=["1월", "2월"]).select_related("parent__parent")
    assert sheets.count() == 2
    for sheet in sheets:
        assert sheet.parent.original_name == "b.xlsx" and sheet.parent.version_id == second.pk
        assert sheet.parent.parent.original_name == "b.zip" and sheet.parent.parent.version_id == second.pk


@pytest.mark.django_db
def test_removing_or_replacing_a_carried_file_leaves_the_published_bytes(
    official, admin_user, draft, django_capture_on_commit_callbacks
):
    published = _publish(official, admin_user, draft)
    air, places = (published.files.get(original_name=n) for n in ("대기질.csv", "측정소.csv"))
    second = services.version_start_new(actor=official, dataset=published.dataset, change_note="측정소 정리")

    with django_capture_on_commit_callbacks(execute=True):
        services.datafile_remove(actor=official, datafile=second.files.get(original_name="측정소.csv"))
    assert default_storage.exists(places.file.name)  # version 1 still has its bytes
    assert not second.files.filter(original_name="측정소.csv").exists()

    carried_air = second.files.get(original_name="대기질.csv")
    with django_capture_on_commit_callbacks(execute=True):
        _upload(official, second, "대기질_2025.csv", AIR + "정왕동,2025-01-01 00:00,31\n", replaces=carried_air)
    assert default_storage.exists(air.file.name)
    assert list(second.files.values_list("original_name", flat=True)) == ["대기질_2025.csv"]
    replacement = second.files.get()
    assert (replacement.predecessor_id, replacement.is_carried, replacement.row_count) == (air.pk, False, 25)
    assert replacement.file.name != air.file.name
    assert AuditEvent.objects.filter(action="datafile.replaced", data__name="대기질.csv").count() == 1

    # A file of the draft's own (not carried) is deleted from storage when removed.
    with django_capture_on_commit_callbacks(execute=True):
        services.datafile_remove(actor=official, datafile=replacement)
    assert not default_storage.exists(replacement.file.name)
    assert default_storage.exists(air.file.name)


@pytest.mark.django_db
def test_uploading_a_carried_files_name_again_replaces_it(
    official, admin_user, draft, django_capture_on_commit_callbacks
):
    published = _publish(official, admin_user, draft)
    air = published.files.get(original_name="대기질.csv")
    second = services.version_start_new(actor=official, dataset=published.dataset, change_note="7월 자료")
    with django_capture_on_commit_callbacks(execute=True):
        _upload(official, second, "대기질.csv", AIR + "정왕동,2024-07-01 00:00,33\n")
    names = sorted(second.files.values_list("original_name", flat=True))
    assert names == ["대기질.csv", "측정소.csv"]  # replaced, not a second 대기질.csv
    assert second.files.get(original_name="대기질.csv").predecessor_id == air.pk
    assert default_storage.exists(air.file.name)


@pytest.mark.django_db
def test_a_replacement_must_name_a_file_of_the_version(official, admin_user, draft):
    published = _publish(official, admin_user, draft)
    second = services.version_start_new(actor=official, dataset=published.dataset, change_note="x")
    from core.errors import DomainError

    with pytest.raises(DomainError):
        services.upload_create(
            actor=official, version=second, filename="a.csv", length=3, replaces=published.files.first()
        )


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_start_one_draft(official, admin_user, draft):
    # File rows written directly: no check task may be queued for a worker this test does not run.
    for name in ("대기질.csv", "측정소.csv"):
        DataFile.objects.create(
            version=draft, file=f"datasets/t/{name}", original_name=name, format="csv", size=1, check_state="passed"
        )
    services._refresh_version_state(draft)
    services.offer_create(actor=official, dataset=draft.dataset, kind="free")
    services.version_update_metadata(actor=official, version=draft, licence=Licence.objects.get(code="kogl-1"))
    services.version_submit(actor=official, version=draft)
    published = services.version_approve(actor=admin_user, version=draft)
    url = reverse("catalog:version_start_new", args=[published.pk])
    barrier = threading.Barrier(20)
    answers = []

    def ask():
        client = Client()
        client.force_login(official)
        barrier.wait()
        try:
            response = client.post(url, {"change_note": "동시에 누름"})
            answers.append((response.status_code, response.headers.get("Location")))
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drafts = DatasetVersion.objects.filter(dataset=published.dataset).exclude(pk=published.pk)
    assert drafts.count() == 1
    target = reverse("catalog:version", args=[drafts.get().pk])
    assert answers == [(302, target)] * 20  # every request lands on the one draft
    assert drafts.get().files.count() == 2
    assert AuditEvent.objects.filter(action="version.started").count() == 1


@pytest.mark.django_db
def test_only_publishers_of_the_owning_organization_start_a_new_version(
    login, official, buyer, admin_user, draft, client
):
    from accounts.models import Membership
    from tests.conftest import make_user

    published = _publish(official, admin_user, draft)
    url = reverse("catalog:version_start_new", args=[published.pk])
    # A buyer of the same organization, a company's member, and a platform admin: none may.
    colleague = make_user("buyer.env@siheung.test")
    Membership.objects.create(user=colleague, organization=official.active_organization, role=Membership.Role.BUYER)
    colleague.active_organization = official.active_organization
    colleague.save(update_fields=["active_organization"])
    for user in (colleague, buyer, admin_user):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"change_note": "x"}).status_code == 403
        with pytest.raises(NotAllowed):
            services.version_start_new(actor=user, dataset=published.dataset, change_note="x")
    assert DatasetVersion.objects.filter(dataset=published.dataset).count() == 1


@pytest.mark.django_db
def test_the_action_is_on_the_dataset_list_and_the_published_version(login, official, admin_user, draft):
    published = _publish(official, admin_user, draft)
    client = login(official)
    start_url = reverse("catalog:version_start_new", args=[published.pk])
    assert start_url in client.get(reverse("catalog:provider_home")).content.decode()
    page = client.get(reverse("catalog:version", args=[published.pk])).content.decode()
    assert 'id="start-new-version"' in page and start_url in page
    # The page says what comes over, then the draft says which files came from version 1.
    confirm = client.get(start_url).content.decode()
    assert "대기질.csv" in confirm and "측정소.csv" in confirm
    response = client.post(start_url, {"change_note": "2025년 자료 추가"})
    second = DatasetVersion.objects.get(dataset=published.dataset, number=2)
    assert response.headers["Location"] == reverse("catalog:version", args=[second.pk])
    draft_page = client.get(response.headers["Location"]).content.decode()
    assert 'id="carried-files"' in draft_page
    assert draft_page.count('data-lineage="carried"') == 2
    assert "버전 1에서 가져옴" in draft_page
    assert 'data-replaces="' in draft_page  # a "Replace" control per file
    # The published version's page now points at the version in progress instead.
    page = client.get(reverse("catalog:version", args=[published.pk])).content.decode()
    assert 'id="open-version-link"' in page and 'id="start-new-version"' not in page


@pytest.mark.django_db
def test_a_member_or_sheet_cannot_be_removed_alone(official, admin_user, draft):
    # Buyers receive the archive or the workbook whole: its parts go with it, never one by one.
    from core.errors import DomainError  # only here

    published = _publish(official, admin_user, draft)
    second = services.version_start_new(actor=official, dataset=published.dataset, change_note="x")
    book = DataFile.objects.create(
        version=second, file="datasets/t/c.xlsx", original_name="c.xlsx", format="xlsx", size=1
    )
    sheet = DataFile.objects.create(version=second, parent=book, original_name="1월", format="xlsx", size=0)
    with pytest.raises(DomainError) as refused:
        services.datafile_remove(actor=official, datafile=sheet)
    assert refused.value.code == "datafile_member" and "c.xlsx" in str(refused.value.message)
    assert DataFile.objects.filter(pk=sheet.pk).exists()
