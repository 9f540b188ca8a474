"""The permission matrix of the site's pages: every URL pattern (walked from django.urls.get_resolver()) × every role
(tests/access/world.py) → the status the table MATRIX below expects. A pattern that is in no table fails the test
with its name: add it to the matrix. /api/v1 patterns in the OpenAPI schema are tests/api/test_permission_matrix.py's
(every operation of the schema × every caller); here we check that each is in the schema.

Reading a row: the path's parameters (values taken from the world's objects of A: "draft.pk"), the method (GET for a
page; a POST-only action is POSTed with an empty or given body: the rightful role must not be refused, a 200/400
form error or a redirect counts as let in), then what each signed-in role gets, in the order of COLUMNS:

    anonymous  buyer  company_owner  publisher  owner  other_publisher  other_buyer  admin

and what each API key gets (KEYS: read, publish, buy, data, admin scopes): on a page a key is not a sign-in, so by
default a key gets what anonymous gets; `keys=` says where it differs (the tus endpoint, the data API).
Outcomes: a status ("200", "403", "404", "405", …), "L" a redirect to the sign-in page, "A" a redirect to the Django
admin's sign-in page, "R" another redirect, "R!" a redirect with an error message (the action refused, saying why).
No 5xx anywhere (the only 5xx a page may answer: /healthz while a service is down, and DEBUG's sample 500 page)."""

import base64
import logging
import re
import time
from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from tests.access.urls import call, every_pattern, outcome
from tests.access.world import KEYS, PROVIDER_SECRET, ROLES, SESSIONS, access_world  # noqa: F401 (a fixture)
from tests.api.world import document

pytestmark = pytest.mark.django_db

COLUMNS = list(SESSIONS)
# Where no key is a credential (no `keys=` in the row), a key of each power is sent (a provider's, a buyer's, the
# platform admin's): a page that took keys would show it with one of them. Rows with `keys=` get all five.
PAGE_KEYS = ("key_publish", "key_buy", "key_admin")


@dataclass
class Row:
    expected: str  # one outcome per session role, in COLUMNS' order
    kwargs: dict = field(default_factory=dict)  # parameter → "object.attribute" of the world, or "=constant"
    method: str = "GET"
    keys: dict = field(default_factory=dict)  # key role → outcome, where a key is not simply anonymous
    query: str = ""
    data: dict | None = None  # POST body ("object.attribute" values are filled from the world)
    headers: dict = field(default_factory=dict)  # "=constant" or "object.attribute" values
    roles: tuple = ()  # only these roles (a slow page whose answer is the same for all), else every role
    why: str = ""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


ALL_200 = "200 200 200 200 200 200 200 200"
SIGNED_IN_200 = "L 200 200 200 200 200 200 200"
STAFF_ONLY = "L 403 403 403 403 403 403 200"
STAFF_ACTION = "L 403 403 403 403 403 403 R"
STAFF_REFUSED_FORM = "L 403 403 403 403 403 403 R!"  # the admin is let in; the empty form is refused, saying why
A_DEPARTMENT = "L 403 403 200 200 403 403 403"  # pages of A's draft: A's publishers and owner only
ANY_PROVIDER = "L 403 403 200 200 200 403 403"  # a provider's own pages (each sees its own department's)
ANY_BUYER = "L 200 200 403 403 403 200 403"  # a buyer's own pages (each sees its own company's)
A_COMPANY = "L 200 200 403 403 403 404 403"  # A's company's objects: B's buyer gets 404, a provider 403
DRAFT = {"pk": "draft.pk"}
PG_SIM_REFUSED = "401 401 401 401 401 401 401 401"  # the simulated PG's API: its merchant's secret key only
# Keys that authenticate on the data API (DRF): only the data scope reads rows; anonymous gets 401 there.
DATA_KEYS = {"key_read": "403", "key_publish": "403", "key_buy": "403", "key_data": "200", "key_admin": "403"}
TUS = {"HTTP_TUS_RESUMABLE": "=1.0.0"}

