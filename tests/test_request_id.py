"""A request id end to end: on every log line of a request, back in X-Request-ID, and on the log lines of every Celery
task the request queued (carried in the task's headers to a real worker on the real broker)."""

import json
import logging
import re
import time

import pytest
import structlog
from django.core import mail
from django.test import override_settings

from marketplace.logging import configure_logging

HEX_ID = re.compile(r"[0-9a-f]{32}")


class JsonLines(logging.Handler):
    """Formats each record with the production JSON formatter (marketplace.logging) and keeps the parsed line."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        config = dict(configure_logging("json", "INFO")["formatters"]["structured"])
        factory = config.pop("()")
        self.setFormatter(factory(**config))
        self.lines = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines():
    """Every log line (any thread: the web request's and the worker's) at INFO and above while the test runs."""
    handler = JsonLines()
    root = logging.getLogger()
    loggers = [logging.getLogger(name) for name in ("django_structlog", "celery", "django.request")]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        for logger, level in saved:
            logger.setLevel(level)
        structlog.contextvars.clear_contextvars()


@pytest.mark.django_db
def test_every_response_has_a_new_id_and_a_client_cannot_choose_it(client):
    first = client.get("/", HTTP_X_REQUEST_ID="chosen-by-the-client-123")
    second = client.get("/")
    assert HEX_ID.fullmatch(first["X-Request-ID"]) and HEX_ID.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]
    # Redirects made by middleware (here: the sign-in a page needs) carry one too.
    assert HEX_ID.fullmatch(client.get("/me/")["X-Request-ID"])


@pytest.mark.django_db
@override_settings(REQUEST_ID_TRUSTED_HEADER="X-Request-ID")
@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("0f3c9a7e5b2d4c6a8e1f0b3d5c7a9e2f", True),  # nginx's $request_id
        ("3b241101-e2bb-4255-8caf-4136c566a962", True),  # a UUID
        ("short", False),
        ("a" * 129, False),
        ("id with spaces and\nnewline-1234", False),
        ('{"injected": "json"}-000000', False),
    ],
)
def test_the_trusted_proxy_header_is_kept_only_when_well_formed(client, sent, kept):
    returned = client.get("/", HTTP_X_REQUEST_ID=sent)["X-Request-ID"]
    if kept:
        assert returned == sent
    else:
        assert returned != sent and HEX_ID.fullmatch(returned)


@pytest.mark.django_db
def test_every_log_line_of_a_request_carries_its_id(client, log_lines, official):
    client.force_login(official)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    request_id = response["X-Request-ID"]
    lines = [line for line in log_lines if line.get("event") != "task_enqueued"]
    events = {line["event"] for line in lines}
    assert {"request_started", "request_finished"} <= events, lines
    assert any(line["logger"] == "django.request" for line in lines), lines  # Django's own "Not Found" line
    assert all(line.get("request_id") == request_id for line in lines), lines
    # Nothing stays bound for the next request on this thread.
    assert structlog.contextvars.get_contextvars() == {}


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_by_a_request_logs_with_the_request_id_in_a_real_worker(
    client, celery_worker, log_lines, official
):
    """web → broker → worker: an owner invites someone; the invitation e-mail is sent by the worker (core.tasks), whose
    task_started / task_succeeded lines carry the id of the request (contextvars do not cross threads: only the
    task's headers can have brought it)."""
    client.force_login(official)
    organization = official.active_organization
    response = client.post(
        f"/me/organizations/{organization.pk}/invitations/", {"email": "new.member@company.test", "role": "buyer"}
    )
    assert response.status_code == 302
    request_id = response["X-Request-ID"]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(line.get("event") == "task_succeeded" for line in log_lines):
        time.sleep(0.05)
    assert [m.to for m in mail.outbox] == [["new.member@company.test"]]

    enqueued = [line for line in log_lines if line.get("event") == "task_enqueued"]
    assert [line["child_task_name"] for line in enqueued] == ["core.tasks.send_email_task"]
    assert enqueued[0]["request_id"] == request_id
    task_id = enqueued[0]["child_task_id"]
    worker_lines = [line for line in log_lines if line.get("task_id") == task_id]
    assert {"task_started", "task_succeeded"} <= {line["event"] for line in worker_lines}, log_lines
    assert all(line.get("request_id") == request_id for line in worker_lines), worker_lines
    # The request's user came along too.
    assert all(line.get("user_id") == official.pk for line in worker_lines), worker_lines


@pytest.fixture
def worker_process(transactional_db, settings):
    """`celery -A marketplace worker` as docker-compose runs it (its own process, JSON logs on stdout), on this test's
    database and a queue of its own; yields (queue, the lines it logged so far as a callable)."""
    import os
    import subprocess
    import sys
    import tempfile
    import uuid
    from urllib.parse import urlsplit

    from django.db import connection

    from marketplace.celery import app

    queue = f"test-process-{uuid.uuid4().hex[:8]}"
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"))
    env = dict(
        os.environ,
        DATABASE_URL=url._replace(path="/" + connection.settings_dict["NAME"]).geturl(),
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
    )
    log = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False)
    command = [sys.executable, "-m", "celery", "-A", "marketplace", "worker", "-l", "info", "--concurrency", "1"]
    command += ["-Q", queue, "-n", f"{queue}@%h", "--without-mingle", "--without-gossip"]
    worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def lines():
        out = []
        for raw in open(log.name, encoding="utf-8", errors="replace"):
            if raw.startswith("{"):
                try:
                    out.append(json.loads(raw))
                except ValueError:
                    pass
        return out

    saved_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        deadline = time.monotonic() + 60
        while not any("ready" in line.get("event", "") for line in lines()):
            assert worker.poll() is None and time.monotonic() < deadline, open(log.name).read()[-3000:]
            time.sleep(0.2)
        yield lines
    finally:
        app.conf.task_default_queue = saved_queue
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        os.unlink(log.name)


def test_the_worker_process_as_deployed_logs_json_lines_with_the_request_id(client, official, worker_process):
    """The same journey with the production worker command: its own process (no shared memory with the web side), and
    its task lines are JSON with the request's id."""
    client.force_login(official)
    organization = official.active_organization
    response = client.post(
        f"/me/organizations/{organization.pk}/invitations/", {"email": "other.member@company.test", "role": "buyer"}
    )
    request_id = response["X-Request-ID"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(line.get("event") == "task_succeeded" for line in worker_process()):
        time.sleep(0.2)
    task_lines = [line for line in worker_process() if "task_id" in line]
    assert {"task_started", "task_succeeded"} <= {line["event"] for line in task_lines}, worker_process()
    assert all(line["request_id"] == request_id for line in task_lines), task_lines
    assert all(line["user_id"] == official.pk for line in task_lines), task_lines
