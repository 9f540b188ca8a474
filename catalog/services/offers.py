"""How a dataset is offered, priced by the law of the data.

The law of the data decides what may be priced (reference/korea.md §3–4):

- 공공데이터 (공공데이터법 제3조④, 제35조, 시행령 제28조): free, or a cost-recovery fee
  (필요최소한의 비용) whose basis and unit (비용부과기준 및 단위) are stated;
- 공공누리 제2·4유형 data forbids commercial use, so it may be offered free of charge only, whatever the kind of data;
- 민간·가공 데이터 (데이터산업법 제21조): any price and licence, with the type of the 데이터 표준계약서 the sale follows.

An offer records the law applied (`Offer.rule`) so the reviewer sees it. The same check runs again
when a buyer puts an offer in a cart and at checkout (`offer_law_problem`), against the version the buyer
would get: a later version may carry another licence or kind of data than the one the offer was made for.

An offer may be *private* (for one named, verified buyer organization, with extra terms; nobody else sees
it) and a one-off offer may be *pinned* to one published version (otherwise the buyer gets the latest
version published at the time of purchase).
"""

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog.models import Dataset, DatasetVersion, Licence, Offer
from catalog.pricing import charges
from catalog.services.entries import catalog_entry_refresh
from catalog.services.versions import _require_publisher
from core.audit import audit
from core.errors import DomainError
from core.text import lazy_percent

PUBLIC_DATA_LAW = "공공데이터법"
PRIVATE_DATA_LAW = "데이터산업법"
# Versions a buyer can see, and so the only ones an offer may be pinned to.
PINNABLE_STATES = (DatasetVersion.State.PUBLISHED, DatasetVersion.State.SUPERSEDED)


def licence_forbids_sale(licence: Licence | None) -> bool:
    """공공누리 제2·4유형: commercial use is forbidden, so the data cannot be resold (korea.md §3)."""
    return bool(licence and licence.family == Licence.Family.KOGL and not licence.allows_commercial_use)


def offer_law_check(
    *,
    version: DatasetVersion,
    kind: str,
    price_krw: int,
    cost_basis: str = "",
    contract_type: str = "",
    price_per_1000_krw: int | None = None,
) -> str:
    """Raise DomainError (with the reason, for the offer form) unless the law of `version`'s data allows
    the offer; return the law that applied (stored as Offer.rule). API plans (issue 16) follow the same rules:
    the development plan is free; metered and subscription plans charge (catalog.pricing.charges)."""
    public = version.data_kind == DatasetVersion.DataKind.PUBLIC
    if charges(kind, price_krw, price_per_1000_krw):
        if licence_forbids_sale(version.licence):
            raise DomainError(
                _(
                    "Data under 공공누리 제2·4유형 forbids commercial use, so it cannot be sold: offer it free of charge."
                ),
                code="offer_licence",
            )
        if public and not (cost_basis or "").strip():
            raise DomainError(
                _(
                    "Public data may carry only a cost-recovery fee (공공데이터법 제35조): state its basis and unit "
                    "(비용부과기준 및 단위), e.g. the cost of preparing and delivering the files."
                ),
                code="offer_cost_basis",
            )
        if not public and contract_type not in Offer.Contract.values:
            raise DomainError(
                _("Choose the standard-contract type (데이터 표준계약서) the sale follows."), code="offer_contract"
            )
    return PUBLIC_DATA_LAW if public else PRIVATE_DATA_LAW


def offer_law_problem(offer: Offer, version: DatasetVersion) -> str | None:
    """Why the law of `version` (the one a buyer would get) no longer allows `offer`, or None."""
    try:
        offer_law_check(
            version=version,
            kind=offer.kind,
            price_krw=int(offer.price_krw),
            cost_basis=offer.cost_basis,
            contract_type=offer.contract_type,
            price_per_1000_krw=offer.price_per_1000_krw,
        )
    except DomainError as exc:
        return exc.message
    return None


def _versions_to_check(dataset: Dataset, pinned: DatasetVersion | None) -> list[DatasetVersion]:
    """The versions whose law must allow the offer: the pinned one; otherwise the newest version (the one
    being written, and published next) and the one buyers get today."""
    if pinned is not None:
        return [pinned]
    versions = dataset.versions.select_related("licence")
    newest = versions.order_by("-number").first()
    published = versions.filter(state=DatasetVersion.State.PUBLISHED).first()
    return list({v.pk: v for v in (published, newest) if v is not None}.values())


def _check_private_buyer(dataset: Dataset, buyer: Organization) -> None:
    if buyer.pk == dataset.publisher_id:
        raise DomainError(_("A private offer is for another organization, not your own."), code="offer_buyer_self")
    if not (buyer.is_verified and buyer.is_consumer):
        raise DomainError(
            lazy_percent(
                _("%(name)s is not a verified buyer organization: a private offer can only be made to one."),
                {"name": buyer.name_ko},
            ),
            code="offer_buyer_unverified",
        )


