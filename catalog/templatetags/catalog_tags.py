import re
from datetime import datetime
from functools import lru_cache
from html import escape
from urllib.parse import quote_plus, urlencode

from django import template
from django.urls import reverse
from django.utils.html import mark_safe
from django.utils.timezone import get_current_timezone, is_naive, template_localtime
from django.utils.translation import get_language, ngettext, pgettext
from django.utils.translation import gettext as _

from catalog import selectors
from catalog.models import Offer

register = template.Library()


@register.simple_tag
def review_waiting_count():
    """Versions waiting for a reviewer, for the staff home (accounts, which may not import catalog)."""
    return selectors.review_queue_counts()["waiting"]


@register.filter
def contract_label(terms):
    """The standard-contract type of an order line in the reader's language.

    The line keeps the label as shown at purchase (in the buyer's language then); the stored code
    gives it in the language of whoever reads it now.
    """
    code = (terms or {}).get("contract_type")
    if code in Offer.Contract.values:
        return Offer.Contract(code).label
    return (terms or {}).get("contract_label", "")


@register.filter
def localized(value):
    """A message stored in every site language ({"ko": …, "en": …}) in the reader's language."""
    if isinstance(value, dict):
        return value.get(get_language()) or value.get("ko") or next(iter(value.values()), "")
    return value


# --- fast filters for the catalog page's hot loops (humanize's intcomma and truncatechars cost ~0.1 ms each) ---


@register.filter
def num(value):
    """1234567 → "1,234,567" (Korean and English group digits alike)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return value


@register.filter
def clip(value, length):
    """The text cut to `length` characters with an ellipsis (truncatechars without its Unicode analysis)."""
    value = " ".join(str(value or "").split())
    length = int(length)
    return value if len(value) <= length else value[: length - 1].rstrip() + "…"


@lru_cache(maxsize=4096)
def _escaped(text: str) -> str:
    """escape(text) of a text that is the same on many pages (facet values and labels, publishers, themes,
    licences, formats: a few hundred): a dictionary look-up instead of five replaces."""
    return escape(text)


def _price_labels() -> dict:
    return {"free": _("Free"), "paid": pgettext("price", "Paid"), "subscription": _("Subscription")}


def _badges(price_types, labels) -> str:
    return " ".join(
        f'<span class="krds-badge {"bg-light-success" if p == "free" else "bg-light-primary"}">'
        f"{escape(str(labels.get(p, p)))}</span>"
        for p in price_types or ()
    )


@register.simple_tag
def price_badges(price_types):
    """How a catalog entry is offered (its price types) as badges: free, paid, subscription."""
    return mark_safe(_badges(price_types, _price_labels()))  # every label is escaped


class _PriceTexts:
    """The translated texts of the price lines, looked up once for a list of lines (each gettext goes through
    the active translation: ~5 µs, and a page of 20 lines asked for 40 of them)."""

    def __init__(self):
        self.price_from = _("from %(amount)s won")
        self.exempt, self.included = escape(_("VAT exempt")), escape(_("VAT included"))
        self._periods: dict = {}

    def subscription(self, days) -> str:
        text = self._periods.get(days)
        if text is None:
            text = self._periods[days] = ngettext(
                "subscription, %(days)s day: %(amount)s won",
                "subscription, %(days)s days: %(amount)s won",
                days,
            )
        return text


def _price_html(line, texts=None) -> str:
    texts = texts or _PriceTexts()
    parts = []
    if line.price_from is not None:
        parts.append(texts.price_from % {"amount": f"{line.price_from.total_krw:,}"})
    for days, price in line.subscriptions:
        parts.append(texts.subscription(days) % {"days": days, "amount": f"{price.total_krw:,}"})
    if not parts:
        return ""
    note = texts.exempt if line.tax_free else texts.included
    spans = " · ".join(f'<span class="cat-price-part">{escape(p)}</span>' for p in parts)
    return f'<p class="pg-text cat-price">{spans} <span class="cat-price-note">({note})</span></p>'


@register.simple_tag
def result_price(line):
    """A result line's prices as a buyer pays them: "from 33,000 won" for the lowest public one-off offer and
    each subscription period's price, then whether VAT is included (catalog.discovery.ResultLine, whose prices
    come from the catalog entry; nothing is read per line)."""
    return mark_safe(_price_html(line))  # every text above is escaped


# One result line of the catalog page (templates/catalog/_catalog_body.html's list), built in Python: a template loop
# over 20 lines cost ~4 ms of a ~18 ms request (each variable resolved, localized and escaped through Django's
# lazy-aware wrappers, a reverse() and a blocktrans per line). Every value is escaped with the standard library's
# escape (Django's escape is the same function). The whitespace is the template loop's, byte for byte.
RESULT_LINE = """
      <li class="pg-dataset-item cat-item">
        <h3 class="cat-item-title"><a href="{url}" class="pg-strong-link" hx-boost="false">{title}</a></h3>
        <p class="pg-text cat-meta">
          <span>{publisher}</span>
          <span>{theme}</span>
          <span>{cadence}</span>
          {formats}
          {badges}
          {harvest}
        </p>
        {price}
        <p class="pg-text pg-muted">{description}</p>
        <p class="pg-text pg-muted cat-meta-small">{meta}{licence}</p>
      </li>
      """
SLUG = re.compile(r"[-a-zA-Z0-9_]+")  # the <slug:…> converter's pattern: such a slug is never quoted by reverse()


def _dataset_url():
    """slug → the dataset page's URL, as reverse("catalog:dataset", args=[slug]) gives it, reversing once."""
    head, _sep, tail = reverse("catalog:dataset", args=["x0slug0x"]).rpartition("x0slug0x")

    def url(slug):
        if SLUG.fullmatch(slug):
            return head + slug + tail
        return reverse("catalog:dataset", args=[slug])  # (raises NoReverseMatch, as it did)

    return url


