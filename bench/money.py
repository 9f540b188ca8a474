"""The money pages over a year of one busy provider's sales: server time, SQL per request, in process and over HTTP.

    .venv/bin/python bench/money.py [--sizes 10000,100000] [--rounds 15] [--budget 20] [--no-http] [--quick]
        [--reseed]

For each size N (paid order lines over the last 12 months, Asia/Seoul), a database of this bench,
`mkt_bench_money_<N>` on the server of DATABASE_URL (kept between runs: it is seeded again only when it does not hold
exactly N seeded lines, or with --reseed; migrations always run, so a new index lands on a kept database).

How the year is seeded (`seed`), all with a fixed random seed:
- one provider (a city department, owner `bench-provider@…`) with 30 datasets made by catalog's dataset_create;
  N // 100 buyer organizations (at least 50, of every buyer type), one of them `(주)벤치구매` (owner
  `bench-buyer@…`) placing ~2% of the orders; a platform admin.
- orders of one line (85%) or two (15%) until N lines, spread over the 12 months (growing a little), prices of
  11,000 to 1,100,000 won with VAT (catalog.pricing.price_of); 3% of the orders use a data voucher (70% of each
  line). Orders, their lines, their `done` payments, and per order the `payment` ledger transaction with the entries
  `ledger.record_payment` books (Dr cash / Dr voucher_receivable, Cr provider_payable, commission, provider_vat per
  line; zero amounts left out) are bulk inserted, one month per database transaction: the deferred balance trigger
  checks every ledger transaction at each commit.
- 5% of the lines are refunded in full 1–20 days after payment: the `refund` transaction (the exact reverse of the
  line's payment; the buyer's part to refund_payable, the voucher's part reversing voucher_receivable) and the
  `refund_paid` one (Dr refund_payable / Cr cash), bulk inserted the same way. No Refund rows (the order list's
  refunded amount stays 0; a fully refunded order's state is `refunded`).
- voucher lines not refunded are settled by the agency 30 days after payment (`voucher_settlement`: Dr cash / Cr
  voucher_receivable), when that date has passed.
- the receipts of the busy buyer's payments and refunds are issued by `documents.services.document_issue_for` (the
  real service, dated when booked); other buyers get no documents. No download events (the charts' download half
  stays empty).
- statements: months −11 … −2 are closed by `statements.services.statements_close_month` (timed: the `close` figures
  of the seed) and the first 9 statements are paid by `statement_mark_paid` (payouts in the ledger); month −1 and
  the current month are not on a statement.
After seeding, `statements.selectors.ledger_check` must agree with the ledger.

Measured, in the same run (same database, same warm-up): as the provider, /sales/ (charts and the month under way),
the statement of month −2 (/sales/statements/<id>/, ~N/12 lines), /sales/statements/current/, and the API's
/api/v1/provider/sales-charts/ and /api/v1/provider/statements/<id>/; as the platform admin, the provider's ledger
/staff/payouts/ledger/<org>/; as the busy buyer, /orders/documents/ and /api/v1/documents/, and the baseline: the
order list /orders/. Each: p50/p95 server time (django.test.Client, DEBUG off) and SQL queries per request; then
over HTTP (gunicorn as scripts/stack.py runs it, 2 workers × 4 threads, one keep-alive connection, the session
cookie) p50/p95 seen by the client. Rounds per URL stop at --rounds or after --budget seconds (at least 3).
Then `statements_close_month` of month −1, rolled back each time (p50/p95 of --close-rounds).
Ends with one line of JSON.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import search as search_bench  # noqa: E402  (bench/search.py: database helpers, percentiles)
import webserver  # noqa: E402  (bench/webserver.py: gunicorn and a timing client)

summary = search_bench.summary
PROVIDER_EMAIL = "bench-provider@siheung.test"
BUYER_EMAIL = "bench-buyer@company.test"
ADMIN_EMAIL = "bench-admin@siheung.test"
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # order numbers: YYYYMMDD-XXXXXXXX


def db_name(n: int) -> str:
    return f"mkt_bench_money_{n}"


def database_url(n: int) -> str:
    base = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not base:
        raise SystemExit("set DATABASE_URL (a PostgreSQL server; the bench makes its own database on it)")
    return urlunsplit(urlsplit(base)._replace(path="/" + db_name(n)))


def drop_database(url: str) -> None:
    import psycopg2
    from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

    parts = urlsplit(url)
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    conn.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
    conn.close()


def use_database(url: str) -> None:
    """Point Django's connection at this size's database (created if missing) and migrate it."""
    from django.core.management import call_command
    from django.db import connection

    search_bench.create_database(url)
    connection.close()
    connection.settings_dict["NAME"] = urlsplit(url).path.lstrip("/")
    os.environ["DATABASE_URL"] = url  # gunicorn serves the same database
    call_command("migrate", verbosity=0, interactive=False)


# --- seeding -----------------------------------------------------------------------------------------------------


def seeded_lines() -> int:
    from transactions.models import OrderItem

    return OrderItem.objects.filter(seller__name_en="Bench Traffic Division").count()


class auto_now_off:
    """bulk_create with our own created_at: auto_now_add would overwrite it with now."""

    def __init__(self, *fields):
        self.fields = fields

    def __enter__(self):
        for field in self.fields:
            field.auto_now_add = False

    def __exit__(self, *exc):
        for field in self.fields:
            field.auto_now_add = True


def seed(n: int, rng: random.Random) -> dict:
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Membership, Organization
    from catalog.models import Licence, Theme
    from catalog.pricing import price_of
    from catalog.reference_data import ensure_reference_data
    from catalog.services.versions import dataset_create
    from tests.conftest import make_org, make_user
    from transactions import ledger
    from transactions.documents.services import document_issue_for
    from transactions.models import LedgerEntry, LedgerTransaction, Order, OrderItem, Payment
    from transactions.statements import selectors, services

    K, T = ledger.K, ledger.T
    t_start = time.perf_counter()
    figures = {}
    ensure_reference_data()
    official = make_user(PROVIDER_EMAIL, name="벤치 담당자")
    provider = make_org(
        official, name_ko="벤치교통정보과", name_en="Bench Traffic Division", kind="provider", brn="1348310008"
    )
    admin = make_user(ADMIN_EMAIL, name="벤치 관리자", staff=True)
    buyer_user = make_user(BUYER_EMAIL, name="벤치 구매자")
    big_buyer = make_org(
        buyer_user, name_ko="(주)벤치구매", name_en="Bench Buying Co", kind="consumer", brn="1168200276"
    )
    clerk = make_user("bench-clerk@company.test", name="구매 담당")
    types = [t for t, _label in Organization.OrgType.choices]
    others = Organization.objects.bulk_create(
        Organization(
            name_ko=f"벤치 구매기관 {i:05d}",
            name_en=f"Bench buyer {i:05d}",
            slug=f"bench-buyer-{i:05d}",
            kind=Organization.Kind.CONSUMER,
            org_type=types[i % len(types)],
            brn=f"{9000000000 + i}",
            brn_checksum_ok=True,
            verification=Organization.Verification.VERIFIED,
            contact_email=f"buyer{i}@company.test",
        )
        for i in range(max(50, n // 100))
    )
    Membership.objects.bulk_create(Membership(user=clerk, organization=org, role="buyer") for org in others[:1])
    theme, licence = Theme.objects.order_by("pk").first(), Licence.objects.get(code="kogl-1")
    versions = [
        dataset_create(
            actor=official,
            organization=provider,
            title_ko=f"시흥시 교통 자료 {i:02d}",
            title_en=f"Siheung traffic data {i:02d}",
            description_ko="벤치마크용 자료",
            theme=theme,
            contact_name="b",
            contact_phone="031-000-0000",
            contact_email="b@siheung.test",
            update_cadence="none",
            data_kind="public",
            licence=licence,
        )
        for i in range(30)
    ]
    prices = [price_of(s) for s in (10_000, 30_000, 50_000, 100_000, 300_000, 1_000_000)]
    weights = [30, 25, 20, 15, 7, 3]
    cash, commission_acc = ledger.account(K.CASH), ledger.account(K.COMMISSION)
    payable, vat_acc = ledger.account(K.PROVIDER_PAYABLE, provider), ledger.account(K.PROVIDER_VAT, provider)
    receivable = ledger.account(K.VOUCHER_RECEIVABLE)

    now = timezone.now()
    this_month = selectors.month_of(now)
    months = [this_month]
    for _ in range(11):
        months.insert(0, selectors.previous_month(months[0]))
    # Lines per month, growing ~4% a month; the current month only up to now.
    shares = [1.04**i for i in range(12)]
    start0, end_now = selectors.month_bounds(months[-1])[0], now
    shares[-1] *= (end_now - start0) / (selectors.month_bounds(months[-1])[1] - start0)
    per_month = [int(n * s / sum(shares)) for s in shares]
    per_month[-1] += n - sum(per_month)

    order_no = 0
    refunds = []  # (item, payment, paid_at)
    settlements = []  # (order, items, paid_at)
    big_transactions = []
    rows = 0
    order_items = {}  # order id: its lines
    o_fields = (Order._meta.get_field("created_at"), Payment._meta.get_field("created_at"))
    for month, lines_left in zip(months, per_month):
        start, end = selectors.month_bounds(month)
        end = min(end, now - timedelta(minutes=5))
        span = (end - start).total_seconds()
        plan = []  # (when, buyer, [price])
        while lines_left > 0:
            count = 1 if rng.random() < 0.85 or lines_left == 1 else 2
            lines_left -= count
            buyer = big_buyer if rng.random() < 0.02 else rng.choice(others)
            plan.append((start + timedelta(seconds=rng.random() * span), buyer, rng.choices(prices, weights, k=count)))
        plan.sort(key=lambda p: p[0])
        with transaction.atomic(), auto_now_off(*o_fields):
            orders, items_of = [], []
            for when, buyer, line_prices in plan:
                order_no += 1
                voucher = rng.random() < 0.03
                line_specs = []
                for price in line_prices:
                    line_specs.append((price, price.total_krw * 70 // 100 if voucher else 0))
                total = sum(p.total_krw for p, _v in line_specs)
                code, x = [], order_no
                for _ in range(8):
                    x, r = divmod(x, len(ALPHABET))
                    code.append(ALPHABET[r])
                orders.append(
                    Order(
                        number=f"{timezone.localtime(when):%Y%m%d}-{''.join(reversed(code))}",
                        buyer=buyer,
                        placed_by=buyer_user if buyer is big_buyer else clerk,
                        state=Order.State.PAID,
                        method=Order.Method.CARD,
                        supply_krw=sum(p.supply_krw for p, _v in line_specs),
                        vat_krw=sum(p.vat_krw for p, _v in line_specs),
                        total_krw=total,
                        voucher_krw=sum(v for _p, v in line_specs),
                        billing_name=buyer.name_ko,
                        billing_brn=buyer.brn or "",
                        billing_email=buyer.contact_email or "billing@company.test",
                        created_at=when - timedelta(minutes=3),
                        paid_at=when,
                    )
                )
                items_of.append(line_specs)
            Order.objects.bulk_create(orders, batch_size=2000)
            items = []
            for order, line_specs in zip(orders, items_of):
                for price, voucher_krw in line_specs:
                    version = rng.choice(versions)
                    items.append(
                        OrderItem(
                            order=order,
                            dataset_id=version.dataset_id,
                            version=version,
                            seller=provider,
                            kind="one_off",
                            title=version.title_ko,
                            supply_krw=price.supply_krw,
                            vat_krw=price.vat_krw,
                            total_krw=price.total_krw,
                            voucher_krw=voucher_krw,
                        )
                    )
            OrderItem.objects.bulk_create(items, batch_size=2000)
            payments = Payment.objects.bulk_create(
                (
                    Payment(
                        order=order,
                        method=Order.Method.CARD,
                        adapter="toss",
                        state=Payment.State.DONE,
                        amount_krw=order.total_krw - order.voucher_krw,
                        payment_key=f"bench-{order.number}",
                        gateway_status="DONE",
                        created_at=order.created_at,
                        approved_at=order.paid_at,
                    )
                    for order in orders
                ),
                batch_size=2000,
            )
            booked = LedgerTransaction.objects.bulk_create(
                (
                    LedgerTransaction(
                        kind=T.PAYMENT, order=o, payment=p, memo=f"order {o.number}", created_at=o.paid_at
                    )
                    for o, p in zip(orders, payments)
                ),
                batch_size=2000,
            )
            by_order = {o.pk: (o, p, b) for o, p, b in zip(orders, payments, booked)}
            entries = []
            for item in items:
                order, payment, tx = by_order[item.order_id]
                order_items.setdefault(order.pk, []).append(item)
                c = ledger.commission_of(item.supply_krw)
                for acc, amount in (
                    (cash, item.total_krw - item.voucher_krw),
                    (receivable, item.voucher_krw),
                    (payable, -(item.supply_krw - c)),
                    (commission_acc, -c),
                    (vat_acc, -item.vat_krw),
                ):
                    if amount:
                        entries.append(LedgerEntry(transaction=tx, account=acc, amount_krw=amount, order_item=item))
                if rng.random() < 0.05:
                    refunds.append((item, payment, order.paid_at + timedelta(days=1 + rng.random() * 19)))
            LedgerEntry.objects.bulk_create(entries, batch_size=5000)
            rows += len(orders) * 3 + len(items) + len(entries)
            for order, _payment, tx in by_order.values():
                if order.voucher_krw:
                    settlements.append((order, order_items[order.pk], order.paid_at + timedelta(days=30)))
                if order.buyer_id == big_buyer.pk:
                    big_transactions.append(tx)
    figures["orders"] = order_no
    figures["lines"] = n

    # Refunds (full, of one line) and their payment back; then the agency's settlements of the rest.
    refunds = [r for r in refunds if r[2] < now - timedelta(minutes=1)]
    refunded_items = {item.pk for item, _p, _w in refunds}
    refund_rows, refunded_orders, refund_accounts = [], {}, {}
    with transaction.atomic():
        for item, payment, when in sorted(refunds, key=lambda r: r[2]):
            c = ledger.commission_of(item.supply_krw)
            buyer_id = item.order.buyer_id
            if buyer_id not in refund_accounts:
                refund_accounts[buyer_id] = ledger.account(K.REFUND_PAYABLE, buyer_id)
            buyer_refund = refund_accounts[buyer_id]
            own = item.total_krw - item.voucher_krw
            tx = LedgerTransaction(kind=T.REFUND, order_id=item.order_id, payment=payment, created_at=when)
            paid = LedgerTransaction(
                kind=T.REFUND_PAID, order_id=item.order_id, payment=payment, created_at=when + timedelta(minutes=1)
            )
            refund_rows.append(
                (
                    tx,
                    [
                        (payable, item.supply_krw - c),
                        (commission_acc, c),
                        (vat_acc, item.vat_krw),
                        (buyer_refund, -own),
                        (receivable, -item.voucher_krw),
                    ],
                    item,
                )
            )
            refund_rows.append((paid, [(buyer_refund, own), (cash, -own)], item))
            refunded_orders.setdefault(item.order_id, []).append(item)
        LedgerTransaction.objects.bulk_create([r[0] for r in refund_rows], batch_size=2000)
        LedgerEntry.objects.bulk_create(
            (
                LedgerEntry(transaction=tx, account=acc, amount_krw=amount, order_item=item)
                for tx, lines, item in refund_rows
                for acc, amount in lines
                if amount
            ),
            batch_size=5000,
        )
        full = [pk for pk, its in refunded_orders.items() if len(its) == len(order_items[pk])]
        Order.objects.filter(pk__in=full).update(state=Order.State.REFUNDED)
        settled = []
        for order, items, when in settlements:
            lines = [i for i in items if i.pk not in refunded_items and i.voucher_krw]
            if when < now and lines:
                tx = LedgerTransaction(kind=T.VOUCHER_SETTLEMENT, order=order, created_at=when, memo="bench")
                settled.append((tx, lines))
        LedgerTransaction.objects.bulk_create([tx for tx, _lines in settled])
        LedgerEntry.objects.bulk_create(
            LedgerEntry(transaction=tx, account=acc, amount_krw=amount, order_item=item)
            for tx, lines in settled
            for item in lines
            for acc, amount in ((cash, item.voucher_krw), (receivable, -item.voucher_krw))
        )
    figures["refunded_lines"] = len(refunds)
    figures["voucher_orders"] = len(settlements)
    figures["voucher_settlements"] = len(settled)
    big_refunds = [
        tx for tx, _lines, item in refund_rows if tx.kind == T.REFUND and item.order.buyer_id == big_buyer.pk
    ]
    t_docs = time.perf_counter()
    for tx in sorted(big_transactions + big_refunds, key=lambda t: t.created_at):
        document_issue_for(tx)
    figures["documents_s"] = round(time.perf_counter() - t_docs, 1)

    # Statements: months −11 … −2 closed (timed), each of the first nine paid before the next closes.
    close_s = []
    for i, month in enumerate(months[:-2]):
        t0 = time.perf_counter()
        made = services.statements_close_month(month=month, actor=None)
        close_s.append(time.perf_counter() - t0)
        if i < 9:
            for statement in made:
                services.statement_mark_paid(
                    statement=statement, transfer_reference=f"이체-{statement.period:%Y%m}", actor=admin
                )
    figures["seed_close_s"] = {
        "first": round(close_s[0], 2),
        "last": round(close_s[-1], 2),
        "max": round(max(close_s), 2),
    }
    check = selectors.ledger_check(provider)
    if not check.matches:
        raise SystemExit(f"seeded ledger and statements disagree: {check}")
    figures["ledger_entries"] = LedgerEntry.objects.count()
    figures["ledger_transactions"] = LedgerTransaction.objects.count()
    figures["seed_s"] = round(time.perf_counter() - t_start, 1)
    figures["rows_per_s"] = round((rows + figures["ledger_entries"]) / figures["seed_s"])
    with connection_cursor() as cursor:
        cursor.execute("ANALYZE")
    return figures


def connection_cursor():
    from django.db import connection

    return connection.cursor()


# --- measuring ---------------------------------------------------------------------------------------------------


def targets():
    """[(name, role, url)] for the seeded database."""
    from accounts.models import Organization
    from transactions.models import ProviderStatement

    provider = Organization.objects.get(name_en="Bench Traffic Division")
    statement = ProviderStatement.objects.filter(organization=provider).exclude(state="open").order_by("-period")[0]
    return [
        ("orders (baseline)", "buyer", "/orders/"),
        ("sales", "provider", "/sales/"),
        ("statement", "provider", f"/sales/statements/{statement.pk}/"),
        ("current", "provider", "/sales/statements/current/"),
        ("ledger (admin)", "admin", f"/staff/payouts/ledger/{provider.pk}/"),
        ("documents", "buyer", "/orders/documents/"),
        ("API sales-charts", "provider", "/api/v1/provider/sales-charts/"),
        ("API statement", "provider", f"/api/v1/provider/statements/{statement.pk}/"),
        ("API documents", "buyer", "/api/v1/documents/"),
    ], statement


def clients():
    from django.test import Client

    from accounts.models import User

    out = {}
    for role, email in (("provider", PROVIDER_EMAIL), ("buyer", BUYER_EMAIL), ("admin", ADMIN_EMAIL)):
        client = Client()
        client.force_login(User.objects.get(email=email))
        out[role] = client
    return out


def timed(client, url):
    t0 = time.perf_counter()
    response = client.get(url)
    ms = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    return ms, response


class count_queries:
    """The SQL statements run on the default connection meanwhile (an execute wrapper: DEBUG stays off)."""

    def __enter__(self):
        from django.db import connection

        self.n = 0

        def wrapper(execute, sql, params, many, context):
            self.n += 1
            return execute(sql, params, many, context)

        self._cm = connection.execute_wrapper(wrapper)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)


def rounds_of(get, args) -> list:
    """Timed calls until --rounds, or --budget seconds are spent (at least 3, or 1 when one call is over a third
    of the budget: the pages that do not scale)."""
    ms, t0 = [], time.perf_counter()
    while len(ms) < args.rounds:
        spent = time.perf_counter() - t0
        if ms and spent > args.budget and (len(ms) >= 3 or min(ms) > args.budget * 1000 / 3):
            break
        ms.append(get())
    return ms


def in_process(args) -> dict:

    urls, _statement = targets()
    by_role = clients()
    out = {}
    for name, role, url in urls:
        client = by_role[role]
        with count_queries() as ctx:
            _ms, response = timed(client, url)  # warm-up (templates, per-process caches)
        ms = rounds_of(lambda: timed(client, url)[0], args)  # noqa: B023 - called here
        s = summary(ms)
        out[name] = {
            "p50_ms": round(s["p50"], 1),
            "p95_ms": round(s["p95"], 1),
            "n": s["n"],
            "sql": ctx.n,
            "kb": round(len(response.content) / 1024),
        }
        print(
            f"  {name:<20} p50 {s['p50']:9.1f}  p95 {s['p95']:9.1f}  SQL {ctx.n:4d}  "
            f"{out[name]['kb']:7,} KB  (n={s['n']})",
            flush=True,
        )
    return out


def close_month_rounds(args) -> dict:
    """statements_close_month of month −1 (all before it closed), rolled back after each run."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from transactions.statements import selectors, services

    month = selectors.previous_month(selectors.month_of(timezone.now()))
    ms, sql, lines = [], 0, 0
    for _ in range(args.close_rounds):
        with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            made = services.statements_close_month(month=month, actor=None)
            ms.append((time.perf_counter() - t0) * 1000)
            sql, lines = len(ctx.captured_queries), sum(s.lines.count() for s in made)
            transaction.set_rollback(True)
    s = summary(ms)
    print(f"  {'close month −1':<20} p50 {s['p50']:9.1f}  p95 {s['p95']:9.1f}  SQL {sql:4d}  {lines:,} lines")
    return {"p50_ms": round(s["p50"], 1), "p95_ms": round(s["p95"], 1), "sql": sql, "lines": lines, "n": s["n"]}


