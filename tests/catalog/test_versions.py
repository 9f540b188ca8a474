import itertools

import pytest
from django.urls import reverse

from catalog import services
from catalog.models import DatasetVersion, Review
from catalog.states import VERSION_TRANSITIONS
from core.errors import DomainError, IllegalTransition, NotAllowed
from core.transitions import transition

pytestmark = pytest.mark.django_db
S = DatasetVersion.State


def test_every_illegal_transition_raises(draft):
    """All moves outside the table are refused; the table's own moves are the only ones allowed."""
    for old, new in itertools.product(S.values, S.values):
        DatasetVersion.objects.filter(pk=draft.pk).update(state=old)
        draft.refresh_from_db()
        if new in VERSION_TRANSITIONS[old]:
            transition(draft, to=new, actor=None)
            assert DatasetVersion.objects.get(pk=draft.pk).state == new
        else:
            with pytest.raises(IllegalTransition):
                transition(draft, to=new, actor=None)
            assert DatasetVersion.objects.get(pk=draft.pk).state == old


def test_submitted_versions_are_frozen(official, draft):
    DatasetVersion.objects.filter(pk=draft.pk).update(state=S.SUBMITTED)
    draft.refresh_from_db()
    with pytest.raises(DomainError) as exc:
        services.version_update_metadata(actor=official, version=draft, title_ko="바꾼 제목")
    assert exc.value.code == "version_frozen"
    with pytest.raises(DomainError):
        services.upload_create(actor=official, version=draft, filename="a.csv", length=10)
    assert DatasetVersion.objects.get(pk=draft.pk).title_ko == "시흥시 대기질 측정 자료"


def test_new_version_is_a_draft_copy_of_the_published_one(official, draft):
    with pytest.raises(DomainError):
        services.version_start_new(actor=official, dataset=draft.dataset, change_note="x")  # nothing published yet
    DatasetVersion.objects.filter(pk=draft.pk).update(state=S.PUBLISHED)
    second = services.version_start_new(actor=official, dataset=draft.dataset, change_note="2025년 자료 추가")
    assert (second.number, second.state, second.title_ko, second.tags) == (
        2,
        S.DRAFT,
        draft.title_ko,
        ["미세먼지", "대기질"],
    )
    # Asking again (a double click) gives the same draft, not a second one and not an error.
    again = services.version_start_new(actor=official, dataset=draft.dataset, change_note="again")
    assert (again.pk, again.started_now, second.started_now) == (second.pk, False, True)


def test_only_the_publishers_organization_sees_its_versions(login, official, buyer, draft):
    assert login(official).get(reverse("catalog:version", args=[draft.pk])).status_code == 200
    assert login(buyer).get(reverse("catalog:version", args=[draft.pk])).status_code == 403
    with pytest.raises(NotAllowed):
        services.version_update_metadata(actor=buyer, version=draft, title_ko="x")


def test_reviews_are_append_only(official, draft):
    review = services.review_record(version=draft, action=Review.Action.SUBMIT, actor=official)
    with pytest.raises(PermissionError):
        review.save()
    with pytest.raises(PermissionError):
        review.delete()


def test_dataset_form_creates_a_draft(login, official):
    from catalog.models import Theme

    response = login(official).post(
        reverse("catalog:dataset_create"),
        {
            "title_ko": "복지시설 현황",
            "description_ko": "시흥시 사회복지시설 목록",
            "theme": Theme.objects.get(code="welfare").pk,
            "tags": "복지, 시설",
            "data_kind": "public",
            "contact_name": "윤하은",
            "contact_phone": "031-310-2114",
            "contact_email": "w@siheung.test",
            "update_cadence": "yearly",
            "spatial_bbox": "126.7, 37.3, 126.9, 37.45",
        },
    )
    assert response.status_code == 302
    version = DatasetVersion.objects.get(title_ko="복지시설 현황")
    assert (
        version.state == S.DRAFT
        and version.tags == ["복지", "시설"]
        and version.spatial_bbox == [126.7, 37.3, 126.9, 37.45]
    )
    assert version.dataset.publisher == official.active_organization


def test_review_rows_cannot_be_changed_even_with_sql(official, draft):
    from django.db import connection, transaction
    from django.db.utils import InternalError, ProgrammingError

    services.review_record(version=draft, action=Review.Action.SUBMIT, actor=official, reason="원래 사유")
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE catalog_review SET reason = 'x'")
    assert Review.objects.get().reason == "원래 사유"
