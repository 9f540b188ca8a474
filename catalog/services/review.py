"""Submission and review: the rules of submission, the decisions, listing suspension."""

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import selectors as account_selectors
from accounts.models import Membership
from accounts.permissions import can
from catalog import derived, tasks
from catalog.models import DataFile, Dataset, DatasetVersion, Review
from catalog.services.entries import catalog_entry_refresh
from catalog.services.versions import S, _refresh_version_state, _require_publisher
from catalog.signals import version_published
from core.audit import audit
from core.errors import DomainError, IllegalTransition, NotAllowed
from core.notify import email_on_commit, site_url
from core.text import choice_label, lazy_percent
from core.transitions import transition


def _decision(
    *,
    version: DatasetVersion,
    action: str,
    actor,
    reason: str = "",
    data: dict | None = None,
    to: str | None = None,
    fields: tuple[str, ...] = (),
) -> Review:
    """One decision: the append-only Review row and the platform-wide audit event, in the same transaction.
    A decision that moves the version (`to`) is audited by that transition; one that does not, directly."""
    review = Review.objects.create(version=version, action=action, actor=actor, reason=reason, data=data or {})
    details = {"dataset": version.dataset.slug, "number": version.number, **(data or {})}
    if to is not None:
        transition(version, to=to, actor=actor, reason=reason, fields=fields, action=f"version.{action}", data=details)
    else:
        audit(
            actor=actor,
            action=f"version.{action}",
            obj=version,
            organization=version.dataset.publisher,
            reason=reason,
            data=details,
        )
    return review


def review_record(*, version: DatasetVersion, action: str, actor, reason: str = "", data: dict | None = None) -> Review:
    return _decision(version=version, action=action, actor=actor, reason=reason, data=data)


def _notify_publisher(version: DatasetVersion, template: str, **context) -> None:
    recipients = account_selectors.member_emails(
        version.dataset.publisher, Membership.Role.OWNER, Membership.Role.PUBLISHER
    )
    email_on_commit(
        to=recipients,
        template=template,
        context={"version": version, **context, "url": site_url(reverse("catalog:version", args=[version.pk]))},
    )


def submission_problems(version: DatasetVersion, *, pii_justification: str = "") -> list:
    """Why a version cannot be submitted yet (empty when it can). The page lists them; submit refuses."""
    problems = []
    files = list(version.files.all())
    if not files:
        problems.append(_("Upload at least one data file."))
    if any(f.check_state in (DataFile.Check.PENDING, DataFile.Check.RUNNING) for f in files):
        problems.append(_("Wait until every file has been checked."))
    if any(f.check_state == DataFile.Check.FAILED for f in files):
        problems.append(_("A file failed its checks: remove it or upload a corrected file."))
    if any(f.check_state == DataFile.Check.BLOCKED for f in files):
        problems.append(
            _(
                "A file contains resident or foreigner registration numbers, which may not be published "
                "(개인정보 보호법 제24조의2). Remove them and upload the file again."
            )
        )
    if version.files.needing_justification().exists() and not pii_justification.strip():
        problems.append(_("Personal data was found: explain why it may be published (for example, pseudonymised)."))
    if not version.dataset.offers.filter(active=True).exists():
        problems.append(_("Say how the dataset is offered: free, or with a price."))
    if version.licence_id is None:
        problems.append(_("Choose a licence."))
    elif problem := licence_kind_problem(version.data_kind, version.licence):
        problems.append(problem)
    return problems


def licence_kind_problem(data_kind, licence):
    """Why this licence cannot go with this kind of data, or None. The metadata form asks it too."""
    if licence is not None and data_kind == DatasetVersion.DataKind.PUBLIC and not licence.allows_commercial_use:
        return _(
            "Public data (공공데이터법 제3조④) may not carry a licence that forbids commercial use: "
            "choose 공공누리 제1유형 or 제3유형, or a licence that allows commercial use."
        )
    return None


