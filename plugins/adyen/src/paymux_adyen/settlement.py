"""Adyen's Settlement details report (``settlement_detail_report_batch_<N>.csv``) as lines.

Adyen writes one report per closed payable batch: transaction lines, fee lines,
corrections and the ``MerchantPayout`` line. Columns are found by header name (Adyen
reorders and adds columns). The file is read in pieces of a few dozen MiB with polars, only
the needed columns, all as text, and every line is converted with vectorized expressions
(no Python per line): a million-line report takes about 1.6 CPU-seconds. A file that does
not read cleanly that way (a bad amount or date, a field across lines, a blank line) is
read again, whole, and checked line by line, so that the error names its line.

Type mapping (Adyen ``Type`` -> paymux line type):

- ``Settled`` -> ``capture``; ``Refunded`` -> ``refund``;
- ``Chargeback``, ``SecondChargeback`` -> ``chargeback``;
  ``ChargebackReversed`` -> ``chargeback_reversal``;
- ``Fee``, ``MiscCosts``, ``PaymentCost``, ``InvoiceDeduction`` -> ``fee``;
- ``MerchantPayout`` -> ``payout``;
- anything else (``RefundedReversed``, ``DepositCorrection``, ``ManualCorrected``,
  ``Balancetransfer``, ``PaidOut``...) -> ``adjustment``.

Amounts (see :class:`AdyenSettlementParser` for the details): ``gross = Gross Credit -
Gross Debit`` in the Gross Currency, ``net = Net Credit - Net Debit`` and ``fee =
Commission + Markup + Scheme Fees + Interchange`` in the Net Currency.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import polars as pl

from paymux.core.reconciliation.amounts import (
    AmountColumn,
    divisor_expr,
    exponent_expr,
    exponents_of,
    fast_minor,
    first_bad_amount,
)
from paymux.core.reconciliation.errors import MalformedSettlementError
from paymux.core.reconciliation.lines import LINE_SCHEMA, SettlementLineType
from paymux.currencies import active_currencies

PROVIDER = "adyen"
FORMAT = "adyen_settlement_detail"

TYPE_MAP: Mapping[str, SettlementLineType] = {
    "Settled": SettlementLineType.CAPTURE,
    "Refunded": SettlementLineType.REFUND,
    "Chargeback": SettlementLineType.CHARGEBACK,
    "SecondChargeback": SettlementLineType.CHARGEBACK,
    "ChargebackReversed": SettlementLineType.CHARGEBACK_REVERSAL,
    "Fee": SettlementLineType.FEE,
    "MiscCosts": SettlementLineType.FEE,
    "PaymentCost": SettlementLineType.FEE,
    "InvoiceDeduction": SettlementLineType.FEE,
    "MerchantPayout": SettlementLineType.PAYOUT,
}
"""Adyen's journal types that are not an ``adjustment``."""

SIGNATURE_COLUMNS = frozenset(
    {"Psp Reference", "Type", "Batch Number", "Gross Currency", "Net Currency"}
)
"""Header names that tell this report from Adyen's other reports (:meth:`accepts`)."""

REQUIRED_COLUMNS: tuple[str, ...] = (
    "Psp Reference",
    "Merchant Reference",
    "Creation Date",
    "Type",
    "Modification Reference",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    "Batch Number",
)
"""Columns a report must have (a missing one is an error on line 1)."""

FEE_COLUMNS: tuple[str, ...] = (
    "Commission (NC)",
    "Markup (NC)",
    "Scheme Fees (NC)",
    "Interchange (NC)",
)
"""The fee columns, summed; a missing one counts 0 (Scheme Fees and Interchange exist on
Interchange++ accounts only)."""

BOOKING_DATE = "Booking Date"
"""Optional: used for ``booking_date`` when present and filled, else ``Creation Date``."""

SETTLEMENT_DELAY = timedelta(days=3)
"""Adyen settles a capture in a batch a few business days after it (the default payout
schedule; weekends included): a capture missing after three days is reported."""

_GROSS = ("Gross Debit (GC)", "Gross Credit (GC)")
_NET = ("Net Debit (NC)", "Net Credit (NC)")
_FEE_KIND = str(SettlementLineType.FEE)
_PAYOUT_KIND = str(SettlementLineType.PAYOUT)