def _day(value, timezone=None) -> str:
    """|date:"Y-m-d" of a datetime: in the current time zone (`timezone`, looked up once by a caller that writes
    many dates: template_localtime looks it up for each, which cost more than the rest)."""
    if value in (None, ""):
        return ""
    if timezone is not None and isinstance(value, datetime) and not is_naive(value):
        value = value.astimezone(timezone)  # what template_localtime does to an aware datetime
    else:
        value = template_localtime(value)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


@register.simple_tag
def result_items(lines):
    """The <li> of each result line (catalog.discovery.ResultLine) of the catalog page."""
    english = get_language() == "en"
    url = _dataset_url()
    labels = _price_labels()
    prices = _PriceTexts()
    published = _("Published %(date)s · %(n)s downloads")  # the msgid of the template's blocktrans, kept
    harvested_from = _("Data harvested from %(source)s")
    harvested = escape(_("Harvested"))
    timezone = get_current_timezone()
    # What repeats from line to line is built once: the cadences and the price badges.
    cadences: dict = {}
    badges: dict = {}
    out = []
    for e in lines:
        cadence = cadences.get(e.update_cadence)
        if cadence is None:
            cadence = cadences[e.update_cadence] = escape(str(e.cadence_label))
        price_types = tuple(e.price_types or ())
        badge_html = badges.get(price_types)
        if badge_html is None:
            badge_html = badges[price_types] = _badges(price_types, labels)
        licence = (e.licence_en if english and e.licence_en else e.licence_ko) or ""
        day = _day(e.published_at, timezone)
        source = e.harvest_source
        out.append(
            RESULT_LINE.format(
                url=escape(url(e.slug)),
                title=escape(str(e.title_en if english and e.title_en else e.title_ko)),
                publisher=_escaped(str(e.publisher_en if english and e.publisher_en else e.publisher_ko)),
                theme=_escaped(str(e.theme_en if english and e.theme_en else e.theme_ko)),
                cadence=cadence,
                formats="".join(
                    f'<span class="krds-badge outline-gray">{_escaped(str(f).upper())}</span>' for f in e.formats or ()
                ),
                badges=badge_html,
                harvest=(
                    f'<span class="krds-badge bg-light-primary" data-harvested title="'
                    f'{harvested_from % {"source": escape(str(source))}}">{harvested}</span>'
                    if source
                    else ""
                ),
                price=_price_html(e, prices),
                description=escape(clip(e.description_en if english and e.description_en else e.description_ko, 160)),
                meta=published % {"date": escape(day), "n": escape(str(num(e.download_count)))},
                licence=f" · {_escaped(str(licence))}" if licence else "",
            )
        )
    return mark_safe("".join(out))  # every value above is escaped


