"""The sandbox settles converted payments in its account's settlement currency."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from paymux.core.reconciliation.errors import MalformedSettlementError
from paymux.core.reconciliation.lines import frame_lines
from paymux_sandbox.bookings import Booking, capture_fee, sandbox_rate, settled_amount
from paymux_sandbox.settlement import SandboxSettlementParser
from paymux_sandbox.settlement_faults import SettlementFaults
from paymux_sandbox.settlement_writer import settlement_file

DAY = date(2026, 5, 12)


def test_the_sandbox_converts_at_its_rate_less_the_spread() -> None:
    assert settled_amount(3333, "JPY", "USD", Decimal("0.0066"), Decimal(0)) == 2200
    assert settled_amount(3333, "JPY", "USD", Decimal("0.0066"), Decimal("0.01")) == 2178
    assert settled_amount(-500, "JPY", "USD", Decimal("0.0066"), Decimal("0.01")) == -327
    assert settled_amount(1000, "EUR", "KWD", Decimal("0.33157"), Decimal(0)) == 3316  # 3.3157
    assert sandbox_rate({"USD/JPY": Decimal("160")}, "JPY", "USD") == Decimal("0.00625")
    assert sandbox_rate({}, "JPY", "USD") is None


def test_a_converted_line_has_gross_in_the_payment_currency_and_net_in_the_settlement_one(
    tmp_path: Path,
) -> None:
    booked = datetime(2026, 5, 12, 9, tzinfo=UTC)
    bookings = [
        Booking("sbxln_1", "capture", "sbxref_1", "JPY", 3333, capture_fee(2178), booked,
                settlement_currency="USD", settled_gross_minor=2178),
        Booking("sbxln_2", "capture", "sbxref_2", "EUR", 1000, capture_fee(1000), booked),
    ]  # fmt: skip
    data = settlement_file(bookings, DAY, SettlementFaults())
    header, first, second, *payouts = data.decode().splitlines()
    assert header.endswith(",batch,settlement_currency")
    assert ",JPY,3333,0.55,21.23," in first
    assert first.endswith(",USD")
    assert ",EUR,10.00,0.39,9.61," in second
    assert second.endswith(",")
    assert [p.split(",")[5:9] for p in payouts] == [
        ["EUR", "-9.61", "0.00", "-9.61"],
        ["USD", "-21.23", "0.00", "-21.23"],
    ]
    path = tmp_path / "day.csv"
    path.write_bytes(data)
    lines = frame_lines(next(iter(SandboxSettlementParser().parse(path))))
    capture = lines[0]
    assert (capture.currency, capture.gross_minor, capture.settlement_currency) == (
        "JPY",
        3333,
        "USD",
    )
    assert (capture.fee_minor, capture.net_minor) == (55, 2123)
    assert lines[1].settlement_currency is None
    assert (lines[1].fee_minor, lines[1].net_minor) == (39, 961)


def test_an_unknown_settlement_currency_names_the_column_and_its_line(tmp_path: Path) -> None:
    booked = datetime(2026, 5, 12, 9, tzinfo=UTC)
    bookings = [
        Booking("sbxln_1", "capture", "sbxref_1", "JPY", 3333, capture_fee(2178), booked,
                settlement_currency="USD", settled_gross_minor=2178),
    ]  # fmt: skip
    data = settlement_file(bookings, DAY, SettlementFaults()).decode()
    header, first, *rest = data.splitlines()
    path = tmp_path / "day.csv"
    path.write_text("\n".join([header, first.removesuffix(",USD") + ",XXY", *rest]) + "\n")
    with pytest.raises(MalformedSettlementError) as refused:
        list(SandboxSettlementParser().parse(path))
    assert refused.value.line_number == 2
    assert "settlement_currency 'XXY' is not an ISO 4217 currency" in str(refused.value)
    assert "_fee_currency" not in str(refused.value)
