"""schema.org `Dataset` JSON-LD of a public dataset page (what Google Dataset Search and other
harvesters read), built from the same selector result the page shows."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

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
    data = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": url,
        "name": version.title_ko,
        "description": plain_text(version.description_ko)[:5000],
        "url": url,
        "identifier": dataset.slug,
        "version": str(version.number),
        "inLanguage": "ko",
        "keywords": [*version.tags, version.theme.name_ko],
        "creator": creator,
        "publisher": publisher,
        "isAccessibleForFree": page.has_free_offer,
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
    if not data["distribution"]:
        del data["distribution"]
    return data
