"""Writing the sandbox PSP's settlement file of a day from its bookings.

:func:`settlement_lines` decides what the file of a UTC day says: every booking of that
day (plus those a ``late`` fault moved from the day before, minus those it moved to the
next), changed by the settlement faults in force (:mod:`paymux_sandbox.settlement_faults`),
in booking order; then per currency (alphabetically) one ``payout`` line, the sandbox paying
the day's balance to the platform's bank: ``gross = net = -(sum of that currency's nets)``
(a converted line's net counts in its settlement currency),
``fee`` 0, ``payment_reference`` ``sbx_payout_<YYYYMMDD>_<currency>``. Every currency's
nets therefore sum to 0 in the file as written (faulted lines included). Every line's
``batch`` is ``sandbox-<YYYYMMDD>``. :func:`settlement_csv` writes the lines as CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from paymux.currencies import format_amount
from paymux_sandbox.bookings import Booking
from paymux_sandbox.settlement import COLUMNS, SETTLEMENT_CURRENCY_COLUMN
from paymux_sandbox.settlement_faults import SettlementFaults

LATE_BY = timedelta(days=1)
"""How much later a ``late`` line is booked."""


@dataclass(frozen=True, slots=True)
class FileLine:
    """One line of a settlement file, amounts in signed minor units."""

    line_id: str
    type: str
    payment_reference: str
    currency: str
    gross_minor: int
    fee_minor: int
    booked_at: datetime
    batch: str
    modification_reference: str | None = None
    merchant_reference: str | None = None
    settlement_currency: str | None = None
    """Set when the line converts: ``fee`` and ``net`` are in this currency."""
    settled_gross_minor: int | None = None
    """``gross`` converted to ``settlement_currency`` (not a column: ``net + fee``)."""

    @property
    def settles_in(self) -> str:
        """The currency of ``fee`` and ``net``."""
        return self.settlement_currency or self.currency

    @property
    def net_minor(self) -> int:
        """``gross - fee`` (the converted gross when the line converts)."""
        gross = self.gross_minor if self.settled_gross_minor is None else self.settled_gross_minor
        return gross - self.fee_minor

    def row(self) -> dict[str, str]:
        """The line as the CSV's text fields (amounts in major units)."""
        return {
            "line_id": self.line_id,
            "type": self.type,
            "payment_reference": self.payment_reference,
            "modification_reference": self.modification_reference or "",
            "merchant_reference": self.merchant_reference or "",
            "currency": self.currency,
            "gross": format_amount(self.gross_minor, self.currency),
            "fee": format_amount(self.fee_minor, self.settles_in),
            "net": format_amount(self.net_minor, self.settles_in),
            SETTLEMENT_CURRENCY_COLUMN: self.settlement_currency or "",
            "booked_at": self.booked_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "batch": self.batch,
        }


def batch_of(day: date) -> str:
    """The batch of every line of ``day``'s file: ``sandbox-YYYYMMDD``."""
    return f"sandbox-{day:%Y%m%d}"


def platform_payout_reference(day: date, currency: str) -> str:
    """The reference of ``day``'s payout of ``currency`` to the platform's bank."""
    return f"sbx_payout_{day:%Y%m%d}_{currency}"


def settlement_lines(
    bookings: Sequence[Booking], day: date, faults: SettlementFaults
) -> list[FileLine]:
    """The lines of ``day``'s file (see the module docstring).

    Waiting faults without a reference take their lines among ``day``'s bookings here,
    and keep them for every later call.
    """
    ordered = sorted(bookings, key=lambda booking: booking.booked_at)
    faults.bind([booking for booking in ordered if _day(booking.booked_at) == day])
    batch = batch_of(day)
    lines: list[FileLine] = []
    for booking in ordered:
        hitting = faults.of(booking)
        kinds = {fault.fault for fault in hitting}
        booked_at = booking.booked_at + LATE_BY if "late" in kinds else booking.booked_at
        if _day(booked_at) != day or "drop" in kinds:
            continue
        delta = sum(fault.delta_minor for fault in hitting if fault.fault == "change_amount")
        line = FileLine(
            line_id=booking.line_id,
            type=booking.type,
            payment_reference=booking.payment_reference,
            currency=booking.currency,
            gross_minor=booking.gross_minor + delta,
            fee_minor=booking.fee_minor,
            booked_at=booked_at,
            batch=batch,
            modification_reference=booking.modification_reference,
            merchant_reference=booking.merchant_reference,
            settlement_currency=booking.settlement_currency,
            settled_gross_minor=booking.settled_gross_minor,
        )
        copies = 1 + sum(1 for fault in hitting if fault.fault == "duplicate")
        lines.extend([line] * copies)
    lines.sort(key=lambda line: line.booked_at)
    return lines + _payouts(lines, day, batch)


def _payouts(lines: Sequence[FileLine], day: date, batch: str) -> list[FileLine]:
    balance: dict[str, int] = {}
    for line in lines:
        balance[line.settles_in] = balance.get(line.settles_in, 0) + line.net_minor
    closing = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    return [
        FileLine(
            line_id=f"sbxln_payout_{day:%Y%m%d}_{currency}",
            type="payout",
            payment_reference=platform_payout_reference(day, currency),
            currency=currency,
            gross_minor=-balance[currency],
            fee_minor=0,
            booked_at=closing,
            batch=batch,
        )
        for currency in sorted(balance)
    ]


def settlement_csv(lines: Sequence[FileLine]) -> bytes:
    """``lines`` as the CSV file (UTF-8, header first, ``\\n`` line ends); the
    ``settlement_currency`` column only when a line converts."""
    buffer = io.StringIO()
    converts = any(line.settlement_currency for line in lines)
    columns = (*COLUMNS, SETTLEMENT_CURRENCY_COLUMN) if converts else COLUMNS
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for line in lines:
        writer.writerow(line.row())
    return buffer.getvalue().encode()


def settlement_file(bookings: Sequence[Booking], day: date, faults: SettlementFaults) -> bytes:
    """``day``'s settlement file, as the simulator serves it."""
    return settlement_csv(settlement_lines(bookings, day, faults))


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()