MATRIX: dict[str, Row] = {
    # The public site
    "home": Row(ALL_200),
    "healthz": Row(
        "H H H H H H H H",
        roles=("anonymous", "admin", "key_read"),
        why="200, or 503 while a service (the worker) is down: never a login (it waits for the worker: 3 roles)",
    ),
    "set_language": Row("R R R R R R R R", why="GET goes back; the choice is a POST"),
    "policies_agree": Row("L R R R R R R R", why="everyone here agreed already: back to the site"),
    "policy": Row(ALL_200, {"kind": "=terms"}),
    "policy_version": Row(ALL_200, {"kind": "=terms", "version": "terms_version.version"}),
    "catalog:index": Row(ALL_200),
    "catalog:dataset": Row(ALL_200, {"slug": "dataset.slug"}),
    "catalog:dataset_map": Row(
        "404 404 404 404 404 404 404 404",
        {"slug": "dataset.slug", "file_id": "published_file.pk"},
        why="the file has no map",
    ),
    "catalog:dataset_sample": Row(ALL_200, {"slug": "dataset.slug"}),
    "catalog:organization": Row(ALL_200, {"slug": "department.slug"}),
    "transactions:refund_policy": Row(ALL_200),
    # DCAT-AP and CKAN's Action API: public reads
    "dcat:catalog": Row(ALL_200, {"ext": "=ttl"}),
    "dcat:dataset": Row(ALL_200, {"slug": "dataset.slug", "ext": "=ttl"}),
    "dcat:table_schema": Row(ALL_200, {"slug": "dataset.slug", "file_id": "published_file.pk"}),
    "dcat:themes": Row(ALL_200),
    "dcat:themes_document": Row(ALL_200, {"ext": "=ttl"}),
    "ckan-api-version": Row(ALL_200),
    "ckan-action-3": Row(ALL_200, {"name": "=package_list"}),
    "ckan-action": Row(ALL_200, {"name": "=package_list"}),
    # API documentation and the data API's pages outside the schema
    "api-schema": Row(
        ALL_200, roles=("anonymous", "key_admin"), why="one public document (3 s to make): the API's matrix reads it"
    ),
    "api-docs": Row(ALL_200),
    "api-redoc": Row(ALL_200),
    "api-guide": Row(ALL_200),
    "api-data-panel": Row(ALL_200, {"slug": "dataset.slug"}, why="each viewer sees the panel for its own access"),
    "api-data-docs": Row(
        ALL_200, {"slug": "dataset.slug", "version": "=live", "table": "live_table.name"}, why="public docs"
    ),
    "api-data-datagokr": Row(
        "401 200 200 200 200 403 403 200",
        {"slug": "dataset.slug", "version": "=live", "table": "live_table.name"},
        keys=DATA_KEYS,
        why="A's company has a plan, A's department owns the data, the admin reviews; B has no access",
    ),
    # Sign-in, sign-up, e-mail and passwords (allauth)
    "account_login": Row("200 R R R R R R R"),
    "account_logout": Row("R 200 200 200 200 200 200 200", why="the page asks to confirm; signing out is a POST"),
    "account_inactive": Row(ALL_200),
    "account_signup": Row("200 R R R R R R R"),
    "account_reauthenticate": Row(SIGNED_IN_200),
    "account_email": Row(SIGNED_IN_200),
    "account_email_verification_sent": Row(ALL_200),
    "account_change_password": Row(SIGNED_IN_200),
    "account_set_password": Row("L R R R R R R R", why="everyone has a password: to change it instead"),
    "account_reset_password": Row(ALL_200),
    "account_confirm_login_code": Row("L R R R R R R R", why="no login code was asked for"),
    "account_confirm_email": Row(ALL_200, {"key": "=not-a-real-key"}, why="the page says the link is not valid"),
    "account_reset_password_from_key_done": Row(ALL_200),
    "account_reset_password_from_key": Row(ALL_200, {"uidb36": "=1", "key": "=not-a-real-key"}),
    "account_reset_password_done": Row(ALL_200),
    # The second factor (allauth.mfa): every signed-in user manages only their own
    "mfa_index": Row(SIGNED_IN_200),
    "mfa_authenticate": Row("L R R R R R R R", why="only during a sign-in that asks for the second factor"),
    "mfa_reauthenticate": Row("L R R R R R R R", why="nobody here has a factor to re-authenticate with"),
    "mfa_activate_totp": Row(SIGNED_IN_200),
    "mfa_deactivate_totp": Row("L 404 404 404 404 404 404 404", why="nobody here has an authenticator app"),
    "mfa_view_recovery_codes": Row("L 404 404 404 404 404 404 404", why="nobody here has recovery codes"),
    "mfa_generate_recovery_codes": Row(SIGNED_IN_200),
    "mfa_download_recovery_codes": Row("L 404 404 404 404 404 404 404"),
    "mfa_list_webauthn": Row(SIGNED_IN_200),
    "mfa_add_webauthn": Row(SIGNED_IN_200),
    "mfa_reauthenticate_webauthn": Row("L R R R R R R R", why="nobody here has a security key"),
    "mfa_remove_webauthn": Row(
        "L 404 404 404 404 404 404 404", {"pk": "webauthn.pk"}, why="someone else's security key: nobody reaches it"
    ),
    "mfa_edit_webauthn": Row("L 404 404 404 404 404 404 404", {"pk": "webauthn.pk"}),
    # The account pages
    "accounts:dashboard": Row(SIGNED_IN_200),
    "accounts:profile": Row(SIGNED_IN_200),
    "accounts:switch_organization": Row(
        "L 403 403 R R 403 403 403",
        method="POST",
        data={"organization": "department.pk"},
        why="only to an organization one is a member of",
    ),
    "accounts:organization_register": Row(SIGNED_IN_200),
    "accounts:organization": Row("L 403 403 200 200 403 403 200", {"pk": "department.pk"}),
    "accounts:organization_edit": Row("L 403 403 403 200 403 403 403", {"pk": "department.pk"}),
    "accounts:invitation_create": Row(
        "L 403 403 403 R 403 403 403",
        {"pk": "department.pk"},
        method="POST",
        data={"email": "=new@world.test", "role": "=publisher"},
        why="only the owner invites (a publisher and the admin are told no)",
    ),
    "accounts:invitation_revoke": Row(
        "L 403 403 403 R 403 403 403", {"pk": "department.pk", "invitation_pk": "invitation.pk"}, method="POST"
    ),
    "accounts:membership_role": Row(
        "L 403 403 403 R 403 403 403",
        {"pk": "department.pk", "membership_pk": "publisher_membership.pk"},
        method="POST",
        data={"role": "=owner"},
    ),
    "accounts:membership_remove": Row(
        "L 403 403 R R 403 403 403",
        {"pk": "department.pk", "membership_pk": "publisher_membership.pk"},
        method="POST",
        why="the owner removes the publisher; the publisher leaves (it is their own membership)",
    ),
    "accounts:invitation": Row(
        ALL_200, {"token": "invitation.token"}, why="the token is the invitation's secret, e-mailed to the invitee"
    ),
    "accounts:api_keys": Row(SIGNED_IN_200),
    "accounts:api_key_revoke": Row(
        "L 404 404 404 R 404 404 404", {"pk": "api_key.pk"}, method="POST", why="the owner's own key"
    ),
    "vouchers:mine": Row("L 200 200 403 403 403 200 403"),
    # Provider pages
    "catalog:provider_home": Row(ANY_PROVIDER),
    "catalog:dataset_create": Row(ANY_PROVIDER),
    "catalog:version": Row(A_DEPARTMENT, DRAFT),
    "catalog:version_edit": Row(A_DEPARTMENT, DRAFT),
    "catalog:version_submission": Row(A_DEPARTMENT, DRAFT),
    "catalog:version_licence": Row("L 403 403 R! R! 403 403 403", DRAFT, method="POST"),
    "catalog:version_submit": Row("L 403 403 R R 403 403 403", DRAFT, method="POST"),
    "catalog:version_reopen": Row("L 403 403 R! R! 403 403 403", DRAFT, method="POST"),
    "catalog:version_withdraw": Row("L 403 403 R! R! 403 403 403", DRAFT, method="POST"),
    "catalog:version_start_new": Row(
        "L 403 403 R R 403 403 403", {"pk": "published.pk"}, why="a draft is open already: to it"
    ),
    "catalog:offer_create": Row("L 403 403 R! R! 403 403 403", DRAFT, method="POST"),
    "catalog:offer_deactivate": Row(
        "L 403 403 R R 403 403 403", {"pk": "draft.pk", "offer_pk": "offer.pk"}, method="POST"
    ),
    "catalog:datafile": Row(A_DEPARTMENT, {"pk": "draft_file.pk"}),
    "catalog:datafile_dictionary": Row("L 403 403 R R 403 403 403", {"pk": "draft_file.pk"}, method="POST"),
    "catalog:datafile_remove": Row("L 403 403 R R 403 403 403", {"pk": "draft_file.pk"}, method="POST"),
    "catalog:live_enable": Row("L 403 403 R! R! 403 403 403", {"pk": "published.pk"}, method="POST"),
    "catalog:live_state": Row(
        "L 403 403 R R 403 403 403", {"pk": "published.pk", "name": "live_table.name"}, method="POST"
    ),
    # The tus endpoint: a session, or a key with the publish scope (the only key that is a sign-in on a page)
    "catalog:upload_create": Row(
        "401 403 403 201 201 403 403 403",
        method="POST",
        headers={
            **TUS,
            "HTTP_UPLOAD_LENGTH": "=10",
            "HTTP_UPLOAD_METADATA": lambda w: f"version {_b64(str(w.value('draft.pk')))},filename {_b64('more.csv')}",
        },
        keys={"key_read": "403", "key_publish": "201", "key_buy": "403", "key_data": "403", "key_admin": "403"},
    ),
    "catalog:upload": Row(
        "401 404 404 404 200 404 404 404",
        {"pk": "upload.pk"},
        method="HEAD",
        headers=TUS,
        keys={"key_read": "403", "key_publish": "200", "key_buy": "403", "key_data": "403", "key_admin": "403"},
    ),
    "statements:sales": Row(ANY_PROVIDER),
    "statements:current": Row(ANY_PROVIDER),
    "statements:statement": Row("L 403 403 200 200 404 403 403", {"pk": "statement.pk"}),
    "statements:api_usage": Row(ANY_PROVIDER),
    "documents:provider_tax_invoices": Row(ANY_PROVIDER),
    # Buyer pages
    "transactions:orders": Row(ANY_BUYER),
    "transactions:cart": Row(ANY_BUYER),
    "transactions:cart_add": Row("L R R R! R! R! R R!", method="POST", data={"offer": "cart_offer.pk"}),
    "transactions:cart_remove": Row(
        "L R R R R R R R!", {"offer_id": "cart_offer.pk"}, method="POST", why="each removes from its own cart"
    ),
    "transactions:checkout": Row(
        "L 200 R 403 403 403 R 403", why="A's buyer has a cart; the others' carts are empty: back to the cart"
    ),
    "transactions:entitlements": Row(ANY_BUYER),
    "transactions:subscriptions": Row(ANY_BUYER),
    "transactions:subscription_cancel": Row(A_COMPANY, {"pk": "subscription.pk"}, why="GET asks to confirm"),
    "transactions:subscription_resume": Row("L R R 403 403 403 404 403", {"pk": "subscription.pk"}, method="POST"),
    "transactions:subscription_renew": Row("L R! R! 403 403 403 404 403", {"pk": "subscription.pk"}, method="POST"),
    "transactions:payment_card_start": Row("L R R 404 404 404 404 404", {"number": "paid_order.number"}, method="POST"),
    "transactions:payment_bank_start": Row("L R R 404 404 404 404 404", {"number": "paid_order.number"}, method="POST"),
    "transactions:payment_card_success": Row("R! R! R! R! R! R! R! R!", why="no payment named: to the orders"),
    "transactions:payment_card_fail": Row("R! R! R! R! R! R! R! R!"),
    "transactions:payment_webhook": Row(
        "400 400 400 400 400 400 400 400", method="POST", why="the gateway's call: the body is checked, no sign-in"
    ),
    "transactions:api_usage": Row(ANY_BUYER),
    "transactions:api_plan_take": Row(
        ANY_BUYER, {"offer_id": "api_dev.pk"}, why="GET shows the licence to accept; the plan is a public offer"
    ),
    "transactions:api_plan_cap": Row("L R! R! 403 403 403 404 403", {"pk": "plan.pk"}, method="POST"),
    "transactions:api_plan_cancel": Row("L R R 403 403 403 404 403", {"pk": "plan.pk"}, method="POST"),
    "transactions:package_retry": Row(
        "L R R 403 403 403 403 R", {"pk": "package.pk"}, method="POST", why="the admin may rebuild a package"
    ),
    "transactions:package_link": Row("L R R 403 403 403 403 403", {"pk": "package.pk"}, method="POST"),
    "transactions:package_download": Row(
        "200 200 200 403 403 403 403 403",
        {"token": "link"},
        keys={"key_read": "200", "key_publish": "200", "key_buy": "200", "key_data": "200", "key_admin": "200"},
        why="the signed link is the credential (curl resumes with it); a signed-in user who may not download is refused",
    ),
    "transactions:documents": Row("L 200 200 200 200 200 200 403", why="each its own organization's documents"),
    "transactions:document": Row(
        "L 200 200 200 200 404 404 200", {"number": "document.number"}, why="A's department issued it to A's company"
    ),
    "transactions:document_pdf": Row("L 200 200 200 200 404 404 200", {"number": "document.number"}),
    "transactions:cash_receipt": Row(
        "L R! R! R! R! 404 404 R!", {"number": "document.number"}, method="POST", data={"kind": "=income"}
    ),
    "transactions:refund_request": Row("L R! R! 403 403 403 404 403", {"number": "refund.order.number"}, method="POST"),
    "transactions:webhooks": Row(ANY_BUYER),
    "transactions:webhook_deactivate": Row("L R R 403 403 403 404 403", {"pk": "webhook.pk"}, method="POST"),
    "transactions:order": Row(A_COMPANY, {"number": "order.number"}),
    "transactions:order_live": Row(A_COMPANY, {"number": "order.number"}),
    "transactions:order_cancel": Row("L R R 403 403 403 404 403", {"number": "paid_order.number"}, method="POST"),
    # Platform admin pages
    "staff:home": Row(STAFF_ONLY),
    "staff:organizations": Row(STAFF_ONLY),
    "staff:organization": Row(STAFF_ONLY, {"pk": "department.pk"}),
    "staff:organization_decide": Row(STAFF_REFUSED_FORM, {"pk": "department.pk"}, method="POST"),
    "staff:audit": Row(STAFF_ONLY),
    "staff:policies": Row(STAFF_ONLY),
    "staff_orders:list": Row(STAFF_ONLY),
    "staff_orders:detail": Row(STAFF_ONLY, {"number": "order.number"}),
    "documents:staff_tax_invoices": Row(STAFF_ONLY, query="organization={department.pk}"),
    "staff_refunds:queue": Row(STAFF_ONLY),
    "staff_refunds:create": Row(STAFF_REFUSED_FORM, {"number": "refund.order.number"}, method="POST"),
    "staff_refunds:approve": Row(STAFF_ACTION, {"pk": "refund_request.pk"}, method="POST"),
    "staff_refunds:refuse": Row(STAFF_REFUSED_FORM, {"pk": "refund_request.pk"}, method="POST"),
    "staff_refunds:bank_confirm": Row(STAFF_REFUSED_FORM, {"pk": "refund.pk"}, method="POST"),
    "staff_refunds:send": Row(STAFF_REFUSED_FORM, {"pk": "refund.pk"}, method="POST"),
    "staff_refunds:withdraw": Row(STAFF_REFUSED_FORM, {"pk": "refund.pk"}, method="POST"),
    "delivery_staff:failed_packages": Row(STAFF_ONLY),
    "staff_statements:payouts": Row(STAFF_ONLY),
    "staff_statements:close": Row(STAFF_ONLY, method="POST", why="an empty form: 200 with its errors"),
    "staff_statements:statement": Row(STAFF_ONLY, {"pk": "statement.pk"}),
    "staff_statements:mark_paid": Row(STAFF_ONLY, {"pk": "statement.pk"}, method="POST"),
    "staff_statements:ledger_index": Row(STAFF_ONLY),
    "staff_statements:ledger": Row(STAFF_ONLY, {"organization_id": "department.pk"}),
    "staff_vouchers:list": Row(STAFF_ONLY),
    "staff_vouchers:detail": Row(STAFF_ONLY, {"pk": "voucher.pk"}),
    "staff_vouchers:verify": Row(STAFF_ACTION, {"pk": "voucher.pk"}, method="POST"),
    "staff_vouchers:reject": Row("L 403 403 403 403 403 403 400", {"pk": "voucher.pk"}, method="POST"),
    "staff_vouchers:settle": Row("L 403 403 403 403 403 403 400", {"pk": "voucher.pk"}, method="POST"),
    "staff_vouchers:repay": Row(
        "L 403 403 403 403 403 403 404",
        {"pk": "voucher.pk", "order_pk": "order.pk"},
        method="POST",
        why="the order was not paid with the voucher",
    ),
    "staff_harvest:sources": Row(STAFF_ONLY),
    "staff_harvest:source_create": Row(STAFF_ONLY),
    "staff_harvest:source": Row(STAFF_ONLY, {"pk": "source.pk"}),
    "staff_harvest:source_edit": Row(STAFF_ONLY, {"pk": "source.pk"}),
    "staff_harvest:source_run": Row(STAFF_ACTION, {"pk": "source.pk"}, method="POST"),
    "staff_harvest:source_active": Row(STAFF_REFUSED_FORM, {"pk": "source.pk"}, method="POST"),
    "staff_harvest:run": Row(STAFF_ONLY, {"pk": "run.pk"}),
    "catalog:review_queue": Row(STAFF_ONLY),
    "catalog:review_version": Row(STAFF_ONLY, DRAFT),
    "catalog:review_approve": Row(STAFF_REFUSED_FORM, DRAFT, method="POST"),
    "catalog:review_reject": Row(STAFF_REFUSED_FORM, DRAFT, method="POST"),
    "catalog:review_datafile": Row(STAFF_ONLY, {"pk": "draft_file.pk"}),
    "catalog:dataset_suspend": Row(STAFF_REFUSED_FORM, {"pk": "dataset.pk"}, method="POST"),
    "catalog:dataset_reinstate": Row(STAFF_REFUSED_FORM, {"pk": "dataset.pk"}, method="POST"),
    "transactions:payment_bank_transfers": Row(STAFF_ONLY),
    "transactions:payment_bank_confirm": Row(
        "L 403 403 403 403 403 403 200", {"payment_id": "payment.pk"}, method="POST", why="an empty form: its errors"
    ),
    # The simulated payment gateway (devtools/pg_simulator, only with PG_SIMULATOR: make run, make test, benches):
    # an outside server's API, answering only our shop's secret key (Basic auth), which no role holds.
    "pg_sim_checkout": Row("400 400 400 400 400 400 400 400", why="the payment window: no order's parameters"),
    "pg_sim_cash_receipt": Row(PG_SIM_REFUSED, method="POST"),
    "pg_sim_cash_receipt_cancel": Row(PG_SIM_REFUSED, {"receipt_key": "=any-receipt"}, method="POST"),
    "pg_sim_confirm": Row(PG_SIM_REFUSED, method="POST"),
    "pg_sim_payment_by_order": Row(PG_SIM_REFUSED, {"order_id": "order.number"}),
    "pg_sim_payment": Row(PG_SIM_REFUSED, {"payment_key": "=any-payment"}),
    "pg_sim_cancel": Row(PG_SIM_REFUSED, {"payment_key": "=any-payment"}, method="POST"),
    # Development only (DEBUG, or the loopback mailbox)
    "dev_mailbox": Row("404 404 404 404 404 404 404 404", why="only from this machine with DEBUG"),
    "dev/errors/403/": Row("403 403 403 403 403 403 403 403"),
    "dev/errors/404/": Row("404 404 404 404 404 404 404 404"),
    "dev/errors/500/": Row("500 500 500 500 500 500 500 500", why="the sample error page itself (DEBUG only)"),
}

