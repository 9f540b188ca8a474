"""rdflib graphs of the public catalog in DCAT-AP 3.0.1: the catalog (a page of it, with Hydra paging links), one
dataset, and the theme scheme (our 분류체계 as a SKOS concept scheme mapped onto the EU data themes).

Every URI is absolute under settings.SITE_URL. A dataset's URI is its page's URL (which answers RDF by content
negotiation); what belongs to a dataset and has no page of its own (its distributions, contact point, coverage,
checksums) gets a fragment of that URI, so the same node has the same name in every document that mentions it.

What the shapes require and how it is met (shapes.ttl and range.ttl of DCAT-AP 3.0.1):
- every object of a property whose range is a class carries that class here (range.ttl checks rdf:type in the
  data graph itself: a frequency is a dct:Frequency, a licence a dct:LicenseDocument, a theme a skos:Concept with
  a skos:prefLabel, a landing page a foaf:Document, a media type a dct:MediaType …);
- a distribution's dcat:accessURL is the dataset page (where a file is bought or taken free); dcat:downloadURL
  only where a public download exists: the free sample CSV (an adms:sample distribution) and the files of a
  harvested listing that stay at their source. Our own files are delivered in orders, never by a public URL;
- the data dictionary: DCAT-AP has no column-level property, and its shapes are open, so a table distribution
  carries (a) dct:conformsTo its Table Schema document (a dct:Standard: Frictionless Table Schema JSON served at
  /dataset/<slug>/files/<id>/schema.json, with every column's description, unit and codes) and (b) the same
  columns inline as CSVW (csvw:tableSchema / csvw:column with csvw:name, csvw:datatype, dct:description in
  Korean and English), W3C's vocabulary for describing a table's columns in RDF;
- dates: dct:issued/dct:modified as xsd:dateTime, coverage as xsd:date (DateOrDateTimeDataType_Shape).
"""

import functools
import re
from datetime import datetime
from urllib.parse import quote

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rdflib import BNode, Graph, Literal, URIRef

from catalog.dcat import vocab
from catalog.dcat.vocab import ADMS, CSVW, DCAT, DCTERMS, FOAF, GSP, HYDRA, PROV, RDF, RDFS, SKOS, SPDX, VCARD, XSD
from catalog.interop import object_uuid
from catalog.rendering import plain_text
from catalog.selectors import valid_bbox

CATALOG_TITLE = {"ko": "시흥 데이터거래소", "en": "Siheung Data Exchange"}
CATALOG_DESCRIPTION = {
    "ko": "시흥시와 여러 도시의 공공·민간 데이터를 찾고 사고파는 스마트도시 데이터거래소의 데이터 목록입니다.",
    "en": "The catalog of a smart-city data exchange where public and private data of Siheung and other cities "
    "are found, bought and sold.",
}
SCHEME_TITLE = {"ko": "공공데이터 분류체계", "en": "Korean public data classification"}

# Table Schema field types → XSD datatypes for csvw:datatype.
XSD_TYPES = {
    "integer": XSD.integer,
    "number": XSD.decimal,
    "boolean": XSD.boolean,
    "date": XSD.date,
    "datetime": XSD.dateTime,
    "time": XSD.time,
    "year": XSD.gYear,
    "yearmonth": XSD.gYearMonth,
    "string": XSD.string,
}

_IRI_UNSAFE = {c: quote(c) for c in ' <>"{}|\\^`'}


def site(path: str = "/") -> str:
    return settings.SITE_URL.rstrip("/") + path


def iri(url: str) -> URIRef:
    """An IRI of a URL written by someone else (a harvested resource): the characters an IRI may not hold
    percent-encoded, nothing else touched (Korean stays Korean)."""
    return URIRef("".join(_IRI_UNSAFE.get(c, c) if c > " " or c == " " else quote(c) for c in url.strip()))


