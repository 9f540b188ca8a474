"""A DCAT-AP endpoint: a catalog document in Turtle, JSON-LD or RDF/XML, paged by Hydra (`hydra:next` of its
PartialCollectionView), parsed by rdflib. Each dcat:Dataset becomes a SourceRecord keyed by its URI."""

import datetime as dt
import json
import multiprocessing
import signal
import threading
from collections.abc import Iterator
from urllib.parse import urljoin
from xml.parsers import expat

from django.conf import settings
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDFS, SKOS

from catalog.harvest.readers import http
from catalog.harvest.records import Page, RecordProblem, SourceError, SourceRecord, SourceResource, web_url

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
ACCEPT = "text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.8"
FORMATS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/n-triples": "nt",
}
SUFFIXES = {".ttl": "turtle", ".jsonld": "json-ld", ".rdf": "xml", ".xml": "xml", ".nt": "nt"}
MAX_PAGES = 100_000  # a `next` loop (a page naming itself or an earlier one) ends the read anyway


def _format(content_type: str, url: str) -> str:
    kind = content_type.split(";")[0].strip().lower()
    if kind in FORMATS:
        return FORMATS[kind]
    for suffix, name in SUFFIXES.items():
        if url.split("?")[0].endswith(suffix):
            return name
    return "turtle"


# Remote JSON-LD contexts the harvester may use, bundled here by their address (rdflib would fetch any other one
# with urllib: any host, file:// too, no size or time cap). None yet: a context must be in the document itself.
BUNDLED_CONTEXTS: dict[str, dict] = {}


class ParseFailed(Exception):
    """The parser's own error, raised in the child process that parsed the page (`kind`: the parser's error)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _TookTooLong(BaseException):  # not an Exception: nothing in the parser may swallow it
    pass


def _refuse_remote_contexts(body: bytes) -> bytes:
    """The JSON-LD page with each bundled remote context put in place; SourceError when it names any other
    (a @context that is, or lists, an address; an @import)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return body  # not JSON: rdflib reports it as the document's error
    nodes, replaced = [document], False
    while nodes:
        node = nodes.pop()
        if isinstance(node, list):
            nodes.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key == "@import" and isinstance(value, str):
                _remote_context(value)
            if key == "@context":
                items = value if isinstance(value, list) else [value]
                for position, item in enumerate(items):
                    if isinstance(item, str):
                        if item not in BUNDLED_CONTEXTS:
                            _remote_context(item)
                        items[position], replaced = BUNDLED_CONTEXTS[item], True
                if not isinstance(value, list) and replaced:
                    node[key] = items[0]
            nodes.append(value)
    return json.dumps(document).encode() if replaced else body


def _remote_context(address: str):
    shown = address if len(address) <= 120 else address[:120] + "…"
    raise SourceError(
        f"JSON-LD 문서가 원격 @context를 가리킵니다({shown!r}): 수집기는 원본이 가리키는 다른 문서를 가져오지 "
        "않습니다. @context를 문서 안에 넣어 주세요.",
        f"The JSON-LD document names a remote @context ({shown!r}): the harvester does not fetch other documents a "
        "source names. Put the @context in the document itself.",
    )


class _Declarations(Exception):
    pass


class _Prolog(Exception):
    pass


def _refuse_declarations(body: bytes) -> None:
    """SourceError when the RDF/XML page has a DOCTYPE or declares entities (nested entities make a few hundred
    bytes expand into megabytes the parser builds slowly); only the prolog is read (expat stops at the root)."""
    parser = expat.ParserCreate()

    def declaration(*args):
        raise _Declarations

    def root(*args):
        raise _Prolog

    parser.StartDoctypeDeclHandler = declaration
    parser.EntityDeclHandler = declaration
    parser.StartElementHandler = root
    try:
        parser.Parse(body, True)
    except _Declarations:
        raise SourceError(
            "RDF/XML 문서에 DOCTYPE 또는 엔티티 선언이 있어 읽지 않습니다.",
            "The RDF/XML document has a DOCTYPE or entity declarations, which the harvester does not read.",
        ) from None
    except (_Prolog, expat.ExpatError):
        return  # the root element reached (or broken XML: rdflib says so)


