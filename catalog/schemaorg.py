"""schema.org `Dataset` JSON-LD of a public dataset page (what Google Dataset Search and other
harvesters read), built from the same selector result the page shows."""

import json

from django.core.exceptions import ObjectDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from catalog.dcat import selectors as dcat_selectors
from catalog.dcat.vocab import media_type_of
from catalog.models import API_OFFER_KINDS
from catalog.rendering import plain_text

# As django.utils.html.json_script: inside <script> these three must not appear literally, so that
# no value (a title with "</script>", say) can end the element or open a comment.
_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def script_json(value) -> SafeString:
    """JSON for the inside of a <script type="application/ld+json"> element, safely escaped."""
    text = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
    return mark_safe(text.translate(_SCRIPT_ESCAPES))  # noqa: S308 (escaped just above)


def _organization(org, absolute) -> dict:
    node = {
        "@type": "Organization",
        "name": org.name_ko,
        "url": absolute(reverse("catalog:organization", args=[org.slug])),
    }
    if org.name_en:
        node["alternateName"] = org.name_en
    return node


def _temporal(version) -> str | None:
    start, end = version.temporal_start, version.temporal_end
    if not start and not end:
        return None
    return f"{start.isoformat() if start else '..'}/{end.isoformat() if end else '..'}"


# Google's Dataset rich results want a description of 50 to 5,000 characters.
DESCRIPTION_MIN, DESCRIPTION_MAX = 50, 5000


