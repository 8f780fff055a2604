"""Routing by markets (chains and fallbacks), its explanations, and the fee rules' math."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from fractions import Fraction

import pytest

from paymux.core.domain.errors import NoProviderError
from paymux.core.markets_config import parse_markets
from paymux.core.markets_fees import CommissionRule, MarketFees, round_half_up
from paymux.core.ports.provider import ProviderCapabilities
from paymux.core.providers import ProviderRegistry
from paymux.core.routing import CapabilityRouter, MarketRouter, NoRouteError
from paymux.currencies import Money
from paymux_fakes import FakeProvider


@dataclass
class ServingProvider(FakeProvider):
    """A fake provider with the capabilities a test gives it."""

    serves: ProviderCapabilities = field(
        default_factory=lambda: ProviderCapabilities(methods=frozenset({"card"}))
    )

    def capabilities(self) -> ProviderCapabilities:
        return self.serves


def _provider(name: str, methods: set[str], currencies: set[str] | None = None) -> FakeProvider:
    caps = ProviderCapabilities(
        methods=frozenset(methods), currencies=None if currencies is None else frozenset(currencies)
    )
    return ServingProvider(provider_name=name, serves=caps)


FILE = """
[providers.adyen]
[providers.stripe]
[providers.square]
[providers.bank_transfer]

[markets.eu]
countries = ["DE", "FR"]
[markets.eu.currencies.EUR]
methods.card = ["adyen", "stripe"]
methods.bank_transfer = ["bank_transfer"]
commission = { percent = "10", minimum = "0.50" }
logistics_fee = "4.90"

