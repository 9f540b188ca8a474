"""The organization form: its example passes the checksum, a failing number is accepted with a word,
and only a city or public body can be chosen as the parent."""

import pytest
from django.urls import reverse

from accounts import brn as brn_rules
from accounts.forms import OrganizationForm
from accounts.models import Organization
from tests.accounts.test_organizations import ORG
from tests.conftest import make_org, make_user

pytestmark = pytest.mark.django_db


def test_the_hints_example_number_passes_the_checksum():
    hint = str(OrganizationForm().fields["brn"].help_text)
    example = hint.split("e.g. ")[1].split(".")[0] if "e.g. " in hint else hint.split("예: ")[1].split(")")[0]
    assert brn_rules.checksum_ok(brn_rules.normalize(example)), example


def test_a_failing_checksum_is_accepted_and_the_user_is_told(login, outsider):
    response = login(outsider).post(
        reverse("accounts:organization_register"), {**ORG, "brn": "123-45-67890", "parent": ""}, follow=True
    )
    org = Organization.objects.get(name_ko=ORG["name_ko"])
    assert org.brn == "1234567890" and org.brn_checksum_ok is False
    page = response.content.decode()
    assert "검증 숫자" in page and "플랫폼 관리자가 국세청" in page


def test_a_passing_number_gets_no_such_note(login, outsider):
    response = login(outsider).post(
        reverse("accounts:organization_register"), {**ORG, "brn": "211-86-08983", "parent": ""}, follow=True
    )
    assert "검증 숫자" not in response.content.decode()


def test_the_note_also_follows_an_edit(login, buyer):
    org = buyer.active_organization
    owner = org.memberships.get(role="owner").user
    data = {**ORG, "name_ko": org.name_ko, "kind": org.kind, "brn": "123-45-67890", "parent": ""}
    response = login(owner).post(reverse("accounts:organization_edit", args=[org.pk]), data, follow=True)
    assert "검증 숫자" in response.content.decode()


def test_parent_lists_only_cities_and_public_bodies(official, buyer):
    city = make_org(
        make_user("city@siheung.test"), name_ko="시흥시", name_en="Siheung", kind="provider", brn="1348310009",
        org_type="public_body",
    )  # fmt: skip
    choices = set(OrganizationForm().fields["parent"].queryset)
    assert city in choices
    assert buyer.active_organization not in choices  # a verified company
