"""Platform admin pages of harvesting, mounted at /staff/harvest/ (namespace "staff_harvest"): the sources, a
source's form with its mapping rules, a source with its runs, a run's report. Thin: forms check input,
catalog.harvest.services decides and writes, catalog.harvest.selectors reads. Saving a source first checks what its
address answers (catalog.harvest.probe), outside any transaction."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import staff_required
from catalog.harvest import selectors, services
from catalog.harvest.forms import (
    HarvestSourceForm,
    LicenceRuleFormSet,
    ReasonForm,
    ThemeRuleFormSet,
    rule_formset_kwargs,
    rule_initial,
)
from catalog.harvest.models import HarvestKind, HarvestRun
from catalog.harvest.probe import source_probe, source_values
from core.errors import DomainError

# Which form field a service refusal belongs to (anything else: the top of the form).
ERROR_FIELDS = {
    "harvest_name": "name",
    "harvest_kind": "kind",
    "harvest_url": "url",
    "harvest_duplicate": "url",
    "harvest_organization": "organization",
    "harvest_schedule": "schedule",
    "harvest_resource_mode": "resource_mode",
    "harvest_filter": "filter_query",
    "harvest_reason": "reason",
}


@staff_required
def sources(request):
    return render(
        request,
        "catalog/harvest/sources.html",
        {"sources": selectors.sources_with_last_run(), "now": timezone.now()},
    )


def _mapping(form, themes, licences) -> dict:
    data = form.cleaned_data
    return {
        "themes": themes.rules(),
        "licences": licences.rules(),
        "default_theme": data["default_theme"],
        "default_licence": data["default_licence"],
        "data_kind": data["data_kind"],
    }


def _initial(source) -> dict:
    mapping = source.mapping or {}
    return {
        "name": source.name,
        "kind": source.kind,
        "url": source.url,
        "organization": source.organization_id,
        "schedule": source.schedule,
        "resource_mode": source.resource_mode,
        "filter_query": source.filter_query,
        "default_theme": mapping.get("default_theme", ""),
        "default_licence": mapping.get("default_licence", ""),
        "data_kind": mapping.get("data_kind", "public"),
    }


def _source_form(request, source=None):
    """The add and edit pages: validate, check the address (unless unchanged), save; or show what is wrong."""
    editing = source is not None
    mapping = source.mapping if editing else {}
    # What a CKAN source's datasets use (groups, licences, tags): suggested in the rule inputs and shown with what
    # each becomes under the saved rules. Over the network, outside any transaction; a source that does not
    # answer just gets no suggestions.
    values = coverage = None
    if editing and source.kind == HarvestKind.CKAN:
        values = source_values(source.url, source.filter_query)
        if values.ok:
            coverage = selectors.mapping_coverage(values, mapping)
    theme_kwargs = rule_formset_kwargs("themes", suggest=coverage is not None)
    licence_kwargs = rule_formset_kwargs("licences", suggest=coverage is not None)
    if request.method == "POST":
        form = HarvestSourceForm(request.POST, editing=editing)
        themes = ThemeRuleFormSet(request.POST, **theme_kwargs)
        licences = LicenceRuleFormSet(request.POST, **licence_kwargs)
    else:
        form = HarvestSourceForm(initial=_initial(source) if editing else None, editing=editing)
        themes = ThemeRuleFormSet(initial=rule_initial(mapping.get("themes")), **theme_kwargs)
        licences = LicenceRuleFormSet(initial=rule_initial(mapping.get("licences")), **licence_kwargs)
    check = None
    if request.method == "POST" and all([form.is_valid(), themes.is_valid(), licences.is_valid()]):
        data = form.cleaned_data
        fields = {
            "name": data["name"],
            "kind": data["kind"],
            "url": data["url"],
            "organization": data["organization"],
            "schedule": data["schedule"],
            "resource_mode": data["resource_mode"],
            "filter_query": data["filter_query"],
            "mapping": _mapping(form, themes, licences),
        }
        try:
            cleaned = services.harvest_source_validate(source=source, **fields)
            address_changed = not editing or (cleaned["url"], cleaned["kind"], cleaned["filter_query"]) != (
                source.url,
                source.kind,
                source.filter_query,
            )
            # Over the network, before the service's transaction (never a transaction held across an HTTP call).
            check = source_probe(cleaned["kind"], cleaned["url"], cleaned["filter_query"]) if address_changed else None
            if check is not None and not check.ok and not data["save_anyway"]:
                form.show_save_anyway = True
                form.add_error("url", check.message)
            else:
                url_check = check.bilingual() if check is not None else ""
                if editing:
                    saved = services.harvest_source_update(
                        actor=request.user, source=source, reason=data["reason"], url_check=url_check, **fields
                    )
                else:
                    saved = services.harvest_source_create(
                        actor=request.user, reason=data["reason"], url_check=url_check, **fields
                    )
                if check is not None:
                    (messages.success if check.ok else messages.warning)(request, check.message)
                messages.success(
                    request,
                    _("The source “%(name)s” is saved.") % {"name": saved.name}
                    if editing
                    else _("The source “%(name)s” is registered. Start the first harvest with “Harvest now”.")
                    % {"name": saved.name},
                )
                return redirect("staff_harvest:source", pk=saved.pk)
        except DomainError as exc:
            field = ERROR_FIELDS.get(exc.code)
            if field == "reason" or field in form.fields:
                form.add_error(field, exc.message)
            else:
                form.add_error(None, exc.message)
    return render(
        request,
        "catalog/harvest/source_form.html",
        {
            "form": form,
            "themes": themes,
            "licences": licences,
            "source": source,
            "check": check,
            "values": values,
            "coverage": coverage,
        },
        status=400 if request.method == "POST" else 200,
    )


@staff_required
def source_create(request):
    return _source_form(request)


@staff_required
def source_edit(request, pk):
    return _source_form(request, selectors.source_get(pk))


@staff_required
def source(request, pk):
    source = selectors.source_get(pk)
    return render(
        request,
        "catalog/harvest/source_detail.html",
        {
            "source": source,
            "runs": selectors.source_runs(source, request.GET.get("page")),
            "open_run": selectors.source_open_run(source),
            "history": selectors.source_audit_events(source),
            "mapping": selectors.mapping_display(source),
            "now": timezone.now(),
            "reason_form": ReasonForm(),
        },
    )


@staff_required
@require_POST
def source_run(request, pk):
    source = selectors.source_get(pk)
    try:
        run = services.harvest_run_request(actor=request.user, source=source)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("staff_harvest:source", pk=source.pk)
    if run.is_new:
        messages.success(request, _("The harvest has started. This page shows its progress."))
    else:
        messages.info(request, _("A harvest of this source is already under way: here it is."))
    return redirect("staff_harvest:run", pk=run.pk)


@staff_required
@require_POST
def source_active(request, pk):
    source = selectors.source_get(pk)
    form = ReasonForm(request.POST)
    active = request.POST.get("active") == "1"
    if not form.is_valid():
        messages.error(request, _("Say why you pause or resume the source: the reason is kept in the audit trail."))
        return redirect("staff_harvest:source", pk=source.pk)
    try:
        services.harvest_source_set_active(
            actor=request.user, source=source, active=active, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The source is resumed.")
            if active
            else _("The source is paused: no harvest starts until it is resumed."),
        )
    return redirect("staff_harvest:source", pk=source.pk)


@staff_required
def run(request, pk):
    report = selectors.run_report(pk, action=request.GET.get("action", ""), page_number=request.GET.get("page"))
    return render(
        request,
        "catalog/harvest/run_detail.html",
        {
            "report": report,
            "run": report.run,
            "source": report.run.source,
            "is_open": report.run.state in (HarvestRun.State.QUEUED, HarvestRun.State.RUNNING),
        },
    )