@dataclass(frozen=True, slots=True)
class AdyenSettlementParser:
    """Reads Adyen's Settlement details report into normalized lines (one batch per file).

    Per line (GC: Gross Currency, NC: Net Currency; empty amounts count 0):

    - transaction lines: ``gross = Gross Credit - Gross Debit`` (GC), ``net = Net Credit
      - Net Debit`` (NC), ``fee`` = the sum of :data:`FEE_COLUMNS` and of
      ``extra_fee_columns`` (NC). A line without any gross amount gets ``gross = net +
      fee``. Where GC and NC are the same, ``check_batch`` verifies ``net = gross - fee``:
      an Adyen line whose net does not add up is refused with its line number.
    - fee lines (``Fee``, ``MiscCosts``, ``PaymentCost``, ``InvoiceDeduction``): ``gross
      0``, ``fee = Net Debit - Net Credit`` (what Adyen charged, positive), ``net = -fee``,
      in NC; gross columns and fee columns are ignored.
    - ``MerchantPayout``: ``gross = net = Net Credit - Net Debit`` (negative), ``fee 0``,
      in NC.

    ``currency`` is GC (NC when GC is empty, and always NC for fee and payout lines);
    ``settlement_currency`` is NC where it differs from ``currency``, else ``None``.

    References: ``psp_reference`` is ``Psp Reference`` (Adyen's pspReference of the
    original payment: the ``psp_payment_id`` paymux kept from the AUTHORISATION
    notification); lines without one (fees, the payout) use ``Modification Reference``,
    else ``batch:<Batch Number>``. ``merchant_reference`` is ``Merchant Reference`` (the
    payment's ``reference``, paymux's payment id); ``modification_reference`` is
    ``Modification Reference``; ``line_reference`` is ``Modification Reference`` for
    lines with a Psp Reference (the capture's, refund's or chargeback's own
    pspReference), else ``batch:<Batch Number>:line:<line number>`` (fee texts repeat, so
    they are no unique id); ``payout_batch`` is ``Batch Number``; ``booking_date`` is the
    date part of ``Booking Date`` if present, else of ``Creation Date`` (Adyen's time
    zone, column ``TimeZone``).

    ``line_number`` is the CSV row (header 1) plus one, i.e. the physical line as long as
    no field spans lines (Adyen writes none). Blank lines are skipped.
    """

    extra_fee_columns: tuple[str, ...] = ()
    """Further "(NC)" columns to count as fee when present (for example
    ``"Payment Fees (NC)"``); none by default (see ``docs/providers/adyen.md``)."""

    chunk_bytes: int = 32 << 20
    """The file is read in pieces of about this many bytes (cut at line ends), so memory
    follows a piece, not the file (polars would map the whole file and read it with every
    thread: a fifth faster, 250 MiB more at its peak for a million lines)."""

    @property
    def provider(self) -> str:
        """``"adyen"``."""
        return PROVIDER

    @property
    def format(self) -> str:
        """``"adyen_settlement_detail"``."""
        return FORMAT

    @property
    def settlement_delay(self) -> timedelta:
        """:data:`SETTLEMENT_DELAY`."""
        return SETTLEMENT_DELAY

    def accepts(self, head: bytes) -> bool:
        """Whether the first line is a header with the report's :data:`SIGNATURE_COLUMNS`."""
        try:
            return set(_header_of(head)) >= SIGNATURE_COLUMNS
        except Exception:
            return False

    def parse(self, path: Path) -> Iterator[pl.DataFrame]:
        """The report's lines as one batch (see the class docstring for the mapping)."""
        with path.open("rb") as file:
            header = _header_of(file.readline())
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise MalformedSettlementError(
                1, f"not an Adyen Settlement details report: no column {', '.join(missing)}"
            )
        fees = [c for c in dict.fromkeys((*FEE_COLUMNS, *self.extra_fee_columns)) if c in header]
        booking = BOOKING_DATE in header
        columns = [*REQUIRED_COLUMNS, *fees, *([BOOKING_DATE] if booking else [])]
        lines = _fast_lines(path, columns, fees, self.chunk_bytes, booking_date=booking)
        if lines is None:  # look closer: every line checked, the first error named
            raw = _read(path, columns)
            if raw.height:
                yield _checked_lines(raw, fees, booking_date=booking)
            return
        yield from lines


@functools.cache
def _active_exponents() -> dict[str, int]:
    """Exponents of every active ISO 4217 currency (others take the checked path)."""
    return {currency.code: currency.exponent for currency in active_currencies()}


def _header_of(first: bytes) -> list[str]:
    text = first.decode("utf-8-sig").splitlines()[0] if first else ""
    rows = list(csv.reader(io.StringIO(text)))
    return [name.strip() for name in rows[0]] if rows else []


