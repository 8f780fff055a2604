"""Stripe's itemized balance reports (Reporting API CSVs) as paymux settlement files.

Two report types are read, with one mapping (see docs/providers/stripe.md, "Settlement
files"):

* ``balance_change_from_activity.itemized.3``: every balance transaction of a period;
* ``payout_reconciliation.itemized.5``: the balance transactions of a period grouped by the
  automatic payout that settled them.

Both have one row per balance transaction, with the columns chosen by whoever ran the
report. Columns are found by header name; amounts are decimal text in **major** units
(``12.34``), converted exactly with :func:`~paymux.core.reconciliation.amounts.to_minor`;
``currency`` is lower case (``eur``) and is upper-cased.

The two reports are told apart by the bank trace columns: ``trace_id`` or
``trace_id_status`` exist only in the payout reconciliation report, which also needs
``automatic_payout_id`` (its grouping key). A payout reconciliation report run without trace
columns is read as a balance report: both give the same lines.

Signs: Stripe's balance transactions already use paymux's provider-balance view (a charge's
``gross`` positive, a refund's, a dispute's and a payout's negative, ``fee`` what Stripe took,
``net = gross - fee``); every row is checked to add up. The one change: a ``fee`` row
(Stripe writes ``gross`` = ``net`` = minus the fee, ``fee`` 0) becomes a pure fee line
(``gross`` 0, ``fee`` = minus ``net``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from paymux.core.reconciliation.amounts import to_minor
from paymux.core.reconciliation.errors import MalformedSettlementError
from paymux.core.reconciliation.lines import LINE_SCHEMA, SettlementLineType
from paymux_stripe.webhooks import PAYMENT_ID_KEY, PAYOUT_ID_KEY

PROVIDER = "stripe"
BATCH_ROWS = 50_000
"""Rows per batch handed to paymux."""

STRIPE_SETTLEMENT_DELAY = timedelta(days=3)
"""Stripe makes a card payment available about 2 business days after it succeeded (its
standard payout schedule); 3 calendar days leave room for the report's own lag."""

REQUIRED_COLUMNS: tuple[str, ...] = (
    "balance_transaction_id",
    "reporting_category",
    "currency",
    "gross",
    "fee",
    "net",
    "source_id",
)
"""Columns both reports must have (plus one of :data:`DATE_COLUMNS`)."""

DATE_COLUMNS: tuple[str, ...] = ("created_utc", "created")
"""The booking date, first found wins per row: the balance transaction's creation."""

TRACE_COLUMNS: tuple[str, ...] = ("trace_id", "trace_id_status")
"""Only the payout reconciliation report has these."""

PAYMENT_METADATA_COLUMN = f"payment_metadata[{PAYMENT_ID_KEY}]"
"""paymux puts its payment id in the PaymentIntent's metadata; reports can add it."""

TRANSFER_METADATA_COLUMN = f"transfer_metadata[{PAYOUT_ID_KEY}]"
"""paymux puts its payout id in a Connect transfer's metadata."""

OPTIONAL_COLUMNS: tuple[str, ...] = (
    "payment_intent_id",
    "charge_id",
    "automatic_payout_id",
    "customer_facing_amount",
    "customer_facing_currency",
    PAYMENT_METADATA_COLUMN,
    TRANSFER_METADATA_COLUMN,
)
"""Read when present, empty when not."""

CATEGORY_TYPES: dict[str, SettlementLineType] = {
    "charge": SettlementLineType.CAPTURE,
    "refund": SettlementLineType.REFUND,
    "dispute": SettlementLineType.CHARGEBACK,
    "dispute_reversal": SettlementLineType.CHARGEBACK_REVERSAL,
    "fee": SettlementLineType.FEE,
    "payout": SettlementLineType.PAYOUT,
    "transfer": SettlementLineType.PAYOUT,
}
"""Stripe ``reporting_category`` → line type; any other category is an adjustment. A
``transfer`` is paymux's payout to a seller's connected account: matched to the payout."""

PAYMENT_CATEGORIES: frozenset[str] = frozenset(
    {
        "charge",
        "refund",
        "dispute",
        "dispute_reversal",
        "partial_capture_reversal",
        "refund_failure",
    }
)
"""Categories about a payment: their ``psp_reference`` is the payment's PaymentIntent."""

TRANSFER_CATEGORIES: frozenset[str] = frozenset({"transfer", "transfer_reversal"})
"""Connect transfers (paymux's seller payouts): ``merchant_reference`` is the payout id."""

