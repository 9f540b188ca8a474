"""/api/docs/ (Swagger UI) and /api/docs/redoc/ (Redoc): in the site's frame, from our own origin (the sidecar's
files, no CDN), started by our own script with the nonce; only these two pages relax the CSP, and only for styles
(and Redoc's blob: worker)."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def _directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


@pytest.mark.parametrize(
    ("url", "bundle"),
    [
        ("/api/docs/", "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/api/docs/redoc/", "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
    ],
)
def test_the_readers_come_from_our_origin_in_the_site_frame(client, url, bundle):
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="krds-header"' in page and 'id="krds-footer"' in page  # base.html's frame
    assert 'data-schema-url="/api/schema/"' in page
    scripts = re.findall(r"<script([^>]*)>", page)
    assert all("nonce=" in attributes for attributes in scripts), "a script without the nonce"
    assert not re.search(r'src="https?://', page), "nothing from another origin"
    assert f'src="/static/{bundle}"' in page and 'src="/static/js/api-docs.js"' in page
    assert finders.find(bundle), "the sidecar's file is served from our static files"
    assert re.search(r"<script nonce=\"[^\"]+\">", page) is None  # no inline script: the reader starts from a file
    assert " onclick=" not in page and " onload=" not in page


def test_only_the_docs_pages_allow_inline_styles_and_never_inline_scripts(client):
    swagger, redoc, home = (_directives(client.get(u)) for u in ("/api/docs/", "/api/docs/redoc/", "/"))
    assert "'unsafe-inline'" in swagger["style-src"] and "'unsafe-inline'" in redoc["style-src"]
    assert "'unsafe-inline'" not in home["style-src"]
    for policy in (swagger, redoc, home):
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert redoc["worker-src"] == ["blob:"] and "worker-src" not in swagger and "worker-src" not in home


def test_the_docs_link_to_the_keys_and_back(client, login, buyer):
    anonymous = client.get("/api/docs/").content.decode()
    assert "/accounts/login/?next=/me/api-keys/" in anonymous
    assert 'href="/api/docs/redoc/"' in anonymous and 'href="/api/schema/"' in anonymous
    signed_in = login(buyer).get("/api/docs/redoc/").content.decode()
    assert 'href="/me/api-keys/"' in signed_in
    assert 'id="footer-api"' in client.get("/").content.decode()


def test_the_docs_pages_in_english(client):
    client.cookies["django_language"] = "en"
    page = client.get("/api/docs/").content.decode()
    assert "API documentation" in page and "Try it (Swagger UI)" in page
    assert "API 문서" in client.get("/api/docs/", HTTP_COOKIE="django_language=ko").content.decode()


def test_the_schema_is_served_to_the_readers(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json()["openapi"] == "3.1.0"


@pytest.mark.django_db
def test_the_walkthroughs_are_on_the_site_rendered_from_docs_api_md(client):
    """A developer without the repository reads docs/api.md at /api/docs/guide/, linked from the other readers."""
    page = client.get("/api/docs/guide/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "10분 따라하기: 기업 개발자" in html and "큰 파일 올리기 (tus)" in html
    # Code blocks take keyboard focus (they scroll sideways) and the guide's headings sit right under the page's h1.
    assert '<pre tabindex="0"><code>' in html and 'api.post("/api/v1/checkout/"' in html
    assert "<h3>" not in html.split('<article class="api-guide')[1].split("</h2>")[0]
    assert "<script" not in html.split('<article class="api-guide')[1].split("</article>")[0]
    assert 'href="/api/docs/guide/"' in client.get("/api/docs/").content.decode()
    assert "문서에<br" not in html  # the document's own line wrapping is not turned into line breaks