@transaction.atomic
def version_submit(*, actor, version: DatasetVersion, pii_justification: str = "") -> DatasetVersion:
    """The publisher sends a ready version to the platform admins. From here on it cannot change."""
    _require_publisher(actor, version.dataset.publisher)
    version = (
        DatasetVersion.objects.select_for_update(of=("self",))
        .select_related("dataset__publisher", "licence")
        .get(pk=version.pk)
    )
    if version.state == S.SUBMITTED:
        return version  # a double click
    problems = submission_problems(version, pii_justification=pii_justification)
    if problems:
        raise DomainError(problems[0], code="not_submittable")
    version.pii_justification = pii_justification.strip()
    version.submitted_at = timezone.now()
    rule = "공공데이터법" if version.data_kind == DatasetVersion.DataKind.PUBLIC else "데이터산업법"
    _decision(
        version=version,
        action=Review.Action.SUBMIT,
        actor=actor,
        to=S.SUBMITTED,
        fields=("pii_justification", "submitted_at"),
        data={"pii_justification": version.pii_justification, "rule": rule},
    )
    email_on_commit(
        to=account_selectors.platform_admin_emails(),
        template="email/version_submitted",
        context={"version": version, "url": site_url(reverse("staff:home"))},
    )
    return version


def _lock_dataset_of(version: DatasetVersion) -> None:
    """The dataset's row lock serialises what it publishes: approval, withdrawal, the harvester, version_start_new
    and the listing changes each take it before any of its versions' (dataset_id never changes: the caller's copy of
    the version names the row)."""
    Dataset.objects.select_for_update().get(pk=version.dataset_id)


def _lock_for_decision(actor, version: DatasetVersion, *, dataset: bool = False) -> DatasetVersion:
    """The version locked for an admin's decision (`dataset`: its dataset's row first, for one that publishes)."""
    if not can(actor, "accounts.platform_admin"):
        raise NotAllowed(_("Only platform admins decide on submissions."))
    if dataset:
        _lock_dataset_of(version)
    return (
        DatasetVersion.objects.select_for_update(of=("self",)).select_related("dataset__publisher").get(pk=version.pk)
    )


@transaction.atomic
def version_approve(
    *, actor, version: DatasetVersion, reason: str = "", automatic: dict | None = None
) -> DatasetVersion:
    """A platform admin publishes a submitted version; the one published before it is superseded.
    `automatic` (the snapshot of a live table, catalog.live.services): published by the system on behalf of the
    publisher who made the table live (`actor`), the decision's data saying it was automatic and why."""
    if automatic is not None:
        _require_publisher(actor, version.dataset.publisher)
        _lock_dataset_of(version)
        version = (
            DatasetVersion.objects.select_for_update(of=("self",))
            .select_related("dataset__publisher")
            .get(pk=version.pk)
        )
    else:
        version = _lock_for_decision(actor, version, dataset=True)
    if version.state == S.PUBLISHED:
        return version  # the same decision twice (double click, or a second admin agreeing)
    if version.state != S.SUBMITTED:
        raise IllegalTransition(
            lazy_percent(
                _("Only a submitted version can be approved (this one is “%(state)s”)."),
                {"state": choice_label(version, "state")},
            )
        )
    # What made the version submittable must still hold (e.g. the publisher stopped every offer since).
    problems = submission_problems(version, pii_justification=version.pii_justification or "-")
    if problems:
        raise DomainError(problems[0], code="not_approvable")
    previous = DatasetVersion.objects.select_for_update().filter(dataset=version.dataset, state=S.PUBLISHED).first()
    if previous:
        transition(previous, to=S.SUPERSEDED, actor=actor, data={"by": version.number})
    version.published_at = timezone.now()
    _decision(
        version=version,
        action=Review.Action.APPROVE,
        actor=actor,
        reason=reason.strip(),
        to=S.PUBLISHED,
        fields=("published_at",),
        data={
            "superseded": previous.number if previous else None,
            **({"automatic": True, **automatic} if automatic else {}),
        },
    )
    catalog_entry_refresh(version.dataset)
    Dataset.objects.filter(pk=version.dataset_id).update(updated_at=timezone.now())
    _notify_publisher(version, "email/version_decided", approved=True, reason=reason.strip())
    transaction.on_commit(lambda: version_published.send(sender=DatasetVersion, version=version))
    # The copies its packages carry (catalog.derived) are made once, now, not by each buyer's package.
    version_id, limits = version.pk, derived.time_limits(sum(f.size for f in version.files.all()))
    transaction.on_commit(
        lambda: tasks.version_derived_files_task.apply_async(args=[version_id], **limits), robust=True
    )
    transaction.on_commit(lambda: tasks.query_stores_build_task.apply_async(args=[version_id], **limits), robust=True)
    return version


