"""Settlement lines of converted payments: the currency check and the FX gain or loss.

A payment whose provider settles in another currency was priced with a locked quote and
stores its settlement amount (``docs/concepts/fx.md``). Its capture, refund, chargeback and
chargeback reversal lines carry ``gross`` in the payment's currency and ``fee`` and ``net``
in the settlement currency, converted at the provider's own rate. :func:`match` compares
``gross`` with the payment (the refund) as for any payment; this module then looks at the
matched capture, refund, chargeback and chargeback reversal lines of converted payments,
after the match:

- a line whose settlement currency is not the payment's is a ``currency_mismatch``;
- otherwise the difference between what the provider settled (``net + fee``) and what
  paymux posted to the provider's clearing for it (a capture: the payment's settlement
  amount; a refund: the provider-side amount its ledger transactions posted, negative,
  :data:`REFUND_POSTED_SCHEMA`; a chargeback: what its ``chargeback_opened`` transactions
  posted, negative, and a reversal what its ``chargeback_won`` ones did, positive,
  :data:`CHARGEBACK_POSTED_SCHEMA`) is an FX gain (positive) or loss (negative), booked
  once per payment capture, once per refund and once per chargeback and line type
  (:class:`~paymux.core.ledger.rules.FxSettled`, keyed on the payment, the refund or the
  chargeback, so a corrected file re-listing the line under a new line id books nothing
  again), never a discrepancy.

Which chargeback a chargeback (reversal) line settles: the payment's chargeback whose
``dispute_id`` (the provider's id of the dispute) is the line's ``line_reference`` or
``modification_reference``; failing that, the payment's only chargeback. A line of a payment
with several chargebacks, none named by the line, is ambiguous and gets no FX difference.

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

CHARGEBACK_SCHEMA: dict[str, pl.DataType] = {
    "payment_id": pl.String(),
    "chargeback_id": pl.String(),
    "dispute_id": pl.String(),
    "currency": pl.String(),
    "amount_minor": pl.Int64(),
}
"""The chargebacks paymux holds of converted payments (``dispute_id``: the provider's id of
the dispute; ``currency`` and ``amount_minor``: what it disputes, in the payment's
currency)."""

CHARGEBACK_POSTED_SCHEMA: dict[str, pl.DataType] = {
    "chargeback_id": pl.String(),
    "type": pl.String(),
    "currency": pl.String(),
    "posted_minor": pl.Int64(),
}
"""Per chargeback, settlement line type and currency: what the chargeback's ledger
transactions that line settles (:data:`CHARGEBACK_TRANSACTIONS`) posted to the provider's
clearing (debit positive: a chargeback's is negative, a reversal's positive)."""

CHARGEBACK_TRANSACTIONS: dict[str, str] = {
    SettlementLineType.CHARGEBACK.value: "chargeback_opened",
    SettlementLineType.CHARGEBACK_REVERSAL.value: "chargeback_won",
}
"""The kind of the ledger transactions (``<kind>:<chargeback id>:<order id>`` and
``<kind>:<chargeback id>:unallocated``) a chargeback line and a reversal line settle."""

_DISPUTES = list(CHARGEBACK_TRANSACTIONS)


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
    amount (a capture), the refund's provider-side amount (a refund, negative), the
    chargeback's when opened (a chargeback, negative) or when won (a reversal)."""
    reference: str
    """The line's own id at the provider (its PSP reference when it has none)."""
    refund_id: str | None = None
    """The refund, for a refund line (``None``: the payment's capture)."""
    chargeback_id: str | None = None
    """The chargeback, for a chargeback or chargeback reversal line."""
    reversal: bool = False
    """A chargeback reversal line (the chargeback won), not the chargeback's own."""

    @property
    def line_type(self) -> str:
        """The type of the settled line: ``capture``, ``refund``, ``chargeback`` or
        ``chargeback_reversal``."""
        if self.chargeback_id is not None:
            reversal = SettlementLineType.CHARGEBACK_REVERSAL
            return (reversal if self.reversal else SettlementLineType.CHARGEBACK).value
        if self.refund_id is not None:
            return SettlementLineType.REFUND.value
        return SettlementLineType.CAPTURE.value

    @property
    def subject(self) -> str:
        """What is settled, as the FX settlement's reference names it:
        ``capture:<payment id>``, ``refund:<refund id>``, ``chargeback:<chargeback id>`` or
        ``chargeback_reversal:<chargeback id>`` (each booked once)."""
        subject = self.chargeback_id or self.refund_id or self.payment_id
        return f"{self.line_type}:{subject}"


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


