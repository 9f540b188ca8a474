"""gunicorn.conf.py: every gunicorn start of the portal (run from the checkout or /app) reads it, and its
post_worker_init hook freezes what the loaded app made, out of the garbage collector's reach."""

import gc
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gunicorn_started_in_the_checkout_reads_the_hook():
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


def test_post_worker_init_freezes_the_loaded_app():
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert gc.get_freeze_count() == 0
    try:
        hooks["post_worker_init"](worker=None)
        # Everything this process has loaded (Django, the project, pytest) is frozen.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