@transaction.atomic
def offer_create(
    *,
    actor,
    dataset: Dataset,
    kind: str,
    price_krw: int = 0,
    subscription_days: int | None = None,
    cost_basis: str = "",
    contract_type: str = "",
    version: DatasetVersion | None = None,
    buyer: Organization | None = None,
    terms: str = "",
    voucher_eligible: bool = False,
    daily_quota: int | None = None,
    rate_limit_per_minute: int | None = None,
    price_per_1000_krw: int | None = None,
) -> Offer:
    """A publisher offers the dataset: free, one-off (one version, or the latest at purchase) or by
    subscription; to every buyer, or privately to one named buyer organization. The law of the data
    decides what may be priced (see the module docstring); a refusal says why. `voucher_eligible`: the provider
    accepts the 데이터바우처 for it (a priced offer only), which the reviewer sees."""
    _require_publisher(actor, dataset.publisher)
    price_krw = int(price_krw or 0)
    terms = (terms or "").strip()
    if kind not in Offer.Kind.values:
        raise DomainError(_("Choose how the dataset is offered."), code="offer_kind")
    daily_quota, rate_limit_per_minute, price_per_1000_krw = _api_terms(
        kind, daily_quota, rate_limit_per_minute, price_per_1000_krw
    )
    if kind == Offer.Kind.API_SUBSCRIPTION:
        subscription_days = 30  # a flat monthly price
    if kind in (Offer.Kind.API_DEV, Offer.Kind.API_METERED):
        # Nothing is paid up front: the development plan is free, the metered plan is billed per call each month.
        price_krw, subscription_days, voucher_eligible = 0, None, False
    elif kind == Offer.Kind.FREE:
        price_krw, subscription_days, voucher_eligible = 0, None, False
    elif price_krw <= 0:
        raise DomainError(_("Enter a price in won (excluding VAT)."), code="offer_price")
    if kind == Offer.Kind.SUBSCRIPTION and subscription_days not in (30, 90, 365):
        raise DomainError(_("A subscription runs for 30, 90 or 365 days."), code="offer_period")
    if kind not in (Offer.Kind.SUBSCRIPTION, Offer.Kind.API_SUBSCRIPTION):
        subscription_days = None
    if version is not None:
        if kind != Offer.Kind.ONE_OFF:
            raise DomainError(
                _("Only a one-off purchase can be for one particular version."), code="offer_version_kind"
            )
        if version.dataset_id != dataset.pk or version.state not in PINNABLE_STATES:
            raise DomainError(_("An offer can only be for a published version of this dataset."), code="offer_version")
    if buyer is not None:
        _check_private_buyer(dataset, buyer)
    elif terms:
        raise DomainError(_("Extra terms belong to a private offer: name the buyer organization."), code="offer_terms")
    versions = _versions_to_check(dataset, version)
    if not versions:
        raise DomainError(_("Describe the dataset before offering it."), code="offer_no_version")
    # Usually one law; while a new version changes the kind of data, the offer must satisfy both.
    rules = list(
        dict.fromkeys(
            offer_law_check(
                version=v,
                kind=kind,
                price_krw=price_krw,
                cost_basis=cost_basis,
                contract_type=contract_type,
                price_per_1000_krw=price_per_1000_krw,
            )
            for v in versions
        )
    )
    rule = " / ".join(rules)
    offer = Offer.objects.create(
        dataset=dataset,
        kind=kind,
        price_krw=price_krw,
        subscription_days=subscription_days,
        cost_basis=(cost_basis or "").strip() if PUBLIC_DATA_LAW in rules else "",
        contract_type=contract_type if PRIVATE_DATA_LAW in rules else "",
        rule=rule,
        version=version,
        buyer=buyer,
        terms=terms,
        voucher_eligible=bool(voucher_eligible),
        daily_quota=daily_quota,
        rate_limit_per_minute=rate_limit_per_minute,
        price_per_1000_krw=price_per_1000_krw,
    )
    audit(
        actor=actor,
        action="offer.created",
        obj=dataset,
        organization=dataset.publisher,
        data={
            "offer": offer.pk,
            "kind": kind,
            "price_krw": price_krw,
            "days": subscription_days,
            "rule": rule,
            "version": version.number if version else None,
            "buyer": buyer.name_ko if buyer else None,
            "voucher_eligible": offer.voucher_eligible,
            "daily_quota": daily_quota,
            "rate_limit_per_minute": rate_limit_per_minute,
            "price_per_1000_krw": price_per_1000_krw,
        },
    )
    catalog_entry_refresh(dataset)
    return offer


def _positive(value, message, code) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DomainError(message, code=code) from None
    if number <= 0:
        raise DomainError(message, code=code)
    return number


def _api_terms(kind, daily_quota, rate_limit_per_minute, price_per_1000_krw):
    """The API plan fields an offer of `kind` needs (issue 16), checked; None for the others."""
    if kind == Offer.Kind.API_DEV:
        quota = _positive(
            daily_quota, _("Enter the development plan's daily call quota (e.g. 1000)."), "offer_daily_quota"
        )
        return quota, None, None
    if kind == Offer.Kind.API_METERED:
        price = _positive(
            price_per_1000_krw,
            _("Enter the metered plan's price per 1,000 calls in won (excluding VAT)."),
            "offer_price_per_1000",
        )
        return None, None, price
    if kind == Offer.Kind.API_SUBSCRIPTION:
        rate = _positive(
            rate_limit_per_minute,
            _("Enter the subscription plan's rate limit in calls per minute (e.g. 600)."),
            "offer_rate_limit",
        )
        return None, rate, None
    return None, None, None


@transaction.atomic
def offer_deactivate(*, actor, offer: Offer) -> Offer:
    """A publisher stops an offer; orders already placed keep their own copy of its terms."""
    _require_publisher(actor, offer.dataset.publisher)
    Offer.objects.filter(pk=offer.pk).update(active=False)
    audit(
        actor=actor,
        action="offer.deactivated",
        obj=offer.dataset,
        organization=offer.dataset.publisher,
        data={"offer": offer.pk},
    )
    catalog_entry_refresh(offer.dataset)
    offer.active = False
    return offer
