"""The read core of CKAN's Action API: one function per action, `(data_dict) -> result`, raising catalog.ckan.errors.

Each function's docstring is what help_show returns for it. Parameters, defaults, limits and errors follow CKAN
2.11 (ckan/logic/action/get.py and its schemas) so that CKAN clients and harvesters — the unmodified `ckanapi`
first — work unchanged; what differs is said in the docstring and in docs/interop.md.
"""

import json

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog import discovery
from catalog.ckan import packages, query
from catalog.ckan.errors import NotFound, SearchError, SearchQueryError, ValidationError, missing
from catalog.filters import CatalogFilter
from catalog.harvest.models import ExternalResource
from catalog.interop import parse_object_uuid
from catalog.models import CatalogEntry, DataFile, Dataset, Licence, Theme
from catalog.search import facet_key

ROWS_MAX = 1000
FACET_LIMIT_MAX = discovery.FACET_SQL_LIMIT  # values counted per facet by the engine
LIST_MAX, LIST_ALL_FIELDS_MAX = 1000, 25
BIG = 2**62  # any count, offset or limit at least this large means "all" (PostgreSQL's OFFSET/LIMIT are bigint)
CKAN_VERSION = "2.11.0"  # the API level served (read core)
SEARCH_PARAMETERS = {
    "q", "fl", "fq", "rows", "sort", "start", "wt", "qf", "bf", "boost", "facet", "facet.mincount", "facet.limit",
    "facet.field", "extras", "fq_list", "tie", "defType", "mm", "df",
}  # fmt: skip
FACET_FIELDS = {
    "organization": "publisher",
    "owner_org": "publisher",
    "groups": "theme",
    "tags": "tag",
    "res_format": "format",
    "license_id": "licence",
    "update_cadence": "cadence",
    "spatial_area": "area",
    "price_types": "price",
}


# --- CKAN's validators -------------------------------------------------------------------------------------------


def _int(value):
    """CKAN's int_validator: an int, a whole float, or a base-10 string; None for None or blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError("Invalid integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError("Invalid integer") from None
    return max(-BIG, min(number, BIG))


def _natural(value):
    number = _int(value)
    if number is not None and number < 0:
        raise ValueError("Must be a natural number")
    return number


def _positive(value):
    number = _int(value)
    if number is not None and number < 1:
        raise ValueError("Must be a positive integer")
    return number


def _validate(data: dict, schema: dict) -> dict:
    """Run validators over present keys; every failure at once, as CKAN's ValidationError {field: [message]}."""
    out, errors = {}, {}
    for key, check in schema.items():
        if key in data:
            try:
                out[key] = check(data[key])
            except ValueError as exc:
                errors[key] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    return out


