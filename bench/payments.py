"""Concurrent card confirmations of ONE order through a real gunicorn: statuses, latencies, and exactly-once checks.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/payments.py [--calls 20] [--webhooks 6] [--rounds 3]
        [--portal-root PATH]   # serve the portal from another checkout (e.g. the code before issue 12, exported
                               # with `git archive <commit> | tar -x -C /tmp/old`): the baseline of the same run

1. A throwaway database `mkt_bench_payments` (the migrations of this checkout), a buyer's organization and a
   draft dataset version; per round, one awaiting-payment order of it.
2. The simulated PG runs in a process of its own (`python -m devtools.pg_simulator`, gunicorn 2×8 threads) on a
   free port, so the portal's workers can never starve it; the portal's PG_API_BASE / PG_CHECKOUT_URL point at it.
   The buyer's window is opened and approved over HTTP, as the browser would, which yields the paymentKey.
   Its confirm takes --pg-latency seconds (default 0.5, a real PG's order of magnitude). --pg-in-process
   instead points the portal at the simulator inside its own gunicorn (the layout of the observation).
3. The portal runs in gunicorn as scripts/stack.py starts it (2 workers × 4 threads) on a free port, with the
   simulator off (production layout) and tasks going to a queue of this run that no worker reads.
4. Per round, `--calls` requests start together (threads, a barrier): `--webhooks` of them are the PG's
   PAYMENT_STATUS_CHANGED webhook, the rest the success-URL GET the browser makes after the PG's redirect.
   Baseline in the same run: as many concurrent GETs of the login page (a template, no writes) through the
   same gunicorn, just before each round.
5. Checks per order: one `done` Payment, the order paid once (one order.paid audit row, one entitlement per
   line), one "payment received" e-mail enqueued (read from this run's queue, then dropped), and the
   PG asked to take the money once.
Prints readable lines, then one JSON line. Target: 0 × 5xx and p95 < 1 s.
"""

import argparse
import base64
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc, path: str, what: str) -> None:
    import httpx

    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with code {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)  # one request first: lazy loading
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def fire(requests, *, timeout=120):
    """Run the callables together (one thread each, released by a barrier): [(status, seconds)]."""
    barrier = threading.Barrier(len(requests))
    results = [None] * len(requests)

    def run(i, request):
        barrier.wait(timeout=60)
        t0 = time.perf_counter()
        try:
            status = request()
        except Exception as exc:  # noqa: BLE001 - a failed request is a result too
            status = type(exc).__name__
        results[i] = (status, time.perf_counter() - t0)

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results


def make_order(buyer, version):
    from django.utils import timezone

    from catalog.pricing import price_of
    from transactions.models import Order, OrderItem

    price = price_of(50_000)
    number = (
        timezone.localdate().strftime("%Y%m%d")
        + "-"
        + "".join(secrets.choice("23456789ABCDEFGHJKMNPQRSTUVWXYZ") for _ in range(8))
    )
    order = Order.objects.create(
        number=number,
        buyer=buyer.active_organization,
        placed_by=buyer,
        method=Order.Method.CARD,
        state=Order.State.AWAITING_PAYMENT,
        supply_krw=price.supply_krw,
        vat_krw=price.vat_krw,
        total_krw=price.total_krw,
        billing_name="(주)벤치",
        billing_email="billing@bench.test",
        payment_due_at=timezone.now() + timezone.timedelta(minutes=30),
    )
    OrderItem.objects.create(
        order=order,
        dataset=version.dataset,
        version=version,
        seller=version.dataset.publisher,
        kind="one_off",
        title=version.title_ko,
        supply_krw=price.supply_krw,
        vat_krw=price.vat_krw,
        total_krw=price.total_krw,
    )
    return order


