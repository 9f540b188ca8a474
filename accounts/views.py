"""The member's pages: dashboard, organizations, members and invitations. Thin: services decide."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyForm, InvitationForm, OrganizationForm, ProfileForm, RoleForm
from accounts.mfa import has_second_factor
from accounts.models import Invitation, Membership, Organization
from accounts.permissions import can
from core.errors import DomainError


def _form_error(form, exc):
    if isinstance(exc, ValidationError):
        form.add_error(None, exc)
    else:
        form.add_error(None, exc.message)


@login_required
def dashboard(request):
    memberships = selectors.memberships_for_user(request.user)
    return render(request, "accounts/dashboard.html", {"memberships": memberships})


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, initial={"name": request.user.name, "phone": request.user.phone})
    if request.method == "POST" and form.is_valid():
        services.user_update_profile(actor=request.user, **form.cleaned_data)
        messages.success(request, _("Your profile was saved."))
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form, "second_factor": has_second_factor(request.user)})


def _note_brn_checksum(request, organization) -> None:
    # Real numbers can fail the check digit, so the number is accepted; the owner hears why the
    # verification may ask about it instead of finding out from a rejection.
    if organization.brn and organization.brn_checksum_ok is False:
        messages.info(
            request,
            _(
                "The check digit of business registration number %(brn)s does not match. It was saved as entered: "
                "a platform admin will check it with the National Tax Service. If it has a typo, correct it."
            )
            % {"brn": organization.brn_display},
        )


@login_required
def organization_register(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.organization_register(actor=request.user, **form.service_kwargs())
        except (DomainError, ValidationError) as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s was registered. A platform admin will verify it; you will get an e-mail.")
                % {"name": organization.name_ko},
            )
            _note_brn_checksum(request, organization)
            return redirect("accounts:organization", pk=organization.pk)
    return render(request, "accounts/organization_form.html", {"form": form, "creating": True})


@login_required
def organization_detail(request, pk):
    organization = selectors.organization_get_for_member(user=request.user, pk=pk)
    can_manage = can(request.user, "accounts.manage_org", organization)
    return render(
        request,
        "accounts/organization_detail.html",
        {
            "organization": organization,
            "members": selectors.organization_members(organization),
            "invitations": selectors.organization_pending_invitations(organization) if can_manage else [],
            "history": selectors.organization_history(organization)[:20],
            "can_manage": can_manage,
            "invite_form": InvitationForm(),
            "role_choices": Membership.Role.choices,
        },
    )


@login_required
def organization_edit(request, pk):
    organization = selectors.organization_get_for_member(user=request.user, pk=pk)
    if not can(request.user, "accounts.manage_org", organization):
        raise PermissionDenied(_("Only an owner can edit the organization."))
    form = OrganizationForm(request.POST or None, instance=organization)
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.organization_update(
                actor=request.user, organization=organization, **form.service_kwargs()
            )
        except (DomainError, ValidationError) as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("The organization's details were saved."))
            _note_brn_checksum(request, organization)
            return redirect("accounts:organization", pk=organization.pk)
    return render(request, "accounts/organization_form.html", {"form": form, "organization": organization})


@login_required
@require_POST
def invitation_create(request, pk):
    organization = selectors.organization_get_for_member(user=request.user, pk=pk)
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                actor=request.user, organization=organization, language=get_language(), **form.cleaned_data
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("An invitation was sent to %(email)s.") % {"email": invitation.email})
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("accounts:organization", pk=organization.pk)


@login_required
@require_POST
def invitation_revoke(request, pk, invitation_pk):
    organization = selectors.organization_get_for_member(user=request.user, pk=pk)
    invitation = get_object_or_404(Invitation, pk=invitation_pk, organization=organization)
    try:
        services.invitation_revoke(actor=request.user, invitation=invitation)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The invitation was withdrawn."))
    return redirect("accounts:organization", pk=organization.pk)


@login_required
@require_POST
def membership_role(request, pk, membership_pk):
    organization = selectors.organization_get_for_member(user=request.user, pk=pk)
    membership = get_object_or_404(Membership, pk=membership_pk, organization=organization)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_change_role(actor=request.user, membership=membership, role=form.cleaned_data["role"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The role was changed."))
    return redirect("accounts:organization", pk=organization.pk)


@login_required
@require_POST
def membership_remove(request, pk, membership_pk):
    organization = selectors.organization_get_for_member(user=request.user, pk=pk)
    membership = get_object_or_404(Membership, pk=membership_pk, organization=organization)
    leaving = membership.user_id == request.user.pk
    try:
        services.membership_remove(actor=request.user, membership=membership)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:organization", pk=organization.pk)
    if leaving:
        messages.success(request, _("You left %(name)s.") % {"name": organization.name_ko})
        return redirect("accounts:dashboard")
    messages.success(request, _("The member was removed."))
    return redirect("accounts:organization", pk=organization.pk)


def invitation_detail(request, token):
    invitation = get_object_or_404(Invitation.objects.select_related("organization", "invited_by"), token=token)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
        try:
            membership = services.invitation_accept(actor=request.user, token=token)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("You joined %(name)s.") % {"name": membership.organization.name_ko})
            return redirect("accounts:organization", pk=membership.organization_id)
    return render(request, "accounts/invitation.html", {"invitation": invitation})


@login_required
@require_POST
def switch_organization(request):
    pk = request.POST.get("organization", "")
    organization = get_object_or_404(Organization, pk=int(pk) if pk.isdigit() else 0)
    services.active_organization_set(actor=request.user, organization=organization)
    messages.success(request, _("You now act for %(name)s.") % {"name": organization.display_name})
    next_url = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "accounts:dashboard"
    return redirect(next_url)


@login_required
def api_keys(request):
    """The user's API keys, and a form to make one. A new key is shown once, in the answer to the POST that made
    it (never kept in the session or passed through a redirect), and that answer is not stored by any cache."""
    form = ApiKeyForm(request.user, request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, key = services.api_token_create(
                actor=request.user,
                organization=data["organization"],
                name=data["name"],
                scopes=data["scopes"],
                expires_in_days=data["expires_in_days"],
            )
        except (DomainError, PermissionDenied) as exc:
            form.add_error(None, getattr(exc, "message", None) or (exc.args[0] if exc.args else ""))
        else:
            created = {"token": token, "key": key}
            form = ApiKeyForm(request.user)
    response = render(
        request,
        "accounts/api_keys.html",
        {"form": form, "created": created, "tokens": selectors.api_tokens_for_user(request.user)},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_key_revoke(request, pk):
    token = get_object_or_404(selectors.api_tokens_for_user(request.user), pk=pk)
    services.api_token_revoke(actor=request.user, token=token, reason="")
    messages.success(
        request,
        _("The key “%(name)s” was revoked: programs that use it are refused from now on.") % {"name": token.name},
    )
    return redirect("accounts:api_keys")