def _bool(value) -> bool:
    """paste's asbool, as CKAN reads flags."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "y", "t", "1")
    return bool(value)


def _string(value):
    if isinstance(value, (dict, list)):
        raise ValueError("Must be a string")
    return "" if value is None else str(value)


def _json_list_of_strings(value):
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("Could not parse as valid JSON") from None
    if not isinstance(value, list):
        raise ValueError("Not a list")
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"Not a string: {item}")
    return value


# --- packages -----------------------------------------------------------------------------------------------------


def _dataset_pk(name_or_id) -> int | None:
    """The dataset a package name (slug) or id (our UUID) names, if the catalog shows it."""
    if not isinstance(name_or_id, str) or not name_or_id:
        return None
    parsed = parse_object_uuid(name_or_id)
    if parsed is not None:
        if parsed[0] != "dataset":
            return None
        return CatalogEntry.objects.filter(pk=parsed[1]).values_list("pk", flat=True).first()
    return CatalogEntry.objects.filter(dataset__slug=name_or_id).values_list("pk", flat=True).first()


def package_show(data: dict):
    """Return the metadata of a dataset (package) and its resources.

    :param id: the id or name of the dataset
    :type id: string
    :param use_default_schema: accepted (there is one schema)
    :type use_default_schema: bool

    :rtype: dictionary

    Datasets are those the catalog shows anyone; extra parameters (include_datasets, include_tracking, …) are
    accepted and change nothing.
    """
    name_or_id = data.get("id") or data.get("name_or_id")
    if not name_or_id:
        raise missing("name_or_id")
    pk = _dataset_pk(name_or_id)
    result = packages.package_dicts([pk]) if pk is not None else []
    if not result:
        raise NotFound()
    return result[0]


def package_list(data: dict):
    """Return a list of the names of the site's datasets (packages), in name order.

    :param limit: if given, the list of datasets will be broken into pages of at most ``limit`` datasets per page
        and only one page will be returned at a time (optional)
    :type limit: int
    :param offset: when ``limit`` is given, the offset to start returning packages from
    :type offset: int

    :rtype: list of strings
    """
    values = _validate(data, {"limit": _natural, "offset": _natural, "page": _positive})
    # The slugs' own index in name order, each checked for an entry (faster than sorting the join at a million)
    names = (
        Dataset.objects.filter(Exists(CatalogEntry.objects.filter(pk=OuterRef("pk"))))
        .order_by("slug")
        .values_list("slug", flat=True)
    )
    offset = values.get("offset") or 0
    limit = values.get("limit")
    if limit:
        return list(names[offset : offset + limit])
    return list(names[offset:])


def current_package_list_with_resources(data: dict):
    """Return a list of the site's datasets (packages) and their resources, most recently modified first.

    :param limit: if given, the list of datasets will be broken into pages of at most ``limit`` datasets per page
        and only one page will be returned at a time (optional; default 10, at most 1000)
    :type limit: int
    :param offset: when ``limit`` is given, the offset to start returning packages from
    :type offset: int
    :param page: when ``limit`` is given, which page to return, Deprecated: use ``offset``
    :type page: int

    :rtype: list of dictionaries
    """
    values = _validate(data, {"limit": _natural, "offset": _natural, "page": _positive})
    limit = values.get("limit")
    offset = values.get("offset") or 0
    if "offset" not in values and values.get("page"):
        offset = min((values["page"] - 1) * limit, BIG) if limit else 0
    search = {"q": "", "start": offset, "sort": "metadata_modified desc"}
    if limit is not None:
        search["rows"] = limit
    return package_search(search)["results"]


def _facet_items(field: str, rows: list, limit: int, mincount: int) -> dict[str, int]:
    """{name: count} of one CKAN facet field from the engine's (key, count) rows, largest first."""
    ours = FACET_FIELDS.get(field)
    if ours is None:
        return {}  # a field this catalog does not facet on: no values (as Solr gives for an empty field)
    prefix = facet_key(ours, "")
    counted = [(key[len(prefix) :], n) for key, n in rows if key.startswith(prefix) and n >= mincount]
    counted.sort(key=lambda kn: (-kn[1], kn[0]))
    counted = counted[: limit if limit >= 0 else None]
    if ours == "publisher":
        orgs = discovery._publisher_labels([v for v, _n in counted])
        if field == "owner_org":
            return {packages.object_uuid("organization", int(v)): n for v, n in counted if v in orgs}
        return {orgs[v].slug: n for v, n in counted if v in orgs}
    if ours == "theme":
        themes = discovery._reference_labels("theme", needed=[v for v, _n in counted])
        return {themes[int(v)].code: n for v, n in counted if int(v) in themes}
    if ours == "licence":
        licences = discovery._reference_labels("licence", needed=[v for v, _n in counted])
        return {packages.ckan_licence_id(licences[int(v)].code): n for v, n in counted if int(v) in licences}
    if ours == "format":
        return {("GeoJSON" if v == "geojson" else v.upper()): n for v, n in counted}
    return dict(counted)


def _display_names(field: str, names: list[str]) -> dict[str, str]:
    if field == "organization":
        return dict(Organization.objects.filter(slug__in=names).values_list("slug", "name_ko"))
    if field == "groups":
        return {t.code: t.name_ko for t in discovery._reference_labels("theme").values() if t.code in names}
    if field == "license_id":
        return {
            packages.ckan_licence_id(lic.code): lic.name_ko
            for lic in discovery._reference_labels("licence").values()
            if packages.ckan_licence_id(lic.code) in names
        }
    return {}


def _where(search: query.Search) -> Q | None:
    if not search.extra:
        return None
    where = Q()
    if search.published_from:
        where &= Q(published_at__gte=search.published_from)
    if search.published_until:
        where &= Q(published_at__lte=search.published_until)
    if search.created_from:
        where &= Q(dataset__created_at__gte=search.created_from)
    if search.created_until:
        where &= Q(dataset__created_at__lte=search.created_until)
    if search.names:
        where &= Q(dataset__slug__in=search.names)
    if search.ids:
        where &= Q(dataset_id__in=search.ids)
    return where


