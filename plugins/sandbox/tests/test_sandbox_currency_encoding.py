"""The sandbox's amounts for every currency it claims (every active ISO 4217 currency): ISO
minor units on its API, the ISO decimals on its hosted page and in its settlement files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paymux.currencies import active_currencies, format_amount, get_active_currency, parse_amount
from paymux.currencies.parsing import MAX_MINOR_UNITS
from paymux_sandbox.bookings import Booking, capture_fee, new_line_id
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.provider import SandboxProvider
from paymux_sandbox.settlement import SandboxSettlementParser
from paymux_sandbox.settlement_faults import SettlementFaults
from paymux_sandbox.settlement_writer import settlement_file

AMOUNTS = (0, 1, 7, 100, 123457, 98765432, 10**15 + 1)


def claimed(config: SandboxConfig) -> list[str]:
    provider = SandboxProvider(config, base_url="http://sandbox.test", webhook_url="http://x")
    currencies = provider.capabilities().currencies
    assert currencies is not None
    return sorted(currencies)


CLAIMED = claimed(SandboxConfig())


def test_it_claims_every_active_iso_currency_or_the_configured_ones() -> None:
    assert [currency.code for currency in active_currencies()] == CLAIMED
    assert {"KWD", "CLP", "CLF", "JPY", "EUR"} <= set(CLAIMED)
    assert claimed(SandboxConfig(currencies=frozenset({"EUR", "KWD"}))) == ["EUR", "KWD"]


@pytest.mark.parametrize("currency", CLAIMED)
def test_every_claimed_currency_round_trips_through_a_settlement_file(
    currency: str, tmp_path: Path
) -> None:
    """Captures of 1 minor unit, typical and large amounts (and the day's payout, negative)
    go into the settlement file in major units with the ISO decimals, and the sandbox's
    parser reads them back to the same minor units."""
    positive = [minor for minor in AMOUNTS if minor > 0]
    bookings = [
        Booking(
            line_id=new_line_id(), type="capture", payment_reference=f"sbxref_{number}",
            currency=currency, gross_minor=minor, fee_minor=capture_fee(minor),
            booked_at=datetime(2026, 11, 24, 12, tzinfo=UTC), merchant_reference=f"pay_{number}",
        )
        for number, minor in enumerate(positive)
    ]  # fmt: skip
    data = settlement_file(bookings, date(2026, 11, 24), SettlementFaults())
    exponent = get_active_currency(currency).exponent
    for row in csv.DictReader(io.StringIO(data.decode())):
        for column in ("gross", "fee", "net"):
            decimals = row[column].partition(".")[2]
            assert len(decimals) == exponent, (column, row[column])
    path = tmp_path / "day.csv"
    path.write_bytes(data)
    lines = pl.concat(list(SandboxSettlementParser().parse(path)))
    captures = lines.filter(pl.col("type") == "capture")
    assert captures["gross_minor"].to_list() == positive
    assert captures["fee_minor"].to_list() == [capture_fee(minor) for minor in positive]
    assert set(lines["currency"].to_list()) == {currency}
    (payout,) = lines.filter(pl.col("type") == "payout")["gross_minor"].to_list()
    assert payout == -sum(minor - capture_fee(minor) for minor in positive)


@settings(max_examples=200, deadline=None)
@given(
    currency=st.sampled_from(CLAIMED),
    minor=st.integers(min_value=-MAX_MINOR_UNITS, max_value=MAX_MINOR_UNITS),
)
def test_any_amount_round_trips_as_text(currency: str, minor: int) -> None:
    assert parse_amount(format_amount(minor, currency), currency) == minor


@pytest.mark.parametrize("value", ["EUR,KWD", " EUR , KWD ", '["EUR", "KWD"]', ["KWD", "EUR"]])
def test_the_currencies_setting_reads_environment_strings(value: object) -> None:
    assert claimed(SandboxConfig.model_validate({"currencies": value})) == ["EUR", "KWD"]