@transaction.atomic
def version_reject(*, actor, version: DatasetVersion, reason: str) -> DatasetVersion:
    """A platform admin sends a submitted version back; the reason is required and shown to the publisher."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Write the reason for the rejection: the publisher will read it."), code="reason_required")
    version = _lock_for_decision(actor, version)
    if version.state == S.REJECTED:
        return version
    if version.state != S.SUBMITTED:
        raise IllegalTransition(
            lazy_percent(
                _("Only a submitted version can be rejected (this one is “%(state)s”)."),
                {"state": choice_label(version, "state")},
            )
        )
    _decision(version=version, action=Review.Action.REJECT, actor=actor, reason=reason, to=S.REJECTED)
    _notify_publisher(version, "email/version_decided", approved=False, reason=reason)
    return version


@transaction.atomic
def version_reopen(*, actor, version: DatasetVersion) -> DatasetVersion:
    """The publisher starts fixing a rejected version: it becomes a draft again."""
    _require_publisher(actor, version.dataset.publisher)
    version = DatasetVersion.objects.select_for_update().get(pk=version.pk)
    if version.state != S.REJECTED:
        raise IllegalTransition(_("Only a rejected version can be reopened."))
    transition(version, to=S.DRAFT, actor=actor)
    _refresh_version_state(version)
    return version


@transaction.atomic
def version_withdraw(*, actor, version: DatasetVersion, reason: str) -> DatasetVersion:
    """The publisher takes a published version down (buyers keep what they bought)."""
    _require_publisher(actor, version.dataset.publisher)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the version is withdrawn."), code="reason_required")
    _lock_dataset_of(version)
    version = (
        DatasetVersion.objects.select_for_update(of=("self",)).select_related("dataset__publisher").get(pk=version.pk)
    )
    _decision(version=version, action=Review.Action.WITHDRAW, actor=actor, reason=reason, to=S.WITHDRAWN)
    catalog_entry_refresh(version.dataset)
    return version


def _set_listing(*, actor, dataset: Dataset, to: str, action: str, reason: str) -> Dataset:
    if not can(actor, "accounts.platform_admin"):
        raise NotAllowed(_("Only platform admins suspend or reinstate listings."))
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Write the reason: the publisher will read it."), code="reason_required")
    dataset = Dataset.objects.select_for_update(of=("self",)).select_related("publisher").get(pk=dataset.pk)
    if dataset.listing == to:
        return dataset
    dataset.listing = to
    dataset.save(update_fields=["listing", "updated_at"])
    catalog_entry_refresh(dataset)
    version = dataset.versions.filter(state=S.PUBLISHED).first() or dataset.versions.order_by("-number").first()
    _decision(version=version, action=action, actor=actor, reason=reason)
    _notify_publisher(version, "email/listing_changed", suspended=to == Dataset.Listing.SUSPENDED, reason=reason)
    return dataset


@transaction.atomic
def dataset_suspend(*, actor, dataset: Dataset, reason: str) -> Dataset:
    """A platform admin hides a live listing from buyers, with a reason."""
    return _set_listing(
        actor=actor, dataset=dataset, to=Dataset.Listing.SUSPENDED, action=Review.Action.SUSPEND, reason=reason
    )


@transaction.atomic
def dataset_reinstate(*, actor, dataset: Dataset, reason: str) -> Dataset:
    """A platform admin lists a suspended dataset again, with a reason."""
    return _set_listing(
        actor=actor, dataset=dataset, to=Dataset.Listing.ACTIVE, action=Review.Action.REINSTATE, reason=reason
    )