@functools.lru_cache(maxsize=32)
def _route(name: str, site_url: str) -> str:
    """An absolute URL pattern of a route with "{slug}" / "{id}" holes: reverse() once, not for every dataset."""
    args = {"catalog:dataset": ["SLUG"], "catalog:organization": ["SLUG"], "catalog:dataset_sample": ["SLUG"]}.get(
        name, ["SLUG", 999999999]
    )
    return (site_url.rstrip("/") + reverse(name, args=args)).replace("SLUG", "{slug}").replace("999999999", "{id}")


def _url(name: str, slug: str, file_id: int | None = None) -> str:
    return _route(name, settings.SITE_URL).format(slug=slug, id=file_id)


def dataset_uri(slug: str) -> URIRef:
    return URIRef(_url("catalog:dataset", slug))


def catalog_uri() -> URIRef:
    return URIRef(site(reverse("catalog:index")))


def scheme_uri() -> URIRef:
    return URIRef(site(reverse("dcat:themes")))


def theme_uri(code: str) -> URIRef:
    return URIRef(f"{scheme_uri()}#{code}")


def organization_uri(slug: str) -> URIRef:
    return URIRef(_url("catalog:organization", slug))


def schema_uri(slug: str, file_id: int) -> URIRef:
    return URIRef(_url("dcat:table_schema", slug, file_id))


def new_graph() -> Graph:
    # SimpleMemory: a plain triple store without rdflib's context bookkeeping and events (we have one graph, no
    # quads): builds ~15 % and serializes Turtle ~30 % faster than the default Memory store (bench/dcat.py).
    g = Graph(store="SimpleMemory", bind_namespaces="none")
    for prefix, namespace in vocab.PREFIXES.items():
        g.bind(prefix, namespace)
    return g


def _dt(value: datetime) -> Literal:
    return Literal(timezone.localtime(value).replace(microsecond=0).isoformat(), datatype=XSD.dateTime)


_MARKUP = re.compile(r"[*_`#\[\]<>!|~\\&]|^\s*([-+]|\d+[.)])\s", re.M)


def text_of(markdown_text: str) -> str:
    """The plain words of a publisher's Markdown (catalog.rendering.plain_text); text without any markup character
    is already plain and skips the Markdown renderer (most descriptions: 2–3 ms each saved on a page of 100)."""
    if not markdown_text:
        return ""
    if _MARKUP.search(markdown_text):
        return plain_text(markdown_text)
    return " ".join(markdown_text.split())


def _texts(g, node, prop, ko: str, en: str = ""):
    if ko:
        g.add((node, prop, Literal(ko, lang="ko")))
    if en:
        g.add((node, prop, Literal(en, lang="en")))


