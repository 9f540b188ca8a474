"""Harvest sources: every write a platform admin makes about them, and the request of a run. One function per use
case, atomic, admin only (accounts.platform_admin, as every staff page checks), audited in the source
organization's trail (core.audit) with the admin's reason where a decision is made (a change, a pause).

The run itself (reading the source, importing records) is catalog.harvest.importer and catalog.harvest.tasks.

Mapping rules (HarvestSource.mapping) are checked here, once, for every way in (the staff form, the shell, tests):
    {"themes": {source value: our Theme.code}, "licences": {source value: our Licence.code},
     "default_theme": code or "", "default_licence": code or "", "data_kind": "public" | "private"}
A source value is what the source says: a CKAN group name or tag, a DCAT theme URI, a CKAN license_id or a
licence URI; it is kept as written (trimmed), since URIs are case-sensitive.

Schedules. `next_run_at` says when the beat (catalog.harvest.tasks.harvest_due) starts the next run: a new
scheduled source is due at once; a change of schedule counts from the last run; a manual or paused source has
none. `catalog.harvest.models.next_run_after` is the one rule, for the importer to set the next one when a run finishes.
"""

from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.permissions import can
from catalog.harvest.models import (
    SCHEDULE_INTERVALS,
    HarvestKind,
    HarvestRun,
    HarvestSchedule,
    HarvestSource,
    ResourceMode,
    next_run_after,
)
from catalog.models import DataKind, Licence, Theme
from catalog.services.review import licence_kind_problem
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.generation import bump_generation_on_commit
from core.text import lazy_percent

NAME_MAX = 200  # HarvestSource.name
URL_MAX = 500  # HarvestSource.url
FILTER_MAX = 300  # HarvestSource.filter_query
SOURCE_VALUE_MAX = 500  # a mapping rule's source value (a URI can be long)
MAPPING_RULES_MAX = 500  # rules per table: far more than any real source has themes or licences
EDITABLE_FIELDS = ("name", "kind", "url", "organization", "schedule", "resource_mode", "mapping", "filter_query")


def _require_admin(actor) -> None:
    if not can(actor, "accounts.platform_admin"):
        raise NotAllowed(_("Only a platform admin can manage harvest sources."))


def licences_for_mapping(organization: Organization | None):
    """The licences a rule may name: the shared ones (공공누리, CC…) and the owner organization's own."""
    own = Q(organization=organization) if organization is not None else Q(pk__in=[])
    return Licence.objects.filter(Q(organization__isnull=True) | own)


def _normalise_url(kind: str, url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise DomainError(_("Enter the address of the source."), code="harvest_url")
    if len(url) > URL_MAX:
        raise DomainError(
            lazy_percent(_("The address is too long (at most %(max)s characters)."), {"max": URL_MAX}),
            code="harvest_url",
        )
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise DomainError(
            _("Enter a full web address starting with http:// or https:// (for example https://data.example.go.kr)."),
            code="harvest_url",
        ) from None
    parts = urlsplit(url)
    if kind == HarvestKind.CKAN:
        # The portal's base address: a pasted Action API address (…/api/3/action/package_search) is cut back to
        # it, and a query or fragment has no meaning there.
        path = parts.path
        for marker in ("/api/3/action", "/api/action", "/api/3", "/api/"):
            if marker in path:
                path = path[: path.index(marker)]
                break
        url = urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))
    return url


def _choice(value, choices, message, code):
    value = (value or "").strip() if isinstance(value, str) else value
    if value not in choices.values:
        raise DomainError(message, code=code)
    return value