@register.simple_tag
def facet_list(query, name, values, exact, note=None):
    """The links of one facet's values (selected ones marked, each toggling its value), built in Python with the
    standard library's escape: the catalog page has up to ~130 of them, and the template loop (or format_html,
    which escapes through Django's lazy-aware wrapper) was a third of the page's rendering time.

    A value's link is toggle_url's, escaped; for a value not in the query it is the query's link with the value's
    pair added, so it is built from the query's escaped link (once) and the value's pair (_query_pair, which keeps
    the values seen). `note`: the selected values' note, translated (facet_sections looks it up once)."""
    note = note or _selected_note()
    pairs, encoded = _base(query)
    chosen = set(pairs)
    head = escape(f"?{encoded}&") if encoded else "?"  # toggle_url's link before the added pair
    prefix = "" if exact else "~"
    facet = escape(name)
    items = []
    for fv in values:
        value = fv.value
        if isinstance(name, str) and isinstance(value, str) and (name, value) not in chosen:
            href = head + _query_pair(name, value)  # quoted: nothing in it to escape
        else:
            href = escape(toggle_url(query, name, value))
        marked = (" is-selected", ' aria-current="true"', note) if fv.selected else ("", "", "")
        items.append(
            f'<li><a href="{href}" class="cat-facet-link{marked[0]}" data-facet="{facet}"'
            f' data-value="{_escaped(str(value))}"{marked[1]}>'
            f'<span class="cat-check" aria-hidden="true"></span><span class="cat-facet-label">{_escaped(str(fv.label))}</span>'
            f'{marked[2]}<span class="cat-count">{prefix}{num(fv.count)}</span></a></li>'
        )
    return mark_safe(f'<ul class="cat-facet-list">{"".join(items)}</ul>')  # every value above is escaped


def _selected_note() -> str:
    return f'<span class="sr-only">{escape(str(_("(chosen: select to remove)")))}</span>'


# The facet groups of the catalog page's side column (the template loop over eight groups, each with a section around
# its facet_list, cost ~0.2 ms). The whitespace is the loop's, byte for byte.
FACET_SECTION = """
    <section class="cat-facet" aria-labelledby="facet-{name}">
      <h3 class="cat-facet-title" id="facet-{name}">{title}</h3>
      {values}
    </section>
    """


@register.simple_tag
def facet_sections(groups, query, exact):
    """A section per facet group (name, title, values) that has values, with its facet_list."""
    note = _selected_note()
    return mark_safe(  # every value is escaped (facet_list escapes its own)
        "".join(
            FACET_SECTION.format(
                name=escape(str(name)), title=escape(str(title)), values=facet_list(query, name, values, exact, note)
            )
            for name, title, values in groups
            if values
        )
    )


@register.simple_tag
def hidden_inputs(query, *without):
    """An <input type="hidden"> for each (name, value) of the query but the given names and the page: a form that
    sets one parameter (the sort) keeps the rest of the search."""
    return mark_safe(  # escaped
        "".join(
            f'<input type="hidden" name="{escape(str(name))}" value="{escape(str(value))}">'
            for name, value in _pairs(query, without=(*without, "page"))
        )
    )


@register.simple_tag
def sort_options(sorts, current, q):
    """The <option> of each sort ({key: label}), the current one selected; ranking by relevance needs words."""
    return mark_safe(  # escaped
        "".join(
            f'<option value="{escape(str(key))}"{" selected" if key == current else ""}>{escape(str(label))}</option>'
            for key, label in sorts.items()
            if key != "relevance" or q
        )
    )


# The pages of a catalog search: a template loop of ~7 links with a test and a tag each cost ~0.3 ms. The whitespace
# is the template's, byte for byte.
PAGINATION = """<nav class="krds-pagination pg-pagination" aria-label="{label}">
      {previous}
      <div class="page-links">
        {links}
      </div>
      {next}
    </nav>"""


@register.simple_tag
def pagination(result, query):
    """The page navigation of a catalog result (catalog.discovery.CatalogResult): previous, the page_window's
    numbers (the current one marked), next."""

    def link(number):
        return escape(page_url(query, number))

    previous, following = escape(str(_("Previous"))), escape(str(_("Next")))
    current = f'<span class="sr-only">{escape(str(_("Current page")))} </span>'
    links = "".join(
        '<span class="page-link link-dot" aria-hidden="true"></span>'
        if n is None
        else f'<a class="page-link active" href="{link(n)}" aria-current="page">{current}{n}</a>'
        if n == result.page
        else f'<a class="page-link" href="{link(n)}">{n}</a>'
        for n in page_window(result)
    )
    return mark_safe(  # escaped
        PAGINATION.format(
            label=escape(str(_("Pages"))),
            previous=f'<a class="page-navi prev" href="{link(result.page - 1)}">{previous}</a>'
            if result.has_previous
            else f'<span class="page-navi prev disabled" aria-disabled="true">{previous}</span>',
            links=links,
            next=f'<a class="page-navi next" href="{link(result.page + 1)}">{following}</a>'
            if result.has_next
            else f'<span class="page-navi next disabled" aria-disabled="true">{following}</span>',
        )
    )


