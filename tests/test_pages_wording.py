"""Pages that said what is not so (issue 13): wording checked on the pages people read."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from catalog.models import DatasetVersion
from catalog.templatetags.catalog_tags import contract_label
from core.templatetags.time_tags import under_a_minute

pytestmark = pytest.mark.django_db
KO_PO = Path(__file__).resolve().parent.parent / "locale" / "ko" / "LC_MESSAGES" / "django.po"


def test_staff_home_counts_datasets_waiting_for_review(login, admin_user, draft):
    DatasetVersion.objects.filter(pk=draft.pk).update(state="submitted", submitted_at=timezone.now())
    page = login(admin_user).get(reverse("staff:home")).content.decode()
    card = page.split('id="dataset-review-card"')[1].split("</li>")[0]
    assert "1건 대기 중" in card
    assert f'href="{reverse("catalog:review_queue")}"' in card


def test_no_number_is_followed_by_a_double_particle():
    """'버전 2을(를)': a number's particle cannot be fixed in a translation, so the sentences avoid one."""
    text = KO_PO.read_text(encoding="utf-8")
    doubled = re.findall(r"%\((?:n|number)\)s(?:을\(를\)|이\(가\)|은\(는\))", text)
    assert doubled == []


def test_a_version_submitted_seconds_ago_is_just_requested(login, official, draft):
    DatasetVersion.objects.filter(pk=draft.pk).update(state="submitted", submitted_at=timezone.now())
    page = login(official).get(reverse("catalog:version_submission", args=[draft.pk])).content.decode()
    assert "방금 심사 요청됨" in page and "0분째" not in page
    DatasetVersion.objects.filter(pk=draft.pk).update(submitted_at=timezone.now() - timedelta(hours=3))
    page = login(official).get(reverse("catalog:version_submission", args=[draft.pk])).content.decode()
    assert "3시간째 심사 대기 중" in page


def test_under_a_minute():
    now = timezone.now()
    assert under_a_minute(now - timedelta(seconds=59)) and not under_a_minute(now - timedelta(seconds=61))
    assert not under_a_minute(None)


def test_remember_me_says_it_keeps_you_signed_in(client):
    page = client.get(reverse("account_login")).content.decode()
    assert "로그인 상태 유지" in page and "아이디 저장" not in page


def test_account_mail_greets_with_the_portals_name(client, outsider):
    client.post(reverse("account_reset_password"), {"email": outsider.email})
    body = mail.outbox[-1].body
    assert body.startswith("안녕하세요, 시흥 데이터거래소입니다.")
    assert "testserver입니다" not in body


def test_an_empty_search_without_filters_does_not_mention_filters(client, reference_data):
    page = client.get(reverse("catalog:index"), {"q": "없는단어"}).content.decode()
    assert "“없는단어”에 맞는 데이터셋이 없습니다." in page
    assert "이 필터 조건" not in page


def test_the_contract_type_of_an_order_line_follows_the_readers_language():
    terms = {"contract_type": "provision", "contract_label": "데이터 제공형"}  # stored at a Korean purchase
    with translation.override("en"):
        assert contract_label(terms) == "Data provision (제공형)"
    with translation.override("ko"):
        assert contract_label(terms) == "데이터 제공형"
    assert contract_label({"contract_label": "옛 표시"}) == "옛 표시"


def test_an_organization_registered_seconds_ago_was_asked_just_now(login, outsider):
    from tests.accounts.test_organizations import ORG

    response = login(outsider).post(
        reverse("accounts:organization_register"), {**ORG, "brn": "211-86-08983", "parent": ""}, follow=True
    )
    page = response.content.decode()
    assert "(방금 요청)" in page and "0분 전" not in page