# --- over HTTP ---------------------------------------------------------------------------------------------------


class Http(webserver.Http):
    def __init__(self, port: int, cookie: str):
        super().__init__(port, headers={"Cookie": cookie}, timeout=600)


def over_http(args) -> dict:
    from django.conf import settings

    urls, _statement = targets()
    cookies = {
        role: f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        for role, client in clients().items()
    }
    port = webserver.free_port()
    web = webserver.start_gunicorn(port, timeout=600)
    out = {}
    try:
        conns = {role: Http(port, cookie) for role, cookie in cookies.items()}
        for name, role, url in urls:
            conns[role].get(url)  # warm-up (imports, connection, caches)
            ms = rounds_of(lambda: conns[role].get(url), args)  # noqa: B023 - called here
            s = summary(ms)
            out[name] = {"p50_ms": round(s["p50"], 1), "p95_ms": round(s["p95"], 1), "n": s["n"]}
            print(f"  {name:<20} p50 {s['p50']:9.1f}  p95 {s['p95']:9.1f}  (n={s['n']})", flush=True)
    finally:
        webserver.stop(web)
    return out


def measure_size(n: int, args) -> dict:
    from django.db import connection

    url = database_url(n)
    if args.reseed:
        connection.close()
        drop_database(url)
    use_database(url)
    out = {"n": n}
    have = seeded_lines()
    if have != n:
        if have:
            connection.close()
            drop_database(url)
            use_database(url)
        print(f"\n=== seeding {n:,} paid order lines into {db_name(n)} …", flush=True)
        out["seed"] = seed(n, random.Random(args.seed))
        print("  " + json.dumps(out["seed"], ensure_ascii=False), flush=True)
    from transactions.models import LedgerEntry, LedgerTransaction

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('transactions_ledgerentry')), current_setting('server_version')"
        )
        size, version = cursor.fetchone()
    urls, statement = targets()
    print(
        f"\n=== {n:,} paid lines · {LedgerTransaction.objects.count():,} ledger transactions, "
        f"{LedgerEntry.objects.count():,} entries ({size}) · PostgreSQL {version} · statement {statement.period:%Y-%m} "
        f"has {statement.lines.count():,} transactions"
    )
    load0 = os.getloadavg()[0]
    print("in process (django.test.Client, DEBUG off), ms:")
    out["in_process"] = in_process(args)
    out["close_month"] = close_month_rounds(args)
    if not args.no_http:
        print("over HTTP (gunicorn 2 workers × 4 threads, one keep-alive connection per user), ms seen by the client:")
        out["http"] = over_http(args)
    load1 = os.getloadavg()[0]
    out["load_avg"] = round(max(load0, load1), 1)
    base = out["in_process"]["orders (baseline)"]["p50_ms"]
    print(f"  (machine load average {load0:.1f} → {load1:.1f} on {os.cpu_count()} CPUs)")
    print("  p50 in process relative to the order list (baseline):")
    for name, r in out["in_process"].items():
        print(f"    {name:<20} ×{r['p50_ms'] / base:7.1f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated numbers of paid order lines")
    parser.add_argument("--rounds", type=int, default=15, help="timed requests per URL (after a warm-up)")
    parser.add_argument("--budget", type=float, default=20, help="seconds per URL at most (at least 3 requests)")
    parser.add_argument("--close-rounds", type=int, default=3, help="rolled-back closings of month −1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reseed", action="store_true", help="drop the bench databases and seed again")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn measurements")
    parser.add_argument("--quick", action="store_true", help="few rounds (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.budget, args.close_rounds = 3, 5, 1
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    search_bench.setup_django(database_url(sizes[0]))
    results = [measure_size(n, args) for n in sizes]
    print(
        json.dumps(
            {
                "bench": "money",
                "sizes": {str(r["n"]): {k: v for k, v in r.items() if k != "n"} for r in results},
                "largest": results[-1]["n"],
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
