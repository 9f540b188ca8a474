"""Object-level access (IDOR): B (another department, another company, and their API keys) never reaches A's objects
by id, slug, number or token: drafts, files, uploads, check results, offers, orders, payments, documents (PDF),
refunds, subscriptions, packages and download links, API plans and usage, webhooks, statements, invitations,
memberships, API keys, security keys, and the data API's rows of a dataset A's company bought.

Every URL pattern with a parameter must be in IDOR (or be an /api/v1 operation of the schema: there
tests/api/test_permission_matrix.py calls each with B's keys and checks 403/404 and that A's secrets never show).
The paths, methods and bodies are the permission matrix's rows (test_url_matrix.MATRIX), filled with A's objects.
Expected for B: 403 or 404 (a key on a page is no sign-in: the sign-in redirect), never 200 nor a redirect that
acts, and never A's draft title, A's company's billing name or A's company's name in the body."""

import re

import pytest
from django.db import transaction

from accounts.models import Membership
from tests.access.test_url_matrix import ADMIN_SITE, MATRIX, _fill, _path
from tests.access.urls import call, every_pattern, outcome
from tests.access.world import (  # noqa: F401 (access_world is a fixture)
    B_KEYS,
    BUYER_SECRET,
    PROVIDER_SECRET,
    access_world,
)
from tests.api.world import document

pytestmark = pytest.mark.django_db

B_SESSIONS = ("other_publisher", "other_buyer")
REFUSED = {"403", "404", "401", "L"}  # L: a key on a page is no sign-in, so B's key is sent to sign in
PUBLIC = "public"  # B may read it: the object is public (the catalog), or the path names B's own thing