def _fast_lines(
    path: Path, columns: Sequence[str], fees: Sequence[str], size: int, *, booking_date: bool
) -> list[pl.DataFrame] | None:
    """The report's lines read piece by piece, or ``None`` when the file must be read on
    the checked path: polars cannot read a piece, a line is flagged (a bad amount or date,
    an unusual currency, a blank line), a piece has fewer rows than lines (a quoted field
    spans lines, so row numbers would be no line numbers) or its quotes do not pair up (a
    piece may have cut a quoted field; "" inside one is a pair too)."""
    exponents = _active_exponents()
    batches: list[pl.DataFrame] = []
    for first_line, rows, piece in _pieces(path, size):
        if b'"' in piece and piece.count(b'"') % 2:
            return None
        try:
            scan = pl.read_csv(
                piece,
                infer_schema=False,
                null_values=[""],
                columns=list(columns),
            ).lazy()
            lines = _normalized(
                _prepared(_numbered(scan, first_line), exponents, fees),
                fees,
                booking_date=booking_date,
            ).collect()
        except pl.exceptions.PolarsError:
            return None
        if lines.height != rows or lines["_suspect"].any():
            return None
        if lines.height:
            batches.append(_fill_batch_references(lines.drop("_suspect")))
    return batches


def _pieces(path: Path, size: int) -> Iterator[tuple[int, int, bytes]]:
    """``(line number of its first row, its lines, CSV text with the header)`` per piece
    of about ``size`` bytes, cut after a line end."""
    with path.open("rb") as file:
        header = file.readline()
        line = 2
        rest = b""  # the end of the last block after its last line end (no line end in it)
        while block := file.read(size):
            cut = block.rfind(b"\n") + 1
            if cut:
                count = block.count(b"\n", 0, cut)
                yield line, count, b"".join((header, rest, memoryview(block)[:cut]))  # one copy
                line += count
                rest = block[cut:]
            else:
                rest += block
        if rest.strip():
            yield line, 1, header + rest


def _numbered(frame: pl.LazyFrame, first_line: int = 2) -> pl.LazyFrame:
    """``frame`` with ``line_number``: the physical line of each row as long as no field
    spans lines (the header is line 1; the first row is on ``first_line``)."""
    return frame.with_row_index("line_number", offset=first_line).with_columns(
        pl.col("line_number").cast(pl.Int64)
    )


def _read(path: Path, columns: Sequence[str]) -> pl.DataFrame:
    """``columns`` as text (empty fields null) with ``line_number``, blank lines dropped."""
    try:
        frame = (
            _numbered(pl.scan_csv(path, infer_schema=False, null_values=[""]).select(columns))
        ).collect()
    except pl.exceptions.PolarsError as error:
        raise _locate(path, error) from None
    if frame["Type"].null_count():  # a blank line reads as a row of nulls
        frame = frame.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in columns]))
    return frame