def _too_slow(seconds: int) -> SourceError:
    return SourceError(
        f"DCAT 문서 한 페이지를 {seconds}초 안에 읽지 못했습니다 (HARVEST_PARSE_SECONDS).",
        f"A page of the DCAT document could not be read within {seconds} seconds (HARVEST_PARSE_SECONDS).",
    )


def parse_page(body: bytes, rdf_format: str, public_id: str) -> Graph:
    """The page as a graph: remote JSON-LD contexts and XML declarations refused, the parse bounded by
    HARVEST_PARSE_SECONDS (SourceError). In the main thread a timer signal stops it (a Celery prefork worker, a
    sync web worker); elsewhere, where no signal can be used (a thread), the page is parsed in a forked child
    that hands back N-Triples and is killed at the deadline. The parser's own errors are raised as they are (in
    a child: ParseFailed)."""
    if rdf_format == "json-ld":
        body = _refuse_remote_contexts(body)
    elif rdf_format == "xml":
        _refuse_declarations(body)
    seconds = settings.HARVEST_PARSE_SECONDS
    if _signal_is_free():
        return _parse_with_timer(body, rdf_format, public_id, seconds)
    return _parse_in_child(body, rdf_format, public_id, seconds)


def _signal_is_free() -> bool:
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN)
    )


def _parse_with_timer(body, rdf_format, public_id, seconds) -> Graph:
    def alarm(signum, frame):
        raise _TookTooLong

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        graph = Graph()
        graph.parse(data=body, format=rdf_format, publicID=public_id)
        return graph
    except _TookTooLong:
        raise _too_slow(seconds) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _child_parse(connection, body, rdf_format, public_id):
    try:
        graph = Graph()
        graph.parse(data=body, format=rdf_format, publicID=public_id)
        connection.send(("ok", graph.serialize(format="nt", encoding="utf-8")))
    except Exception as exc:  # noqa: BLE001 — handed to the parent, which reports it as the document's error
        connection.send(("error", type(exc).__name__, str(exc)[:500]))
    finally:
        connection.close()


def _parse_in_child(body, rdf_format, public_id, seconds) -> Graph:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_parse, args=(sender, body, rdf_format, public_id), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise _too_slow(seconds)
        try:
            answer = receiver.recv()
        except EOFError:  # the child died (out of memory?)
            raise ParseFailed("ParserDied", "the parser stopped without an answer") from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    if answer[0] == "error":
        raise ParseFailed(answer[1], answer[2])
    graph = Graph()
    graph.parse(data=answer[1], format="nt")
    return graph


def read_dcat(url: str, *, cursor: dict | None = None) -> Iterator[Page]:
    page_url = (cursor or {}).get("url") or url
    visited = set()
    while page_url and len(visited) < MAX_PAGES:
        visited.add(page_url)
        body, content_type = http.get(page_url, accept=ACCEPT)
        try:
            graph = parse_page(body, _format(content_type, page_url), page_url)
        except SourceError:
            raise
        except Exception as exc:  # rdflib raises many kinds (BadSyntax, SAX, JSON errors) for a broken document
            head = body[:60].decode("utf-8", "replace").strip()
            kind = getattr(exc, "kind", type(exc).__name__)
            raise SourceError(
                f"DCAT 문서를 읽을 수 없습니다 ({kind}, 시작: {head!r}).",
                f"The DCAT document cannot be read ({kind}, it starts {head!r}).",
            ) from None
        datasets = sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str)
        if not datasets and not list(graph.subjects(RDF.type, DCAT.Catalog)):
            raise SourceError(
                "DCAT 카탈로그가 아닙니다 (dcat:Catalog도 dcat:Dataset도 없습니다).",
                "Not a DCAT catalog (neither a dcat:Catalog nor a dcat:Dataset).",
            )
        items = [dataset_record(graph, node) for node in datasets]
        following = _next(graph, page_url)
        if following in visited:
            following = None
        yield Page(items=items, next_cursor={"url": following} if following else None, total=_total(graph))
        page_url = following


