"""Settlement lines of converted payments: the currency check and the FX gain or loss.

A payment whose provider settles in another currency was priced with a locked quote and
stores its settlement amount (``docs/concepts/fx.md``). Its capture and refund lines carry
``gross`` in the payment's currency and ``fee`` and ``net`` in the settlement currency,
converted at the provider's own rate. :func:`match` compares ``gross`` with the payment (the
refund) as for any payment; this module then looks at the matched capture and refund lines
of converted payments, after the match:

- a line whose settlement currency is not the payment's is a ``currency_mismatch``;
- otherwise the difference between what the provider settled (``net + fee``) and what
  paymux posted to the provider's clearing for it (a capture: the payment's settlement
  amount; a refund: the provider-side amount its ledger transactions posted, negative,
  :data:`REFUND_POSTED_SCHEMA`) is an FX gain (positive) or loss (negative), booked once
  per payment capture and once per refund (:class:`~paymux.core.ledger.rules.FxSettled`,
  keyed on the payment or the refund, so a corrected file re-listing the line under a new
  line id books nothing again), never a discrepancy.

Lines of payments paymux did not convert are left as the match classified them (a
provider may settle those in a currency of its own choosing, booking fees and payouts in
it, as before). Pure and columnar like the matching; a provider with no converted payment
costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from paymux.core.reconciliation.errors import MalformedSettlementError
from paymux.core.reconciliation.lines import SettlementLineType
from paymux.core.reconciliation.matching import DiscrepancyKind, MatchResult
from paymux.currencies.parsing import MAX_MINOR_UNITS

CONVERTED_SCHEMA: dict[str, pl.DataType] = {
    "payment_id": pl.String(),
    "settlement_currency": pl.String(),
    "settlement_minor": pl.Int64(),
}
"""The provider's converted payments: what they settle in and their settlement amount."""

REFUND_POSTED_SCHEMA: dict[str, pl.DataType] = {
    "refund_id": pl.String(),
    "currency": pl.String(),
    "posted_minor": pl.Int64(),
}
"""Per refund and currency: what its ledger transactions posted to the provider's clearing
(debit positive: a refund's is negative)."""


ACTUAL_CURRENCY = "actual_currency"
"""A column of the lines :func:`settle_fx` adds when it finds a currency mismatch: the
currency the provider settled the line in (null on other lines), the one its discrepancy
names."""


@dataclass(frozen=True, slots=True)
class FxDifference:
    """What a provider settled for a converted payment beyond (or short of) its settlement
    amount at the locked quote, in the settlement currency (positive: a gain)."""

    payment_id: str
    currency: str
    difference_minor: int
    settled_minor: int
    """What the provider settled: ``net + fee`` of the line."""
    expected_minor: int
    """What paymux posted to the provider's clearing for it: the payment's settlement
    amount (a capture) or the refund's provider-side amount (a refund, negative)."""
    reference: str
    """The line's own id at the provider (its PSP reference when it has none)."""
    refund_id: str | None = None
    """The refund, for a refund line (``None``: the payment's capture)."""


def converted_refunds(result: MatchResult, converted: pl.DataFrame) -> list[str]:
    """The refunds of converted payments that ``result`` matched (each once): those whose
    posted amounts :func:`settle_fx` needs."""
    if converted.height == 0:
        return []
    return (
        _refund_lines(result.lines.lazy(), converted)
        .select(pl.col("refund_id").unique(maintain_order=True))
        .collect()
        .get_column("refund_id")
        .to_list()
    )


def _refund_lines(lines: pl.LazyFrame, converted: pl.DataFrame) -> pl.LazyFrame:
    return lines.filter(
        (pl.col("type") == SettlementLineType.REFUND.value)
        & pl.col("kind").is_null()
        & pl.col("refund_id").is_not_null()
        & pl.col("payment_id").is_in(converted.get_column("payment_id").implode())
    )