# The Django admin (django-admin/): every pattern its ModelAdmins generate. Only platform admins get past its sign-in;
# everyone else (signed in or not, any key) is sent to it, whatever the pattern. Its own sign-in page is open.
ADMIN_SITE = "django-admin/"
ADMIN_OPEN = {"admin:login": "200 200 200 200 200 200 200 R", "admin:logout": "R R R R R R R 405"}


def _fill(world, value):
    if callable(value):
        return value(world)
    if isinstance(value, str):
        if value.startswith("="):
            return re.sub(r"\{([\w.]+)\}", lambda m: str(world.value(m.group(1))), value[1:])
        return str(world.value(value))
    return value


def _path(world, pattern, row: Row) -> str:
    if pattern.key == pattern.route:  # no name: the route is the path
        path = "/" + pattern.route
    else:
        path = reverse(pattern.key, kwargs={k: _fill(world, v) for k, v in row.kwargs.items()})
    if row.query:
        path += "?" + re.sub(r"\{([\w.]+)\}", lambda m: str(world.value(m.group(1))), row.query)
    return path


def _admin_path(world, pattern) -> str:
    values = {"object_id": str(world.users["admin"].pk), "id": str(world.users["admin"].pk)}
    values |= {"app_label": "catalog", "content_type_id": "1", "url": "nothing-here/"}
    path = pattern.route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", lambda m: values[m.group(1)], path)
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], path)