class _InLanguage:
    """A text told in the active language when it is formatted (an error's English and Korean message each get
    their own)."""

    def __init__(self, texts: dict[str, str]):
        self.texts = texts

    def __str__(self):
        return self.texts.get((translation.get_language() or "ko")[:2], self.texts["en"])


def _search_errors(params) -> _InLanguage:
    """Why the catalog search refuses these parameters, in English and in Korean (its form says it in the active
    language, and some of its messages are formatted as it validates)."""
    texts = {}
    for language in ("en", "ko"):
        with translation.override(language):
            form = CatalogFilter(params, queryset=CatalogEntry.objects.none())
            form.is_valid()
            texts[language] = "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in form.errors.items())
    return _InLanguage(texts)


def package_search(data: dict):
    """Searches for packages satisfying a given search criteria.

    The catalog's own search engine (the catalog page's: Korean words matched by their syllable pairs, the same
    filters, facets and order). Solr's query language is read as far as the catalog can answer it exactly; see
    docs/interop.md ("CKAN Action API").

    :param q: the words to search for (``*:*`` or empty: everything); ``field:value`` terms are filters as in fq
    :type q: string
    :param fq: filters: ``organization:<name>``, ``groups:<theme>``, ``tags:<tag>``, ``res_format:<CSV>``,
        ``license_id:<id>``, ``update_cadence:<…>``, ``spatial_area:<…>``, ``price_types:<free|paid|subscription>``,
        ``metadata_modified:[<from> TO <until>]``, ``name:<name>``, ``id:<id>``; values quoted or ``(a OR b)``
    :type fq: string
    :param fq_list: more filters, each like fq
    :type fq_list: list of strings
    :param sort: ``score desc``, ``metadata_modified desc``, ``metadata_created desc``, ``title_string asc``,
        ``name asc`` (title order), ``views_recent desc`` (most downloaded). Default:
        ``score desc, metadata_modified desc``
    :type sort: string
    :param rows: the number of datasets to return (default 10, at most 1000)
    :type rows: int
    :param start: the offset of the first dataset to return (any offset)
    :type start: int
    :param facet: whether to count facets (default ``true``)
    :type facet: string
    :param facet.field: the fields to facet upon: organization, groups, tags, res_format, license_id,
        update_cadence, spatial_area, price_types (a JSON list)
    :type facet.field: list of strings
    :param facet.limit: values per facet field (default 50; a negative value: all the engine counts, 50)
    :type facet.limit: int
    :param facet.mincount: the minimum count of a value shown (default 1)
    :type facet.mincount: int
    :param include_private: accepted; there are no private datasets for anyone here
    :type include_private: bool

    Above a few thousand matches the count and the facet counts are estimates from a fixed sample of the
    catalog (as the catalog page labels them), until a worker has counted them exactly.

    :rtype: dictionary with ``count``, ``results``, ``facets``, ``search_facets``, ``sort``
    """
    data = dict(data)
    for key in ("include_private", "include_drafts", "include_deleted", "use_default_schema"):
        data.pop(key, None)
    for key in [k for k in data if k.startswith("ext_")]:
        data.pop(key)
    values = _validate(
        data,
        {
            "q": _string,
            "fq": _string,
            "sort": _string,
            "rows": _natural,
            "start": _natural,
            "facet": _string,
            "facet.mincount": _natural,
            "facet.limit": _int,
            "facet.field": _json_list_of_strings,
        },
    )
    invalid = [key for key in data if key not in SEARCH_PARAMETERS]
    if invalid:
        raise SearchQueryError(_("Invalid search parameters: %(names)s"), names=invalid)
    rows = values.get("rows")
    rows = 10 if rows is None else min(rows, ROWS_MAX)
    start = values.get("start") or 0
    fq_list = data.get("fq_list") or []
    if isinstance(fq_list, str):  # one GET parameter: a filter, or a JSON list of them
        try:
            fq_list = json.loads(fq_list) if fq_list.lstrip().startswith("[") else [fq_list]
        except ValueError:
            raise SearchQueryError(_("fq_list must be a list of strings")) from None
    if not isinstance(fq_list, list) or not all(isinstance(item, str) for item in fq_list):
        raise SearchQueryError(_("fq_list must be a list of strings"))
    sort = values.get("sort") or query.DEFAULT_SORT
    search = query.read(q=values.get("q"), fq=values.get("fq"), fq_list=fq_list, sort=sort)
    if search.nothing:
        window = discovery.CatalogWindow([], 0, True, search.params.get("sort"), None, {})
    else:
        window = discovery.catalog_window(search.params, start=start, size=rows, where=_where(search))
    if window.errors:
        raise SearchError(_("The search cannot run: %(details)s"), details=_search_errors(search.params))
    results = packages.package_dicts(window.ids)
    fl = data.get("fl")
    if fl:
        if isinstance(fl, str):
            wanted = fl.replace(",", " ").split()
        elif isinstance(fl, list) and all(isinstance(name, str) for name in fl):
            wanted = fl
        else:
            raise ValidationError({"fl": ["Must be a string or a list of strings"]})
        results = [{k: package.get(k) for k in wanted} for package in results]
    facets, search_facets = {}, {}
    if _bool(values.get("facet", "true")) and values.get("facet.field"):
        limit = values.get("facet.limit")
        limit = 50 if limit is None else limit
        mincount = values.get("facet.mincount")
        mincount = 1 if mincount is None else mincount
        # Each field once: a field's counts are the same however often it is named, and each named field costs
        # queries (labels), so 20,000 copies of "organization" in one body held a worker for 18 s.
        for field in dict.fromkeys(values["facet.field"]):
            counted = _facet_items(field, window.rows, limit, mincount)
            facets[field] = counted
            names = _display_names(field, list(counted))
            items = [{"name": n, "display_name": names.get(n, n), "count": c} for n, c in counted.items()]
            search_facets[field] = {
                "title": field,
                "items": sorted(items, key=lambda item: item["display_name"], reverse=True),
            }
    return {"count": window.total, "facets": facets, "results": results, "sort": sort, "search_facets": search_facets}


