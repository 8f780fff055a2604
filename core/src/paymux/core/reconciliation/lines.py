"""Normalized settlement lines: what every provider's settlement file is parsed into.

A parser turns its provider's file into batches of lines, each batch a polars
``DataFrame`` with exactly the columns of :data:`LINE_SCHEMA` (columnar, so a file of a
million lines is parsed and matched without a million Python objects). Parsers of small
files may build :class:`SettlementLine` objects instead and turn them into a batch with
:func:`lines_frame`.

Signs are those of the provider balance: a capture's ``gross`` is positive, a refund's,
a chargeback's and a payout's negative; ``fee`` is what the provider charged, positive;
``net = gross - fee``. A ``fee`` line carries its amount in ``fee`` (``gross`` 0). Amounts
are integers in the minor unit of their currency, never floats: ``gross`` in ``currency``,
``fee`` and ``net`` in ``settlement_currency`` (the same unless the provider converted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from enum import StrEnum

import polars as pl


class SettlementLineType(StrEnum):
    """What a settlement line moved."""

    CAPTURE = "capture"
    REFUND = "refund"
    CHARGEBACK = "chargeback"
    CHARGEBACK_REVERSAL = "chargeback_reversal"
    FEE = "fee"
    PAYOUT = "payout"
    """The provider paid its balance out: to the platform's bank (a settlement payout), or
    to a seller when ``psp_reference`` is a paymux payout's provider reference."""
    ADJUSTMENT = "adjustment"


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """One normalized settlement line (see the module docstring for signs and units)."""

    provider: str
    line_number: int
    """Where the line is in the file (1 is the first line, a CSV's header), for errors."""
    type: SettlementLineType
    psp_reference: str
    """The provider's reference of the payment the line is about (for a capture, refund,
    chargeback), or of the payout (for a payout), or of the fee."""
    gross_minor: int
    fee_minor: int
    net_minor: int
    currency: str
    booking_date: date
    settlement_currency: str | None = None
    """``None``: the same as ``currency``."""
    modification_reference: str | None = None
    """The provider's reference of the refund, chargeback or capture itself."""
    merchant_reference: str | None = None
    """paymux's own id as the provider echoes it (payment, refund or payout id)."""
    line_reference: str | None = None
    """The provider's unique id of this line (a balance transaction, a journal entry); two
    lines with the same type and ``line_reference`` are a duplicate."""
    payout_batch: str | None = None
    """The settlement batch or payout the line was paid out in."""


LINE_SCHEMA: dict[str, pl.DataType] = {
    "provider": pl.String(),
    "line_number": pl.Int64(),
    "type": pl.String(),
    "psp_reference": pl.String(),
    "gross_minor": pl.Int64(),
    "fee_minor": pl.Int64(),
    "net_minor": pl.Int64(),
    "currency": pl.String(),
    "booking_date": pl.Date(),
    "settlement_currency": pl.String(),
    "modification_reference": pl.String(),
    "merchant_reference": pl.String(),
    "line_reference": pl.String(),
    "payout_batch": pl.String(),
}
"""The columns of a batch of lines, in this order."""

LINE_TYPES: frozenset[str] = frozenset(t.value for t in SettlementLineType)


def empty_lines() -> pl.DataFrame:
    """A batch with no lines."""
    return pl.DataFrame(schema=LINE_SCHEMA)


def lines_frame(lines: Iterable[SettlementLine]) -> pl.DataFrame:
    """A batch (``DataFrame`` of :data:`LINE_SCHEMA`) from line objects."""
    rows = []
    for line in lines:
        row = asdict(line)
        row["type"] = str(line.type)
        rows.append(row)
    if not rows:
        return empty_lines()
    return pl.DataFrame(rows, schema=LINE_SCHEMA)


def frame_lines(frame: pl.DataFrame) -> list[SettlementLine]:
    """Line objects from a batch (for tests and small files)."""
    return [
        SettlementLine(**{**row, "type": SettlementLineType(row["type"])})
        for row in frame.iter_rows(named=True)
    ]
