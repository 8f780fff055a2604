"""Rates, locked quotes and the one rounding step of a conversion."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.core.fx.fixed_rates import FixedRateSource
from paymux.core.fx.quotes import (
    Quote,
    QuoteExpiredError,
    Quoter,
    convert,
    require_valid,
)
from paymux.core.fx.rates import Rate, RateUnavailableError, cross_rate, round_rate
from paymux.core.fx.setup import FxSetupError, build_quoter
from paymux.core.hookspecs import hookimpl
from paymux.core.plugins import PluginError, collect_rate_sources, create_plugin_manager
from paymux.core.settings import FxSettings, Settings
from paymux.currencies import InvalidAmountError, Money, get_currency
from paymux.currencies.parsing import MAX_MINOR_UNITS

NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _quote(base: str, quote: str, rate: str) -> Quote:
    return Quote(
        base=base,
        quote=quote,
        rate=Decimal(rate),
        source="fixed",
        rate_date=NOON.date(),
        created_at=NOON,
        expires_at=NOON + timedelta(minutes=15),
    )


def _usd_for_1000_jpy(rate: str) -> int:
    return convert(Money.of_minor(1000, "JPY"), _quote("JPY", "USD", rate)).minor


def test_conversion_rounds_once_half_to_even_to_the_target_minor_unit() -> None:
    assert _usd_for_1000_jpy("0.006625") == 662  # 6.625 USD: a tie goes to the even cent
    assert _usd_for_1000_jpy("0.006615") == 662  # 6.615 USD: likewise, up this time
    assert _usd_for_1000_jpy("0.0066249") == 662  # 6.6249: below half
    assert _usd_for_1000_jpy("0.0066251") == 663  # 6.6251: above half


def test_three_and_zero_decimal_currencies_keep_their_minor_units() -> None:
    kwd = convert(Money.of_minor(10_000, "EUR"), _quote("EUR", "KWD", "0.33157"))
    assert kwd == Money.of_minor(33_157, "KWD")  # 100.00 EUR -> 33.157 KWD, three decimals
    assert kwd.amount_str == "33.157"
    clp = convert(Money.of_minor(10_000, "EUR"), _quote("EUR", "CLP", "1024.355"))
    assert clp == Money.of_minor(102_436, "CLP")  # 102435.5 -> 102436 (6 is even)
    assert clp.amount_str == "102436"


def test_a_quote_converts_only_its_base_currency() -> None:
    with pytest.raises(ValueError, match="converts JPY"):
        convert(Money.of_minor(1000, "EUR"), _quote("JPY", "USD", "0.0066"))


@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    rate=st.decimals(
        min_value=Decimal("0.000001"), max_value=Decimal("100000"), places=6, allow_nan=False
    ),
    pair=st.sampled_from([("JPY", "USD"), ("USD", "KWD"), ("EUR", "CLP"), ("KWD", "JPY")]),
)
def test_conversion_equals_the_exact_product_rounded_once(
    minor: int, rate: Decimal, pair: tuple[str, str]
) -> None:
    base, target = pair
    amount = Money.of_minor(minor, base)
    exact = Decimal(minor).scaleb(-amount.exponent) * rate  # exact: few digits
    step = Decimal(1).scaleb(-get_currency(target).exponent)
    expected = exact.quantize(step, rounding=ROUND_HALF_EVEN)
    if abs(expected / step) > MAX_MINOR_UNITS:
        with pytest.raises(InvalidAmountError, match="too large"):
            convert(amount, _quote(base, target, str(rate)))
        return
    converted = convert(amount, _quote(base, target, str(rate)))
    assert converted.to_decimal() == expected
    assert abs(converted.to_decimal() - exact) <= step / 2


def test_quotes_round_trip_through_their_stored_form() -> None:
    quote = _quote("JPY", "USD", "0.006612500000")
    assert Quote.from_dict(quote.as_dict()) == quote
    assert quote.as_dict()["rate"] == "0.006612500000"


def test_a_derived_whole_rate_is_stored_digit_for_digit_not_as_an_exponent() -> None:
    rate = round_rate(1 / Decimal("0.005"))  # normalized: Decimal("2E+2")
    quote = _quote("EUR", "JPY", str(rate))
    assert quote.as_dict()["rate"] == "200"
    assert Quote.from_dict(quote.as_dict()) == quote


def test_a_quote_holds_until_it_expires() -> None:
    quote = _quote("JPY", "USD", "0.0066")
    assert require_valid(quote, NOON + timedelta(minutes=14)) is quote
    with pytest.raises(QuoteExpiredError):
        require_valid(quote, NOON + timedelta(minutes=15))
    with pytest.raises(ValueError, match="expires after"):
        Quote("JPY", "USD", Decimal("0.0066"), "fixed", NOON.date(), NOON, NOON)


@pytest.mark.parametrize("bad", ["0", "-1.2", "NaN", "Infinity"])
def test_rates_are_positive_and_finite(bad: str) -> None:
    with pytest.raises(ValueError, match="positive finite"):
        Rate("EUR", "USD", Decimal(bad), "fixed", NOON.date())
    with pytest.raises(TypeError):
        Rate("EUR", "USD", 1.1, "fixed", NOON.date())  # type: ignore[arg-type]


def test_cross_rates_divide_through_the_common_currency_to_twelve_digits() -> None:
    day = date(2026, 11, 24)
    eur_jpy = Rate("EUR", "JPY", Decimal("163.45"), "ecb", day)
    eur_usd = Rate("EUR", "USD", Decimal("1.0812"), "ecb", day - timedelta(days=1))
    jpy_usd = cross_rate(eur_jpy, eur_usd)
    assert (jpy_usd.base, jpy_usd.quote) == ("JPY", "USD")
    assert jpy_usd.value == Decimal("0.00661486693178")  # 1.0812 / 163.45, 12 digits
    assert jpy_usd.as_of == day - timedelta(days=1)
    assert round_rate(Decimal("2") / Decimal("3")) == Decimal("0.666666666667")


async def test_fixed_rates_answer_given_pairs_and_their_inverses_only() -> None:
    source = FixedRateSource({"EUR/USD": "1.25"})
    assert (await source.rate("EUR", "USD")).value == Decimal("1.25")
    assert (await source.rate("USD", "EUR")).value == Decimal("0.8")
    assert (await source.rate("USD", "USD")).value == 1
    with pytest.raises(RateUnavailableError):
        await source.rate("EUR", "JPY")
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        FixedRateSource({"EURUSD": "1.25"})


async def test_the_ecb_rate_of_easter_thursday_still_quotes_on_tuesday() -> None:
    thursday = date(2027, 3, 25)  # Good Friday and Easter Monday 2027: no ECB rates
    tuesday_morning = datetime(2027, 3, 30, 9, 0, tzinfo=UTC)
    source = FixedRateSource({"EUR/USD": "1.1"}, as_of=thursday)
    quoter = Quoter(source, clock=lambda: tuesday_morning)
    assert (await quoter.lock("EUR", "USD")).rate_date == thursday


async def test_the_quoter_locks_fresh_rates_and_refuses_stale_ones() -> None:
    now = [NOON]
    source = FixedRateSource({"EUR/USD": "1.25"}, as_of=date(2026, 11, 20))
    quoter = Quoter(source, lock_seconds=600, clock=lambda: now[0])
    quote = await quoter.lock("EUR", "USD")
    assert (quote.rate, quote.source, quote.rate_date) == (
        Decimal("1.25"),
        "fixed",
        date(2026, 11, 20),
    )
    assert quote.expires_at - quote.created_at == timedelta(seconds=600)
    now[0] = NOON + timedelta(days=1)  # Wednesday 25th: the rate is of Friday 20th
    assert (await quoter.lock("EUR", "USD")).rate_date == date(2026, 11, 20)
    now[0] = NOON + timedelta(days=2)
    with pytest.raises(RateUnavailableError, match="too old"):
        await quoter.lock("EUR", "USD")


class _Sources:
    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def paymux_add_rate_sources(self, settings: Settings) -> list[FixedRateSource]:
        return [FixedRateSource({"EUR/USD": "1.1"}, name=name) for name in self.names]


def test_plugins_offer_rate_sources_with_unique_names() -> None:
    manager = create_plugin_manager(autoload=False, plugins=[_Sources("a", "b")])
    assert [s.name for s in collect_rate_sources(manager, Settings())] == ["a", "b"]
    clash = create_plugin_manager(autoload=False, plugins=[_Sources("a", "a")])
    with pytest.raises(PluginError, match="named 'a'"):
        collect_rate_sources(clash, Settings())


async def test_the_settings_choose_the_source_quotes_come_from() -> None:
    ecb_like = FixedRateSource({"EUR/USD": "1.1"}, name="ecb")
    assert build_quoter([], FxSettings()) is None
    only = build_quoter([ecb_like], FxSettings())
    assert only is not None
    assert (await only.lock("EUR", "USD")).source == "ecb"
    fixed = build_quoter([ecb_like], FxSettings(fixed_rates={"JPY/USD": "0.0067"}))
    assert fixed is not None
    assert (await fixed.lock("JPY", "USD")).rate == Decimal("0.0067")
    chosen = build_quoter(
        [ecb_like], FxSettings(source="ecb", fixed_rates={"EUR/USD": "1.2"}, lock_seconds=60)
    )
    assert chosen is not None
    quote = await chosen.lock("EUR", "USD")
    assert (quote.source, quote.expires_at - quote.created_at) == ("ecb", timedelta(seconds=60))
    with pytest.raises(FxSetupError, match=r"PAYMUX_FX__SOURCE is 'house'.*ecb, fixed"):
        build_quoter([ecb_like], FxSettings(source="house", fixed_rates={"EUR/USD": "1.2"}))
    with pytest.raises(FxSetupError, match="several rate sources"):
        build_quoter([ecb_like, FixedRateSource({}, name="house")], FxSettings())
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        FxSettings(fixed_rates={"EURUSD": "1.1"})


async def test_fixed_rates_without_a_day_hold_for_today() -> None:
    rate = await FixedRateSource({"EUR/USD": "1.1"}).rate("EUR", "USD")
    assert rate.as_of == datetime.now(UTC).date()


def test_a_conversion_too_large_to_store_is_refused() -> None:
    quote = _quote("JPY", "VND", "170")
    with pytest.raises(InvalidAmountError, match="too large"):
        convert(Money(10**14, "JPY"), quote)
    assert convert(Money(10**12, "JPY"), quote) == Money(170 * 10**12, "VND")