# --- resources ----------------------------------------------------------------------------------------------------


def resource_show(data: dict):
    """Return the metadata of a resource.

    :param id: the id of the resource
    :type id: string

    :rtype: dictionary

    A resource is a public file of a dataset's published version (its ``url`` is the file's section of the dataset
    page, where it is offered; ``sample_url`` the free sample when there is one) or a link resource of a harvested
    listing (its ``url`` is at the source).
    """
    resource_id = data.get("id")
    if not resource_id:
        raise missing("id")
    dataset_pk = None
    parsed = parse_object_uuid(str(resource_id))
    if parsed is not None and parsed[0] == "datafile":
        dataset_pk = (
            DataFile.objects.filter(pk=parsed[1], parent__isnull=True, version__entry__isnull=False)
            .values_list("version__entry__dataset_id", flat=True)
            .first()
        )
    elif parsed is None:
        try:
            dataset_pk = (
                ExternalResource.objects.filter(uuid=str(resource_id), version__entry__isnull=False)
                .values_list("version__entry__dataset_id", flat=True)
                .first()
            )
        except DjangoValidationError:  # not a UUID at all
            dataset_pk = None
    found = packages.package_dicts([dataset_pk]) if dataset_pk is not None else []
    for resource in found[0]["resources"] if found else []:
        if resource["id"] == str(resource_id):
            return resource
    raise NotFound("Resource was not found.")


# --- organizations and groups -------------------------------------------------------------------------------------


def _list_params(data: dict, *, all_fields: bool) -> tuple[int, int, tuple[str, str]]:
    pagination = {k: data[k] for k in ("limit", "offset") if data.get(k)}
    values = _validate(pagination, {"limit": _natural, "offset": _natural})
    maximum = LIST_ALL_FIELDS_MAX if all_fields else LIST_MAX
    limit = values.get("limit")
    limit = maximum if limit is None or limit > maximum else limit
    sort = data.get("sort") or data.get("order_by") or "title"
    if not isinstance(sort, str):
        raise ValidationError({"sort": ["Must be a string"]})
    sort = sort.strip()
    if sort in ("packages", "package_count"):
        sort = "package_count desc"
    parts = sort.split(",")[0].split() or ["title"]
    field, direction = parts[0], (parts[1].lower() if len(parts) > 1 else "asc")
    if field == "packages":
        field = "package_count"
    if field not in ("name", "title", "package_count") or direction not in ("asc", "desc"):
        raise ValidationError({"sort": [f"Cannot sort by field `{field}`"]})
    return limit, values.get("offset") or 0, (field, direction)


def _names_filter(value) -> list[str] | None:
    if not value:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _sorted(items: list, key: tuple[str, str], *, name, title, count):
    field, direction = key
    getter = {"name": name, "title": title, "package_count": count}[field]
    return sorted(items, key=lambda item: (getter(item), name(item)), reverse=direction == "desc")


