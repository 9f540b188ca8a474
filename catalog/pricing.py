"""Prices and VAT: the one place where 공급가액 / 부가세 / 합계 are computed.

Offer prices are integer KRW excluding VAT (공급가액). VAT is 10 % of the supply value with fractions of
a won dropped (원 미만 절사: ``supply * 10 // 100``), and 0 when the provider organization is VAT-exempt
(면세: e.g. a local government's supplies, 부가가치세법 제26조①19호). The total (합계, 공급대가) is supply +
VAT. Orders snapshot these three figures; receipts and the PG are given the same ones.
"""

from dataclasses import dataclass

from django.conf import settings

from accounts.models import Organization


@dataclass(frozen=True)
class Price:
    supply_krw: int  # 공급가액
    vat_krw: int  # 부가세
    total_krw: int  # 합계
    tax_free: bool  # the supplier is VAT-exempt (면세)

    def __add__(self, other: "Price") -> "Price":
        return Price(
            self.supply_krw + other.supply_krw,
            self.vat_krw + other.vat_krw,
            self.total_krw + other.total_krw,
            self.tax_free and other.tax_free,
        )

    @property
    def tax_free_krw(self) -> int:
        """The part of the total on which no VAT is charged (the PG's taxFreeAmount)."""
        return self.supply_krw if self.tax_free else 0


ZERO = Price(0, 0, 0, True)


def vat_of(supply_krw: int, *, tax_free: bool) -> int:
    if not isinstance(supply_krw, int) or isinstance(supply_krw, bool) or supply_krw < 0:
        raise ValueError(f"A price is a non-negative integer number of won, not {supply_krw!r}")
    return 0 if tax_free else supply_krw * settings.VAT_RATE_PERCENT // 100


def price_of(supply_krw: int, *, tax_free: bool = False) -> Price:
    vat = vat_of(supply_krw, tax_free=tax_free)
    return Price(supply_krw, vat, supply_krw + vat, tax_free)


def offer_price(offer) -> Price:
    """The price of an offer as a buyer pays it, by its publisher's VAT status."""
    exempt = offer.dataset.publisher.vat_status == Organization.VatStatus.EXEMPT
    return price_of(int(offer.price_krw), tax_free=exempt)


def entry_prices(offers) -> tuple[int | None, list[list[int]]]:
    """What a catalog entry stores of its public offers, given as (kind, price_krw, subscription_days): the
    lowest one-off price (None without one) and the lowest price of each subscription period, [[days, won], …]
    by days. Supply values (excluding VAT); catalog_entry_refresh and the seeder both use this."""
    one_off = [int(price) for kind, price, _days in offers if kind == "one_off"]
    periods: dict[int, int] = {}
    for kind, price, days in offers:
        if kind == "subscription" and days:
            periods[int(days)] = min(int(price), periods.get(int(days), int(price)))
    return (min(one_off) if one_off else None), [[days, periods[days]] for days in sorted(periods)]


# Issue 16: which offer kinds charge the buyer (the law of the data applies to them: 공공데이터 only at cost recovery
# with its stated basis, 공공누리 제2·4유형 never). The development plan of the data API is free like a free offer;
# the metered plan charges per call (price_per_1000_krw) though nothing is paid up front.
FREE_KINDS = ("free", "api_dev")


def charges(kind: str, price_krw: int = 0, price_per_1000_krw: int | None = None) -> bool:
    """Whether an offer of this kind and price charges the buyer anything."""
    return kind not in FREE_KINDS or bool(price_krw) or bool(price_per_1000_krw)


def metered_amount_krw(calls: int, price_per_1000_krw: int) -> int:
    """공급가액 of metered calls: calls × price per 1,000 / 1,000, rounded down to the won (원 미만 절사, as VAT)."""
    return int(calls) * int(price_per_1000_krw) // 1000