def disputed_payments(result: MatchResult, converted: pl.DataFrame) -> list[str]:
    """The converted payments with a chargeback or reversal line that ``result`` matched
    (each once): those whose chargebacks and postings :func:`settle_fx` needs."""
    if converted.height == 0:
        return []
    return (
        result.lines.lazy()
        .filter(
            pl.col("type").is_in(_DISPUTES)
            & pl.col("kind").is_null()
            & pl.col("payment_id").is_in(converted.get_column("payment_id").implode())
        )
        .select(pl.col("payment_id").unique(maintain_order=True))
        .collect()
        .get_column("payment_id")
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
    result: MatchResult,
    converted: pl.DataFrame,
    refunds: pl.DataFrame | None = None,
    *,
    chargebacks: pl.DataFrame | None = None,
    chargebacks_posted: pl.DataFrame | None = None,
) -> tuple[MatchResult, list[FxDifference]]:
    """``result`` with the currency mismatches of converted capture, refund, chargeback and
    reversal lines marked, and the FX differences of the others (see the module docstring).
    ``refunds`` (:data:`REFUND_POSTED_SCHEMA`) are the posted amounts of
    :func:`converted_refunds`; ``chargebacks`` (:data:`CHARGEBACK_SCHEMA`) the chargebacks of
    :func:`disputed_payments` and ``chargebacks_posted`` (:data:`CHARGEBACK_POSTED_SCHEMA`)
    what they posted. A refund or chargeback line with nothing posted in the payment's
    settlement currency (a reversal of a chargeback not won yet), or whose chargeback is
    ambiguous, gets no FX difference. A converted line whose fee or net is beyond
    :data:`~paymux.currencies.parsing.MAX_MINOR_UNITS` makes the file malformed
    (:class:`MalformedSettlementError`, with its line number)."""
    if converted.height == 0:
        return result, []
    if refunds is None:
        refunds = pl.DataFrame(schema=REFUND_POSTED_SCHEMA)
    if chargebacks is None:
        chargebacks = pl.DataFrame(schema=CHARGEBACK_SCHEMA)
    if chargebacks_posted is None:
        chargebacks_posted = pl.DataFrame(schema=CHARGEBACK_POSTED_SCHEMA)
    lines = result.lines
    candidates = (
        lines.select(
            "payment_id",
            "refund_id",
            "type",
            "kind",
            "currency",
            "settlement_currency",
            "gross_minor",
            "fee_minor",
            "net_minor",
            "line_reference",
            "modification_reference",
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
                | pl.col("type").is_in(_DISPUTES)
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
        # What the provider settled (net + fee) in the currency it settled in, signed as the
        # line's actual amount is (a refund's positive); paymux's amount in its settlement
        # currency is not compared, so there is no expected amount.
        settled_amount = mismatched.select(
            pl.when(pl.col("type") == SettlementLineType.REFUND.value)
            .then(-(pl.col("net_minor") + pl.col("fee_minor")))
            .otherwise(pl.col("net_minor") + pl.col("fee_minor"))
        ).to_series()
        lines = _restated(
            lines,
            rows,
            DiscrepancyKind.CURRENCY_MISMATCH,
            expected_currency=mismatched.get_column("_payment_settles"),
            expected_minor=pl.repeat(None, len(rows), dtype=pl.Int64, eager=True),
        ).with_columns(
            lines.get_column("actual_minor").clone().scatter(rows, settled_amount),
            pl.repeat(None, lines.height, dtype=pl.String, eager=True)
            .scatter(rows, mismatched.get_column("_line_settles"))
            .alias(ACTUAL_CURRENCY),
        )
        result = replace(result, lines=lines)
    settled = _chargeback_of(
        candidates.filter(pl.col("_line_settles") == pl.col("_payment_settles")), chargebacks
    )
    disagreeing = settled.filter(pl.col("_disputed_differs").fill_null(False))
    if disagreeing.height:  # an amount question, not an FX difference
        rows = disagreeing.get_column("_row")
        lines = result.lines
        lines = _restated(
            lines,
            rows,
            DiscrepancyKind.AMOUNT_MISMATCH,
            expected_currency=disagreeing.get_column("_disputed_currency"),
            expected_minor=disagreeing.get_column("_disputed_expected"),
        )
        result = replace(result, lines=lines)
        settled = settled.filter(~pl.col("_disputed_differs").fill_null(False))
    settled = (
        settled.join(
            refunds.rename({"currency": "_payment_settles", "posted_minor": "_posted"}),
            on=["refund_id", "_payment_settles"],
            how="left",
        )
        .join(
            chargebacks_posted.rename(
                {"currency": "_payment_settles", "posted_minor": "_chargeback_posted"}
            ),
            on=["chargeback_id", "type", "_payment_settles"],
            how="left",
        )
        .with_columns(
            _expected=pl.when(pl.col("type") == SettlementLineType.REFUND.value)
            .then(pl.col("_posted"))
            .when(pl.col("type").is_in(_DISPUTES))
            .then(pl.col("_chargeback_posted"))
            .otherwise(pl.col("_expected"))
        )
        # a refund or chargeback paymux posted nothing for (or an ambiguous chargeback)
        .filter(pl.col("_expected").is_not_null())
    )
    # net + fee summed as Python integers: never wraps (the parsers keep each amount within
    # MAX_MINOR_UNITS, but a sum in Int64 is not checked)
    differences = [
        _difference(row, int(row["net_minor"]) + int(row["fee_minor"]))
        for row in settled.sort("_row").iter_rows(named=True)
    ]
    return result, differences


def _restated(
    lines: pl.DataFrame,
    rows: pl.Series,
    kind: DiscrepancyKind,
    *,
    expected_currency: pl.Series,
    expected_minor: pl.Series,
) -> pl.DataFrame:
    """``lines`` with the lines at ``rows`` made ``kind`` discrepancies (not matched), with
    what paymux expected there; the other lines as they were (the columns are copied, not
    written in place: the caller's frame may share them)."""
    return lines.with_columns(
        lines.get_column("kind").clone().scatter(rows, kind.value),
        lines.get_column("expected_currency").clone().scatter(rows, expected_currency),
        lines.get_column("expected_minor").clone().scatter(rows, expected_minor),
        lines.get_column("matched").clone().scatter(rows, False),
    )


def _chargeback_of(lines: pl.DataFrame, chargebacks: pl.DataFrame) -> pl.DataFrame:
    """``lines`` with ``chargeback_id`` and, for a chargeback or reversal line, whether its
    gross disagrees with that chargeback (``_disputed_differs``, with the chargeback's
    ``_disputed_currency`` and ``_disputed_expected``: its amount, signed as the line's).

    The chargeback of a line: the payment's chargeback whose dispute id is the line's
    ``line_reference`` or ``modification_reference``; failing that, when the line names no
    dispute (no ``modification_reference``), the payment's only chargeback. Null otherwise
    (a dispute paymux does not hold, several chargebacks none of them named, more than one
    named), and null for every line when two lines of the file settle one chargeback the
    same way (which of them to book is not known), and on other lines."""
    disputes = lines.filter(pl.col("type").is_in(_DISPUTES)).select(
        "_row", "payment_id", "type", "line_reference", "modification_reference"
    )
    named = (
        disputes.join(chargebacks, on="payment_id", how="inner")
        .filter(
            (pl.col("dispute_id") == pl.col("line_reference"))
            | (pl.col("dispute_id") == pl.col("modification_reference"))
        )
        .group_by("_row")
        .agg(pl.col("chargeback_id").unique().alias("_named"))
    )
    only = chargebacks.group_by("payment_id").agg(
        pl.col("chargeback_id").first().alias("_only"),
        pl.col("chargeback_id").n_unique().alias("_count"),
    )
    mapped = (
        disputes.join(named, on="_row", how="left")
        .join(only, on="payment_id", how="left")
        .select(
            "_row",
            "type",
            pl.when(pl.col("_named").list.len() == 1)
            .then(pl.col("_named").list.first())
            .when(
                pl.col("_named").is_null()
                & pl.col("modification_reference").is_null()
                & (pl.col("_count") == 1)
            )
            .then(pl.col("_only"))
            .otherwise(None)
            .alias("chargeback_id"),
        )
        .with_columns(
            chargeback_id=pl.when(pl.len().over("chargeback_id", "type") == 1).then(
                pl.col("chargeback_id")
            )
        )
        .join(
            chargebacks.select(
                "chargeback_id",
                pl.col("currency").alias("_disputed_currency"),
                pl.col("amount_minor").alias("_disputed_amount"),
            ),
            on="chargeback_id",
            how="left",
        )
        .drop("type")
    )
    reversal = pl.col("type") == SettlementLineType.CHARGEBACK_REVERSAL.value
    expected = (
        pl.when(reversal).then(pl.col("_disputed_amount")).otherwise(-pl.col("_disputed_amount"))
    )
    return (
        lines.join(mapped, on="_row", how="left")
        .with_columns(_disputed_expected=expected)
        .with_columns(
            _disputed_differs=pl.col("chargeback_id").is_not_null()
            & (
                (pl.col("currency") != pl.col("_disputed_currency"))
                | (pl.col("gross_minor") != pl.col("_disputed_expected"))
            )
        )
    )


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
        chargeback_id=row["chargeback_id"],
        reversal=row["type"] == SettlementLineType.CHARGEBACK_REVERSAL.value,
    )
