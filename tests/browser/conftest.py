"""Browser journeys in Debian's headless Chromium, driven by Playwright (no browser download)."""

import os
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.fail(
            f"Chromium not found at {executable}: apt-get install chromium fonts-noto-cjk (or set CHROMIUM_PATH)"
        )
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "ko-KR", "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def shot(request):
    """Save a full-page screenshot as a test artefact: shot(page, "step-name")."""
    folder = ARTIFACTS / "screenshots" / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def _shot(page, name):
        path = folder / f"{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    _shot.folder = folder  # for element screenshots next to the page ones
    return _shot


@pytest.fixture
def console_errors(page):
    """Console errors (CSP violations, JS exceptions) collected during the test; asserted empty by tests."""
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors
