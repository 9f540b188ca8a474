"""Descriptions written by publishers: Markdown rendered to HTML, then sanitised with an allowlist.

Publishers write Markdown (lists, emphasis, links, tables); raw HTML in it is allowed through
Markdown but nh3 (ammonia) keeps only the tags below, drops <script>/<style> with their content,
every event handler and style attribute, and links other than http(s), mailto and tel. Headings
move down two levels, so that a "# Title" in a description sits under the page's own h1 and h2.
"""

import html

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "del",
    "code",
    "pre",
    "blockquote",
    "hr",
    "ul",
    "ol",
    "li",
    "a",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
HEADING_SHIFT = 2


class _ShiftHeadings(Treeprocessor):
    def run(self, root):
        for element in root.iter():
            if len(element.tag) == 2 and element.tag[0] == "h" and element.tag[1].isdigit():
                element.tag = f"h{min(6, int(element.tag[1]) + HEADING_SHIFT)}"


class _ShiftHeadingsExtension(Extension):
    def extendMarkdown(self, md):  # noqa: N802 (Markdown's API)
        md.treeprocessors.register(_ShiftHeadings(md), "shift_headings", 5)


def render_markdown(text: str, *, line_breaks: bool = True) -> SafeString:
    """Safe HTML of a publisher's Markdown text (single line breaks kept, as officials type them; a document wrapped
    at a fixed width, such as docs/api.md, passes line_breaks=False)."""
    if not text or not text.strip():
        return mark_safe("")
    raw = markdown.markdown(
        text,
        extensions=[
            "sane_lists",
            *(["nl2br"] if line_breaks else []),
            "tables",
            "fenced_code",
            _ShiftHeadingsExtension(),
        ],
        output_format="html",
    )
    clean = nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
        strip_comments=True,
    )
    return mark_safe(clean)  # noqa: S308 (sanitised by nh3 just above)


def plain_text(text: str) -> str:
    """The words of a Markdown text without any markup (for metadata such as JSON-LD)."""
    stripped = nh3.clean(str(render_markdown(text)), tags=set())
    return " ".join(html.unescape(stripped).split())