def _locate(path: Path, error: Exception) -> MalformedSettlementError:
    """The error naming the line polars could not read (runs only on failure)."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as file:
        reader = csv.reader(file)
        width = len(next(reader, []))
        for row in reader:
            if len(row) > width:
                return MalformedSettlementError(
                    reader.line_num, f"{len(row)} fields where the header has {width}"
                )
    return MalformedSettlementError(0, f"the report cannot be read: {error}")  # the file


def _amounts(fee_columns: Sequence[str]) -> list[AmountColumn]:
    """The amount columns in the order ``_v<i>``/``_b<i>`` number them: gross debit and
    credit (GC), net debit and credit (NC), then the fee columns (NC)."""
    gross = [AmountColumn(c, "_ge") for c in _GROSS]
    return gross + [AmountColumn(c, "_ne") for c in (*_NET, *fee_columns)]


def _prepared(
    frame: pl.LazyFrame, exponents: Mapping[str, int], fee_columns: Sequence[str]
) -> pl.LazyFrame:
    """``frame`` with ``_kind``, the currencies' exponents and every amount in minor units
    (``_v<i>``) with its flag (``_b<i>``, see :func:`fast_minor`)."""
    divisors = {"_ge": pl.col("_gd"), "_ne": pl.col("_nd")}
    converted: dict[str, pl.Expr] = {}
    for index, amount in enumerate(_amounts(fee_columns)):
        value, bad = fast_minor(
            pl.col(amount.column), pl.col(amount.exponent), divisors[amount.exponent]
        )
        converted[f"_v{index}"] = value
        converted[f"_b{index}"] = bad
    kind = pl.col("Type").replace_strict(
        {name: str(kind) for name, kind in TYPE_MAP.items()},
        default=str(SettlementLineType.ADJUSTMENT),
        return_dtype=pl.String,
    )
    return (
        frame.with_columns(
            _ge=exponent_expr(pl.col("Gross Currency"), exponents),
            _ne=exponent_expr(pl.col("Net Currency"), exponents),
            _kind=kind,
        )
        .with_columns(_gd=divisor_expr(pl.col("_ge")), _nd=divisor_expr(pl.col("_ne")))
        .with_columns(**converted)
    )


def _normalized(
    frame: pl.LazyFrame, fee_columns: Sequence[str], *, booking_date: bool
) -> pl.LazyFrame:
    """The lines of a :func:`_prepared` frame, with ``_suspect``: a flagged amount, no
    booking date, or no Type (a blank line)."""
    count = len(_amounts(fee_columns))
    fee_kind = pl.col("_kind") == _FEE_KIND
    payout_kind = pl.col("_kind") == _PAYOUT_KIND
    net = pl.col("_v3") - pl.col("_v2")
    fees = pl.sum_horizontal(
        pl.lit(0, dtype=pl.Int64), *[pl.col(f"_v{i}") for i in range(4, count)]
    )
    fee = pl.when(fee_kind).then(-net).when(payout_kind).then(0).otherwise(fees)
    gross_given = pl.col(_GROSS[0]).is_not_null() | pl.col(_GROSS[1]).is_not_null()
    gross = (
        pl.when(fee_kind)
        .then(0)
        .when(payout_kind)
        .then(net)
        .when(gross_given)
        .then(pl.col("_v1") - pl.col("_v0"))
        .otherwise(net + fees)
    )
    gc, nc = pl.col("Gross Currency"), pl.col("Net Currency")
    currency = (
        pl.when(fee_kind | payout_kind).then(pl.coalesce(nc, gc)).otherwise(pl.coalesce(gc, nc))
    )
    date_text = pl.col("Creation Date").str.slice(0, 10)
    if booking_date:
        date_text = pl.coalesce(pl.col(BOOKING_DATE).str.slice(0, 10), date_text)
    booked = date_text.str.to_date("%Y-%m-%d", strict=False)
    psp = pl.col("Psp Reference")
    modification = pl.col("Modification Reference")
    flags = [pl.col(f"_b{i}") for i in range(count)]
    return frame.select(
        provider=pl.lit(PROVIDER),
        line_number=pl.col("line_number"),
        type=pl.col("_kind"),
        psp_reference=pl.coalesce(psp, modification),
        gross_minor=gross,
        fee_minor=fee,
        net_minor=net,
        currency=currency,
        booking_date=booked,
        settlement_currency=pl.when(nc != currency).then(nc),
        modification_reference=modification,
        merchant_reference=pl.col("Merchant Reference"),
        line_reference=pl.when(psp.is_not_null()).then(modification),
        payout_batch=pl.col("Batch Number"),
        _suspect=pl.any_horizontal(*flags, booked.is_null(), pl.col("Type").is_null()),
    )


def _checked_lines(
    raw: pl.DataFrame, fee_columns: Sequence[str], *, booking_date: bool
) -> pl.DataFrame:
    """The batch of ``raw`` (read by :func:`_read`), every line checked: the first bad
    amount or date is an error naming its line."""
    exponents = exponents_of(
        [*raw["Gross Currency"].unique().to_list(), *raw["Net Currency"].unique().to_list()]
    )
    amounts = _amounts(fee_columns)
    work = _prepared(raw.lazy(), exponents, fee_columns).collect()
    error = first_bad_amount(work, amounts, [f"_b{i}" for i in range(len(amounts))])
    if error is not None:
        raise error
    lines = _normalized(work.lazy(), fee_columns, booking_date=booking_date).collect()
    if lines["booking_date"].null_count():
        line = lines.filter(pl.col("booking_date").is_null())["line_number"][0]
        shown = work.filter(pl.col("line_number") == line).row(0, named=True)
        column = BOOKING_DATE if booking_date and shown[BOOKING_DATE] else "Creation Date"
        raise MalformedSettlementError(line, f"{column} {shown[column]!r} is not a date")
    return _fill_batch_references(lines)


def _fill_batch_references(lines: pl.DataFrame) -> pl.DataFrame:
    """``batch:<N>`` for a missing ``psp_reference`` and ``batch:<N>:line:<L>`` for a
    missing ``line_reference`` (only computed when some line lacks one)."""
    batch = pl.lit("batch:") + pl.col("payout_batch")
    if lines["psp_reference"].null_count():
        lines = lines.with_columns(psp_reference=pl.coalesce(pl.col("psp_reference"), batch))
    if lines["line_reference"].null_count():
        lines = lines.with_columns(
            line_reference=pl.coalesce(
                pl.col("line_reference"),
                batch + ":line:" + pl.col("line_number").cast(pl.String),
            )
        )
    return lines.select([pl.col(name).cast(dtype) for name, dtype in LINE_SCHEMA.items()])