def _next(graph: Graph, page_url: str) -> str | None:
    for value in graph.objects(None, HYDRA.next):
        return urljoin(page_url, str(value))
    return None


def _total(graph: Graph) -> int | None:
    for value in graph.objects(None, HYDRA.totalItems):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return None


def _literals(graph, node, prop):
    return [o for o in graph.objects(node, prop) if isinstance(o, Literal)]


def _lang(graph, node, prop, lang: str) -> str:
    values = _literals(graph, node, prop)
    for value in values:
        if (value.language or "").lower().startswith(lang):
            return str(value)
    if lang == "ko":
        plain = [v for v in values if not v.language]
        return str(plain[0]) if plain else (str(values[0]) if values else "")
    return ""


def _one(graph, node, prop):
    return next(iter(graph.objects(node, prop)), None)


def _label(graph, node) -> str:
    if node is None:
        return ""
    if isinstance(node, Literal):
        return str(node)
    for prop in (FOAF.name, SKOS.prefLabel, RDFS.label, DCTERMS.title, VCARD.fn):
        value = _lang(graph, node, prop, "ko")
        if value:
            return value
    return ""


def _date(value) -> dt.date | None:
    if value is None:
        return None
    python = value.toPython() if isinstance(value, Literal) else None
    if isinstance(python, dt.datetime):
        return python.date()
    if isinstance(python, dt.date):
        return python
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _datetime(value) -> dt.datetime | None:
    if value is None:
        return None
    python = value.toPython() if isinstance(value, Literal) else None
    if isinstance(python, dt.datetime):
        return python if python.tzinfo else python.replace(tzinfo=dt.UTC)
    if isinstance(python, dt.date):
        return dt.datetime.combine(python, dt.time(), tzinfo=dt.UTC)
    return None


def _bbox(graph, location) -> list[float] | None:
    for value in [*graph.objects(location, DCAT.bbox), *graph.objects(location, LOCN.geometry)]:
        text = str(value).strip()
        if text.upper().startswith("POLYGON"):
            try:
                numbers = [float(x) for x in text[text.index("((") + 2 : text.index("))")].replace(",", " ").split()]
            except ValueError:
                continue
            xs, ys = numbers[0::2], numbers[1::2]
            if xs and ys:
                return [min(xs), min(ys), max(xs), max(ys)]
    return None


def _mailto(value) -> str:
    text = str(value or "")
    return text[7:] if text.lower().startswith("mailto:") else text


def _tel(graph, value) -> str:
    """vcard:hasTelephone as a tel: URI, a literal, or a node with vcard:hasValue."""
    if value is not None and not isinstance(value, Literal) and not str(value).lower().startswith("tel:"):
        value = _one(graph, value, VCARD.hasValue)
    text = str(value or "")
    return text[4:] if text.lower().startswith("tel:") else text


def _format_name(graph, node) -> str:
    value = _one(graph, node, DCTERMS.format)
    if value is None:
        return ""
    if isinstance(value, URIRef):
        return str(value).rstrip("/").rsplit("/", 1)[-1]  # EU file-type URIs end in the type: …/file-type/CSV
    return _label(graph, value) or str(value)


