"""The sandbox PSP's settlement file ("paymux sandbox settlement v1") and its parser.

A CSV file per UTC day, header on line 1, columns found by name (see
``docs/providers/sandbox.md``, "Settlement files"):

``line_id, type, payment_reference, modification_reference, merchant_reference, currency,
gross, fee, net, booked_at, batch[, settlement_currency]``

``settlement_currency`` is optional (older files have no such column): when a line names
one, its ``fee`` and ``net`` are in that currency and ``gross`` in ``currency`` (the account
settles a payment in another currency than the buyer paid in).

Amounts are decimal text in major units, signed as the PSP's balance sees them;
``booked_at`` is an ISO 8601 date-time with an offset (``2026-05-12T10:11:12Z``). The file
of a day holds everything the sandbox processed that day (except lines a scripted ``late``
fault moved to the next day), closed by one ``payout`` line per currency.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl

from paymux.core.reconciliation.amounts import check_currencies, to_minor
from paymux.core.reconciliation.errors import MalformedSettlementError
from paymux.core.reconciliation.lines import LINE_SCHEMA, LINE_TYPES

PROVIDER = "sandbox"
FORMAT = "sandbox_settlement_v1"

COLUMNS: tuple[str, ...] = (
    "line_id",
    "type",
    "payment_reference",
    "modification_reference",
    "merchant_reference",
    "currency",
    "gross",
    "fee",
    "net",
    "booked_at",
    "batch",
)
"""The columns of the format, in the order the sandbox writes them (readers go by name)."""

SETTLEMENT_CURRENCY_COLUMN = "settlement_currency"
"""The optional last column: written only when a line of the file converts."""

_NEEDED = COLUMNS

REQUIRED_VALUES: tuple[str, ...] = ("line_id", "type", "payment_reference", "booked_at", "batch")
"""Columns no line may leave empty (``currency`` is checked with the amounts)."""

BATCH_ROWS = 50_000
"""Lines per batch :meth:`SandboxSettlementParser.parse` yields."""

_BOOKED_AT = "%Y-%m-%dT%H:%M:%S%.f%#z"


def _header(text: str) -> list[str] | None:
    """The first line of ``text`` as CSV fields, or ``None`` if there is none."""
    first = text.lstrip("\ufeff").splitlines()[:1]
    if not first:
        return None
    return next(csv.reader([first[0]]), None)


class SandboxSettlementParser:
    """Reads the sandbox PSP's settlement files into normalized lines.

    The type maps 1:1, ``payment_reference`` is the line's ``psp_reference``, ``line_id``
    its ``line_reference`` (a duplicated line repeats it) and ``batch`` its
    ``payout_batch``. The sandbox books everything on the day it happened, so
    :attr:`settlement_delay` is zero.
    """

    @property
    def provider(self) -> str:
        """``"sandbox"``."""
        return PROVIDER

    @property
    def format(self) -> str:
        """``"sandbox_settlement_v1"``."""
        return FORMAT

    @property
    def settlement_delay(self) -> timedelta:
        """Zero: a day's file holds everything processed that day."""
        return timedelta(0)

    def accepts(self, head: bytes) -> bool:
        """Whether the header (first line) has every column of the format."""
        try:
            header = _header(head.decode("utf-8"))
        except (UnicodeDecodeError, csv.Error):
            return False
        return header is not None and set(_NEEDED) <= set(header)

    def parse(self, path: Path) -> Iterator[pl.DataFrame]:
        """The file's lines, in batches of :data:`BATCH_ROWS` (see the class docstring)."""
        with path.open("rb") as file:
            first = file.readline()
        try:
            header = _header(first.decode("utf-8"))
        except (UnicodeDecodeError, csv.Error) as error:
            raise MalformedSettlementError(1, f"the header cannot be read: {error}") from None
        if header is None:
            raise MalformedSettlementError(1, "the file is empty")
        names = header
        missing = [column for column in _NEEDED if column not in names]
        if missing:
            raise MalformedSettlementError(1, f"columns missing: {', '.join(missing)}")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise MalformedSettlementError(1, f"columns repeated: {', '.join(repeated)}")
        scan = pl.scan_csv(path, infer_schema=False).with_row_index("line_number", offset=2)
        try:
            for chunk in scan.collect_batches(chunk_size=BATCH_ROWS):
                yield _lines(chunk)
        except pl.exceptions.PolarsError as error:
            line = _first_ragged_line(path, len(header))
            raise MalformedSettlementError(line, f"the file cannot be read: {error}") from None


def _first_ragged_line(path: Path, fields: int) -> int:
    """The first line whose number of fields differs from the header's (1 if none)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as file:
        reader = csv.reader(file)
        for row in reader:
            if row and len(row) != fields:
                return reader.line_num
    return 1


def _lines(chunk: pl.DataFrame) -> pl.DataFrame:
    """One batch of :data:`~paymux.core.reconciliation.lines.LINE_SCHEMA` from CSV rows."""
    frame = chunk.with_columns(pl.col("line_number").cast(pl.Int64))
    for column in REQUIRED_VALUES:
        empty = frame.filter(pl.col(column).is_null() | (pl.col(column).str.strip_chars() == ""))
        if empty.height:
            raise MalformedSettlementError(empty["line_number"][0], f"{column} is empty")
    unknown = frame.filter(~pl.col("type").is_in(sorted(LINE_TYPES)))
    if unknown.height:
        raise MalformedSettlementError(
            unknown["line_number"][0], f"type {unknown['type'][0]!r} is not a line type"
        )
    booked = frame["booked_at"].str.to_datetime(format=_BOOKED_AT, strict=False, time_zone="UTC")
    unreadable = frame.filter(booked.is_null())
    if unreadable.height:
        raise MalformedSettlementError(
            unreadable["line_number"][0],
            f"booked_at {unreadable['booked_at'][0]!r} is not an ISO date-time with an offset",
        )
    settles_in = pl.lit(None, dtype=pl.String)
    if "settlement_currency" in frame.columns:
        given = pl.col("settlement_currency").str.strip_chars()
        settles_in = pl.when(given != "").then(given).otherwise(None)
    frame = frame.with_columns(
        settles_in.alias("_settlement_currency"),
        pl.coalesce(settles_in, pl.col("currency")).alias("_fee_currency"),
    )
    given_codes = frame.filter(pl.col("_settlement_currency").is_not_null()).select(
        "line_number", pl.col("_settlement_currency").alias("settlement_currency")
    )
    check_currencies(given_codes, "settlement_currency")  # an unknown code names its column
    gross = to_minor(frame, "gross", "currency")
    fee = to_minor(frame, "fee", "_fee_currency", label="fee")
    net = to_minor(frame, "net", "_fee_currency", label="net")
    return pl.DataFrame(
        {
            "provider": pl.Series([PROVIDER] * frame.height, dtype=pl.String),
            "line_number": frame["line_number"],
            "type": frame["type"],
            "psp_reference": frame["payment_reference"],
            "gross_minor": gross,
            "fee_minor": fee,
            "net_minor": net,
            "currency": frame["currency"],
            "booking_date": booked.dt.date(),
            "settlement_currency": frame["_settlement_currency"],
            "modification_reference": frame["modification_reference"],
            "merchant_reference": frame["merchant_reference"],
            "line_reference": frame["line_id"],
            "payout_batch": frame["batch"],
        },
        schema=LINE_SCHEMA,
    )