def settle_fx(
    result: MatchResult, converted: pl.DataFrame, refunds: pl.DataFrame | None = None
) -> tuple[MatchResult, list[FxDifference]]:
    """``result`` with the currency mismatches of converted capture and refund lines marked,
    and the FX differences of the others (see the module docstring). ``refunds``
    (:data:`REFUND_POSTED_SCHEMA`) are the posted amounts of :func:`converted_refunds`; a
    refund line with none in the payment's settlement currency gets no FX difference. A
    converted line whose fee or net is beyond
    :data:`~paymux.currencies.parsing.MAX_MINOR_UNITS` makes the file malformed
    (:class:`MalformedSettlementError`, with its line number)."""
    if converted.height == 0:
        return result, []
    if refunds is None:
        refunds = pl.DataFrame(schema=REFUND_POSTED_SCHEMA)
    lines = result.lines
    candidates = (
        lines.select(
            "payment_id",
            "refund_id",
            "type",
            "kind",
            "currency",
            "settlement_currency",
            "fee_minor",
            "net_minor",
            "line_reference",
            "psp_reference",
            "line_number",
        )
        .with_row_index("_row")
        .filter(
            (
                (pl.col("type") == SettlementLineType.CAPTURE.value)
                | (
                    (pl.col("type") == SettlementLineType.REFUND.value)
                    & pl.col("refund_id").is_not_null()
                )
            )
            & pl.col("kind").is_null()
            & pl.col("payment_id").is_not_null()
            & pl.col("payment_id").is_in(converted.get_column("payment_id").implode())
        )
        .join(
            converted.rename(
                {"settlement_currency": "_payment_settles", "settlement_minor": "_expected"}
            ),
            on="payment_id",
            how="inner",
        )
        .with_columns(_line_settles=pl.coalesce("settlement_currency", "currency"))
    )
    if candidates.height == 0:
        return result, []
    _refuse_beyond_storable(candidates)
    mismatched = candidates.filter(pl.col("_line_settles") != pl.col("_payment_settles"))
    if mismatched.height:
        rows = mismatched.get_column("_row")
        lines = lines.with_columns(
            lines.get_column("kind").clone().scatter(rows, DiscrepancyKind.CURRENCY_MISMATCH.value),
            lines.get_column("expected_currency")
            .clone()
            .scatter(rows, mismatched.get_column("_payment_settles")),
            lines.get_column("matched").clone().scatter(rows, False),
            pl.repeat(None, lines.height, dtype=pl.String, eager=True)
            .scatter(rows, mismatched.get_column("_line_settles"))
            .alias(ACTUAL_CURRENCY),
        )
        result = replace(result, lines=lines)
    settled = candidates.filter(pl.col("_line_settles") == pl.col("_payment_settles"))
    settled = (
        settled.join(
            refunds.rename({"currency": "_payment_settles", "posted_minor": "_posted"}),
            on=["refund_id", "_payment_settles"],
            how="left",
        )
        .with_columns(
            _expected=pl.when(pl.col("type") == SettlementLineType.REFUND.value)
            .then(pl.col("_posted"))
            .otherwise(pl.col("_expected"))
        )
        .filter(pl.col("_expected").is_not_null())  # a refund paymux posted nothing for
    )
    # net + fee summed as Python integers: never wraps (the parsers keep each amount within
    # MAX_MINOR_UNITS, but a sum in Int64 is not checked)
    differences = [
        _difference(row, int(row["net_minor"]) + int(row["fee_minor"]))
        for row in settled.sort("_row").iter_rows(named=True)
    ]
    return result, differences


def _refuse_beyond_storable(candidates: pl.DataFrame) -> None:
    """A :class:`MalformedSettlementError` naming the first converted line whose fee
    or net is beyond :data:`~paymux.currencies.parsing.MAX_MINOR_UNITS` (no payment's
    settlement amount is; their sum would not fit 64 bits either)."""
    huge = candidates.filter(
        (pl.col("fee_minor").abs() > MAX_MINOR_UNITS)
        | (pl.col("net_minor").abs() > MAX_MINOR_UNITS)
    ).sort("_row")
    if huge.height:
        row = huge.row(0, named=True)
        column = "fee" if abs(int(row["fee_minor"])) > MAX_MINOR_UNITS else "net"
        raise MalformedSettlementError(
            row["line_number"],
            f"{column} of the {row['type']} of {row['payment_id']} is too large: more than "
            f"{MAX_MINOR_UNITS} minor units",
        )


def _difference(row: dict[str, Any], settled: int) -> FxDifference:
    return FxDifference(
        payment_id=row["payment_id"],
        currency=row["_payment_settles"],
        difference_minor=settled - int(row["_expected"]),
        settled_minor=settled,
        expected_minor=int(row["_expected"]),
        reference=row["line_reference"] or row["psp_reference"],
        refund_id=row["refund_id"] if row["type"] == SettlementLineType.REFUND.value else None,
    )
