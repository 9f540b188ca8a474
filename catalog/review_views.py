"""Submission (publisher) and review (platform admin) pages. Thin: a form checks the input, one
service decides, a DomainError becomes a message, and the browser is redirected.
"""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.decorators import publisher_required, staff_required
from catalog import selectors, services
from catalog.models import DataFile, Dataset, DatasetVersion, Review
from catalog.review_forms import (
    LicenceForm,
    NewVersionForm,
    NoteForm,
    OfferForm,
    ReasonForm,
    SubmitForm,
)
from core.errors import DomainError


def _form_errors(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _back_to_version(version):
    return HttpResponseRedirect(reverse("catalog:version", args=[version.pk]) + "#review-step")


# ---------------------------------------------------------------------------------------------
# Provider: step 4 of the version page
# ---------------------------------------------------------------------------------------------


@publisher_required
def version_submission(request, pk):
    """Step 4 of the version page: submit, wait, fix after a rejection, or start a new version.

    The version page loads it with htmx (and reloads it when the file checks change); without
    JavaScript it is a page of its own.
    """
    version = selectors.version_get_for_publisher(user=request.user, pk=pk)
    organization = version.dataset.publisher
    needs_pii = selectors.version_has_personal_data(version)
    history = list(selectors.version_history(version))
    context = {
        "version": version,
        "dataset": version.dataset,
        "needs_pii": needs_pii,
        # Everything that stops a submission apart from the justification, which the form asks for.
        "problems": services.submission_problems(version, pii_justification="-") if version.is_editable else [],
        "licence_form": LicenceForm(
            initial={"licence": version.licence_id}, organization=organization, data_kind=version.data_kind
        ),
        "submit_form": SubmitForm(initial={"pii_justification": version.pii_justification}),
        "history": history,
        "last_reject": next((r for r in history if r.action == Review.Action.REJECT), None),
        "new_version_form": NewVersionForm(),
        "offer_form": OfferForm(dataset=version.dataset),
        "offers": selectors.dataset_active_offers(version.dataset),
        "withdraw_form": ReasonForm(),
        "open_version": selectors.version_open_sibling(version),
    }
    template = "catalog/review/_submission.html" if request.htmx else "catalog/review/submission.html"
    return render(request, template, context)


@publisher_required
@require_POST
def version_licence(request, pk):
    version = selectors.version_get_for_publisher(user=request.user, pk=pk)
    form = LicenceForm(request.POST, organization=version.dataset.publisher, data_kind=version.data_kind)
    if not form.is_valid():
        messages.error(request, _("Choose a licence from the list."))
        return _back_to_version(version)
    try:
        services.version_update_metadata(actor=request.user, version=version, licence=form.cleaned_data["licence"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The licence was saved."))
    return _back_to_version(version)


@publisher_required
@require_POST
def version_submit(request, pk):
    version = selectors.version_get_for_publisher(user=request.user, pk=pk)
    form = SubmitForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _back_to_version(version)
    try:
        services.version_submit(
            actor=request.user, version=version, pii_justification=form.cleaned_data["pii_justification"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The version was submitted. A platform admin will review it; you will get an e-mail with the decision."),
        )
    return _back_to_version(version)


@publisher_required
@require_POST
def version_reopen(request, pk):
    version = selectors.version_get_for_publisher(user=request.user, pk=pk)
    try:
        services.version_reopen(actor=request.user, version=version)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The version is a draft again: correct it, then submit it again."))
    return redirect("catalog:version", pk=version.pk)


@publisher_required
@require_POST
def version_withdraw(request, pk):
    version = selectors.version_get_for_publisher(user=request.user, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the version is withdrawn."))
        return _back_to_version(version)
    try:
        services.version_withdraw(actor=request.user, version=version, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The version was withdrawn: buyers can no longer find it."))
    return _back_to_version(version)


@publisher_required
def version_start_new(request, pk):
    """Start a new version from a published one: GET shows what will be carried over (the description and
    every file, which keep their checks) and asks what will change; POST starts it, or opens the version
    already in progress (a double click gives one draft)."""
    version = selectors.version_get_for_publisher(user=request.user, pk=pk)
    open_version = selectors.version_open_sibling(version)
    if request.method == "POST":
        form = NewVersionForm(request.POST)
        if not form.is_valid():
            if open_version is None:
                return render(request, "catalog/version_new.html", _new_version_context(version, form), status=400)
        else:
            try:
                new = services.version_start_new(
                    actor=request.user, dataset=version.dataset, change_note=form.cleaned_data["change_note"]
                )
            except DomainError as exc:
                messages.error(request, exc.message)
                return redirect("catalog:version", pk=version.pk)
            if new.started_now:
                carried = new.files.filter(parent__isnull=True).count()
                messages.success(
                    request,
                    ngettext(
                        "Version %(n)s was started from version %(from)s: its description and %(files)s file were "
                        "carried over with their checks. Replace or remove files below, then submit it.",
                        "Version %(n)s was started from version %(from)s: its description and %(files)s files were "
                        "carried over with their checks. Replace or remove files below, then submit it.",
                        carried,
                    )
                    % {"n": new.number, "from": version.number, "files": carried},
                )
            else:
                messages.info(request, _("Version %(n)s is already in progress: here it is.") % {"n": new.number})
            return redirect("catalog:version", pk=new.pk)
    if open_version is not None:
        messages.info(request, _("Version %(n)s is already in progress: here it is.") % {"n": open_version.number})
        return redirect("catalog:version", pk=open_version.pk)
    if version.state != DatasetVersion.State.PUBLISHED:
        messages.error(request, _("Only a published version can be the start of a new version."))
        return redirect("catalog:version", pk=version.pk)
    return render(request, "catalog/version_new.html", _new_version_context(version, NewVersionForm()))


def _new_version_context(version, form):
    return {"version": version, "dataset": version.dataset, "form": form, "files": selectors.version_files(version)}


# ---------------------------------------------------------------------------------------------
# Platform admin: the review queue, the review page, decisions and listings
# ---------------------------------------------------------------------------------------------

TABS = ("waiting", "decided", "published")


@staff_required
def review_queue(request):
    tab = request.GET.get("tab", "waiting")
    if tab not in TABS:
        tab = "waiting"
    context = {"tab": tab, "counts": selectors.review_queue_counts(), "reason_form": ReasonForm()}
    if tab == "waiting":
        context["versions"] = selectors.review_queue_waiting()
    elif tab == "decided":
        context["decisions"] = selectors.review_recent_decisions()
    else:
        context["published"] = selectors.review_published()
    return render(request, "staff/review_queue.html", context)


@staff_required
def review_version(request, pk):
    version = selectors.version_get_for_review(pk)
    history = list(selectors.version_history(version))
    context = {
        "version": version,
        "dataset": version.dataset,
        "files": selectors.version_files(version),
        "pii_files": selectors.version_pii_files(version),
        "dictionary_files": selectors.version_dictionary_files(version),
        "diff": selectors.version_diff(version),
        "history": history,
        "decision": next((r for r in history if r.action in (Review.Action.APPROVE, Review.Action.REJECT)), None),
        "submission": next((r for r in history if r.action == Review.Action.SUBMIT), None),
        "offers": selectors.dataset_active_offers(version.dataset),
        "approve_form": NoteForm(),
        "reject_form": ReasonForm(),
        "listing_form": ReasonForm(),
    }
    return render(request, "staff/review_version.html", context)


@staff_required
def review_datafile(request, pk):
    datafile = get_object_or_404(DataFile.objects.select_related("version__dataset__publisher", "parent"), pk=pk)
    return render(request, "staff/review_datafile.html", {"datafile": datafile, "version": datafile.version})


@staff_required
@require_POST
def review_approve(request, pk):
    version = get_object_or_404(DatasetVersion, pk=pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("catalog:review_version", pk=version.pk)
    try:
        services.version_approve(actor=request.user, version=version, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("catalog:review_version", pk=version.pk)
    messages.success(
        request,
        _("Version %(n)s of “%(title)s” is published; the publisher was told.")
        % {"n": version.number, "title": version.title_ko},
    )
    return redirect("catalog:review_queue")


@staff_required
@require_POST
def review_reject(request, pk):
    version = get_object_or_404(DatasetVersion, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write the reason for the rejection: the publisher will read it."))
        return redirect("catalog:review_version", pk=version.pk)
    try:
        services.version_reject(actor=request.user, version=version, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("catalog:review_version", pk=version.pk)
    messages.success(
        request,
        _("Version %(n)s of “%(title)s” was rejected; the publisher was told why.")
        % {"n": version.number, "title": version.title_ko},
    )
    return redirect("catalog:review_queue")


def _next_or_queue(request):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(reverse("catalog:review_queue") + "?tab=published")


@staff_required
@require_POST
def review_dataset_listing(request, pk, action):
    """Suspend or reinstate a dataset's listing (action is fixed by the URL)."""
    dataset = get_object_or_404(Dataset, pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write the reason: the publisher will read it."))
        return _next_or_queue(request)
    service = services.dataset_suspend if action == "suspend" else services.dataset_reinstate
    try:
        service(actor=request.user, dataset=dataset, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The dataset is hidden from buyers; the publisher was told why.")
            if action == "suspend"
            else _("The dataset is listed again; the publisher was told."),
        )
    return _next_or_queue(request)


@publisher_required
@require_POST
def offer_create(request, pk):
    version = selectors.version_get_for_publisher(user=request.user, pk=pk)
    form = OfferForm(request.POST, dataset=version.dataset)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _back_to_version(version)
    try:
        services.offer_create(actor=request.user, dataset=version.dataset, **form.cleaned_data)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The offer was added."))
    return _back_to_version(version)


@publisher_required
@require_POST
def offer_deactivate(request, pk, offer_pk):
    version = selectors.version_get_for_publisher(user=request.user, pk=pk)
    offer = get_object_or_404(version.dataset.offers, pk=offer_pk)
    services.offer_deactivate(actor=request.user, offer=offer)
    messages.success(request, _("The offer was stopped."))
    return _back_to_version(version)
