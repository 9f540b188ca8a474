"""The vocabularies of the DCAT-AP output: namespaces, and our values mapped onto the EU authority tables.

DCAT-AP asks for the EU controlled vocabularies (the "MDR" authority tables of the Publications Office) for
frequency, file type, language, data theme and access right, and IANA media types. Each table here maps one of
our own value sets onto them; what has no counterpart is said so in a comment and left out rather than forced.

Every EU concept we name is written into the graphs with its class (the class range.ttl requires of the
property), its scheme (skos:inScheme, what mdr-vocabularies.shape.ttl checks) and a label, so a reader without the
EU tables at hand still knows what it is.
"""

import re

from rdflib import Namespace, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, XSD

# rdflib's own lists where they are complete (Dublin Core, PROV); plain namespaces for DCAT (rdflib's list is DCAT 2:
# no dcat:version), vCard, CSVW and the rest. A plain namespace is a str: a term named like a str method (title,
# format) is written ns["title"].
DCAT = Namespace("http://www.w3.org/ns/dcat#")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")
ODRL2 = Namespace("http://www.w3.org/ns/odrl/2/")
TIME = Namespace("http://www.w3.org/2006/time#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
SPDX = Namespace("http://spdx.org/rdf/terms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")

PREFIXES = {
    "dcat": DCAT,
    "dct": DCTERMS,
    "dcatap": DCATAP,
    "adms": ADMS,
    "foaf": FOAF,
    "vcard": VCARD,
    "skos": SKOS,
    "spdx": SPDX,
    "hydra": HYDRA,
    "locn": LOCN,
    "gsp": GSP,
    "prov": PROV,
    "csvw": CSVW,
    "odrl": ODRL2,
    "time": TIME,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
}

AUTHORITY = "http://publications.europa.eu/resource/authority/"
FREQUENCY_SCHEME = URIRef(AUTHORITY + "frequency")
FILE_TYPE_SCHEME = URIRef(AUTHORITY + "file-type")
LANGUAGE_SCHEME = URIRef(AUTHORITY + "language")
DATA_THEME_SCHEME = URIRef(AUTHORITY + "data-theme")
ACCESS_RIGHT_SCHEME = URIRef(AUTHORITY + "access-right")
LICENCE_TYPE_SCHEME = URIRef("http://purl.org/adms/licencetype/1.0")
PUBLISHER_TYPE_SCHEME = URIRef("http://purl.org/adms/publishertype/1.0")

SCHEME_TITLES = {
    FREQUENCY_SCHEME: "Frequency",
    FILE_TYPE_SCHEME: "File type",
    LANGUAGE_SCHEME: "Language",
    DATA_THEME_SCHEME: "Data theme",
    ACCESS_RIGHT_SCHEME: "Access right",
    LICENCE_TYPE_SCHEME: "ADMS licence type",
    PUBLISHER_TYPE_SCHEME: "ADMS publisher type",
}

# --- update cadence (DatasetVersion.Cadence) → EU frequency -------------------------------------------------------
# (EU code, English label of the EU concept). 반기 is the EU's "semiannual" (ANNUAL_2); 실시간 data is "updated
# continuously" (UPDATE_CONT); 없음 is "never" (NEVER: a dataset that is not updated).
FREQUENCIES = {
    "realtime": ("UPDATE_CONT", "continuously updated"),
    "daily": ("DAILY", "daily"),
    "weekly": ("WEEKLY", "weekly"),
    "monthly": ("MONTHLY", "monthly"),
    "quarterly": ("QUARTERLY", "quarterly"),
    "half_yearly": ("ANNUAL_2", "semiannual"),
    "yearly": ("ANNUAL", "annual"),
    "irregular": ("IRREG", "irregular"),
    "none": ("NEVER", "never"),
}


def frequency_uri(cadence: str) -> URIRef | None:
    code = FREQUENCIES.get(cadence or "")
    return URIRef(f"{FREQUENCY_SCHEME}/{code[0]}") if code else None


# --- file formats → EU file type + IANA media type ----------------------------------------------------------------
# Our DataFile.Format values and the formats harvested resources name (upper case, as CKAN shows them).
# (EU file-type code, IANA media type or "" when IANA registers none).
FILE_TYPES = {
    "CSV": ("CSV", "text/csv"),
    "TSV": ("TSV", "text/tab-separated-values"),
    "XLSX": ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "XLS": ("XLS", "application/vnd.ms-excel"),
    "JSON": ("JSON", "application/json"),
    "GEOJSON": ("GEOJSON", "application/geo+json"),
    "ZIP": ("ZIP", "application/zip"),
    "XML": ("XML", "application/xml"),
    "PDF": ("PDF", "application/pdf"),
    "HTML": ("HTML", "text/html"),
    "TXT": ("TXT", "text/plain"),
    "RDF": ("RDF_XML", "application/rdf+xml"),
    "RDF/XML": ("RDF_XML", "application/rdf+xml"),
    "TTL": ("RDF_TURTLE", "text/turtle"),
    "TURTLE": ("RDF_TURTLE", "text/turtle"),
    "JSON-LD": ("JSON_LD", "application/ld+json"),
    "JSONLD": ("JSON_LD", "application/ld+json"),
    "SHP": ("SHP", ""),
    "KML": ("KML", "application/vnd.google-earth.kml+xml"),
    "KMZ": ("KMZ", "application/vnd.google-earth.kmz"),
    "GPKG": ("GPKG", "application/geopackage+sqlite3"),
    "ODS": ("ODS", "application/vnd.oasis.opendocument.spreadsheet"),
    "DOCX": ("DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
}
# Formats without a file in the EU sense: an API or a web page is reached, not downloaded.
NOT_DOWNLOADABLE = {"API", "HTML", "WEB", "LINK", "WMS", "WFS", "OGC WMS", "OGC WFS", "SPARQL"}


def file_type(fmt: str) -> tuple[URIRef | None, URIRef | None]:
    """(EU file-type URI, IANA media-type URI) of a format name (ours or a source's); None for what has none."""
    entry = FILE_TYPES.get((fmt or "").strip().upper())
    if not entry:
        return None, None
    code, media = entry
    return URIRef(f"{FILE_TYPE_SCHEME}/{code}"), (media_type_uri(media) if media else None)


# type/subtype as RFC 6838 names them (restricted-name characters, without "#" and "^", which an IRI path cannot hold)
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!$&_.+-]{0,126}/[a-z0-9][a-z0-9!$&_.+-]{0,126}")


def media_type_uri(media_type: str) -> URIRef | None:
    """IANA's page of a media type ("text/csv" → https://www.iana.org/assignments/media-types/text/csv)."""
    value = (media_type or "").split(";")[0].strip().lower()
    if not MEDIA_TYPE.fullmatch(value):  # a source's free text ("text/csv\"", "text/{x}") is no IRI
        return None
    return URIRef(f"https://www.iana.org/assignments/media-types/{value}")


def media_type_of(fmt: str) -> str:
    entry = FILE_TYPES.get((fmt or "").strip().upper())
    return entry[1] if entry else ""


# --- themes (the 16 classes of the 공공데이터 분류체계) → EU data theme ----------------------------------------------
# (EU code, how close: "exact" when both mean the same field, "close" when ours sits inside or across EU ones).
# The EU table has 13 themes, ours 16: several of ours fall into one of theirs, and every one of ours has one.
DATA_THEMES = {
    "education": ("EDUC", "close"),  # EU: Education, culture and sport
    "land": ("REGI", "close"),  # EU: Regions and cities (국토관리: land use, planning)
    "administration": ("GOVE", "exact"),  # EU: Government and public sector
    "finance": ("ECON", "close"),  # EU: Economy and finance
    "industry": ("ECON", "close"),  # 산업고용: industry and employment, under economy
    "welfare": ("SOCI", "exact"),  # EU: Population and society
    "food-health": ("HEAL", "close"),  # 식품건강: food safety and nutrition, a health matter
    "culture-tourism": ("EDUC", "close"),  # EU: Education, culture and sport
    "healthcare": ("HEAL", "exact"),  # EU: Health
    "safety": ("JUST", "close"),  # EU: Justice, legal system and public safety
    "transport": ("TRAN", "exact"),  # EU: Transport
    "environment": ("ENVI", "exact"),  # EU: Environment
    "science": ("TECH", "exact"),  # EU: Science and technology
    "agriculture": ("AGRI", "exact"),  # EU: Agriculture, fisheries, forestry and food
    "unification": ("INTR", "close"),  # EU: International issues
    "law": ("JUST", "close"),  # EU: Justice, legal system and public safety
}
DATA_THEME_LABELS = {
    "AGRI": "Agriculture, fisheries, forestry and food",
    "ECON": "Economy and finance",
    "EDUC": "Education, culture and sport",
    "ENER": "Energy",
    "ENVI": "Environment",
    "GOVE": "Government and public sector",
    "HEAL": "Health",
    "INTR": "International issues",
    "JUST": "Justice, legal system and public safety",
    "REGI": "Regions and cities",
    "SOCI": "Population and society",
    "TECH": "Science and technology",
    "TRAN": "Transport",
}


def data_theme_uri(theme_code: str) -> URIRef | None:
    entry = DATA_THEMES.get(theme_code)
    return URIRef(f"{DATA_THEME_SCHEME}/{entry[0]}") if entry else None


# --- languages ---------------------------------------------------------------------------------------------------
LANGUAGES = {"ko": ("KOR", "Korean"), "en": ("ENG", "English")}


def language_uri(code: str) -> URIRef:
    return URIRef(f"{LANGUAGE_SCHEME}/{LANGUAGES[code][0]}")


# --- access rights -------------------------------------------------------------------------------------------------
# PUBLIC: a free offer (anyone may obtain it); RESTRICTED: only by purchase or subscription.
ACCESS_RIGHTS = {"PUBLIC": "public", "RESTRICTED": "restricted"}


def access_right_uri(code: str) -> URIRef:
    return URIRef(f"{ACCESS_RIGHT_SCHEME}/{code}")


# --- licences ------------------------------------------------------------------------------------------------------
# The canonical URI of a licence we know (Creative Commons' legal code pages, not their Korean deeds); others use the
# URL stored on the Licence, and a licence without one is described on the dataset page.
LICENCE_URIS = {
    "cc-by-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "cc-by-sa-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "cc-by-nc-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "cc-by-nd-4.0": "https://creativecommons.org/licenses/by-nd/4.0/",
    "cc-by-nc-sa-4.0": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "cc-by-nc-nd-4.0": "https://creativecommons.org/licenses/by-nc-nd/4.0/",
    "cc0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}
LICENCE_TYPE_LABELS = {
    "Attribution": "Attribution",
    "NonCommercialUseOnly": "Non-commercial use only",
    "NoDerivativeWork": "No derivative work",
    "ShareAlike": "Share alike",
    "PublicDomain": "Public domain",
    "RoyaltiesRequired": "Royalties required",
}


def licence_types(code: str, family: str, commercial: bool, derivatives: bool) -> list[str]:
    """The ADMS licence types (http://purl.org/adms/licencetype/…) a licence has, from what it allows."""
    if code.startswith("cc0"):
        return ["PublicDomain"]
    if family == "commercial":
        return ["RoyaltiesRequired"]
    types = ["Attribution"]
    if not commercial:
        types.append("NonCommercialUseOnly")
    if not derivatives:
        types.append("NoDerivativeWork")
    if "-sa-" in code:
        types.append("ShareAlike")
    return types


def licence_type_uri(name: str) -> URIRef:
    return URIRef(f"http://purl.org/adms/licencetype/{name}")


# --- publishers (Organization.OrgType) → ADMS publisher type --------------------------------------------------------
PUBLISHER_TYPES = {
    "city_department": ("LocalAuthority", "Local authority"),
    "public_body": ("NationalAuthority", "National authority"),
    "company": ("Company", "Company"),
    "research": ("Academia-ScientificOrganisation", "Academia/scientific organisation"),
    "citizen_group": ("NonGovernmentalOrganisation", "Non-governmental organisation"),
}


def publisher_type_uri(org_type: str) -> tuple[URIRef, str] | None:
    entry = PUBLISHER_TYPES.get(org_type)
    return (URIRef(f"http://purl.org/adms/publishertype/{entry[0]}"), entry[1]) if entry else None


# --- checksums -----------------------------------------------------------------------------------------------------
CHECKSUM_ALGORITHMS = {64: "sha256", 40: "sha1", 32: "md5"}


def checksum(value: str) -> tuple[URIRef, str] | None:
    """(SPDX algorithm, lower-case hex) of a checksum as a source gives it ("sha256:…", "md5:…" or bare hex,
    told apart by length); None when it is not one we can name."""
    text = (value or "").strip().lower()
    algorithm = None
    if ":" in text:
        algorithm, text = (part.strip() for part in text.split(":", 1))
        algorithm = algorithm.replace("-", "")
    if not text or any(c not in "0123456789abcdef" for c in text):
        return None
    by_length = CHECKSUM_ALGORITHMS.get(len(text))
    if by_length is None or (algorithm and algorithm != by_length):
        return None
    return SPDX[f"checksumAlgorithm_{by_length}"], text