def approve(http, checkout_url) -> dict:
    page = http.get(checkout_url)
    page.raise_for_status()
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = http.post(
        checkout_url.split("?")[0],
        headers={"Referer": checkout_url},
        data={"csrfmiddlewaretoken": csrf, "token": token, "card_number": "4330123412341234", "decision": "approve"},
    )
    assert answer.status_code == 302, answer.text[:300]
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def queued_emails(redis_url: str, queue: str) -> list[str]:
    """The subjects of the send_email_task messages in this run's queue (kombu's Redis list of JSON messages)."""
    import redis

    r = redis.Redis.from_url(redis_url)
    subjects = []
    for raw in r.lrange(queue, 0, -1):
        message = json.loads(raw)
        # core.tasks.send_email_task; marketplace.tasks.send_email_task in the code before issue 12 (--portal-root)
        if not message.get("headers", {}).get("task", "").endswith(".send_email_task"):
            continue
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        _args, kwargs, _embed = json.loads(body)
        subjects.append(kwargs.get("subject", ""))
    return subjects


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20, help="concurrent requests per order (20–50)")
    parser.add_argument("--webhooks", type=int, default=6, help="how many of them are webhooks")
    parser.add_argument("--rounds", type=int, default=3, help="orders, one after the other")
    parser.add_argument("--portal-root", default=str(ROOT), help="the checkout gunicorn serves the portal from")
    parser.add_argument("--pg-latency", type=float, default=0.5, help="seconds the simulated PG takes to confirm")
    parser.add_argument(
        "--pg-in-process",
        action="store_true",
        help="the PG simulator served by the portal's own gunicorn (the layout of the observation)",
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sim_port, web_port = free_port(), free_port()
    site = f"http://127.0.0.1:{web_port}"
    pg_base = f"{site}/pg-sim" if args.pg_in_process else f"http://127.0.0.1:{sim_port}/pg-sim"
    os.environ.update(PG_API_BASE=pg_base, PG_CHECKOUT_URL=f"{pg_base}/checkout/", SITE_URL=site)
    queue = f"bench-payments-{uuid.uuid4().hex[:8]}"

    import django

    django.setup()
    import httpx
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    settings.DATABASES["default"]["TEST"]["NAME"] = "mkt_bench_payments"
    old = setup_databases(verbosity=0, interactive=False)
    procs = []
    try:
        from accounts.models import Membership
        from catalog import services as catalog_services
        from catalog.models import Licence, Theme
        from catalog.reference_data import ensure_reference_data
        from core.models import AuditEvent
        from devtools.pg_simulator import views as simulator
        from tests.conftest import make_org, make_user
        from transactions.models import Entitlement, Payment
        from transactions.payments import services

        ensure_reference_data()
        official = make_user("bench@siheung.test")
        provider = make_org(official, name_ko="벤치마크과", name_en="Bench", kind="provider", brn="1348310008")
        buyer = make_user("bench-buyer@company.test")
        make_org(
            buyer, name_ko="(주)벤치", name_en="Bench Co", kind="consumer", brn="1168200276", role=Membership.Role.OWNER
        )
        version = catalog_services.dataset_create(
            actor=official,
            organization=provider,
            title_ko="벤치마크 대기질",
            title_en="Bench air quality",
            description_ko="벤치마크용 자료",
            theme=Theme.objects.get(code="environment"),
            contact_name="b",
            contact_phone="031-000-0000",
            contact_email="b@siheung.test",
            update_cadence="none",
            data_kind="public",
            licence=Licence.objects.get(code="kogl-1"),
        )
        simulator.reset()

        db_url = urlsplit(os.environ["DATABASE_URL"])
        db = settings.DATABASES["default"]["NAME"]
        env = dict(
            os.environ,
            DATABASE_URL=urlunsplit(db_url._replace(path="/" + db)),
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            LOG_LEVEL="WARNING",
            CELERY_TASK_DEFAULT_QUEUE=queue,
            PG_SIMULATOR_WEBHOOKS="false",
            PG_SIMULATOR_CONFIRM_DELAY_MS=str(int(args.pg_latency * 1000)),
            # No collectstatic for a bench: pages link their CSS without the manifest's hashed names.
            STATICFILES_STORAGE_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
        )
        sim = subprocess.Popen(
            [sys.executable, "-m", "devtools.pg_simulator", "--port", str(sim_port)],
            cwd=ROOT,
            env=dict(env, PYTHONPATH=str(ROOT)),
            stdout=subprocess.DEVNULL,
        )
        procs.append(sim)
        portal_env = {k: v for k, v in env.items() if k != "PG_SIMULATOR"}  # production layout: no /pg-sim/
        if args.pg_in_process:  # (the code before issue 12 serves it when PG_API_BASE ends in /pg-sim)
            portal_env["PG_SIMULATOR"] = "true"
        portal_env["PYTHONPATH"] = args.portal_root
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "marketplace.wsgi:application",
                "--bind",
                f"127.0.0.1:{web_port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "120",
                "--access-logfile",
                "-",
                "--error-logfile",
                "-",
                "--log-level",
                "warning",
            ],
            cwd=args.portal_root,
            env=portal_env,
            stdout=subprocess.DEVNULL,
        )
        procs.append(web)
        wait_for(sim_port, sim, "/pg-sim/v1/payments/none", "the PG simulator")  # approvals use it in both layouts
        wait_for(web_port, web, "/healthz", "gunicorn")

        calls, hooks = args.calls, min(args.webhooks, args.calls)
        results = {"confirm": [], "page": []}
        checks = []
        client = httpx.Client(timeout=120, follow_redirects=False)
        for round_no in range(args.rounds):
            order = make_order(buyer, version)
            back = approve(client, services.card_checkout_start(actor=buyer, order=order, site_url=site))
            success = (
                f"{site}/orders/payments/card/success/?paymentType=NORMAL&orderId={back['orderId']}"
                f"&paymentKey={back['paymentKey']}&amount={back['amount']}"
            )
            notice = {
                "eventType": "PAYMENT_STATUS_CHANGED",
                "createdAt": "2026-01-01T00:00:00+09:00",
                "data": {"paymentKey": back["paymentKey"], "orderId": back["orderId"], "status": "DONE"},
            }

            def success_get(url=success):
                with httpx.Client(timeout=120) as http:
                    return http.get(url).status_code

            def webhook_post(body=notice):
                with httpx.Client(timeout=120) as http:
                    return http.post(f"{site}/orders/payments/webhook/", json=body).status_code

            def plain_page():
                with httpx.Client(timeout=120) as http:
                    return http.get(f"{site}/accounts/login/").status_code

            results["page"] += fire([plain_page] * calls)  # the baseline: the same concurrency, a cheap page
            confirm_before = simulator.confirm_count()
            round_results = fire([webhook_post] * hooks + [success_get] * (calls - hooks))
            results["confirm"] += round_results
            for _ in range(100):  # a request may still be finishing after its answer was sent
                if Payment.objects.filter(order=order, state="done").exists():
                    break
                time.sleep(0.05)
            order.refresh_from_db()
            mails = [s for s in queued_emails(settings.CELERY_BROKER_URL, queue) if order.number in s]
            check = {
                "order": order.number,
                "order_state": order.state,
                "done_payments": Payment.objects.filter(order=order, state="done").count(),
                "payments": Payment.objects.filter(order=order).count(),
                "order_paid_audits": AuditEvent.objects.filter(action="order.paid", object_id=str(order.pk)).count(),
                "entitlements": Entitlement.objects.filter(order_item__order=order).count(),
                "paid_emails": len(mails),
                "pg_confirms": simulator.confirm_count() - confirm_before,
            }
            check["ok"] = (
                check["order_state"] == "paid"
                and check["done_payments"] == 1
                and check["order_paid_audits"] == 1
                and check["entitlements"] == 1
                and check["paid_emails"] == 1
                and check["pg_confirms"] == 1
            )
            checks.append(check)
            statuses = {}
            for status, _ in round_results:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
            print(
                f"round {round_no + 1}: {calls} at once ({hooks} webhooks): statuses {statuses}, "
                f"max {max(s for _, s in round_results):.2f} s; exactly once: {'ok' if check['ok'] else check}"
            )
        client.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        try:
            import redis

            redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)
        except Exception:  # noqa: BLE001 - best effort
            pass
        teardown_databases(old, verbosity=0)

    figures = {
        "bench": "payments",
        "portal": "baseline" if Path(args.portal_root).resolve() != ROOT else "this",
        "pg": "in-process" if args.pg_in_process else "own process",
        "pg_latency_s": args.pg_latency,
        "calls": calls,
        "webhooks": hooks,
        "rounds": args.rounds,
    }
    for name, rows in results.items():
        seconds = [s for _, s in rows]
        statuses = {}
        for status, _ in rows:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        five = sum(1 for status, _ in rows if not isinstance(status, int) or status >= 500)
        figures[name] = {
            "n": len(rows),
            "statuses": statuses,
            "5xx_or_error": five,
            "p50_s": round(percentile(seconds, 0.5), 3),
            "p95_s": round(percentile(seconds, 0.95), 3),
            "max_s": round(max(seconds), 3),
        }
        print(
            f"{name:8}: n={len(rows)}  5xx/errors {five}  p50 {percentile(seconds, 0.5):.3f} s  "
            f"p95 {percentile(seconds, 0.95):.3f} s  max {max(seconds):.3f} s  statuses {statuses}"
        )
    figures["exactly_once"] = all(c["ok"] for c in checks)
    figures["checks"] = checks
    print(
        f"exactly once (one done payment, paid once, one e-mail, one PG confirm) in every round: {figures['exactly_once']}"
    )
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