[markets.jp]
countries = ["JP"]
[markets.jp.currencies.JPY]
methods.card = ["adyen", "square", "stripe"]
"""


def _router(*providers: FakeProvider, availability: dict[str, str] | None = None) -> MarketRouter:
    config = parse_markets(tomllib.loads(FILE))
    down = availability or {}
    return MarketRouter(config, ProviderRegistry(providers), availability=down.get)


ADYEN_EUR = _provider("adyen", {"card"}, {"EUR"})
STRIPE = _provider("stripe", {"card"})
SQUARE = _provider("square", {"card"}, {"JPY", "USD"})
BANK = _provider("bank_transfer", {"bank_transfer"}, {"EUR"})


def test_the_first_provider_of_the_chain_wins() -> None:
    router = _router(ADYEN_EUR, STRIPE, BANK)
    explanation = router.explain(country="DE", currency="EUR", method="card")
    assert explanation.provider == "adyen"
    assert explanation.market == "eu"
    assert explanation.chain == ("adyen", "stripe")
    assert [(c.provider, c.outcome) for c in explanation.candidates] == [
        ("adyen", "chosen"),
        ("stripe", "not_tried"),
    ]
    assert router.choose(country="DE", currency="EUR", method="card") is ADYEN_EUR
    assert router.choose(country="FR", currency="EUR", method="bank_transfer") is BANK


def test_a_provider_not_enabled_falls_back_to_the_next() -> None:
    router = _router(STRIPE)
    explanation = router.explain(country="DE", currency="EUR", method="card")
    assert explanation.provider == "stripe"
    assert explanation.candidates[0].outcome == "skipped"
    assert explanation.candidates[0].reason == "not enabled"


def test_a_provider_that_does_not_serve_falls_back_to_the_next() -> None:
    router = _router(ADYEN_EUR, SQUARE, STRIPE)
    explanation = router.explain(country="JP", currency="JPY", method="card")
    assert explanation.provider == "square"
    assert explanation.candidates[0].reason == "capabilities do not serve currency JPY"
    assert explanation.candidates[2].outcome == "not_tried"


def test_an_unavailable_provider_falls_back_to_the_next() -> None:
    router = _router(ADYEN_EUR, STRIPE, availability={"adyen": "circuit open"})
    explanation = router.explain(country="DE", currency="EUR", method="card")
    assert explanation.provider == "stripe"
    assert explanation.candidates[0].reason == "circuit open"


def test_when_every_provider_is_unavailable_the_work_waits_for_the_first() -> None:
    down = {"adyen": "circuit open", "stripe": "circuit open"}
    router = _router(ADYEN_EUR, STRIPE, availability=down)
    explanation = router.explain(country="DE", currency="EUR", method="card")
    assert explanation.provider is None
    assert router.choose(country="DE", currency="EUR", method="card").name == "adyen"
    capability = CapabilityRouter(ProviderRegistry([ADYEN_EUR, STRIPE]), availability=down.get)
    assert capability.choose(country="DE", currency="EUR", method="card").name == "adyen"
    with pytest.raises(NoProviderError):
        capability.choose(country="DE", currency="EUR", method="paypal")


@pytest.mark.parametrize(
    ("country", "currency", "method", "reason"),
    [
        ("US", "USD", "card", "country US is in no market"),
        ("DE", "USD", "card", "market eu does not take USD (it takes EUR)"),
        (
            "DE",
            "EUR",
            "paypal",
            "market eu has no method paypal in EUR (it has card, bank_transfer)",
        ),
    ],
)
def test_an_unsupported_combination_lists_what_is_supported(
    country: str, currency: str, method: str, reason: str
) -> None:
    router = _router(ADYEN_EUR, SQUARE, BANK)
    with pytest.raises(NoRouteError) as raised:
        router.choose(country=country, currency=currency, method=method)
    error = raised.value
    assert error.code == "no-route"
    assert error.message == reason
    supported = error.details()["supported"]
    if country == "US":  # in no market: every market
        assert [entry["market"] for entry in supported] == ["eu", "jp"]
        assert supported[1] == {
            "market": "jp",
            "countries": ["JP"],
            "currencies": {"JPY": ["card"]},
        }
    else:  # the country's market, for that country
        assert supported == [
            {
                "market": "eu",
                "countries": ["DE", "FR"],
                "currencies": {"EUR": ["bank_transfer", "card"]},
            }
        ]


def test_a_chain_nobody_serves_is_not_listed_as_supported() -> None:
    router = _router(BANK)  # neither adyen nor stripe enabled
    with pytest.raises(NoRouteError) as raised:
        router.choose(country="DE", currency="EUR", method="card")
    assert [c.reason for c in raised.value.explanation.candidates] == ["not enabled"] * 2
    assert raised.value.details()["supported"][0]["currencies"] == {"EUR": ["bank_transfer"]}


def test_without_markets_the_first_serving_provider_wins_as_before() -> None:
    router = CapabilityRouter(ProviderRegistry([BANK, ADYEN_EUR, STRIPE]))
    explanation = router.explain(country="DE", currency="EUR", method="card")
    assert explanation.provider == "adyen"
    assert explanation.candidates[0].reason == "capabilities do not serve method card"
    with pytest.raises(NoProviderError) as raised:
        router.choose(country="DE", currency="EUR", method="paypal")
    assert raised.value.code == "no-provider"
    assert router.fees(country="DE", currency="EUR") == MarketFees()


def test_the_market_fees_are_found_by_country_and_currency() -> None:
    router = _router(ADYEN_EUR)
    fees = router.fees(country="FR", currency="EUR")
    assert fees.logistics_fee == Money(490, "EUR")
    assert router.fees(country="JP", currency="JPY") == MarketFees()
    assert router.fees(country="US", currency="USD") == MarketFees()


# -- fee math --------------------------------------------------------------------------


def _rule(
    percent: str, minimum: Money | None = None, maximum: Money | None = None
) -> CommissionRule:
    from decimal import Decimal

    return CommissionRule(percent, Fraction(Decimal(percent)) / 100, minimum, maximum)


@pytest.mark.parametrize(
    ("percent", "amount", "expected"),
    [
        ("10", Money(1000, "EUR"), Money(100, "EUR")),
        ("12.5", Money(1999, "EUR"), Money(250, "EUR")),  # 249.875 -> 250
        ("12.5", Money(1996, "EUR"), Money(250, "EUR")),  # 249.5 -> 250 (half up)
        ("12.5", Money(1992, "EUR"), Money(249, "EUR")),  # 249.0
        ("2.5", Money(100, "EUR"), Money(3, "EUR")),  # 2.5 -> 3
        ("2.5", Money(60, "EUR"), Money(2, "EUR")),  # 1.5 -> 2
        ("10", Money(1234, "JPY"), Money(123, "JPY")),  # 123.4 -> 123
        ("10", Money(1235, "JPY"), Money(124, "JPY")),  # 123.5 -> 124
        ("1.5", Money(1001, "KWD"), Money(15, "KWD")),  # 15.015 -> 15 (0.015 KWD)
        ("0.000001", Money(10**12, "USD"), Money(10**4, "USD")),
        ("100", Money(777, "USD"), Money(777, "USD")),
        ("0", Money(777, "USD"), Money(0, "USD")),
    ],
)
def test_commission_is_rounded_half_up_exactly(
    percent: str, amount: Money, expected: Money
) -> None:
    assert _rule(percent).commission_for(amount) == expected


def test_commission_minimum_and_maximum() -> None:
    rule = _rule("10", minimum=Money(50, "EUR"), maximum=Money(1000, "EUR"))
    assert rule.commission_for(Money(100, "EUR")) == Money(50, "EUR")
    assert rule.commission_for(Money(5000, "EUR")) == Money(500, "EUR")
    assert rule.commission_for(Money(20000, "EUR")) == Money(1000, "EUR")


def test_round_half_up_on_negative_values() -> None:
    assert round_half_up(Fraction(-5, 2)) == -3
    assert round_half_up(Fraction(-7, 3)) == -2


def test_client_values_win_over_the_market_rules() -> None:
    fees = MarketFees(_rule("10"), Money(490, "EUR"))
    amount = Money(3000, "EUR")
    assert fees.fees_for(amount, commission=None, logistics_fee=None) == (
        Money(300, "EUR"),
        Money(490, "EUR"),
    )
    zero = Money(0, "EUR")
    assert fees.fees_for(amount, commission=zero, logistics_fee=zero) == (zero, zero)
    assert MarketFees().fees_for(amount, commission=None, logistics_fee=None) == (zero, zero)