def google_description(page) -> str:
    """The description as Google's Dataset rules want it: the publisher's own text (plain), completed with what the
    catalog knows when it is shorter than 50 characters, cut at a word before 5,000."""
    version, dataset = page.version, page.dataset
    text = plain_text(version.description_ko) or version.title_ko
    if len(text) < DESCRIPTION_MIN:
        facts = [
            f"{dataset.publisher.name_ko}에서 제공하는 {version.theme.name_ko} 분야 데이터입니다.",
            f"갱신 주기: {CADENCE_KO.get(version.update_cadence, version.update_cadence)}.",
        ]
        if version.spatial_area:
            facts.append(f"대상 지역: {version.spatial_area}.")
        facts.append("시흥 데이터거래소에서 제공 조건을 확인하고 내려받을 수 있습니다.")
        text = " ".join([text.rstrip(".") + ".", *facts])
    if len(text) > DESCRIPTION_MAX:
        cut = text.rfind(" ", 0, DESCRIPTION_MAX - 1)
        text = text[: cut if cut > DESCRIPTION_MAX // 2 else DESCRIPTION_MAX - 1].rstrip() + "…"
    return text


CADENCE_KO = {
    "realtime": "실시간",
    "daily": "일간",
    "weekly": "주간",
    "monthly": "월간",
    "quarterly": "분기",
    "half_yearly": "반기",
    "yearly": "연간",
    "irregular": "수시",
    "none": "없음",
}


def _offer(offer, url: str) -> dict:
    """A schema.org Offer: the price a buyer pays (VAT included), in KRW."""
    node = {
        "@type": "Offer",
        "name": str(offer.get_kind_display()),
        "url": f"{url}#{'api-offer' if offer.kind in API_OFFER_KINDS else 'offer'}-{offer.pk}",
        "price": offer.price.total_krw,
        "priceCurrency": "KRW",
        "availability": "https://schema.org/InStock",
        "category": offer.kind,
    }
    if offer.kind in ("subscription", "api_subscription") and offer.subscription_days:
        node["eligibleDuration"] = {"@type": "QuantitativeValue", "value": offer.subscription_days, "unitCode": "DAY"}
    if offer.kind == "api_metered" and offer.price_per_1000_krw:
        node["priceSpecification"] = {
            "@type": "UnitPriceSpecification",
            "price": offer.price_per_1000_krw,
            "priceCurrency": "KRW",
            "valueAddedTaxIncluded": False,
            "referenceQuantity": {"@type": "QuantitativeValue", "value": 1000, "unitText": "API calls"},
        }
    return node


def _harvest(dataset):
    """The HarvestedDataset of a harvested listing (selected with the page), or None."""
    try:
        return dataset.harvest
    except ObjectDoesNotExist:
        return None


def _variables(page) -> list[dict]:
    """The columns of the dataset's tables with their data dictionary (schema.org variableMeasured), once each."""
    seen, variables = set(), []
    for f in page.tabular_files:
        for row in f.dictionary_rows:
            name = row["name"]
            if name in seen or len(variables) >= MAX_VARIABLES:
                continue
            seen.add(name)
            variable = {"@type": "PropertyValue", "name": name}
            entry = (f.dictionary or {}).get(name) or {}
            if entry.get("description_ko"):
                variable["description"] = entry["description_ko"]
            if entry.get("unit"):
                variable["unitText"] = entry["unit"]
            variables.append(variable)
    return variables


MAX_VARIABLES = 200


def dataset_jsonld(page, absolute) -> dict:
    """The JSON-LD of a DatasetPage. `absolute` turns a path into an absolute URL (request.build_absolute_uri)."""
    version, dataset = page.version, page.dataset
    url = absolute(reverse("catalog:dataset", args=[dataset.slug]))
    publisher = _organization(dataset.publisher, absolute)
    contact = {
        "@type": "ContactPoint",
        "contactType": _("Data enquiries"),
        "email": version.contact_email,
        "telephone": version.contact_phone,
        "name": version.contact_name,
    }
    if version.department:
        contact["areaServed"] = version.department
    creator = {**publisher, "contactPoint": contact}
    harvest = _harvest(dataset)
    offers = [*page.offers, *page.api_offers]
    data = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": url,
        "name": version.title_ko,
        "description": google_description(page),
        "url": url,
        "identifier": dataset.slug,
        "version": str(version.number),
        "inLanguage": "ko",
        "keywords": [*version.tags, version.theme.name_ko],
        "creator": creator,
        "publisher": publisher,
        # A harvested listing without an offer of ours is free at its source.
        "isAccessibleForFree": page.has_free_offer or (harvest is not None and not offers),
        "includedInDataCatalog": {
            "@type": "DataCatalog",
            "name": "시흥 데이터거래소",
            "url": absolute(reverse("catalog:index")),
        },
    }
    if version.title_en:
        data["alternateName"] = version.title_en
    if version.published_at:
        data["dateModified"] = version.published_at.isoformat()
    if page.first_published_at:
        data["datePublished"] = page.first_published_at.isoformat()
    licence = version.licence
    if licence:
        data["license"] = licence.url or f"{url}#licence"
    temporal = _temporal(version)
    if temporal:
        data["temporalCoverage"] = temporal
    if page.bbox or version.spatial_area:
        place = {"@type": "Place"}
        if version.spatial_area:
            place["name"] = version.spatial_area
        if page.bbox:
            west, south, east, north = page.bbox
            # schema.org GeoShape box: "south-west corner, north-east corner", each as "latitude longitude".
            place["geo"] = {"@type": "GeoShape", "box": f"{south} {west} {north} {east}"}
        data["spatialCoverage"] = place
    if version.collection_method:
        data["measurementTechnique"] = version.collection_method
    variables = _variables(page)
    if variables:
        data["variableMeasured"] = variables
    # What anyone can download: the free samples, and a harvested listing's files at their source. (Our own files are
    # delivered in orders, never at a public address: they are the offers below.)
    sample_path = reverse("catalog:dataset_sample", args=[dataset.slug])
    data["distribution"] = [
        {
            "@type": "DataDownload",
            "name": _("Free sample of %(name)s (first %(rows)s rows)")
            % {"name": f.display_name, "rows": f.sample_rows},
            "encodingFormat": "text/csv",
            "contentUrl": absolute(f"{sample_path}?file={f.pk}"),
        }
        for f in page.sample_files
    ]
    if harvest is not None:
        data["isBasedOn"] = harvest.source_url or None
        for resource in dcat_selectors.external_resources(version):
            download = {
                "@type": "DataDownload",
                "name": resource.name,
                "contentUrl": resource.url,
                "encodingFormat": resource.media_type or media_type_of(resource.format) or resource.format,
            }
            if resource.size is not None:
                download["contentSize"] = f"{resource.size} B"
            data["distribution"].append({k: v for k, v in download.items() if v})
        if not data["isBasedOn"]:
            del data["isBasedOn"]
    if not data["distribution"]:
        del data["distribution"]
    if offers:
        data["offers"] = [_offer(offer, url) for offer in offers]
    return data