# Pattern → REFUSED (B must be refused) or (PUBLIC, why).
IDOR: dict[str, object] = {
    # A's department: drafts, files, check results, uploads, offers, live tables
    "catalog:version": REFUSED,
    "catalog:version_edit": REFUSED,
    "catalog:version_submission": REFUSED,
    "catalog:version_licence": REFUSED,
    "catalog:version_submit": REFUSED,
    "catalog:version_reopen": REFUSED,
    "catalog:version_withdraw": REFUSED,
    "catalog:version_start_new": REFUSED,
    "catalog:offer_create": REFUSED,
    "catalog:offer_deactivate": REFUSED,
    "catalog:datafile": REFUSED,  # the file's check results and preview
    "catalog:datafile_dictionary": REFUSED,
    "catalog:datafile_remove": REFUSED,
    "catalog:upload": REFUSED,
    "catalog:live_enable": REFUSED,
    "catalog:live_state": REFUSED,
    "catalog:review_version": REFUSED,  # the review pages are the platform admins'
    "catalog:review_approve": REFUSED,
    "catalog:review_reject": REFUSED,
    "catalog:review_datafile": REFUSED,
    "catalog:dataset_suspend": REFUSED,
    "catalog:dataset_reinstate": REFUSED,
    "statements:statement": REFUSED,
    # A's organizations, members, invitations, keys
    "accounts:organization": REFUSED,
    "accounts:organization_edit": REFUSED,
    "accounts:invitation_create": REFUSED,
    "accounts:invitation_revoke": REFUSED,
    "accounts:membership_role": REFUSED,
    "accounts:membership_remove": REFUSED,
    "accounts:api_key_revoke": REFUSED,
    "mfa_remove_webauthn": REFUSED,
    "mfa_edit_webauthn": REFUSED,
    "accounts:invitation": (PUBLIC, "the token is the invitation's secret, e-mailed to the invitee; B cannot guess it"),
    # A's company: orders, payments, documents, refunds, subscriptions, packages, links, plans, webhooks
    "transactions:order": REFUSED,
    "transactions:order_live": REFUSED,
    "transactions:order_cancel": REFUSED,
    "transactions:payment_card_start": REFUSED,
    "transactions:payment_bank_start": REFUSED,
    "transactions:document": REFUSED,
    "transactions:document_pdf": REFUSED,
    "transactions:cash_receipt": REFUSED,
    "transactions:refund_request": REFUSED,
    "transactions:subscription_cancel": REFUSED,
    "transactions:subscription_resume": REFUSED,
    "transactions:subscription_renew": REFUSED,
    "transactions:package_retry": REFUSED,
    "transactions:package_link": REFUSED,
    # A's valid link: B's signed-in users are refused. The link itself is the credential (curl resumes with it; it
    # expires in minutes): an API key is no sign-in on this page, so a request with B's key is a request with the
    # link alone, and the link's holder gets the file. See also the tests below.
    "transactions:package_download": "sessions refused",
    "transactions:api_plan_cap": REFUSED,
    "transactions:api_plan_cancel": REFUSED,
    "transactions:webhook_deactivate": REFUSED,
    "transactions:cart_remove": (PUBLIC, "the offer is public; each removes it from its own cart"),
    "transactions:api_plan_take": (PUBLIC, "a public offer: B's company may take the plan too"),
    # Staff pages named by A's objects
    "staff_orders:detail": REFUSED,
    "staff_refunds:create": REFUSED,
    "staff_refunds:approve": REFUSED,
    "staff_refunds:refuse": REFUSED,
    "staff_refunds:bank_confirm": REFUSED,
    "staff_refunds:send": REFUSED,
    "staff_refunds:withdraw": REFUSED,
    "staff_statements:statement": REFUSED,
    "staff_statements:mark_paid": REFUSED,
    "staff_statements:ledger": REFUSED,
    "staff_vouchers:detail": REFUSED,
    "staff_vouchers:verify": REFUSED,
    "staff_vouchers:reject": REFUSED,
    "staff_vouchers:settle": REFUSED,
    "staff_vouchers:repay": REFUSED,
    "staff_harvest:source": REFUSED,
    "staff_harvest:source_edit": REFUSED,
    "staff_harvest:source_run": REFUSED,
    "staff_harvest:source_active": REFUSED,
    "staff_harvest:run": REFUSED,
    "staff:organization": REFUSED,
    "staff:organization_decide": REFUSED,
    "transactions:payment_bank_confirm": REFUSED,
    # The simulated PG (PG_SIMULATOR only): an outside server's API, our shop's secret key only
    "pg_sim_cash_receipt_cancel": REFUSED,
    "pg_sim_payment_by_order": REFUSED,
    "pg_sim_payment": REFUSED,
    "pg_sim_cancel": REFUSED,
    # The data API outside the schema: the rows of a dataset A's company has a plan for
    "api-data-datagokr": REFUSED,
    # Public by design: the catalog, its DCAT/CKAN documents, the data API's docs, policies, allauth's key links
    "catalog:dataset": (PUBLIC, "the published dataset's page"),
    "catalog:dataset_map": (PUBLIC, "the published file's map"),
    "catalog:dataset_sample": (PUBLIC, "the public sample"),
    "catalog:organization": (PUBLIC, "the department's public page"),
    "dcat:catalog": (PUBLIC, "the catalog document"),
    "dcat:dataset": (PUBLIC, "the published dataset's document"),
    "dcat:table_schema": (PUBLIC, "the published file's Table Schema"),
    "dcat:themes_document": (PUBLIC, "the themes"),
    "ckan-action-3": (PUBLIC, "CKAN's public reads"),
    "ckan-action": (PUBLIC, "CKAN's public reads"),
    "api-data-panel": (PUBLIC, "the panel shows each viewer its own access (B: the public sample)"),
    "api-data-docs": (PUBLIC, "the table's public documentation"),
    "policy": (PUBLIC, "the terms"),
    "policy_version": (PUBLIC, "a version of the terms"),
    "account_confirm_email": (PUBLIC, "allauth: the e-mailed key is the credential"),
    "account_reset_password_from_key": (PUBLIC, "allauth: the e-mailed key is the credential"),
}

SECRETS = {"A's draft title": PROVIDER_SECRET, "A's company's billing name": BUYER_SECRET}


