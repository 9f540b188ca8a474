"""The catalog page's HTML, byte for byte, for a fixed catalog and a set of searches (issue 18's safety net).

The result lines, facets and figures are built in Python for speed (catalog.discovery.ResultLine and the catalog
tags); these golden files were written by the template-only code before that, so any change of what the page shows
fails here. Compared: the page's <title> and its <main> (the header and footer are not the catalog's), with CSRF
tokens and CSP nonces blanked (they are per request).

To write the files again (only when the page is MEANT to change, and read the diff):
    GOLDEN_WRITE=1 .venv/bin/python scripts/stack.py test -- tests/catalog/test_catalog_page_golden.py -q
"""

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import Organization
from catalog import services
from catalog.harvest.models import HarvestedDataset, HarvestSource
from catalog.models import CatalogEntry, Dataset, DatasetVersion, Offer
from tests.catalog.test_discovery import publish
from tests.conftest import make_org, make_user

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "golden"


def _org(owner_email, slug, name_ko, name_en, brn, vat):
    owner = make_user(owner_email)
    org = make_org(owner, name_ko=name_ko, name_en=name_en, kind="provider", brn=brn)
    Organization.objects.filter(pk=org.pk).update(slug=slug, vat_status=vat)
    org.refresh_from_db()
    return org


def _fixed(dataset, slug, published, downloads=None, *, offers=None, no_licence=False):
    """Deterministic slug, publication time and prices (publish() draws a random slug and a date from now)."""
    Dataset.objects.filter(pk=dataset.pk).update(slug=slug, **({"download_count": downloads} if downloads else {}))
    version_fields = {"published_at": published}
    if no_licence:
        version_fields["licence"] = None
    DatasetVersion.objects.filter(dataset=dataset).update(**version_fields)
    if offers is not None:
        dataset.offers.all().delete()
        for kind, price, days in offers:
            Offer.objects.create(
                dataset=dataset, kind=kind, price_krw=price, subscription_days=days, rule="데이터산업법"
            )
    dataset.refresh_from_db()
    services.catalog_entry_refresh(dataset)


@pytest.fixture
def golden_catalog(reference_data):
    taxable = _org(
        "g-a@siheung.test", "org-golden-a", "시흥시 환경정책과", "Env <Policy> & Co", "1348310008", "taxable"
    )
    exempt = _org("g-b@siheung.test", "org-golden-b", "시흥시 교통과", "Transport Division", "5048300010", "exempt")
    base = datetime(2024, 3, 1, 20, 30, tzinfo=UTC)  # 05:30 the next day in Seoul: the date shown is Seoul's
    n = 0

    def add(org, title, *, offers=None, downloads=None, no_licence=False, **kwargs):
        nonlocal n
        n += 1
        dataset = publish(org, title, **kwargs)
        published = base.replace(day=1 + n % 28, month=1 + n % 12, hour=(n * 7) % 24)
        _fixed(dataset, f"golden-{n:02d}", published, downloads, offers=offers, no_licence=no_licence)
        return dataset

    add(
        taxable,
        '대기질 <측정> & "자료"',
        title_en="Air quality <measurements>",
        description="  대기질   측정 결과를\n 시간별로 제공합니다. " + "가나다라마바사 " * 30,
        tags=["대기", "미세먼지"],
        formats=("csv", "geojson"),
        offers=[("one_off", 50_000, None), ("one_off", 30_000, None), ("subscription", 10_000, 30)],
        downloads=1_234_567,
    )
    add(
        exempt,
        "대기 오염 예보",
        title_en="Air pollution forecast",
        kinds=(),
        offers=[("free", 0, None), ("one_off", 30_000, None), ("subscription", 100_000, 365)],
        cadence="daily",
        area="경기도 시흥시 대야동",
        licence="kogl-3",
        downloads=7,
    )
    add(exempt, "대기 측정소 위치", kinds=("subscription",), formats=("json",), no_licence=True, downloads=1)
    add(taxable, "대기 배출 사업장", kinds=("free", "one_off"), theme="industry", formats=("xlsx",), tags=["배출"])
    bus = add(exempt, "경기도 버스정류소 대기 현황", title_en="Gyeonggi bus stops", theme="transport", downloads=42)
    for i in range(22):  # more than a page of 대기
        add(taxable if i % 2 else exempt, f"대기 자료 {i:02d}", tags=[f"태그{i % 5}"], downloads=i * 1000)
    add(taxable, "복지시설 현황", theme="welfare")
    source = HarvestSource.objects.create(
        name="경기데이터드림",
        kind="ckan",
        url="https://data.gg.example",
        organization=exempt,
        created_by=exempt.memberships.first().user,
    )
    HarvestedDataset.objects.create(
        dataset=bus,
        source=source,
        identifier="gg-bus",
        source_url="https://data.gg.example/dataset/gg-bus",
        imported_hash="0" * 64,
        source_hash="0" * 64,
        harvested_at=base,
    )
    services.catalog_entry_refresh(bus)
    assert CatalogEntry.objects.count() == 28


SEARCHES = [
    ("ko", "q=대기"),
    ("en", "q=대기"),
    ("ko", "q=대기&page=2"),
    ("en", "q=대기&page=2&sort=downloads"),
    ("ko", "q=대기&theme=environment&price=paid&format=csv"),
    ("en", "q=대기&theme=environment&price=subscription&licence=kogl-3"),
    ("ko", "q=대기&publisher=org-golden-b&sort=title"),
    ("ko", "q=버스"),
    ("en", "q=버스"),
    ("ko", ""),
    ("en", "sort=newest&page=2"),
    ("ko", "tag=태그1&tag=대기&cadence=monthly"),
    ("ko", "q=없는말&theme=welfare"),
    ("en", "q=대기정보"),
    ("ko", "q=대기&theme=nonsense&page=x"),
]

TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")
NONCE = re.compile(r'nonce="[^"]*"')


def _page(client, lang, params, htmx=False):
    client.cookies["django_language"] = lang
    headers = {"HX-Request": "true", "HX-Target": "catalog-body"} if htmx else {}
    response = client.get(reverse("catalog:index") + ("?" + params if params else ""), headers=headers)
    assert response.status_code == 200
    html = response.content.decode()
    if not htmx:
        title = re.search(r"<title>.*?</title>", html, re.S).group()
        main = re.search(r"<main\b.*?</main>", html, re.S).group()
        html = title + "\n" + main
    return NONCE.sub('nonce=""', TOKEN.sub("TOKEN", html))


def _check(name, html):
    path = GOLDEN / f"{name}.html"
    if os.environ.get("GOLDEN_WRITE"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(html, encoding="utf-8")
    assert html == path.read_text(encoding="utf-8"), f"{path.name} differs"


@pytest.mark.parametrize("i", range(len(SEARCHES)))
def test_the_catalog_page_is_unchanged(golden_catalog, client, i):
    lang, params = SEARCHES[i]
    _check(f"catalog_{i:02d}_{lang}", _page(client, lang, params))


def test_the_htmx_results_are_unchanged(golden_catalog, client):
    _check("catalog_htmx_ko", _page(client, "ko", "q=대기&theme=environment&page=2", htmx=True))
    _check("catalog_htmx_en", _page(client, "en", "q=대기&sort=title", htmx=True))


# The template loop the result lines were rendered by before catalog_tags.result_items (kept here as the reference).
OLD_LOOP = """{% load i18n catalog_tags %}{% for e in entries %}
      <li class="pg-dataset-item cat-item">
        <h3 class="cat-item-title"><a href="{{ e.url }}" class="pg-strong-link" hx-boost="false">{{ e.title }}</a></h3>
        <p class="pg-text cat-meta">
          <span>{{ e.publisher_name }}</span>
          <span>{{ e.theme_name }}</span>
          <span>{{ e.cadence_label }}</span>
          {% for f in e.formats %}<span class="krds-badge outline-gray">{{ f|upper }}</span>{% endfor %}
          {% price_badges e.price_types %}
          {% if e.harvest_source %}<span class="krds-badge bg-light-primary" data-harvested title="{% blocktrans with source=e.harvest_source %}Data harvested from {{ source }}{% endblocktrans %}">{% trans "Harvested" %}</span>{% endif %}
        </p>
        {% result_price e %}
        <p class="pg-text pg-muted">{{ e.description|clip:160 }}</p>
        <p class="pg-text pg-muted cat-meta-small">{% blocktrans trimmed with date=e.published_at|date:"Y-m-d" n=e.download_count|num %}Published {{ date }} · {{ n }} downloads{% endblocktrans %}{% if e.licence_name %} · {{ e.licence_name }}{% endif %}</p>
      </li>
      {% endfor %}"""


def _line(**over):
    from catalog.discovery import ResultLine
    from catalog.models import DatasetVersion

    fields = dict(
        pk=1,
        slug="a-b_c-1",
        title_ko="제목 <b>&'\"",
        title_en="",
        formats=["csv", "GeoJSON"],
        price_types=["free", "paid", "subscription", "other<"],
        published_at=datetime(2023, 12, 31, 15, 0, tzinfo=UTC),  # 2024-01-01 in Seoul
        download_count=1234567,
        publisher_ko="기관 & 과",
        publisher_en="Office <A>",
        theme_ko="환경",
        theme_en="Environment",
        licence_ko="공공누리",
        licence_en="",
        description_ko="  줄\n바꿈   <script>x</script> " * 20,
        description_en="English & <desc>",
        update_cadence="monthly",
        price_from_krw=None,
        subscription_prices=[],
        publisher_vat_status="taxable",
        publisher_slug="org",
        theme_code="environment",
        licence_code="kogl-1",
        harvest_source=None,
    )
    fields.update(over)
    line = ResultLine(**fields)
    line.cadence_label = dict(DatasetVersion.Cadence.choices).get(line.update_cadence, "")
    return line


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_result_items_render_what_the_template_loop_rendered(lang):
    from django.template import Context, Template
    from django.utils import translation

    from catalog.templatetags.catalog_tags import result_items

    lines = [
        _line(),
        _line(
            slug="x",
            title_en="English <title>",
            formats=None,
            price_types=None,
            published_at=None,
            download_count=0,
            licence_ko=None,
            licence_en=None,
            description_ko=None,
            update_cadence="unknown",
            harvest_source='소스 "<&>"',
        ),
        _line(price_from_krw=30_000, subscription_prices="[[30, 10000], [365, 99999]]", publisher_vat_status="exempt"),
        _line(price_from_krw=1, subscription_prices=[[1, 5]], licence_en="KOGL <1>", description_en=""),
        _line(formats=[], price_types=[], title_ko="", publisher_en="", theme_en="", update_cadence="daily"),
    ]
    with translation.override(lang):
        old = Template(OLD_LOOP).render(Context({"entries": lines}))
        assert str(result_items(lines)) == old
