"""gunicorn.conf.py: every gunicorn start of the portal (run from the checkout or /app) reads it, and its hooks freeze
what the loaded app made, and again what the first requests left, out of the garbage collector's reach."""

import gc
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent


def test_gunicorn_started_in_the_checkout_reads_the_hooks():
    printed = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", "marketplace.wsgi:application"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    settings = dict(line.split("=", 1) for line in printed.splitlines() if "=" in line)
    settings = {name.strip(): value.strip() for name, value in settings.items()}
    assert settings["config"] == "./gunicorn.conf.py"
    assert settings["post_worker_init"] == "<post_worker_init()>"
    assert settings["post_request"] == "<post_request()>"


def test_the_hooks_freeze_the_loaded_app_then_once_more_after_the_warm_up():
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert gc.get_freeze_count() == 0
    try:
        hooks["post_worker_init"](worker=None)
        loaded = gc.get_freeze_count()
        assert loaded > 10_000  # everything this process has loaded (Django, the project, pytest)
        warm_up = [[n] for n in range(1000)]  # what the first requests keep (lists: tracked by the collector)

        def collectable(obj) -> bool:  # in a generation the collector walks (gc.get_objects: not the frozen ones)
            return any(o is obj for o in gc.get_objects())

        # (Counts are compared loosely: frozen objects that other threads free meanwhile leave the frozen count.)
        worker = SimpleNamespace(nr=hooks["FREEZE_AGAIN_AFTER_REQUESTS"] - 1)
        hooks["post_request"](worker, None, {}, None)
        assert collectable(warm_up[-1]) and gc.get_freeze_count() < loaded + len(warm_up)  # not yet
        worker.nr += 1
        hooks["post_request"](worker, None, {}, None)
        assert not collectable(warm_up[-1])
        frozen = gc.get_freeze_count()
        assert frozen > loaded
        later = [[n] for n in range(1000)]
        worker.nr += 1
        hooks["post_request"](worker, None, {}, None)
        assert collectable(later[-1]) and gc.get_freeze_count() <= frozen  # once
    finally:
        gc.unfreeze()
