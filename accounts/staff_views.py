"""Platform admin pages: the organization verification queue, the audit trail, the terms and privacy policy."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.decorators import staff_required
from accounts.filters import AuditFilter
from accounts.forms import PolicyVersionForm, RejectForm, VerifyForm
from accounts.models import Organization, PolicyVersion
from core.errors import DomainError


@staff_required
def home(request):
    return render(request, "staff/home.html", {"counts": selectors.verification_counts()})


@staff_required
def organizations(request):
    state = request.GET.get("state", Organization.Verification.REQUESTED)
    if state not in Organization.Verification.values and state != "all":
        state = Organization.Verification.REQUESTED
    queue = selectors.organization_verification_queue(state=None if state == "all" else state)
    page = Paginator(queue, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "staff/organizations.html",
        {
            "page": page,
            "state": state,
            "states": Organization.Verification.choices,
            "counts": selectors.verification_counts(),
        },
    )


@staff_required
def organization(request, pk):
    org = selectors.organization_get_for_staff(pk)
    return render(
        request,
        "staff/organization.html",
        {
            "organization": org,
            "members": selectors.organization_members(org),
            "history": selectors.organization_history(org),
            "verify_form": VerifyForm(),
            "reject_form": RejectForm(),
        },
    )


@staff_required
@require_POST
def organization_decide(request, pk):
    org = get_object_or_404(Organization, pk=pk)
    decision = request.POST.get("decision")
    form = (RejectForm if decision == "reject" else VerifyForm)(request.POST)
    if decision not in ("verify", "reject") or not form.is_valid():
        messages.error(request, _("Write the reason for the rejection: the organization will read it."))
        return redirect("staff:organization", pk=org.pk)
    try:
        if decision == "verify":
            services.organization_verify(actor=request.user, organization=org, reason=form.cleaned_data["reason"])
            messages.success(request, _("%(name)s is verified.") % {"name": org.name_ko})
        else:
            services.organization_reject(actor=request.user, organization=org, reason=form.cleaned_data["reason"])
            messages.success(request, _("%(name)s was rejected; the owners were told why.") % {"name": org.name_ko})
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("staff:organization", pk=org.pk)


@staff_required
def audit(request):
    filterset = AuditFilter(request.GET or None, queryset=selectors.audit_events())
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    return render(request, "staff/audit.html", {"filter": filterset, "page": page})


@staff_required
def policies(request):
    """Every version of the terms of use and the privacy policy, and the form for a new one (prefilled with
    the latest text of the document chosen)."""
    kind = request.GET.get("kind") or request.POST.get("kind") or PolicyVersion.Kind.TERMS
    if kind not in PolicyVersion.Kind.values:
        kind = PolicyVersion.Kind.TERMS
    versions = {k: selectors.policy_versions(k) for k in PolicyVersion.Kind.values}
    if request.method == "POST":
        form = PolicyVersionForm(request.POST)
        if form.is_valid():
            try:
                policy = services.policy_version_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    _("Version %(version)s of the %(document)s is saved; it takes effect on %(date)s.")
                    % {
                        "version": policy.version,
                        "document": policy.get_kind_display(),
                        "date": date_format(policy.effective_on, "DATE_FORMAT"),
                    },
                )
                return redirect("staff:policies")
    else:
        latest = versions[kind][0] if versions[kind] else None
        form = PolicyVersionForm(
            initial={"kind": kind, "body_ko": latest.body_ko, "body_en": latest.body_en} if latest else {"kind": kind}
        )
    in_force = selectors.policy_ids_in_force()
    return render(
        request,
        "staff/policies.html",
        {
            "form": form,
            "kind": kind,
            "documents": [(label, value, versions[value]) for value, label in PolicyVersion.Kind.choices],
            "in_force_ids": set(in_force.values()),
        },
    )
