"""The catalog page's parts built in Python (catalog.templatetags.catalog_tags): escaped, and as the template loops
they replace wrote them (the golden pages check the bytes; these check the edge cases)."""

from types import SimpleNamespace

from django.http import QueryDict
from django.utils import translation

from catalog.templatetags.catalog_tags import facet_sections, hidden_inputs, pagination, sort_options


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