_TRAILING_ZEROS = r"^(-?[0-9]*\.[0-9]*?)0+$"


def header_columns(head: bytes) -> list[str] | None:
    """The column names of the CSV header in ``head``, or ``None`` if it has none."""
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        return None
    try:
        row = next(csv.reader(io.StringIO(first)))
    except (csv.Error, StopIteration):
        return None
    return [name.strip() for name in row]


@dataclass(frozen=True, slots=True)
class StripeReportParser:
    """A :class:`~paymux.core.reconciliation.parsers.SettlementParser` of one Stripe report type.

    Use :data:`BALANCE_REPORT` or :data:`PAYOUT_RECONCILIATION_REPORT`.
    """

    report_type: str
    """Stripe's ``report_type`` (``balance_change_from_activity.itemized.3``)."""
    payout_reconciliation: bool
    """Whether this is the payout reconciliation report (trace columns and
    ``automatic_payout_id`` present) rather than the balance report (no trace columns)."""

    @property
    def provider(self) -> str:
        """``"stripe"``."""
        return PROVIDER

    @property
    def format(self) -> str:
        """``stripe_`` and the report type."""
        return f"stripe_{self.report_type}"

    @property
    def settlement_delay(self) -> timedelta:
        """:data:`STRIPE_SETTLEMENT_DELAY`."""
        return STRIPE_SETTLEMENT_DELAY

    def accepts(self, head: bytes) -> bool:
        """Whether the header has the columns of this report type (see the module doc)."""
        try:
            names = header_columns(head)
        except Exception:  # accepts never raises
            return False
        if names is None:
            return False
        columns = set(names)
        if not set(REQUIRED_COLUMNS) <= columns or not columns & set(DATE_COLUMNS):
            return False
        has_trace = bool(columns & set(TRACE_COLUMNS))
        if self.payout_reconciliation:
            return has_trace and "automatic_payout_id" in columns
        return not has_trace

    def parse(self, path: Path) -> Iterator[pl.DataFrame]:
        """The report's rows as lines, :data:`BATCH_ROWS` at a time.

        ``line_number`` is the row's record number with the header as line 1 (a description
        with an embedded line break does not shift it).
        """
        try:
            scan = pl.scan_csv(path, infer_schema=False, raise_if_empty=False)
            names = scan.collect_schema().names()
        except pl.exceptions.PolarsError as error:
            raise MalformedSettlementError(1, f"not a readable CSV file: {error}") from None
        for column in REQUIRED_COLUMNS:
            if column not in names:
                raise MalformedSettlementError(1, f"missing column {column}")
        dates = [column for column in DATE_COLUMNS if column in names]
        if not dates:
            raise MalformedSettlementError(1, f"missing column {DATE_COLUMNS[0]}")
        wanted = [*REQUIRED_COLUMNS, *dates, *(c for c in OPTIONAL_COLUMNS if c in names)]
        rows = (
            scan.select(wanted)
            .with_row_index("line_number", offset=2)
            .with_columns(
                pl.col("line_number").cast(pl.Int64),
                *(pl.lit(None, pl.String).alias(c) for c in OPTIONAL_COLUMNS if c not in names),
                booking_text=pl.coalesce(dates),
            )
        )
        try:
            for batch in rows.collect_batches(chunk_size=BATCH_ROWS):
                if batch.height:
                    yield stripe_lines(batch)
        except pl.exceptions.PolarsError as error:
            raise MalformedSettlementError(1, f"not a readable CSV file: {error}") from None


BALANCE_REPORT = StripeReportParser("balance_change_from_activity.itemized.3", False)
"""The Balance report's itemized balance changes."""

PAYOUT_RECONCILIATION_REPORT = StripeReportParser("payout_reconciliation.itemized.5", True)
"""The Payout reconciliation report's itemized balance transactions."""

SETTLEMENT_PARSERS: tuple[StripeReportParser, ...] = (
    PAYOUT_RECONCILIATION_REPORT,
    BALANCE_REPORT,
)


def _amount_text(column: str) -> pl.Expr:
    """Decimal text made plain: a decimal comma read as a point, and trailing zeros of the
    fraction dropped (exact: Stripe writes ``1000.00`` ISK, a currency without decimals)."""
    return (
        pl.col(column)
        .str.strip_chars()
        .str.replace(",", ".", literal=True)
        .str.replace(_TRAILING_ZEROS, "${1}")
        .str.strip_suffix(".")
    )