def _resource(graph, dist, position) -> SourceResource | None:
    url = _one(graph, dist, DCAT.downloadURL) or _one(graph, dist, DCAT.accessURL)
    if url is None or not str(url).startswith(("http://", "https://")):
        return None
    checksum = ""
    check = _one(graph, dist, SPDX.checksum)
    if check is not None:
        algorithm = str(_one(graph, check, SPDX.algorithm) or "").rsplit("_", 1)[-1].lower()
        value = str(_one(graph, check, SPDX.checksumValue) or "")
        checksum = f"{algorithm}:{value}" if algorithm and value else value
    size = _one(graph, dist, DCAT.byteSize)
    try:
        size = int(size) if size is not None else None
    except (TypeError, ValueError):
        size = None
    media = _one(graph, dist, DCAT.mediaType)
    return SourceResource(
        name=_lang(graph, dist, DCTERMS.title, "ko") or f"distribution {position + 1}",
        url=str(url),
        format=_format_name(graph, dist),
        media_type=str(media).rsplit("/media-types/", 1)[-1] if media is not None else "",
        size=size,
        checksum=checksum,
        description=_lang(graph, dist, DCTERMS.description, "ko"),
        source_id=str(dist) if isinstance(dist, URIRef) else "",
    )


def dataset_record(graph: Graph, node) -> SourceRecord | RecordProblem:
    identifier = str(node) if isinstance(node, URIRef) else str(_one(graph, node, DCTERMS.identifier) or "")
    title = _lang(graph, node, DCTERMS.title, "ko")
    if not identifier:
        return RecordProblem(
            "?", title, "데이터셋에 URI도 식별자도 없습니다.", "The dataset has neither a URI nor an identifier."
        )
    if not title.strip():
        return RecordProblem(identifier, "", "제목(dct:title)이 없습니다.", "The dataset has no title (dct:title).")
    try:
        contact = _one(graph, node, DCAT.contactPoint)
        temporal = _one(graph, node, DCTERMS.temporal)
        spatial = _one(graph, node, DCTERMS.spatial)
        dists = sorted(graph.objects(node, DCAT.distribution), key=str)
        resources = [r for i, d in enumerate(dists) if (r := _resource(graph, d, i)) is not None]
        licence = _one(graph, node, DCTERMS.license)
        if licence is None:
            licence = next((lic for d in dists if (lic := _one(graph, d, DCTERMS.license)) is not None), None)
        landing = _one(graph, node, DCAT.landingPage)
        title_en = _lang(graph, node, DCTERMS.title, "en")
        return SourceRecord(
            identifier=identifier,
            source_url=web_url(landing) or web_url(identifier),
            modified=_datetime(_one(graph, node, DCTERMS.modified)),
            title_ko=title,
            title_en=title_en if title_en != title else "",
            description_ko=_lang(graph, node, DCTERMS.description, "ko"),
            description_en=_lang(graph, node, DCTERMS.description, "en"),
            tags=[str(k) for k in graph.objects(node, DCAT.keyword) if not k.language or k.language.startswith("ko")]
            or [str(k) for k in graph.objects(node, DCAT.keyword)],
            themes=[str(t) for t in graph.objects(node, DCAT.theme)],
            licence=str(licence) if licence is not None else "",
            publisher_name=_label(graph, _one(graph, node, DCTERMS.publisher)),
            contact_name=_label(graph, contact) if contact is not None else "",
            contact_email=_mailto(_one(graph, contact, VCARD.hasEmail)) if contact is not None else "",
            contact_phone=_tel(graph, _one(graph, contact, VCARD.hasTelephone)) if contact is not None else "",
            cadence=str(_one(graph, node, DCTERMS.accrualPeriodicity) or ""),
            spatial_area=_label(graph, spatial) if spatial is not None else "",
            bbox=_bbox(graph, spatial) if spatial is not None else None,
            temporal_start=_date(_one(graph, temporal, DCAT.startDate)) if temporal is not None else None,
            temporal_end=_date(_one(graph, temporal, DCAT.endDate)) if temporal is not None else None,
            resources=resources,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        return RecordProblem(
            identifier, title, f"데이터셋을 읽을 수 없습니다: {exc}", f"The dataset cannot be read: {exc}"
        )
