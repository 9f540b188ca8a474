"""A domain error is built lazily, so the API can give it in Korean and in English (core.api.errors.in_both)."""

import pytest

from catalog.services import versions as version_services
from core.api.errors import in_both
from core.errors import DomainError

pytestmark = pytest.mark.django_db


def test_a_formatted_domain_error_renders_in_both_languages(draft, official):
    type(draft).objects.filter(pk=draft.pk).update(state="published")
    with pytest.raises(DomainError) as refused:
        version_services.version_update_metadata(actor=official, version=draft, title_ko="새 제목")
    both = in_both(refused.value.message)
    assert "게시됨" in both["message_ko"] or "“" in both["message_ko"]
    assert both["message_en"].startswith("This version is")
    assert "Published" in both["message_en"] or "published" in both["message_en"]
    assert both["message_ko"] != both["message_en"]


def test_who_may_buy_refusals_render_in_both_languages(official):
    from accounts.selectors import buyer_refusal

    refusal = buyer_refusal(official, official.active_organization)  # a provider department cannot buy
    both = in_both(refusal.message)
    assert refusal.code == "not_consumer"
    assert "환경정책과" in both["message_ko"] and "Environmental Policy Division" in both["message_en"]
    assert both["message_ko"] != both["message_en"]
