"""The catalog page's parts built in Python (catalog.templatetags.catalog_tags): escaped, and as the template loops
they replace wrote them (the golden pages check the bytes; these check the edge cases)."""

import re
from html import escape
from types import SimpleNamespace

from django.http import QueryDict
from django.utils import translation

from catalog.templatetags.catalog_tags import (
    facet_list,
    facet_sections,
    hidden_inputs,
    pagination,
    sort_options,
    toggle_url,
)


def test_hidden_inputs_keep_the_search_but_the_given_names_and_the_page():
    query = QueryDict('q=a"<b&theme=x&theme=y&sort=title&page=3')
    assert hidden_inputs(query, "sort") == (
        '<input type="hidden" name="q" value="a&quot;&lt;b">'
        '<input type="hidden" name="theme" value="x"><input type="hidden" name="theme" value="y">'
    )


def test_sort_options_offer_relevance_only_with_words():
    sorts = {"relevance": "Relevance", "title": "A<Z"}
    assert sort_options(sorts, "title", "") == '<option value="title" selected>A&lt;Z</option>'
    assert sort_options(sorts, "title", "q").startswith('<option value="relevance">Relevance</option>')


def test_facet_sections_skip_the_groups_without_values():
    value = SimpleNamespace(value="v", label="<L>", count=3, selected=False)
    html = facet_sections([("theme", "T&", [value]), ("price", "P", [])], QueryDict("q=a"), True)
    assert html.count("<section") == 1 and 'id="facet-theme">T&amp;</h3>' in html and "&lt;L&gt;" in html


def test_pagination_marks_the_current_page_and_links_its_neighbours():
    result = SimpleNamespace(page=1, pages=9, has_previous=False, has_next=True)
    with translation.override("en"):
        html = pagination(result, QueryDict("q=a&b"))
    assert '<span class="page-navi prev disabled" aria-disabled="true">Previous</span>' in html
    assert '<a class="page-navi next" href="?q=a&amp;b=&amp;page=2">Next</a>' in html
    assert 'aria-current="page"><span class="sr-only">Current page </span>1</a>' in html
    assert (
        '<span class="page-link link-dot" aria-hidden="true"></span><a class="page-link" href="?q=a&amp;b=&amp;page=9">9</a>'
        in html
    )


def test_toggle_url_adds_a_value_or_removes_a_chosen_one():
    query = QueryDict("q=a b&theme=x&page=3")
    assert toggle_url(query, "theme", "y&z") == "?q=a+b&theme=x&theme=y%26z"
    assert toggle_url(query, "theme", "x") == "?q=a+b"
    assert toggle_url(QueryDict(""), "tag", "가") == "?tag=%EA%B0%80"


def test_each_facet_link_is_the_toggle_url_of_its_value():
    """facet_list writes the link of a value not chosen from the query's link and the value's pair (for speed):
    each link must still be toggle_url's, escaped, whatever the query and the values hold."""
    values = [
        SimpleNamespace(value=value, label=f"<{value}>", count=1234, selected=selected)
        for value, selected in [("x y", True), ("a&b=c", False), ("가<나>", False), ("'\"+%", False), ("x", False)]
    ]
    for query in (QueryDict("q=a&b&theme=x y&tag=가&page=3"), QueryDict("theme=x+y"), QueryDict("")):
        html = facet_list(query, "theme", values, False)
        assert re.findall(r'href="([^"]*)"', html) == [escape(toggle_url(query, "theme", v.value)) for v in values]
        assert html.count('data-facet="theme"') == 5 and 'data-value="&#x27;&quot;+%"' in html
        assert "&lt;가&lt;나&gt;&gt;" in html and html.count('<span class="cat-count">~1,234</span>') == 5
    assert html.count("is-selected") == 1 and html.count('aria-current="true"') == 1
