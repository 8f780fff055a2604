"""The text a stored discrepancy carries in ``details``, for every discrepancy of a run at
once (one polars expression: a run may open a million, e.g. a file sent again under
other bytes, whose every line is a duplicate)."""

from __future__ import annotations

import polars as pl

from paymux.core.reconciliation.matching import DiscrepancyKind


def _text(name: str) -> pl.Expr:
    """A column as text, ``None`` where null (as Python's f-strings write it)."""
    return pl.col(name).cast(pl.String).fill_null("None")


def details_text() -> pl.Expr:
    """``details`` of each row of a frame of findings (``kind``, ``line_type``,
    ``psp_reference``, ``subject_id``, ``currency``, ``expected_currency``,
    ``expected_minor``, ``actual_minor``, ``line_number``): the line it is on, if any, and
    what paymux and the provider disagree on, in English."""
    kind, line_type, ref = pl.col("kind"), _text("line_type"), _text("psp_reference")
    kinds = DiscrepancyKind
    texts: list[tuple[DiscrepancyKind, list[pl.Expr | str]]] = [
        (kinds.MISSING_IN_LEDGER,
         ["the provider settled ", line_type, " ", ref, "; paymux has not booked it"]),
        (kinds.MISSING_IN_SETTLEMENT,
         [pl.when(pl.col("line_type") == "refund").then(pl.lit("refund"))
          .otherwise(pl.lit("payment")), " ", _text("subject_id"),
          " succeeded; the provider has not settled it"]),
        (kinds.AMOUNT_MISMATCH,
         [line_type, " ", ref, ": paymux has ", _text("expected_minor"), ", the provider ",
          _text("actual_minor"), " (minor units)"]),
        (kinds.CURRENCY_MISMATCH,
         [line_type, " ", ref, ": paymux has ", _text("expected_currency"), ", the provider ",
          _text("currency")]),
        (kinds.STATUS_MISMATCH,
         ["the provider reports a ", line_type, " of ", ref, " paymux does not have"]),
        (kinds.DUPLICATE_LINE, [line_type, " ", ref, " appears more than once"]),
        (kinds.UNKNOWN_REFERENCE,
         ["no payment, refund or payout of paymux has reference ", ref]),
    ]  # fmt: skip
    chain: pl.Expr = kind.cast(pl.String)  # a kind without a text: its name
    for name, parts in reversed(texts):
        joined = pl.concat_str([pl.lit(p) if isinstance(p, str) else p for p in parts])
        chain = pl.when(kind == name.value).then(joined).otherwise(chain)
    line = (
        pl.when(pl.col("line_number").is_not_null())
        .then(pl.concat_str([pl.lit("line "), pl.col("line_number").cast(pl.String), pl.lit(": ")]))
        .otherwise(pl.lit(""))
    )
    return pl.concat_str([line, chain]).alias("details")