class Builder:
    """Adds DCAT-AP descriptions to one graph; shared nodes (agents, concepts, licences, EU concepts) once."""

    def __init__(self, graph: Graph | None = None, *, inline_columns: bool = True):
        self.g = graph if graph is not None else new_graph()
        self._done: set = set()
        # A dataset's own document carries its tables' columns inline (CSVW); a catalog page names each table's
        # schema document (dct:conformsTo) only: the columns are ~40 % of a page's triples otherwise.
        self.inline_columns = inline_columns

    def _once(self, key) -> bool:
        if key in self._done:
            return False
        self._done.add(key)
        return True

    # --- EU and other authority concepts --------------------------------------------------------------------------

    def _scheme(self, scheme: URIRef):
        if self._once(scheme):
            self.g.add((scheme, RDF.type, SKOS.ConceptScheme))
            self.g.add((scheme, DCTERMS.title, Literal(vocab.SCHEME_TITLES[scheme], lang="en")))

    def _authority(self, uri: URIRef, classes, scheme: URIRef, label: str):
        """An EU (or ADMS) concept typed as the property's range wants, in its scheme, with its label."""
        if self._once(uri):
            for cls in classes:
                self.g.add((uri, RDF.type, cls))
            self.g.add((uri, SKOS.inScheme, scheme))
            self.g.add((uri, SKOS.prefLabel, Literal(label, lang="en")))
            self._scheme(scheme)
        return uri

    def language(self, code: str) -> URIRef:
        uri = vocab.language_uri(code)
        return self._authority(
            uri, (DCTERMS.LinguisticSystem, SKOS.Concept), vocab.LANGUAGE_SCHEME, vocab.LANGUAGES[code][1]
        )

    def frequency(self, cadence: str) -> URIRef | None:
        uri = vocab.frequency_uri(cadence)
        if uri is None:
            return None
        return self._authority(
            uri, (DCTERMS.Frequency, SKOS.Concept), vocab.FREQUENCY_SCHEME, vocab.FREQUENCIES[cadence][1]
        )

    def data_theme(self, theme_code: str) -> URIRef | None:
        uri = vocab.data_theme_uri(theme_code)
        if uri is None:
            return None
        code = vocab.DATA_THEMES[theme_code][0]
        return self._authority(uri, (SKOS.Concept,), vocab.DATA_THEME_SCHEME, vocab.DATA_THEME_LABELS[code])

    def access_right(self, code: str) -> URIRef:
        uri = vocab.access_right_uri(code)
        return self._authority(
            uri, (DCTERMS.RightsStatement, SKOS.Concept), vocab.ACCESS_RIGHT_SCHEME, vocab.ACCESS_RIGHTS[code]
        )

    def file_format(self, fmt: str) -> tuple[object | None, URIRef | None]:
        """(dct:format node, dcat:mediaType node) of a format name. A format the EU table lacks is a blank
        dct:MediaTypeOrExtent with its name as label (the shapes accept a blank node there)."""
        file_type, media = vocab.file_type(fmt)
        if file_type is not None:
            self._authority(file_type, (DCTERMS.MediaTypeOrExtent,), vocab.FILE_TYPE_SCHEME, fmt.strip().upper())
        elif (fmt or "").strip():
            file_type = BNode()
            self.g.add((file_type, RDF.type, DCTERMS.MediaTypeOrExtent))
            self.g.add((file_type, RDFS.label, Literal(fmt.strip())))
        if media is not None:
            self.media_type(media)
        return file_type, media

    def media_type(self, uri: URIRef) -> URIRef:
        if self._once(uri):
            self.g.add((uri, RDF.type, DCTERMS.MediaType))
        return uri

    # --- our own shared nodes -------------------------------------------------------------------------------------

    def theme_scheme(self, themes):
        """Our 분류체계 as a skos:ConceptScheme, each class mapped onto its EU data theme."""
        scheme = scheme_uri()
        if not self._once(("scheme", scheme)):
            return scheme
        g = self.g
        g.add((scheme, RDF.type, SKOS.ConceptScheme))
        _texts(g, scheme, DCTERMS.title, SCHEME_TITLE["ko"], SCHEME_TITLE["en"])
        _texts(g, scheme, SKOS.prefLabel, SCHEME_TITLE["ko"], SCHEME_TITLE["en"])
        g.add((scheme, FOAF.homepage, catalog_uri()))
        for theme in themes:
            concept = self.theme(theme)
            g.add((scheme, SKOS.hasTopConcept, concept))
            g.add((concept, SKOS.topConceptOf, scheme))
        return scheme

    def theme(self, theme) -> URIRef:
        concept = theme_uri(theme.code)
        if self._once(("theme", theme.code)):
            g = self.g
            g.add((concept, RDF.type, SKOS.Concept))
            _texts(g, concept, SKOS.prefLabel, theme.name_ko, theme.name_en)
            g.add((concept, SKOS.notation, Literal(theme.code)))
            g.add((concept, SKOS.inScheme, scheme_uri()))
            if self._once(("scheme-title", scheme_uri())):
                g.add((scheme_uri(), RDF.type, SKOS.ConceptScheme))
                _texts(g, scheme_uri(), DCTERMS.title, SCHEME_TITLE["ko"], SCHEME_TITLE["en"])
            eu = self.data_theme(theme.code)
            if eu is not None:
                match = SKOS.exactMatch if vocab.DATA_THEMES[theme.code][1] == "exact" else SKOS.closeMatch
                g.add((concept, match, eu))
        return concept

    def agent(self, organization) -> URIRef:
        node = organization_uri(organization.slug)
        if self._once(("agent", organization.pk)):
            g = self.g
            g.add((node, RDF.type, FOAF.Agent))
            g.add((node, RDF.type, FOAF.Organization))
            _texts(g, node, FOAF.name, organization.name_ko, organization.name_en)
            g.add((node, DCTERMS.identifier, Literal(object_uuid("organization", organization.pk))))
            if organization.website:
                g.add((node, FOAF.homepage, iri(organization.website)))
            publisher_type = vocab.publisher_type_uri(organization.org_type)
            if publisher_type is not None:
                uri, label = publisher_type
                g.add((node, DCTERMS.type, uri))
                self._authority(uri, (SKOS.Concept,), vocab.PUBLISHER_TYPE_SCHEME, label)
        return node

    def licence(self, licence, dataset_node: URIRef) -> URIRef | None:
        if licence is None:
            return None
        url = vocab.LICENCE_URIS.get(licence.code) or licence.url
        # A licence of our own without a public address: its text is on the dataset page.
        node = iri(url) if url else URIRef(f"{dataset_node}#licence")
        if self._once(("licence", node)):
            g = self.g
            g.add((node, RDF.type, DCTERMS.LicenseDocument))
            _texts(g, node, RDFS.label, licence.name_ko, licence.name_en)
            g.add((node, DCTERMS.identifier, Literal(licence.code)))
            for name in vocab.licence_types(
                licence.code, licence.family, licence.allows_commercial_use, licence.allows_derivatives
            ):
                uri = vocab.licence_type_uri(name)
                g.add((node, DCTERMS.type, uri))
                self._authority(uri, (SKOS.Concept,), vocab.LICENCE_TYPE_SCHEME, vocab.LICENCE_TYPE_LABELS[name])
        return node

    # --- the catalog --------------------------------------------------------------------------------------------

    def catalog(self, *, themes, modified: datetime | None) -> URIRef:
        g, node = self.g, catalog_uri()
        g.add((node, RDF.type, DCAT.Catalog))
        _texts(g, node, DCTERMS.title, CATALOG_TITLE["ko"], CATALOG_TITLE["en"])
        _texts(g, node, DCTERMS.description, CATALOG_DESCRIPTION["ko"], CATALOG_DESCRIPTION["en"])
        homepage = URIRef(site("/"))
        g.add((node, FOAF.homepage, homepage))
        g.add((homepage, RDF.type, FOAF.Document))
        g.add((node, DCTERMS.publisher, self.operator()))
        for code in ("ko", "en"):
            g.add((node, DCTERMS.language, self.language(code)))
        g.add((node, DCAT.themeTaxonomy, self.theme_scheme(themes)))
        g.add((node, DCAT.themeTaxonomy, vocab.DATA_THEME_SCHEME))
        self._scheme(vocab.DATA_THEME_SCHEME)
        if modified is not None:
            g.add((node, DCTERMS.modified, _dt(modified)))
        return node

    def operator(self) -> URIRef:
        """The exchange's operator (settings.OPERATOR): the catalog's publisher."""
        node = URIRef(site("/#operator"))
        if self._once("operator"):
            operator = settings.OPERATOR
            g = self.g
            g.add((node, RDF.type, FOAF.Agent))
            g.add((node, RDF.type, FOAF.Organization))
            _texts(g, node, FOAF.name, operator["name_ko"], operator["name_en"])
            if operator.get("email"):
                g.add((node, FOAF.mbox, URIRef(f"mailto:{operator['email']}")))
            uri, label = vocab.publisher_type_uri("city_department")
            g.add((node, DCTERMS.type, uri))
            self._authority(uri, (SKOS.Concept,), vocab.PUBLISHER_TYPE_SCHEME, label)
        return node

    def paging(self, *, page_uri, total: int, first, last, previous=None, next_=None):
        """The Hydra view of one page of the catalog (as ckanext-dcat pages its catalog): the catalog is the
        collection, this document one hydra:PartialCollectionView of it."""
        g, view = self.g, URIRef(page_uri)
        g.add((view, RDF.type, HYDRA.PartialCollectionView))
        g.add((view, HYDRA.first, URIRef(first)))
        g.add((view, HYDRA.last, URIRef(last)))
        if previous:
            g.add((view, HYDRA.previous, URIRef(previous)))
        if next_:
            g.add((view, HYDRA.next, URIRef(next_)))
        g.add((view, HYDRA.totalItems, Literal(total, datatype=XSD.nonNegativeInteger)))
        collection = catalog_uri()
        g.add((collection, RDF.type, HYDRA.Collection))
        g.add((collection, HYDRA.view, view))
        g.add((collection, HYDRA.totalItems, Literal(total, datatype=XSD.nonNegativeInteger)))

    # --- a dataset ------------------------------------------------------------------------------------------------

    def dataset(self, record) -> URIRef:
        version, dataset = record.version, record.dataset
        g, node = self.g, dataset_uri(dataset.slug)
        g.add((node, RDF.type, DCAT.Dataset))
        g.add((node, DCTERMS.identifier, Literal(object_uuid("dataset", dataset.pk))))
        _texts(g, node, DCTERMS.title, version.title_ko, version.title_en)
        # DCAT-AP requires a description: a listing without one (a harvested record) is described by its title.
        description_ko = text_of(version.description_ko) or version.title_ko
        _texts(g, node, DCTERMS.description, description_ko, text_of(version.description_en))
        for tag in version.tags:
            g.add((node, DCAT.keyword, Literal(tag, lang="ko")))
        g.add((node, DCAT.theme, self.theme(version.theme)))
        eu_theme = self.data_theme(version.theme.code)
        if eu_theme is not None:
            g.add((node, DCAT.theme, eu_theme))
        g.add((node, DCTERMS.publisher, self.agent(dataset.publisher)))
        g.add((node, DCAT.contactPoint, self._contact(node, version, dataset.publisher)))
        g.add((node, DCAT.landingPage, node))
        g.add((node, RDF.type, FOAF.Document))  # the landing page is the dataset's own page (its URI)
        g.add((node, DCTERMS.language, self.language("ko")))
        if version.title_en or version.description_en:
            g.add((node, DCTERMS.language, self.language("en")))
        frequency = self.frequency(version.update_cadence)
        if frequency is not None:
            g.add((node, DCTERMS.accrualPeriodicity, frequency))
        if record.first_published_at:
            g.add((node, DCTERMS.issued, _dt(record.first_published_at)))
        if version.published_at:
            g.add((node, DCTERMS.modified, _dt(version.published_at)))
        g.add((node, DCAT.version, Literal(str(version.number))))
        if version.change_note:
            g.add((node, ADMS.versionNotes, Literal(version.change_note, lang="ko")))
        free = "free" in (record.entry.price_types or []) or (
            record.harvest is not None and not record.entry.price_types
        )
        g.add((node, DCTERMS.accessRights, self.access_right("PUBLIC" if free else "RESTRICTED")))
        self._coverage(node, version, record)
        self._provenance(node, version)
        licence = self.licence(version.licence, node)  # on each distribution, as DCAT-AP places it
        for datafile in record.shipped_files:
            g.add((node, DCAT.distribution, self._distribution(node, dataset.slug, datafile, licence, version)))
        for datafile in record.tabular_files:
            if datafile.sample_rows:
                g.add((node, ADMS.sample, self._sample(node, dataset.slug, datafile, licence)))
        for resource in record.external_resources:
            g.add((node, DCAT.distribution, self._external(node, resource, licence)))
        self._harvested(node, record)
        return node

    def _contact(self, node, version, publisher):
        contact = URIRef(f"{node}#contact")
        g = self.g
        g.add((contact, RDF.type, VCARD.Kind))
        g.add((contact, RDF.type, VCARD.Organization))
        g.add((contact, VCARD.fn, Literal(version.contact_name or publisher.name_ko, lang="ko")))
        g.add((contact, VCARD["organization-name"], Literal(publisher.name_ko, lang="ko")))
        if version.department:
            g.add((contact, VCARD["organization-unit"], Literal(version.department, lang="ko")))
        if version.contact_email:
            # iri(): an address may hold characters an IRI may not ({, }, |, ^, `, a quoted "local part"), which
            # Turtle cannot write at all.
            g.add((contact, VCARD.hasEmail, iri(f"mailto:{version.contact_email}")))
        phone = "".join(c for c in version.contact_phone or "" if c.isdigit() or c in "+-")
        if phone:
            g.add((contact, VCARD.hasTelephone, URIRef(f"tel:{phone}")))
        return contact

    def _coverage(self, node, version, record):
        g = self.g
        bbox = valid_bbox(version.spatial_bbox)
        if version.spatial_area or bbox:
            place = URIRef(f"{node}#spatial")
            g.add((node, DCTERMS.spatial, place))
            g.add((place, RDF.type, DCTERMS.Location))
            if version.spatial_area:
                g.add((place, SKOS.prefLabel, Literal(version.spatial_area, lang="ko")))
            if bbox:
                west, south, east, north = bbox
                polygon = f"POLYGON(({west} {south},{east} {south},{east} {north},{west} {north},{west} {south}))"
                g.add((place, DCAT.bbox, Literal(polygon, datatype=GSP.wktLiteral)))
                g.add(
                    (
                        place,
                        DCAT.centroid,
                        Literal(
                            f"POINT({round((west + east) / 2, 6)} {round((south + north) / 2, 6)})",
                            datatype=GSP.wktLiteral,
                        ),
                    )
                )
        if version.temporal_start or version.temporal_end:
            period = URIRef(f"{node}#temporal")
            g.add((node, DCTERMS.temporal, period))
            g.add((period, RDF.type, DCTERMS.PeriodOfTime))
            if version.temporal_start:
                g.add((period, DCAT.startDate, Literal(version.temporal_start.isoformat(), datatype=XSD.date)))
            if version.temporal_end:
                g.add((period, DCAT.endDate, Literal(version.temporal_end.isoformat(), datatype=XSD.date)))

    def _provenance(self, node, version):
        g = self.g
        for key, prefix in (("collection_method", "수집 방법"), ("legal_basis", "보유 근거")):
            value = getattr(version, key)
            if value:
                statement = URIRef(f"{node}#{key.replace('_', '-')}")
                g.add((node, DCTERMS.provenance, statement))
                g.add((statement, RDF.type, DCTERMS.ProvenanceStatement))
                g.add((statement, RDFS.label, Literal(f"{prefix}: {value}", lang="ko")))
        if version.data_limits:
            g.add((node, RDFS.comment, Literal(f"데이터 한계: {text_of(version.data_limits)}", lang="ko")))

    def _distribution(self, node, slug, f, licence, version) -> URIRef:
        g = self.g
        dist = URIRef(f"{node}#file-{f.pk}")
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.identifier, Literal(object_uuid("datafile", f.pk))))
        g.add((dist, DCTERMS.title, Literal(f.original_name)))
        g.add((dist, DCTERMS.description, Literal(_file_summary_ko(f), lang="ko")))
        g.add((dist, DCTERMS.description, Literal(_file_summary_en(f), lang="en")))
        # Our files are obtained on the dataset page (bought, or taken free through an order): no public download.
        g.add((dist, DCAT.accessURL, node))
        fmt, media = self.file_format(f.format)
        if fmt is not None:
            g.add((dist, DCTERMS.format, fmt))
        if media is not None:
            g.add((dist, DCAT.mediaType, media))
        if f.size is not None:
            g.add((dist, DCAT.byteSize, Literal(f.size, datatype=XSD.nonNegativeInteger)))
        if f.sha256:
            self._checksum(dist, SPDX.checksumAlgorithm_sha256, f.sha256)
        if licence is not None:
            g.add((dist, DCTERMS.license, licence))
        if version.published_at:
            g.add((dist, DCTERMS.issued, _dt(version.published_at)))
        tables = [f] if f.table_schema else [m for m in f.member_list if m.table_schema]
        for table in tables:
            g.add((dist, DCTERMS.conformsTo, self._table_schema(slug, table, dist if table is f else None)))
        return dist

    def _sample(self, node, slug, f, licence) -> URIRef:
        g = self.g
        sample = URIRef(f"{node}#sample-{f.pk}")
        url = URIRef(_url("catalog:dataset_sample", slug) + f"?file={f.pk}")
        g.add((sample, RDF.type, DCAT.Distribution))
        g.add((sample, DCTERMS.title, Literal(f"{f.display_name}: 무료 샘플 (처음 {f.sample_rows}행)", lang="ko")))
        g.add(
            (
                sample,
                DCTERMS.title,
                Literal(
                    f"{f.display_name}: free sample (first {f.sample_rows} row{'s' if f.sample_rows != 1 else ''})",
                    lang="en",
                ),
            )
        )
        g.add((sample, DCAT.accessURL, url))
        g.add((sample, DCAT.downloadURL, url))
        fmt, media = self.file_format("csv")
        g.add((sample, DCTERMS.format, fmt))
        g.add((sample, DCAT.mediaType, media))
        if licence is not None:
            g.add((sample, DCTERMS.license, licence))
        g.add((sample, DCTERMS.conformsTo, self._table_schema(slug, f, None)))
        return sample

    def _external(self, node, resource, licence) -> URIRef:
        """A link resource of a harvested listing: it stays at its source, where it is downloaded."""
        g = self.g
        dist = URIRef(f"{node}#resource-{resource.uuid}")
        url = iri(resource.url)
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.identifier, Literal(str(resource.uuid))))
        g.add((dist, DCTERMS.title, Literal(resource.name)))
        if resource.description:
            g.add((dist, DCTERMS.description, Literal(text_of(resource.description))))
        g.add((dist, DCAT.accessURL, url))
        fmt_name = (resource.format or "").strip().upper()
        media_name = (resource.media_type or "").split(";")[0].strip().lower()
        if fmt_name not in vocab.NOT_DOWNLOADABLE and media_name != "text/html":
            g.add((dist, DCAT.downloadURL, url))
        fmt, media = self.file_format(fmt_name)
        if fmt is not None:
            g.add((dist, DCTERMS.format, fmt))
        given = vocab.media_type_uri(media_name) if media_name else None
        if given is not None or media is not None:
            g.add((dist, DCAT.mediaType, self.media_type(given or media)))
        if resource.size is not None:
            g.add((dist, DCAT.byteSize, Literal(resource.size, datatype=XSD.nonNegativeInteger)))
        parsed = vocab.checksum(resource.checksum)
        if parsed is not None:
            self._checksum(dist, *parsed)
        if licence is not None:
            g.add((dist, DCTERMS.license, licence))
        return dist

    def _checksum(self, dist, algorithm, value: str):
        g = self.g
        node = URIRef(f"{dist}-checksum")
        g.add((dist, SPDX.checksum, node))
        g.add((node, RDF.type, SPDX.Checksum))
        g.add((node, SPDX.algorithm, algorithm))
        if self._once(algorithm):
            g.add((algorithm, RDF.type, SPDX.ChecksumAlgorithm))
        g.add((node, SPDX.checksumValue, Literal(value.lower(), datatype=XSD.hexBinary)))

    def _table_schema(self, slug, f, dist) -> URIRef:
        """The file's Table Schema document as a dct:Standard; with `dist`, its columns inline as CSVW too."""
        g = self.g
        standard = schema_uri(slug, f.pk)
        if self._once(("schema", f.pk)):
            g.add((standard, RDF.type, DCTERMS.Standard))
            g.add((standard, DCTERMS.title, Literal(f"{f.display_name} 열 설명 (Table Schema)", lang="ko")))
            g.add((standard, DCTERMS.title, Literal(f"Columns of {f.display_name} (Table Schema)", lang="en")))
            g.add((standard, DCTERMS.format, self.media_type(vocab.media_type_uri("application/json"))))
        if dist is not None and self.inline_columns:
            schema = URIRef(f"{dist}-columns")
            g.add((dist, CSVW.tableSchema, schema))
            g.add((schema, RDF.type, CSVW.Schema))
            g.add((schema, DCTERMS.conformsTo, standard))
            for index, column in enumerate((f.table_schema or {}).get("fields") or []):
                name = column.get("name")
                if not name:
                    continue
                col = URIRef(f"{dist}-column-{index + 1}")
                g.add((schema, CSVW.column, col))
                g.add((col, RDF.type, CSVW.Column))
                g.add((col, CSVW.name, Literal(str(name))))
                g.add((col, CSVW["title"], Literal(str(name), lang="ko")))
                datatype = XSD_TYPES.get(column.get("type", ""))
                if datatype is not None:
                    g.add((col, CSVW.datatype, datatype))
                entry = (f.dictionary or {}).get(name) or {}
                _texts(g, col, DCTERMS.description, entry.get("description_ko", ""), entry.get("description_en", ""))
                if entry.get("unit"):
                    g.add((col, RDFS.comment, Literal(f"단위: {entry['unit']}", lang="ko")))
        return standard

    def _harvested(self, node, record):
        """Where a harvested listing came from: prov:wasDerivedFrom its record at the source, and the source's
        identifier as an adms:identifier (dct:source would need the source record described as a dcat:Dataset)."""
        harvest = record.harvest
        if harvest is None:
            return
        g = self.g
        identifier = URIRef(f"{node}#source-identifier")
        g.add((node, ADMS.identifier, identifier))
        g.add((identifier, RDF.type, ADMS.Identifier))
        g.add((identifier, SKOS.notation, Literal(harvest.identifier)))
        g.add((identifier, ADMS.schemaAgency, Literal(harvest.source.name)))
        if harvest.source_url:
            g.add((node, PROV.wasDerivedFrom, iri(harvest.source_url)))
        if harvest.source_modified:
            g.add((identifier, DCTERMS.issued, _dt(harvest.source_modified)))