def _object_patterns():
    forms = {re.sub(r"\{[^}]+\}", "{}", route) for route in document()["paths"]}
    for pattern in every_pattern():
        if not pattern.kwargs or pattern.route.startswith(ADMIN_SITE):
            continue  # the Django admin: only platform admins get past its sign-in (test_url_matrix)
        if pattern.schema_form.startswith("/api/v1/") and pattern.schema_form in forms:
            continue  # tests/api/test_permission_matrix.py
        yield pattern


@pytest.fixture
def quiet(settings):
    import logging

    settings.API_RATE_PER_TOKEN = settings.API_RATE_PER_IP = ""
    settings.MFA_REQUIRED_FOR_STAFF = False
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


def test_every_pattern_that_names_an_object_is_in_the_idor_table():
    missing = [f"{p.key} (/{p.route})" for p in _object_patterns() if p.key not in IDOR]
    assert not missing, "URL patterns with an object parameter in no IDOR row: add them to IDOR:\n" + "\n".join(missing)
    stale = [key for key in IDOR if key not in MATRIX]
    assert not stale, f"IDOR rows with no row in the permission matrix (for their path): {stale}"


def test_b_never_reaches_a_s_objects(access_world, quiet):
    company_name = access_world.objects["company"].name_ko
    failures, requests = [], 0
    for pattern in _object_patterns():
        rule = IDOR[pattern.key]
        row = MATRIX[pattern.key]
        path = _path(access_world, pattern, row)
        data = {k: _fill(access_world, v) for k, v in (row.data or {}).items()} if row.data else None
        headers = {k: _fill(access_world, v) for k, v in row.headers.items()}
        for role in (*B_SESSIONS, *B_KEYS):
            response, body = call(access_world, role, row.method, path, data, **headers)
            requests += 1
            got = outcome(response)
            if response.status_code >= 500:
                failures.append(f"{pattern.key} {role}: {path} → {response.status_code}")
            must_refuse = rule is REFUSED or (rule == "sessions refused" and role in B_SESSIONS)
            if must_refuse and got not in REFUSED:
                failures.append(f"{pattern.key} {role}: {row.method} {path} → {got}: B reached A's object")
            leaks = [name for name, secret in SECRETS.items() if secret in body]
            if must_refuse and company_name in body:
                leaks.append("A's company's name")
            if leaks:
                failures.append(f"{pattern.key} {role}: {path} shows {', '.join(leaks)}")
    assert requests > 300
    assert not failures, "\n".join(failures)


def test_a_s_download_link_is_refused_to_b_and_after_the_buyer_left(access_world, quiet):
    """A's valid signed link: refused to B's signed-in users; and once A's buyer has left A's company, refused to
    anyone (anonymous too), without a byte of the file."""
    path = _path(
        access_world,
        next(p for p in every_pattern() if p.key == "transactions:package_download"),
        MATRIX["transactions:package_download"],
    )
    response, body = call(access_world, "anonymous", "GET", path)
    assert response.status_code == 200 and body, "the link works for the one who holds it"
    for role in B_SESSIONS:
        response, body = call(access_world, role, "GET", path)
        assert response.status_code == 403 and not response.streaming, role
    buyer = access_world.users["buyer"]
    with transaction.atomic():
        from accounts import services as account_services

        membership = Membership.objects.get(user=buyer, organization=access_world.objects["company"])
        account_services.membership_remove(actor=access_world.users["company_owner"], membership=membership)
        for role in ("anonymous", "buyer", "other_buyer"):
            response, _body = call(access_world, role, "GET", path)
            assert response.status_code == 403 and not response.streaming, role
        transaction.set_rollback(True)


def test_a_s_data_api_rows_are_refused_to_b(access_world, quiet):
    """The rows of A's dataset, which A's company has a plan for: B's data key and B's sessions are refused, A's
    company's data key reads them."""
    table = access_world.objects["live_table"]
    path = f"/api/v1/data/{access_world.objects['dataset'].slug}/live/{table.name}"
    response, _body = call(access_world, "key_data", "GET", path)
    assert response.status_code == 200
    for role in (*B_SESSIONS, *B_KEYS):
        response, body = call(access_world, role, "GET", path)
        assert response.status_code in (403, 404), f"{role}: {response.status_code} {body[:200]}"