def _expected(row_expected: str, keys: dict) -> dict:
    values = row_expected.split()
    assert len(values) == len(COLUMNS), f"{row_expected!r}: one outcome per role of {COLUMNS}"
    expected = dict(zip(COLUMNS, values, strict=True))
    for key in KEYS:
        expected[key] = keys.get(key, expected["anonymous"])
    return expected


def _schema_forms() -> set[str]:
    return {re.sub(r"\{[^}]+\}", "{}", route) for route in document()["paths"]}


def _agrees(expected: str, got: str, status: int) -> bool:
    if expected == "H":
        return got in ("200", "503")
    return expected == got


@pytest.fixture
def quiet(settings):
    settings.API_RATE_PER_TOKEN = settings.API_RATE_PER_IP = ""  # hundreds of requests: no 429 here
    settings.MFA_REQUIRED_FOR_STAFF = False  # the second factor has its own tests (tests/accounts/test_mfa.py)
    # Thousands of requests: the request log (and the traceback of every 403/404) would take a third of the time.
    # A 5xx is caught by its status, not by the log.
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


def test_every_url_pattern_is_in_the_matrix():
    """A new URL pattern must be given its row (or be an /api/v1 operation of the schema)."""
    schema = _schema_forms()
    keys = [p.key for p in every_pattern() if not p.route.startswith(ADMIN_SITE)]
    shared = sorted({key for key in keys if keys.count(key) > 1})
    assert not shared, f"patterns sharing a name (a row would test only one of them): {shared}"
    missing = []
    for pattern in every_pattern():
        if pattern.route.startswith(ADMIN_SITE) or pattern.key in MATRIX:
            continue
        if pattern.schema_form.startswith("/api/v1/") and pattern.schema_form in schema:
            continue  # tests/api/test_permission_matrix.py calls it as every caller
        missing.append(f"{pattern.key} (/{pattern.route} → {pattern.callback})")
    assert not missing, (
        "URL patterns in no permission matrix: add them to the matrix in " + __name__ + ":\n" + ("\n".join(missing))
    )