def _file_summary_ko(f) -> str:
    parts = [f"{f.format.upper()} 파일"]
    if f.row_count is not None and f.column_count:
        parts.append(f"{f.row_count:,}행 × {f.column_count:,}열")
    if f.has_sheet_tables:
        parts.append(f"시트 표 {len(f.member_list)}개")
    return ", ".join(parts)


def _file_summary_en(f) -> str:
    parts = [f"{f.format.upper()} file"]
    if f.row_count is not None and f.column_count:
        rows = "row" if f.row_count == 1 else "rows"
        columns = "column" if f.column_count == 1 else "columns"
        parts.append(f"{f.row_count:,} {rows} × {f.column_count:,} {columns}")
    if f.has_sheet_tables:
        parts.append(f"{len(f.member_list)} sheet tables")
    return ", ".join(parts)


def catalog_graph(records, *, themes, modified, paging: dict) -> Graph:
    """One page of the catalog: the catalog, its datasets on this page, the theme scheme, the Hydra view."""
    builder = Builder(inline_columns=False)
    catalog = builder.catalog(themes=themes, modified=modified)
    for record in records:
        builder.g.add((catalog, DCAT.dataset, builder.dataset(record)))
    builder.paging(**paging)
    return builder.g


def dataset_graph(record) -> Graph:
    builder = Builder()
    builder.dataset(record)
    return builder.g


def themes_graph(themes) -> Graph:
    builder = Builder()
    builder.theme_scheme(themes)
    return builder.g