# --- catalog URL state: every search is a URL; these build the links that change one part of it ---------


# A catalog page has a link per facet value (about 150): built from the query's (name, value) pairs and
# urlencode, not by copying the QueryDict each time.


def _pairs(query, *, without=()) -> list[tuple[str, str]]:
    return [(name, value) for name, values in query.lists() if name not in without for value in values]


def _encoded(pairs) -> str:
    return "?" + urlencode(pairs) if pairs else "?"


def _base(query) -> tuple[list, str]:
    """The query's pairs without the page, and their encoding, computed once per query (it is per request)."""
    base = getattr(query, "_catalog_base", None)
    if base is None:
        pairs = _pairs(query, without=("page",))
        base = (pairs, urlencode(pairs))
        try:
            query._catalog_base = base
        except AttributeError:  # not a QueryDict (a plain dict in a test)
            pass
    return base


@register.simple_tag
def toggle_url(query, name, value):
    """The current search with `value` of filter `name` added, or removed when already chosen (back to page 1)."""
    pairs, encoded = _base(query)
    if (name, value) in pairs:
        return _encoded([pair for pair in pairs if pair != (name, value)])
    added = _query_pair(name, value) if isinstance(name, str) and isinstance(value, str) else urlencode([(name, value)])
    return f"?{encoded}&{added}" if encoded else f"?{added}"


@lru_cache(maxsize=4096)
def _query_pair(name: str, value: str) -> str:
    """urlencode([(name, value)]) without its checks, kept for the facet values (the same few hundred on every
    page: each quote_plus costs more than the look-up)."""
    return f"{quote_plus(name, '')}={quote_plus(value, '')}"


@register.simple_tag
def without_url(query, *names):
    """The current search without the given parameters (e.g. without q, or without every filter)."""
    return _encoded(_pairs(query, without=(*names, "page")))


@register.simple_tag
def page_url(query, number):
    encoded = _base(query)[1]  # urlencode joins pairs with "&": the page's pair after the rest, encoded once
    return f"?{encoded}&page={quote_plus(str(number), '')}" if encoded else f"?page={quote_plus(str(number), '')}"


@register.filter
def page_window(result, around=2):
    """Page numbers to show: the first, the last and `around` either side of the current one; None for a gap."""
    shown, last = [], 0
    for n in sorted({1, result.pages, *range(result.page - around, result.page + around + 1)}):
        if 1 <= n <= result.pages:
            if n - last > 1:
                shown.append(None)
            shown.append(n)
            last = n
    return shown


@register.filter
def preview_table(preview):
    """A stored preview as the page shows it: {"columns": [{"name", "type", "expected"}], "rows": [[{"value",
    "mark", "kind"}]]}. The cells are the text as written in the file; a mark says "empty" (a marker such as "-" that
    was read as empty) or "invalid" (the value does not read as its column's type, or as the type a column
    kept as text was expected to have). Previews stored before the marks existed have no types or marks."""
    preview = preview or {}
    names = preview.get("columns") or []
    types = preview.get("types") or []
    expected = preview.get("expected") or []
    marks = preview.get("marks") or []
    columns = [
        {
            "name": name,
            "type": types[i] if i < len(types) else None,
            "expected": expected[i] if i < len(expected) else None,
        }
        for i, name in enumerate(names)
    ]
    rows = []
    for r, row in enumerate(preview.get("rows") or []):
        row_marks = marks[r] if r < len(marks) else []
        cells = []
        for i, value in enumerate(row):
            column = columns[i] if i < len(columns) else {}
            mark = row_marks[i] if i < len(row_marks) else None
            # an invalid cell: the kind it does not read as
            kind = (column.get("expected") or column.get("type")) if mark == "invalid" else None
            cells.append({"value": value, "mark": mark, "kind": kind})
        rows.append(cells)
    return {"columns": columns, "rows": rows}


@register.filter
def distinct_estimated(profile):
    """Whether any column of a stored profile has an estimated (≈) count of different values."""
    return any(col.get("distinct") is not None and col.get("distinct_approximate") for col in profile or [])


_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@register.filter
def datetime_text(value):
    """A stored ISO date-time (profile min/max: "2024-01-01T00:00:00") written with a space, as people and
    the files write it; anything else unchanged."""
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        return value.replace("T", " ", 1)
    return value