def test_every_api_v1_pattern_is_covered():
    """Every /api/v1 pattern is an operation of the schema (the API's matrix calls it) or has a row here."""
    schema = _schema_forms()
    patterns = [p for p in every_pattern() if p.schema_form.startswith("/api/v1/")]
    assert len(patterns) > 100
    loose = [p.key for p in patterns if p.schema_form not in schema and p.key not in MATRIX]
    assert not loose, f"/api/v1 patterns neither in the OpenAPI schema nor in the matrix: {loose}"


def test_the_pages_answer_every_role_as_the_matrix_says(access_world, quiet):
    started = time.monotonic()
    patterns = {p.key: p for p in every_pattern() if not p.route.startswith(ADMIN_SITE)}
    failures, requests = [], 0
    for key, row in MATRIX.items():
        pattern = patterns.get(key)
        if pattern is None:
            # Only the development pages may be absent (they exist with DEBUG); any other row names a URL that is gone.
            # The simulated PG's exist with PG_SIMULATOR (make test sets it; a bare pytest may not).
            assert key.startswith(("dev", "pg_sim_")), f"the matrix names {key}, which is not a URL"
            continue
        path = _path(access_world, pattern, row)
        data = {k: _fill(access_world, v) for k, v in (row.data or {}).items()} if row.data else None
        headers = {k: _fill(access_world, v) for k, v in row.headers.items()}
        for role, expected in _expected(row.expected, row.keys).items():
            if row.roles and role not in row.roles:
                continue
            if role in KEYS and not row.keys and role not in PAGE_KEYS:
                continue
            response, body = call(access_world, role, row.method, path, data, **headers)
            requests += 1
            got = outcome(response)
            if response.status_code >= 500 and expected not in ("H", "500"):
                failures.append(f"{key} {role}: {row.method} {path} → {response.status_code} (a server error)")
            elif not _agrees(expected, got, response.status_code):
                failures.append(f"{key} {role}: {row.method} {path} → {got}, the matrix says {expected}")
            if PROVIDER_SECRET in body and role not in ("publisher", "owner", "admin", "key_publish"):
                failures.append(f"{key} {role}: {path} shows A's draft title")
    print(f"{len(MATRIX)} rows, {len(ROLES)} roles, {requests} requests in {time.monotonic() - started:.1f} s")
    assert not failures, "\n".join(failures)


