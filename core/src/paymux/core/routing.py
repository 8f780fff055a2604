"""Routing a checkout (country, currency, method) to a provider, with the reasons why.

Two routers share one protocol: :class:`CapabilityRouter` (no markets file: the first enabled
provider whose capabilities serve the checkout, as paymux always did) and
:class:`MarketRouter` (the markets file: the market of the country, its currency, the
method's provider chain; the first provider of the chain that is enabled, serves the checkout
and is available wins). Both explain each decision candidate by candidate.

``availability`` is the hook for a circuit breaker: a function given a provider name that
answers ``None`` when the provider may be used, or why it may not (``"circuit open"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from paymux.core.domain.errors import NoProviderError
from paymux.core.markets_config import MarketsConfig
from paymux.core.markets_fees import NO_FEES, MarketFees
from paymux.core.ports.provider import PaymentProvider, ProviderCapabilities
from paymux.core.providers import ProviderRegistry

Availability = Callable[[str], str | None]
"""Provider name -> ``None`` if it may be used now, else the reason it may not."""

Outcome = Literal["chosen", "skipped", "not_tried"]


def always_available(_name: str) -> str | None:
    """The default availability: every provider may be used."""
    return None


@dataclass(frozen=True, slots=True)
class Candidate:
    """One provider considered for a checkout, and what happened to it."""

    provider: str
    outcome: Outcome
    reason: str

    def as_json(self) -> dict[str, str]:
        """A JSON-ready view."""
        return {"provider": self.provider, "outcome": self.outcome, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RouteExplanation:
    """Which provider a checkout goes to (``provider``, ``None`` if none) and why."""

    country: str
    currency: str
    method: str
    provider: str | None
    reason: str
    market: str | None = None
    chain: tuple[str, ...] = ()
    """The providers considered, in order."""
    candidates: tuple[Candidate, ...] = ()
    fees: MarketFees = field(default_factory=MarketFees)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view (the explain endpoint's body, without the fees)."""
        return {
            "country": self.country,
            "currency": self.currency,
            "method": self.method,
            "provider": self.provider,
            "reason": self.reason,
            "market": self.market,
            "chain": list(self.chain),
            "candidates": [candidate.as_json() for candidate in self.candidates],
        }


@dataclass(frozen=True, slots=True)
class SupportedMarket:
    """What a market routes: its countries and, per currency, the methods that have a provider."""

    market: str
    countries: tuple[str, ...]
    currencies: dict[str, list[str]]

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "market": self.market,
            "countries": list(self.countries),
            "currencies": self.currencies,
        }


class NoRouteError(NoProviderError):
    """The markets file routes no provider to this checkout; ``supported`` says what it routes
    (for the checkout's country, or every market when the country is in none)."""

    code = "no-route"

    def __init__(
        self, message: str, *, explanation: RouteExplanation, supported: list[SupportedMarket]
    ) -> None:
        super().__init__(message)
        self.explanation = explanation
        self.supported = supported

    def details(self) -> dict[str, Any]:
        """The problem's extension members: the explanation and what is supported."""
        return {
            "explanation": self.explanation.as_json(),
            "supported": [market.as_json() for market in self.supported],
        }


class Router(Protocol):
    """Picks the provider of a checkout and explains the choice."""

    def explain(self, *, country: str, currency: str, method: str) -> RouteExplanation:
        """The decision for this checkout, with every candidate and why it was (not) taken."""
        ...

    def choose(self, *, country: str, currency: str, method: str) -> PaymentProvider:
        """The provider for this checkout; raises :class:`NoProviderError` (or a subclass)."""
        ...

    def fees(self, *, country: str, currency: str) -> MarketFees:
        """The commission and logistics-fee rules for orders of this country and currency."""
        ...


def mismatch(
    capabilities: ProviderCapabilities, *, country: str, currency: str, method: str
) -> str | None:
    """Why ``capabilities`` do not serve this checkout, or ``None`` if they do."""
    if method not in capabilities.methods:
        return f"capabilities do not serve method {method}"
    if capabilities.currencies is not None and currency not in capabilities.currencies:
        return f"capabilities do not serve currency {currency}"
    if capabilities.countries is not None and country not in capabilities.countries:
        return f"capabilities do not serve country {country}"
    return None


def _walk(
    names: Iterable[str],
    registry: ProviderRegistry,
    availability: Availability,
    *,
    country: str,
    currency: str,
    method: str,
) -> tuple[str | None, tuple[Candidate, ...]]:
    chosen: str | None = None
    candidates: list[Candidate] = []
    for name in names:
        if chosen is not None:
            candidates.append(Candidate(name, "not_tried", f"{chosen} was chosen before"))
            continue
        if name not in registry:
            candidates.append(Candidate(name, "skipped", "not enabled"))
            continue
        capabilities = registry.get(name).capabilities()
        why = mismatch(capabilities, country=country, currency=currency, method=method)
        if why is None:
            why = availability(name)
        if why is not None:
            candidates.append(Candidate(name, "skipped", why))
            continue
        chosen = name
        candidates.append(Candidate(name, "chosen", "enabled, serves the checkout, available"))
    return chosen, tuple(candidates)


