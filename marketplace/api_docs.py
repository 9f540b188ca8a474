"""Swagger UI (/api/docs/) and Redoc (/api/docs/redoc/) over /api/schema/, inside the site's page frame and served
from our own origin (drf-spectacular-sidecar's static files: no CDN).

The site's Content Security Policy (settings.CONTENT_SECURITY_POLICY) allows no inline style. Both readers are
started by our own script (static/js/api-docs.js, with the nonce), but they style what they draw inline:
Swagger UI writes `style` attributes into the markup it renders, and Redoc injects <style> elements
(styled-components) and runs its search index in a Web Worker made from a blob: URL. So these two pages, and
only these, add 'unsafe-inline' to style-src (styles only: scripts still need the nonce), and Redoc's page
allows blob: workers. Every other page keeps the strict policy.
"""

from csp.decorators import csp_update
from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
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
    return render(
        request, "api/guide.html", _context(request, "guide") | {"guide": render_markdown(text, line_breaks=False)}
    )