def _first_bad(frame: pl.DataFrame, condition: pl.Expr) -> dict[str, Any] | None:
    bad = frame.filter(condition)
    return bad.row(0, named=True) if bad.height else None


def stripe_lines(batch: pl.DataFrame) -> pl.DataFrame:
    """Normalized lines of a batch of report rows (all columns strings, plus ``line_number``
    and ``booking_text``)."""
    frame = batch.with_columns(
        pl.col("currency").str.strip_chars().str.to_uppercase(),
        pl.col("customer_facing_currency").str.strip_chars().str.to_uppercase(),
        pl.col("reporting_category").str.strip_chars(),
        *(_amount_text(c) for c in ("gross", "fee", "net", "customer_facing_amount")),
    )
    for column in ("balance_transaction_id", "reporting_category", "source_id"):
        row = _first_bad(frame, pl.col(column).is_null())
        if row is not None:
            raise MalformedSettlementError(row["line_number"], f"{column} is empty")
    frame = frame.with_columns(
        to_minor(frame, "gross", "currency"),
        to_minor(frame, "fee", "currency"),
        to_minor(frame, "net", "currency"),
        booking_date=pl.col("booking_text").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
    )
    row = _first_bad(frame, pl.col("booking_date").is_null())
    if row is not None:
        raise MalformedSettlementError(
            row["line_number"], f"created {row['booking_text']!r} is not a date"
        )
    row = _first_bad(frame, pl.col("net") != pl.col("gross") - pl.col("fee"))
    if row is not None:
        raise MalformedSettlementError(
            row["line_number"],
            f"net {row['net']} is not gross {row['gross']} minus fee {row['fee']} (minor units)",
        )
    category = pl.col("reporting_category")
    line_type = category.replace_strict(
        {k: str(v) for k, v in CATEGORY_TYPES.items()},
        default=str(SettlementLineType.ADJUSTMENT),
        return_dtype=pl.String,
    )
    frame = frame.with_columns(type=line_type)
    is_fee = pl.col("type") == str(SettlementLineType.FEE)
    is_payout = category == "payout"  # Stripe paying out its balance (not a transfer)
    converted = (
        ~is_fee
        & pl.col("customer_facing_currency").is_not_null()
        & pl.col("customer_facing_amount").is_not_null()
        & (pl.col("customer_facing_currency") != pl.col("currency"))
    )
    frame = frame.with_columns(converted=converted.fill_null(False))
    presented = frame.with_columns(
        pl.when(pl.col("converted"))
        .then(pl.col("customer_facing_currency"))
        .otherwise(pl.col("currency"))
        .alias("customer_facing_currency"),
        pl.when(pl.col("converted"))
        .then(pl.col("customer_facing_amount"))
        .otherwise(pl.lit("0"))
        .alias("customer_facing_amount"),
    )
    frame = frame.with_columns(
        presented=to_minor(presented, "customer_facing_amount", "customer_facing_currency").abs(),
        presented_currency=presented["customer_facing_currency"],
    )
    about_payment = category.is_in(sorted(PAYMENT_CATEGORIES))
    return frame.select(
        provider=pl.lit(PROVIDER),
        line_number=pl.col("line_number"),
        type=pl.col("type"),
        psp_reference=pl.when(about_payment)
        .then(pl.coalesce("payment_intent_id", "charge_id", "source_id"))
        .otherwise(pl.col("source_id")),
        gross_minor=pl.when(is_fee)
        .then(pl.lit(0, pl.Int64))
        .when(pl.col("converted"))
        .then(pl.col("presented") * pl.col("gross").sign())
        .otherwise(pl.col("gross")),
        fee_minor=pl.when(is_fee).then(-pl.col("net")).otherwise(pl.col("fee")),
        net_minor=pl.col("net"),
        currency=pl.col("presented_currency"),
        booking_date=pl.col("booking_date"),
        settlement_currency=pl.when(pl.col("converted")).then(pl.col("currency")),
        modification_reference=pl.col("source_id"),
        merchant_reference=pl.when(about_payment)
        .then(pl.col(PAYMENT_METADATA_COLUMN))
        .when(category.is_in(sorted(TRANSFER_CATEGORIES)))
        .then(pl.col(TRANSFER_METADATA_COLUMN)),
        line_reference=pl.col("balance_transaction_id"),
        payout_batch=pl.when(is_payout)
        .then(pl.col("source_id"))
        .otherwise(pl.col("automatic_payout_id")),
    ).cast(LINE_SCHEMA)  # type: ignore[arg-type]
