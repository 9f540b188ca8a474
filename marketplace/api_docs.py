"""Swagger UI (/api/docs/) and Redoc (/api/docs/redoc/) over /api/schema/, inside the site's page frame and served
from our own origin (drf-spectacular-sidecar's static files: no CDN).

The site's Content Security Policy (settings.CONTENT_SECURITY_POLICY) allows no inline style. Both readers are
started by our own script (static/js/api-docs.js, with the nonce), but they style what they draw inline:
Swagger UI writes `style` attributes into the markup it renders, and Redoc injects <style> elements
(styled-components) and runs its search index in a Web Worker made from a blob: URL. So these two pages, and
only these, add 'unsafe-inline' to style-src (styles only: scripts still need the nonce), and Redoc's page
allows blob: workers. Every other page keeps the strict policy.
"""

import re

from csp.decorators import csp_update
from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from catalog.rendering import render_markdown

INLINE_STYLES = {"style-src": ["'unsafe-inline'"]}


def _context(request, reader: str) -> dict:
    return {"schema_url": reverse("api-schema"), "reader": reader}


@require_GET
@csp_update(INLINE_STYLES)
def swagger(request):
    return render(request, "api/swagger.html", _context(request, "swagger"))


@require_GET
@csp_update(INLINE_STYLES | {"worker-src": ["blob:"]})
def redoc(request):
    return render(request, "api/redoc.html", _context(request, "redoc"))


@require_GET
def guide(request):
    """docs/api.md on the site, so a developer without the repository reads the walkthroughs and the tus guide."""
    text = (settings.BASE_DIR / "docs" / "api.md").read_text(encoding="utf-8")
    html = render_markdown(text, line_breaks=False)
    # A code block wider than the page scrolls sideways: it takes keyboard focus so it can be scrolled with the
    # arrow keys (WCAG 2.1.1; axe's scrollable-region-focusable).
    html = html.replace("<pre>", '<pre tabindex="0">')
    # render_markdown puts a publisher's "#" at h3 (under a dataset page's h1 and h2); here the guide's "#" comes
    # right under the page's h1, so its headings go one level up (no h1 → h3 jump; axe's heading-order).
    html = re.sub(r"<(/?)h([3-6])>", lambda m: f"<{m[1]}h{int(m[2]) - 1}>", html)
    guide = mark_safe(html)  # noqa: S308 (sanitised by render_markdown; only literal tags changed here)
    return render(request, "api/guide.html", _context(request, "guide") | {"guide": guide})
