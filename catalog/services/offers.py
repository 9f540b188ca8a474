"""How a dataset is offered, priced by the law of the data."""


from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.exceptions import DomainError
from accounts.services import audit
from catalog.models import Dataset, DatasetVersion, Offer
from catalog.services.entries import catalog_entry_refresh
from catalog.services.versions import _require_publisher


@transaction.atomic
def offer_create(*, actor, dataset: Dataset, kind: str, price_krw: int = 0, subscription_days: int | None = None,
                 cost_basis: str = "", contract_type: str = "") -> Offer:
    """A publisher offers the dataset. The law of the data decides what may be priced:

    - 공공데이터 (공공데이터법 제3조④, 제35조): free, or a cost-recovery fee with its stated basis;
    - 공공누리 제2·4유형 data may not be sold at all (commercial use is forbidden);
    - 민간·가공 데이터 (데이터산업법): any price, with the standard-contract type it follows.
    """
    _require_publisher(actor, dataset.publisher)
    version = dataset.versions.order_by("-number").select_related("licence").first()
    price_krw = int(price_krw or 0)
    if kind not in Offer.Kind.values:
        raise DomainError(_("Choose how the dataset is offered."), code="offer_kind")
    if kind == Offer.Kind.FREE:
        price_krw, subscription_days = 0, None
    elif price_krw <= 0:
        raise DomainError(_("Enter a price in won (excluding VAT)."), code="offer_price")
    if kind == Offer.Kind.SUBSCRIPTION and subscription_days not in (30, 90, 365):
        raise DomainError(_("A subscription runs for 30, 90 or 365 days."), code="offer_period")
    if kind != Offer.Kind.SUBSCRIPTION:
        subscription_days = None
    public = version.data_kind == DatasetVersion.DataKind.PUBLIC
    if kind != Offer.Kind.FREE:
        if version.licence and version.licence.code in ("kogl-2", "kogl-4"):
            raise DomainError(
                _("Data under 공공누리 제2·4유형 forbids commercial use, so it cannot be sold: offer it free of charge."),
                code="offer_licence",
            )
        if public and not cost_basis.strip():
            raise DomainError(
                _("Public data may carry only a cost-recovery fee (공공데이터법 제35조): state its basis and unit "
                  "(비용부과기준 및 단위), e.g. the cost of preparing and delivering the files."),
                code="offer_cost_basis",
            )
        if not public and contract_type not in Offer.Contract.values:
            raise DomainError(_("Choose the standard-contract type (데이터 표준계약서) the sale follows."), code="offer_contract")
    rule = "공공데이터법" if public else "데이터산업법"
    offer = Offer.objects.create(
        dataset=dataset, kind=kind, price_krw=price_krw, subscription_days=subscription_days,
        cost_basis=cost_basis.strip() if public else "", contract_type="" if public else contract_type, rule=rule,
    )
    audit(actor=actor, action="offer.created", obj=dataset, organization=dataset.publisher,
          data={"kind": kind, "price_krw": price_krw, "days": subscription_days, "rule": rule})
    catalog_entry_refresh(dataset)
    return offer


@transaction.atomic
def offer_deactivate(*, actor, offer: Offer) -> Offer:
    """A publisher stops an offer; orders already placed keep their own copy of its terms."""
    _require_publisher(actor, offer.dataset.publisher)
    Offer.objects.filter(pk=offer.pk).update(active=False)
    audit(actor=actor, action="offer.deactivated", obj=offer.dataset, organization=offer.dataset.publisher,
          data={"offer": offer.pk})
    catalog_entry_refresh(offer.dataset)
    offer.active = False
    return offer
