"""A page from the anonymous page cache in Chromium: its scripts run under the CSP (the nonce was renewed for this
answer) and a new visitor's language switch works (the CSRF token is their own)."""

import urllib.request

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_cached_home_page_runs_its_scripts_and_switches_language(
    live_server, page, reference_data, settings, console_errors
):
    settings.PAGE_CACHE = True
    url = f"{live_server.url}/"
    for _ in range(2):  # another visitor (urllib, with no cookies): stored at the second request
        with urllib.request.urlopen(url) as answer:
            assert answer.status == 200

    response = page.goto(url)
    assert response.headers["x-page-cache"] == "hit"
    # site.js ran (it replaces "no-js" at once): the CSP let the nonce'd script through.
    expect(page.locator("html")).to_have_class("js")
    page.wait_for_load_state("load")
    assert page.evaluate("typeof window.htmx") == "object"  # the deferred script too

    page.locator("#lang-en").click()
    page.wait_for_load_state("load")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert not [e for e in console_errors if "Content Security Policy" in e or "403" in e], console_errors