def test_the_django_admin_lets_in_platform_admins_only(access_world, quiet):
    """Every pattern of the Django admin site: anyone but a platform admin goes to its sign-in page."""
    patterns = [p for p in every_pattern() if p.route.startswith(ADMIN_SITE)]
    assert len(patterns) > 50
    failures = []
    for pattern in patterns:
        path = _admin_path(access_world, pattern)
        if pattern.key in ADMIN_OPEN:
            expected = _expected(ADMIN_OPEN[pattern.key], {})
        elif pattern.callback.endswith("catch_all_view"):
            # An address the admin does not have: 404 for a platform admin, the sign-in for anyone else (so the
            # admin's addresses cannot be probed).
            expected = dict.fromkeys(ROLES, "A") | {"admin": "404"}
        else:
            expected = dict.fromkeys(ROLES, "A") | {"admin": None}
        for role in ("anonymous", "buyer", "key_admin", "admin"):
            response, _body = call(access_world, role, "GET", path)
            got = outcome(response)
            if response.status_code >= 500:
                failures.append(f"{pattern.key} {role}: {path} → {response.status_code}")
            elif expected[role] is None:
                if got == "A":
                    failures.append(f"{pattern.key} admin: {path} → sent to the admin's sign-in")
            elif got != expected[role]:
                failures.append(f"{pattern.key} {role}: {path} → {got}, expected {expected[role]}")
    assert not failures, "\n".join(failures)


def test_a_wrong_row_is_caught():
    """The comparisons bite: a page that let B's publisher in would be reported."""
    assert not _agrees("403", "200", 200)
    assert not _agrees("L", "R", 302)
    assert _agrees("H", "503", 503) and not _agrees("H", "L", 302)
    assert _expected(A_DEPARTMENT, {"key_publish": "201"})["key_publish"] == "201"
    assert _expected(A_DEPARTMENT, {})["key_buy"] == "L"