def clean_mapping(mapping, organization: Organization | None) -> dict:
    """The mapping rules as stored, or a DomainError naming the first wrong rule (in Korean and English)."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise DomainError(_("The mapping rules are not in the expected form."), code="harvest_mapping")
    theme_codes = set(Theme.objects.values_list("code", flat=True))
    licence_codes = set(licences_for_mapping(organization).values_list("code", flat=True))
    clean: dict = {}
    for table, known, unknown in (
        ("themes", theme_codes, _("Rule “%(value)s”: choose one of our themes.")),
        ("licences", licence_codes, _("Rule “%(value)s”: choose one of the licences this organization may use.")),
    ):
        rules = mapping.get(table) or {}
        if not isinstance(rules, dict):
            raise DomainError(_("The mapping rules are not in the expected form."), code="harvest_mapping")
        if len(rules) > MAPPING_RULES_MAX:
            raise DomainError(
                lazy_percent(_("At most %(max)s rules per table."), {"max": MAPPING_RULES_MAX}), code="harvest_mapping"
            )
        out = {}
        for source_value, ours in rules.items():
            source_value = str(source_value or "").strip()
            ours = str(ours or "").strip()
            if not source_value:
                raise DomainError(
                    _("Every rule needs the value the source uses (for example its group name or licence id)."),
                    code="harvest_mapping",
                )
            if len(source_value) > SOURCE_VALUE_MAX or "\x00" in source_value:
                raise DomainError(
                    lazy_percent(
                        _("A source value is at most %(max)s characters: “%(value)s…”."),
                        {"max": SOURCE_VALUE_MAX, "value": source_value[:40]},
                    ),
                    code="harvest_mapping",
                )
            if ours not in known:
                raise DomainError(lazy_percent(unknown, {"value": source_value[:80]}), code="harvest_mapping")
            if source_value in out and out[source_value] != ours:
                raise DomainError(
                    lazy_percent(_("“%(value)s” has two different rules: keep one."), {"value": source_value[:80]}),
                    code="harvest_mapping",
                )
            out[source_value] = ours
        clean[table] = out
    default_theme = str(mapping.get("default_theme") or "").strip()
    if default_theme and default_theme not in theme_codes:
        raise DomainError(_("Choose the default theme among our themes."), code="harvest_mapping")
    default_licence = str(mapping.get("default_licence") or "").strip()
    if default_licence and default_licence not in licence_codes:
        raise DomainError(
            _("Choose the default licence among the licences this organization may use."), code="harvest_mapping"
        )
    data_kind = str(mapping.get("data_kind") or DataKind.PUBLIC).strip()
    if data_kind not in DataKind.values:
        raise DomainError(_("Choose the kind of data of the harvested listings."), code="harvest_mapping")
    # Public data may not carry a licence that forbids commercial use (the importer would refuse every record a
    # rule or the default sends to it): refuse the rule now, naming it, instead of failing every run.
    licences = {lic.code: lic for lic in licences_for_mapping(organization)}
    chosen = [(value, code) for value, code in clean["licences"].items()]
    if default_licence:
        chosen.append((None, default_licence))
    for source_value, code in chosen:
        problem = licence_kind_problem(data_kind, licences.get(code))
        if problem:
            where = (
                lazy_percent(_("Rule “%(value)s”:"), {"value": source_value[:80]})
                if source_value is not None
                else _("Default licence:")
            )
            raise DomainError(
                lazy_percent("%(where)s %(problem)s", {"where": where, "problem": problem}), code="harvest_mapping"
            )
    clean.update(default_theme=default_theme, default_licence=default_licence, data_kind=data_kind)
    return clean


def _clean(*, name, kind, url, organization, schedule, resource_mode, mapping, filter_query) -> dict:
    name = " ".join((name or "").split())
    if not name:
        raise DomainError(_("Give the source a name (for example 경기도 공공데이터 포털)."), code="harvest_name")
    if len(name) > NAME_MAX:
        raise DomainError(
            lazy_percent(_("The name is at most %(max)s characters."), {"max": NAME_MAX}), code="harvest_name"
        )
    kind = _choice(kind, HarvestKind, _("Choose what kind of catalog the source is."), "harvest_kind")
    url = _normalise_url(kind, url)
    if not isinstance(organization, Organization) or organization.pk is None:
        raise DomainError(_("Choose the organization the listings belong to."), code="harvest_organization")
    if not organization.is_provider:
        raise DomainError(
            lazy_percent(
                _("%(name)s is not a data provider: harvested listings are published by a provider organization."),
                {"name": organization.name_ko},
            ),
            code="harvest_organization",
        )
    schedule = _choice(schedule, HarvestSchedule, _("Choose how often the source is harvested."), "harvest_schedule")
    resource_mode = _choice(
        resource_mode, ResourceMode, _("Choose whether files are linked or fetched."), "harvest_resource_mode"
    )
    filter_query = " ".join((filter_query or "").split())
    if len(filter_query) > FILTER_MAX:
        raise DomainError(
            lazy_percent(_("The filter is at most %(max)s characters."), {"max": FILTER_MAX}), code="harvest_filter"
        )
    if filter_query and kind != HarvestKind.CKAN:
        raise DomainError(
            _("A filter applies to CKAN portals only: a DCAT-AP endpoint is read whole. Leave the filter empty."),
            code="harvest_filter",
        )
    return {
        "name": name,
        "kind": kind,
        "url": url,
        "organization": organization,
        "schedule": schedule,
        "resource_mode": resource_mode,
        "mapping": clean_mapping(mapping, organization),
        "filter_query": filter_query,
    }


def _duplicate_check(fields: dict, *, exclude_pk=None) -> None:
    other = HarvestSource.objects.filter(url=fields["url"], organization=fields["organization"])
    if exclude_pk is not None:
        other = other.exclude(pk=exclude_pk)
    other = other.first()
    if other is not None:
        raise DomainError(
            lazy_percent(
                _("This address is already registered for this organization, as “%(name)s”."), {"name": other.name}
            ),
            code="harvest_duplicate",
        )


def harvest_source_validate(*, source: HarvestSource | None = None, **fields) -> dict:
    """The fields as a create or an update would store them (the address normalised, the rules checked), or the
    DomainError it would raise; writes nothing. The staff view calls it before checking the address over the
    network, so a form error is shown at once, and the check reads the address that will be saved."""
    if source is not None:
        fields = {**{name: getattr(source, name) for name in EDITABLE_FIELDS}, **fields}
    cleaned = _clean(**{name: fields.get(name) for name in EDITABLE_FIELDS})
    _duplicate_check(cleaned, exclude_pk=source.pk if source is not None else None)
    return cleaned


def _audit_value(value):
    if isinstance(value, Organization):
        return {"id": value.pk, "name": value.name_ko}
    return value


@transaction.atomic
def harvest_source_create(
    *,
    actor,
    name: str,
    kind: str,
    url: str,
    organization: Organization,
    schedule: str,
    resource_mode: str,
    mapping: dict,
    filter_query: str = "",
    reason: str = "",
    url_check: str = "",
) -> HarvestSource:
    """Register a source. `reason` (optional) says why it is harvested; `url_check` is what the address answered
    when the admin saved (catalog.harvest.probe), kept in the audit trail."""
    _require_admin(actor)
    fields = _clean(
        name=name,
        kind=kind,
        url=url,
        organization=organization,
        schedule=schedule,
        resource_mode=resource_mode,
        mapping=mapping,
        filter_query=filter_query,
    )
    _duplicate_check(fields)
    now = timezone.now()
    try:
        with transaction.atomic():  # two admins saving the same address at once: the second is told, not a 500
            source = HarvestSource.objects.create(
                **fields,
                created_by=actor,
                next_run_at=now if fields["schedule"] in SCHEDULE_INTERVALS else None,
            )
    except IntegrityError as exc:
        if "harvestsource_unique_url_org" not in str(exc):
            raise
        _duplicate_check(fields)
        raise
    audit(
        actor=actor,
        action="harvest_source.created",
        obj=source,
        organization=source.organization,
        reason=(reason or "").strip(),
        data={
            **{k: _audit_value(v) for k, v in fields.items()},
            **({"url_check": url_check} if url_check else {}),
        },
    )
    return source


# What of a source its listings' pages show: "Data harvested from <name>", in the name of <organization> (dataset
# pages), and the public form of its address (CKAN's harvest_source_url in package_show and package_search).
SHOWN_ON_PAGES = {"name", "organization", "url"}


@transaction.atomic
def harvest_source_update(*, actor, source: HarvestSource, reason: str = "", url_check: str = "", **fields):
    """Change a source. Every change is a decision: `reason` is required and kept with what changed (before →
    after). Nothing changed: nothing is written. Fields: name, kind, url, organization, schedule, resource_mode,
    mapping, filter_query."""
    _require_admin(actor)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"harvest_source_update: unknown fields {sorted(unknown)}")
    source = HarvestSource.objects.select_for_update(of=("self",)).select_related("organization").get(pk=source.pk)
    current = {name: getattr(source, name) for name in EDITABLE_FIELDS}
    wanted = _clean(**{**current, **fields})
    changes = {
        name: {"from": _audit_value(current[name]), "to": _audit_value(value)}
        for name, value in wanted.items()
        if (value.pk if isinstance(value, Organization) else value)
        != (current[name].pk if isinstance(current[name], Organization) else current[name])
    }
    if not changes:
        return source
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            _("Say why you change the source: the reason is kept in the audit trail."), code="harvest_reason"
        )
    _duplicate_check(wanted, exclude_pk=source.pk)
    for name, value in wanted.items():
        setattr(source, name, value)
    if "schedule" in changes and source.active:
        source.next_run_at = (
            None
            if source.schedule not in SCHEDULE_INTERVALS
            else max(next_run_after(source.schedule, source.last_run_at) or timezone.now(), timezone.now())
        )
    try:
        with transaction.atomic():  # another source moved to the same address at the same moment: told, not a 500
            source.save()
    except IntegrityError as exc:
        if "harvestsource_unique_url_org" not in str(exc):
            raise
        _duplicate_check(wanted, exclude_pk=source.pk)
        raise
    if changes.keys() & SHOWN_ON_PAGES:
        bump_generation_on_commit()  # the dataset pages of its listings name it (the anonymous page cache among them)
    data = {"changes": changes}
    if url_check:
        data["url_check"] = url_check
    audit(
        actor=actor,
        action="harvest_source.updated",
        obj=source,
        organization=source.organization,
        reason=reason,
        data=data,
    )
    return source


@transaction.atomic
def harvest_source_set_active(*, actor, source: HarvestSource, active: bool, reason: str = "") -> HarvestSource:
    """Pause a source (no scheduled or manual run starts; its listings stay as they are) or turn it back on (due
    at once when it has a schedule). A decision: `reason` is required."""
    _require_admin(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            _("Say why you pause or resume the source: the reason is kept in the audit trail."),
            code="harvest_reason",
        )
    source = HarvestSource.objects.select_for_update().get(pk=source.pk)
    if source.active == bool(active):
        return source
    source.active = bool(active)
    source.next_run_at = timezone.now() if source.active and source.schedule in SCHEDULE_INTERVALS else None
    source.save(update_fields=["active", "next_run_at", "updated_at"])
    audit(
        actor=actor,
        action="harvest_source.resumed" if source.active else "harvest_source.paused",
        obj=source,
        organization_id=source.organization_id,
        reason=reason,
    )
    return source


def harvest_run_request(*, actor, source: HarvestSource) -> HarvestRun:
    """Ask for a run of the source now (`actor` None: the schedule). A source has at most one open run (queued or
    running): asking again returns that one, however many times and however fast the button is clicked. The
    task is queued once the run is committed. The returned run's `is_new` says whether this call made it."""
    if actor is not None:
        _require_admin(actor)
    with transaction.atomic():
        # The source's row lock serialises concurrent requests; the harvestrun_one_open constraint is the last word.
        locked = HarvestSource.objects.select_for_update().get(pk=source.pk)
        if not locked.active:
            raise DomainError(
                _("This source is paused: resume it before harvesting."),
                code="harvest_source_paused",
            )
        run = _open_run(locked)
        if run is not None:
            run.is_new = False
            return run
        try:
            with transaction.atomic():
                run = HarvestRun.objects.create(source=locked, requested_by=actor)
        except IntegrityError as exc:
            if "harvestrun_one_open" not in str(exc):
                raise
            run = _open_run(locked)
            run.is_new = False
            return run
        audit(
            actor=actor,
            action="harvest_run.requested",
            obj=run,
            organization_id=locked.organization_id,
            data={"source": locked.name, "scheduled": actor is None},
        )
        # Imported here: the task module imports the importer, which may import this module.
        from catalog.harvest.tasks import harvest_run

        run_id = run.pk
        transaction.on_commit(lambda: harvest_run.delay(run_id))
    run.is_new = True
    return run


def _open_run(source: HarvestSource) -> HarvestRun | None:
    return (
        HarvestRun.objects.filter(source=source, state__in=[HarvestRun.State.QUEUED, HarvestRun.State.RUNNING])
        .order_by("-created_at")
        .first()
    )