class CapabilityRouter:
    """Without a markets file: the first enabled provider that serves the checkout."""

    def __init__(
        self, registry: ProviderRegistry, availability: Availability = always_available
    ) -> None:
        self._registry = registry
        self._availability = availability

    def explain(self, *, country: str, currency: str, method: str) -> RouteExplanation:
        """Every enabled provider in order, until one serves the checkout."""
        chain = tuple(self._registry.names())
        chosen, candidates = _walk(
            chain,
            self._registry,
            self._availability,
            country=country,
            currency=currency,
            method=method,
        )
        reason = (
            f"{chosen} is the first enabled provider that serves {method} in {currency} "
            f"from {country}"
            if chosen
            else f"no enabled provider accepts {method} payments in {currency} from {country}"
        )
        return RouteExplanation(country, currency, method, chosen, reason, None, chain, candidates)

    def choose(self, *, country: str, currency: str, method: str) -> PaymentProvider:
        """The chosen provider; :class:`NoProviderError` (``no-provider``) if none.

        When every provider that serves the checkout is unavailable (circuit open), the
        first of them is chosen all the same: the work waits for it rather than failing.
        """
        explanation = self.explain(country=country, currency=currency, method=method)
        if explanation.provider is None:
            waiting, _ = _walk(
                self._registry.names(), self._registry, always_available,
                country=country, currency=currency, method=method,
            )  # fmt: skip
            if waiting is not None:
                return self._registry.get(waiting)
            raise NoProviderError(explanation.reason)
        return self._registry.get(explanation.provider)

    def fees(self, *, country: str, currency: str) -> MarketFees:
        """No markets, no rules: omitted fees are zero."""
        return NO_FEES


class MarketRouter:
    """With a markets file: market of the country -> currency -> method -> provider chain."""

    def __init__(
        self,
        config: MarketsConfig,
        registry: ProviderRegistry,
        availability: Availability = always_available,
    ) -> None:
        self._config = config
        self._registry = registry
        self._availability = availability

    @property
    def config(self) -> MarketsConfig:
        """The markets file this router follows."""
        return self._config

    def explain(self, *, country: str, currency: str, method: str) -> RouteExplanation:
        """The decision, following the markets file."""
        return self._explain(country, currency, method, self._availability)

    def _explain(
        self, country: str, currency: str, method: str, availability: Availability
    ) -> RouteExplanation:
        def unrouted(reason: str, market: str | None = None) -> RouteExplanation:
            return RouteExplanation(country, currency, method, None, reason, market)

        market = self._config.market_for(country)
        if market is None:
            return unrouted(f"country {country} is in no market")
        route = market.currencies.get(currency)
        if route is None:
            offered = ", ".join(market.currencies)
            return unrouted(
                f"market {market.id} does not take {currency} (it takes {offered})", market.id
            )
        chain = route.methods.get(method)
        if chain is None:
            offered = ", ".join(route.methods)
            return unrouted(
                f"market {market.id} has no method {method} in {currency} (it has {offered})",
                market.id,
            )
        chosen, candidates = _walk(
            chain, self._registry, availability, country=country, currency=currency, method=method
        )
        where = f"markets.{market.id}.currencies.{currency}.methods.{method}"
        reason = (
            f"{chosen} is the first provider of {where} that is enabled, serves the checkout "
            "and is available"
            if chosen
            else f"no provider of {where} is enabled, serves the checkout and is available"
        )
        return RouteExplanation(
            country, currency, method, chosen, reason, market.id, chain, candidates, route.fees
        )

    def choose(self, *, country: str, currency: str, method: str) -> PaymentProvider:
        """The chosen provider; :class:`NoRouteError` (``no-route``) listing what is supported.

        When every provider of the chain is unavailable (circuit open), the first that serves
        the checkout is chosen all the same: the work waits for it rather than failing.
        """
        explanation = self.explain(country=country, currency=currency, method=method)
        if explanation.provider is None:
            waiting = self._explain(country, currency, method, always_available).provider
            if waiting is not None:
                return self._registry.get(waiting)
            raise NoRouteError(
                explanation.reason, explanation=explanation, supported=self.supported(country)
            )
        return self._registry.get(explanation.provider)

    def fees(self, *, country: str, currency: str) -> MarketFees:
        """The fee rules of the country's market in ``currency`` (none: zero)."""
        market = self._config.market_for(country)
        route = market.currencies.get(currency) if market is not None else None
        return route.fees if route is not None else NO_FEES

    def supported(self, country: str | None = None) -> list[SupportedMarket]:
        """What is routable (ignoring availability): in ``country``'s market for that country,
        or in every market (for at least one of its countries) when the country is in none."""
        market = self._config.market_for(country) if country else None
        if market is not None and country is not None:
            return [self._supported(market.id, (country,), market.countries)]
        return [
            self._supported(entry.id, entry.countries, entry.countries)
            for entry in self._config.markets.values()
        ]

    def _supported(
        self, market_id: str, probe: tuple[str, ...], countries: tuple[str, ...]
    ) -> SupportedMarket:
        market = self._config.markets[market_id]
        currencies: dict[str, list[str]] = {}
        for currency, route in market.currencies.items():
            methods = [
                method
                for method in route.methods
                if any(
                    self._explain(country, currency, method, always_available).provider
                    for country in probe
                )
            ]
            if methods:
                currencies[currency] = sorted(methods)
        return SupportedMarket(market_id, countries, currencies)
