"""A readable summary of a markets file, as ``paymux markets check`` prints it."""

from __future__ import annotations

from collections.abc import Iterator

from paymux.core.markets_config import MarketsConfig
from paymux.core.markets_fees import MarketFees


def summarize(config: MarketsConfig) -> Iterator[str]:
    """Lines describing the providers, then each market's routes and fee rules."""
    providers = []
    for entry in config.providers.values():
        flags = [
            flag for flag, on in (("sandbox", entry.sandbox), ("disabled", not entry.enabled)) if on
        ]
        providers.append(entry.name + (f" ({', '.join(flags)})" if flags else ""))
    yield f"providers: {', '.join(providers)}"
    for market in config.markets.values():
        title = f"market {market.id}" + (f" ({market.name})" if market.name else "")
        count = len(market.countries)
        countries = f"{count} {'country' if count == 1 else 'countries'}"
        yield f"{title}: {countries}: {' '.join(market.countries)}"
        for currency, route in market.currencies.items():
            for method, chain in route.methods.items():
                yield f"  {currency} {method}: {' -> '.join(chain)}"
            fees = _fees(route.fees)
            if fees:
                yield f"  {currency} fees: {fees}"


def _fees(fees: MarketFees) -> str:
    parts = []
    rule = fees.commission
    if rule is not None:
        bounds = [
            f"{name} {money.amount_str}"
            for name, money in (("min", rule.minimum), ("max", rule.maximum))
            if money is not None
        ]
        parts.append(f"commission {rule.percent}%" + (f" ({', '.join(bounds)})" if bounds else ""))
    if fees.logistics_fee is not None:
        parts.append(f"logistics fee {fees.logistics_fee.amount_str}")
    return "; ".join(parts)