def _publishers() -> tuple[list[Organization], dict[int, int]]:
    counts = discovery.catalog_counts()["publishers"]
    orgs = list(Organization.objects.filter(pk__in=list(counts)))
    return orgs, counts


def organization_list(data: dict):
    """Return a list of the names of the site's organizations: those publishing datasets the catalog shows.

    :param sort: ``name``, ``title`` or ``package_count``, with ``asc`` or ``desc`` (default ``title``)
    :type sort: string
    :param limit: at most 1000 (25 with all_fields)
    :type limit: int
    :param offset: when ``limit`` is given, the offset to start returning organizations from
    :type offset: int
    :param organizations: only these names (a list, or names separated by commas)
    :type organizations: list of strings
    :param q: only organizations whose name or title contains this
    :type q: string
    :param all_fields: return full organization dictionaries (with package_count) instead of names
    :type all_fields: bool

    :rtype: list of strings or dictionaries
    """
    all_fields = _bool(data.get("all_fields", False))
    limit, offset, sort = _list_params(data, all_fields=all_fields)
    orgs, counts = _publishers()
    wanted = _names_filter(data.get("organizations") or data.get("groups"))
    if wanted is not None:
        orgs = [o for o in orgs if o.slug in wanted]
    text = str(data.get("q") or "").strip().lower()
    if text:
        orgs = [o for o in orgs if text in o.slug.lower() or text in o.name_ko.lower() or text in o.name_en.lower()]
    orgs = _sorted(orgs, sort, name=lambda o: o.slug, title=lambda o: o.name_ko, count=lambda o: counts.get(o.pk, 0))
    orgs = orgs[offset : offset + limit]
    if all_fields:
        return [packages.organization_dict(o, package_count=counts.get(o.pk, 0)) for o in orgs]
    return [o.slug for o in orgs]


def _datasets_of(fq: str, include: bool) -> list | None:
    return package_search({"fq": fq})["results"] if include else None


def organization_show(data: dict):
    """Return the details of an organization that publishes datasets the catalog shows.

    :param id: the id or name of the organization
    :type id: string
    :param include_datasets: include a truncated list of the organization's datasets (the first 10, newest first;
        optional, default ``False``)
    :type include_datasets: bool

    :rtype: dictionary
    """
    name_or_id = data.get("id")
    if not name_or_id:
        raise missing("id")
    parsed = parse_object_uuid(str(name_or_id))
    if parsed is not None:
        lookup = Q(pk=parsed[1]) if parsed[0] == "organization" else Q(pk=None)
    else:
        lookup = Q(slug=str(name_or_id))
    counts = discovery.catalog_counts()["publishers"]
    org = Organization.objects.filter(lookup).first()
    if org is None or org.pk not in counts:
        raise NotFound()
    result = packages.organization_dict(org, package_count=counts[org.pk])
    result |= {"extras": [], "groups": [], "tags": [], "users": []}
    datasets = _datasets_of(f"organization:{org.slug}", _bool(data.get("include_datasets", False)))
    if datasets is not None:
        result["packages"] = datasets
    return result


def group_list(data: dict):
    """Return a list of the names of the site's groups: the themes of the 분류체계 (name = the theme's code).

    :param sort: ``name``, ``title`` or ``package_count``, with ``asc`` or ``desc`` (default ``title``)
    :type sort: string
    :param limit: at most 1000 (25 with all_fields)
    :type limit: int
    :param offset: the offset to start returning groups from
    :type offset: int
    :param groups: only these names (a list, or names separated by commas)
    :type groups: list of strings
    :param all_fields: return full group dictionaries (with package_count) instead of names
    :type all_fields: bool

    :rtype: list of strings or dictionaries
    """
    all_fields = _bool(data.get("all_fields", False))
    limit, offset, sort = _list_params(data, all_fields=all_fields)
    counts = discovery.catalog_counts()["themes"]
    themes = list(Theme.objects.all())
    wanted = _names_filter(data.get("groups"))
    if wanted is not None:
        themes = [t for t in themes if t.code in wanted]
    text = str(data.get("q") or "").strip().lower()
    if text:
        themes = [t for t in themes if text in t.code or text in t.name_ko.lower() or text in t.name_en.lower()]
    themes = _sorted(
        themes, sort, name=lambda t: t.code, title=lambda t: t.name_ko, count=lambda t: counts.get(t.pk, 0)
    )[offset : offset + limit]
    if all_fields:
        return [packages.group_dict(t, package_count=counts.get(t.pk, 0)) for t in themes]
    return [t.code for t in themes]


