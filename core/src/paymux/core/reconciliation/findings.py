"""From a match to what a run stores: discrepancies (each with the key that makes it
reported once), the open ones a run resolves, totals, and the bookings per batch."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from paymux.core.reconciliation.fx import ACTUAL_CURRENCY
from paymux.core.reconciliation.lines import SettlementLineType
from paymux.core.reconciliation.matching import DiscrepancyKind, MatchResult


def findings(result: MatchResult) -> pl.DataFrame:
    """Every discrepancy the match shows, once per ``key``, in file order."""
    lines = result.lines.filter(pl.col("kind").is_not_null()).sort("line_number")
    line_key = pl.coalesce("line_reference", "modification_reference", pl.lit(""))
    # a converted line settled in the wrong currency names that currency, not its gross's
    currency = (
        pl.coalesce(ACTUAL_CURRENCY, "currency").alias("currency")
        if ACTUAL_CURRENCY in lines.columns
        else pl.col("currency")
    )
    from_lines = lines.select(
        "kind",
        pl.concat_str(
            [pl.col("kind"), pl.col("type"), pl.col("psp_reference"), line_key], separator=":"
        ).alias("key"),
        "psp_reference",
        "subject_id",
        pl.col("type").alias("line_type"),
        currency,
        "expected_currency",
        "expected_minor",
        "actual_minor",
        "line_number",
    )
    missing = _missing_findings(result.missing, SettlementLineType.CAPTURE, "payment_id")
    missing_refunds = _missing_findings(
        result.missing_refunds, SettlementLineType.REFUND, "refund_id"
    )
    return pl.concat([from_lines, missing, missing_refunds]).unique(
        subset="key", keep="first", maintain_order=True
    )


def _missing_findings(
    missing: pl.DataFrame, line_type: SettlementLineType, id_column: str
) -> pl.DataFrame:
    """``missing_in_settlement`` discrepancies of the payments (captures) or refunds in
    ``missing``, keyed on the subject (``id_column``)."""
    return missing.select(
        pl.lit(DiscrepancyKind.MISSING_IN_SETTLEMENT.value).alias("kind"),
        pl.concat_str(
            [pl.lit(f"missing_in_settlement:{line_type.value}"), pl.col(id_column)],
            separator=":",
        ).alias("key"),
        "psp_reference",
        pl.col(id_column).alias("subject_id"),
        pl.lit(line_type.value).alias("line_type"),
        pl.lit(None, dtype=pl.String).alias("currency"),
        pl.col("currency").alias("expected_currency"),
        pl.col("amount_minor").alias("expected_minor"),
        pl.lit(None, dtype=pl.Int64).alias("actual_minor"),
        pl.lit(None, dtype=pl.Int64).alias("line_number"),
    )


def resolved(open_: pl.DataFrame, result: MatchResult, found: pl.DataFrame) -> pl.DataFrame:
    """The open discrepancies (``id``, ``kind``, ``line_type``, ``subject_id``,
    ``psp_reference``) this run resolves: their subject was in the file again and showed
    no discrepancy of their kind. Duplicate lines stay open (a past fact)."""
    candidates = open_.filter(pl.col("kind") != DiscrepancyKind.DUPLICATE_LINE.value).with_columns(
        subject=pl.coalesce("subject_id", "psp_reference")
    )
    if candidates.height == 0:
        return candidates.select("id")
    subjects = candidates.get_column("subject").unique().implode()
    lines = result.lines.select("type", "subject_id", "psp_reference", "duplicate").filter(
        ~pl.col("duplicate")
        & (pl.col("subject_id").is_in(subjects) | pl.col("psp_reference").is_in(subjects))
    )
    evaluated = (
        pl.concat(
            [
                lines.select(
                    pl.col("type").alias("line_type"), pl.col("subject_id").alias("subject")
                ),
                lines.select(
                    pl.col("type").alias("line_type"), pl.col("psp_reference").alias("subject")
                ),
            ]
        )
        .drop_nulls()
        .unique()
    )
    still = (
        pl.concat(
            [
                found.select("kind", "line_type", pl.col("subject_id").alias("subject")),
                found.select("kind", "line_type", pl.col("psp_reference").alias("subject")),
            ]
        )
        .drop_nulls()
        .unique()
    )
    # A payment (a refund) missing in the settlement is resolved by any capture (refund) line
    # of it.
    seen = candidates.join(evaluated, on=["line_type", "subject"], how="semi")
    return seen.join(still, on=["kind", "line_type", "subject"], how="anti").select("id")


@dataclass(frozen=True, slots=True)
class Booking:
    """What a run books for one settlement batch and currency."""

    kind: str
    """``fee`` (the provider's fees) or ``payout`` (paid to the platform's bank)."""
    batch: str
    currency: str
    amount_minor: int


_GROUP_KEYS = ("type", "currency", "settlement_currency", "payout_batch", "duplicate",
               "settlement_payout")  # fmt: skip
_GROUP_SUMS = (
    pl.len().alias("lines"),
    pl.col("gross_minor").sum(),
    pl.col("fee_minor").sum(),
    pl.col("net_minor").sum(),
)


def line_groups(lines: pl.DataFrame) -> pl.DataFrame:
    """The lines of a match counted and summed (gross, fee, net) per type, currencies,
    batch, and duplicate and settlement-payout flags: a few rows for a million lines, from
    which :func:`summary` and :func:`bookings` are read (one pass over the lines for both).

    The lines are grouped by an 8-byte hash of the six keys (no hash table of a million
    strings); if a group turns out to hold two values of a key (two key sets with one
    hash, never seen), they are grouped by the keys themselves."""
    aggregations = [*_GROUP_SUMS]
    for name in _GROUP_KEYS:
        column = pl.col(name)
        aggregations += [
            column.min().alias(name),
            column.max().alias(f"_max_{name}"),
            column.null_count().alias(f"_nulls_{name}"),
        ]
    groups = (
        lines.lazy()
        .group_by(pl.struct(*_GROUP_KEYS).hash().alias("_key"))
        .agg(aggregations)
        .collect()
    )
    uniform = pl.all_horizontal(
        (
            (pl.col(f"_nulls_{name}") == pl.col("lines"))
            | ((pl.col(f"_nulls_{name}") == 0) & (pl.col(name) == pl.col(f"_max_{name}")))
        )
        for name in _GROUP_KEYS
    )
    if not groups.select(uniform.all()).item():
        groups = lines.group_by(*_GROUP_KEYS).agg(*_GROUP_SUMS)
    return groups.select(*_GROUP_KEYS, "lines", "gross_minor", "fee_minor", "net_minor")


def bookings(groups: pl.DataFrame, *, fallback_batch: str) -> list[Booking]:
    """Fees and settlement payouts per batch and settlement currency (duplicates left out),
    from :func:`line_groups`.

    Lines without a batch are booked under ``fallback_batch`` (the file's hash).
    """
    kept = groups.filter(~pl.col("duplicate")).select(
        batch=pl.coalesce("payout_batch", pl.lit(fallback_batch)),
        cur=pl.coalesce("settlement_currency", "currency"),
        fee=pl.col("fee_minor"),
        paid=pl.when(pl.col("settlement_payout")).then(-pl.col("net_minor")).otherwise(0),
    )
    sums = kept.group_by("batch", "cur").agg(pl.col("fee").sum(), pl.col("paid").sum())
    ordered = sums.sort("batch", "cur").iter_rows(named=True)
    rows = list(ordered)
    return [
        Booking(kind, row["batch"], row["cur"], int(row[column]))
        for kind, column in (("fee", "fee"), ("payout", "paid"))
        for row in rows
        if row[column] != 0
    ]


def summary(groups: pl.DataFrame) -> dict[str, object]:
    """Lines per type and totals per currency (gross, fee, net in minor units), from
    :func:`line_groups`.

    A line's gross counts in its ``currency`` (and so does the line), its fee and net in
    the currency they were settled in (``settlement_currency``, else ``currency``): a
    converted line adds to two currencies' totals, never a sum of two currencies."""
    per_type = groups.group_by("type").agg(pl.col("lines").sum()).sort("type")
    kept = groups.lazy().filter(~pl.col("duplicate"))
    gross = kept.group_by("currency").agg(pl.col("lines").sum(), pl.col("gross_minor").sum())
    settled = kept.group_by(pl.coalesce("settlement_currency", "currency").alias("currency")).agg(
        pl.col("fee_minor").sum(), pl.col("net_minor").sum()
    )
    totals = (
        gross.join(settled, on="currency", how="full", coalesce=True)
        .with_columns(pl.col("lines", "gross_minor", "fee_minor", "net_minor").fill_null(0))
        .sort("currency")
        .collect()
    )
    return {
        "lines_by_type": {row["type"]: int(row["lines"]) for row in per_type.iter_rows(named=True)},
        "totals": {
            row["currency"]: {
                "lines": int(row["lines"]),
                "gross_minor": int(row["gross_minor"]),
                "fee_minor": int(row["fee_minor"]),
                "net_minor": int(row["net_minor"]),
            }
            for row in totals.iter_rows(named=True)
        },
    }