def group_show(data: dict):
    """Return the details of a group: a theme of the 분류체계.

    :param id: the id or name (theme code) of the group
    :type id: string
    :param include_datasets: include a truncated list of the group's datasets (the first 10, newest first;
        optional, default ``False``)
    :type include_datasets: bool

    :rtype: dictionary
    """
    name_or_id = data.get("id")
    if not name_or_id:
        raise missing("id")
    parsed = parse_object_uuid(str(name_or_id))
    if parsed is not None:
        theme = Theme.objects.filter(pk=parsed[1]).first() if parsed[0] == "theme" else None
    else:
        theme = Theme.objects.filter(code=str(name_or_id)).first()
    if theme is None:
        raise NotFound()
    counts = discovery.catalog_counts()["themes"]
    result = packages.group_dict(theme, package_count=counts.get(theme.pk, 0))
    result |= {"extras": [], "groups": [], "tags": [], "users": []}
    datasets = _datasets_of(f"groups:{theme.code}", _bool(data.get("include_datasets", False)))
    if datasets is not None:
        result["packages"] = datasets
    return result


# --- tags, licences, the site ------------------------------------------------------------------------------------

TAGS_SQL = "SELECT DISTINCT t FROM catalog_catalogentry, unnest(tags) AS t ORDER BY t"


def _public_tags() -> list[str]:
    """Every keyword of a dataset the catalog shows, cached for the catalog generation (a full pass at a
    million datasets)."""
    key = f"catalog:ckan-tags:{discovery.catalog_generation()}"
    tags = cache.get(key)
    if tags is None:
        with connection.cursor() as cursor:
            cursor.execute(TAGS_SQL)
            tags = [row[0] for row in cursor.fetchall()]
        cache.set(key, tags, discovery.COUNTS_TTL)
    return tags


def tag_list(data: dict):
    """Return a list of the site's tags: the keywords of datasets the catalog shows.

    :param query: only tags whose names contain this string (optional)
    :type query: string
    :param vocabulary_id: there are no tag vocabularies here: any value is not found
    :type vocabulary_id: string
    :param all_fields: return full tag dictionaries instead of just names (optional, default ``False``)
    :type all_fields: bool

    :rtype: list of strings or dictionaries
    """
    vocabulary = data.get("vocabulary_id")
    if vocabulary:
        raise NotFound(f'Could not find vocabulary "{vocabulary}"')
    text = str(data.get("query") or data.get("q") or "").strip()
    tags = _public_tags()
    if text:
        tags = [t for t in tags if text.lower() in t.lower()]
    if _bool(data.get("all_fields", False)):
        return [packages.tag_dict(t) for t in tags]
    return tags


def license_list(data: dict):
    """Return the list of licenses available for datasets on the site: the standard licences (공공누리 1–4,
    Creative Commons) and any contract licence a dataset the catalog shows is under.

    :rtype: list of dictionaries
    """
    licences = list(Licence.objects.order_by("position", "code"))
    # A contract licence (an organization's own) is listed when a dataset the catalog shows is under it: one probe
    # of the facet index each (there are a handful).
    licences = [
        lic
        for lic in licences
        if lic.organization_id is None
        or CatalogEntry.objects.filter(facet_keys__contains=[facet_key("licence", lic.pk)]).exists()
    ]
    return [packages.licence_dict(lic) for lic in licences]


def status_show(data: dict):
    """Return a dictionary with information about the site's configuration.

    :rtype: dictionary
    """
    return {
        "site_title": "시흥 데이터거래소",
        "site_description": "스마트시티 공공데이터 거래소 (Siheung Data Exchange)",
        "site_url": settings.SITE_URL.rstrip("/"),
        "error_emails_to": None,
        "locale_default": "ko",
        "extensions": ["siheung-exchange-catalog"],
        "ckan_version": CKAN_VERSION,
    }


def help_show(data: dict):
    """Return the help string for a particular API action.

    :param name: Action function name (eg `package_search`)
    :type name: string
    :returns: The help string for the action function
    :rtype: string
    """
    name = data.get("name")
    if not name:
        raise missing("name")
    function = ACTIONS.get(str(name))
    if function is None:
        raise NotFound("Action function not found")
    return function.__doc__


ACTIONS = {
    f.__name__: f
    for f in (
        package_search,
        package_show,
        package_list,
        current_package_list_with_resources,
        organization_list,
        organization_show,
        group_list,
        group_show,
        tag_list,
        license_list,
        resource_show,
        status_show,
        help_show,
    )
}
