"""Matching settlement lines to paymux's records: pure, columnar, no I/O.

:func:`match` takes the file's lines and what paymux knows (its payments, refunds, payouts
and chargebacks of the provider, as frames) and answers, per line, what it matched and
which discrepancy it shows, plus the payments the provider should have settled by now
and did not. Everything is a polars join or expression: a million lines match in a
fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import polars as pl

from paymux.core.reconciliation.lines import SettlementLineType


class DiscrepancyKind(StrEnum):
    """The classes of disagreement between a provider's settlement and paymux."""

    MISSING_IN_LEDGER = "missing_in_ledger"
    """The provider moved money paymux has not booked (a capture of a payment that has not
    succeeded here, a refund that has not)."""
    MISSING_IN_SETTLEMENT = "missing_in_settlement"
    """A payment or a refund succeeded here and the provider has not settled it beyond its
    delay."""
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    """The provider refunded or charged back a payment that paymux holds as succeeded, or
    paid a payout paymux holds as failed."""
    DUPLICATE_LINE = "duplicate_line"
    """The same line (type and the provider's line id) twice, in one file or in two."""
    UNKNOWN_REFERENCE = "unknown_reference"
    """No payment, refund or payout of paymux has the line's references."""


PAYMENT_INDEX_SCHEMA: dict[str, pl.DataType] = {
    "payment_id": pl.String(),
    "currency": pl.String(),
    "amount_minor": pl.Int64(),
    "status": pl.String(),
    "succeeded_at": pl.Datetime("us", "UTC"),
    "token": pl.String(),
    "psp_reference": pl.String(),
    "psp_payment_id": pl.String(),
    "has_chargeback": pl.Boolean(),
}
"""What :func:`match` needs to know of each payment of the provider."""

REFUND_INDEX_SCHEMA: dict[str, pl.DataType] = {
    "refund_id": pl.String(),
    "payment_id": pl.String(),
    "currency": pl.String(),
    "amount_minor": pl.Int64(),
    "status": pl.String(),
    "psp_reference": pl.String(),
    "succeeded_at": pl.Datetime("us", "UTC"),
}
"""What :func:`match` needs to know of each refund (``succeeded_at``: null unless it
succeeded)."""

PAYOUT_INDEX_SCHEMA: dict[str, pl.DataType] = {
    "payout_id": pl.String(),
    "currency": pl.String(),
    "amount_minor": pl.Int64(),
    "status": pl.String(),
    "psp_reference": pl.String(),
}

SEEN_SCHEMA: dict[str, pl.DataType] = {
    "type": pl.String(),
    "line_reference": pl.String(),
    "same_file": pl.Boolean(),
}
"""Lines earlier runs saw: their type, line id, and whether that run read the same file (a
file read again is not a duplicate of itself)."""


@dataclass(frozen=True, slots=True)
class Records:
    """What paymux knows of one provider, as frames of the ``*_INDEX_SCHEMA`` columns."""

    payments: pl.DataFrame
    refunds: pl.DataFrame
    payouts: pl.DataFrame


MISSING_REFUND_SCHEMA: dict[str, pl.DataType] = {
    "refund_id": pl.String(),
    "payment_id": pl.String(),
    "currency": pl.String(),
    "amount_minor": pl.Int64(),
    "psp_reference": pl.String(),
    "succeeded_at": pl.Datetime("us", "UTC"),
}
"""A refund paymux holds as succeeded that the provider has not settled beyond its delay
(``amount_minor`` positive, as the refund's; ``psp_reference`` its reference at the
provider, else paymux's id)."""


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Per line: the matched ids and the discrepancy kind (or null); and the misses."""

    lines: pl.DataFrame
    """The lines with ``payment_id``, ``refund_id``, ``payout_id``, ``subject_id``,
    ``kind``, ``expected_minor``, ``expected_currency``, ``actual_minor``, ``duplicate``,
    ``matched`` and ``settlement_payout`` (a payout line that is no paymux payout)."""
    missing: pl.DataFrame
    """Payments due in the settlement and not in it: ``payment_id``, ``currency``,
    ``amount_minor``, ``psp_reference``, ``succeeded_at``."""
    missing_refunds: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=MISSING_REFUND_SCHEMA)
    )
    """Refunds due in the settlement and not in it (:data:`MISSING_REFUND_SCHEMA`)."""


_S = pl.String()


def _keys(frame: pl.DataFrame, id_column: str, columns: list[str]) -> pl.DataFrame:
    """``ref -> id``: every non-empty reference column (and the id itself) of ``frame``."""
    parts = [
        frame.select(pl.col(column).alias("ref"), pl.col(id_column).alias("id"))
        for column in [id_column, *columns]
    ]
    return (
        pl.concat(parts)
        .filter(pl.col("ref").is_not_null() & (pl.col("ref") != ""))
        .unique(subset="ref", keep="first", maintain_order=False)
    )


def _lookup(lines: pl.DataFrame, keys: pl.DataFrame, on: str, name: str) -> pl.DataFrame:
    return lines.join(keys.rename({"ref": on, "id": name}), on=on, how="left")


_FACTS = {
    "p_currency": "currency",
    "p_amount": "amount_minor",
    "p_status": "status",
    "p_chargeback": "has_chargeback",
}


def _with_payments(frame: pl.DataFrame, payments: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``payment_id``, ``_payment_row`` and the payment's facts (``p_*``).

    Most lines name the payment by the PSP's own id: one join of that narrow key column
    does the bulk. The few lines it leaves unresolved are looked up by every other
    reference (token, registration reference, paymux's id as merchant reference) among
    the payments that carry one of their references, a small set. Only row numbers go
    through the joins; the facts are gathered by row, once (wide frames are never
    filtered or joined).
    """
    facts = [pl.col(column).alias(alias) for alias, column in _FACTS.items()]
    rows = _rows_by_psp_id(frame.get_column("psp_reference"), payments.get_column("psp_payment_id"))
    if rows.null_count():
        rows = _fallback_rows(frame, payments, rows)
    gathered = payments.select("payment_id", *facts).gather(rows)
    return frame.hstack([*gathered.get_columns(), rows])


def _rows_by_psp_id(references: pl.Series, psp_ids: pl.Series) -> pl.Series:
    """Per reference: the row of ``psp_ids`` that equals it (the first, when two payments
    have one PSP id), else null.

    The join is of 8-byte hashes, not of the strings (a fraction of the memory); every
    pair it finds is then compared as strings, so a collision of hashes matches nothing."""
    lines = pl.DataFrame({"h": references.hash()}).with_row_index("_line")
    keys = (
        pl.DataFrame({"h": psp_ids.hash(), "_null": psp_ids.is_null()})
        .with_row_index("_payment_row")
        .filter(~pl.col("_null"))
        .drop("_null")
    )
    pairs = lines.join(keys, on="h", how="inner").drop("h")
    line_rows, payment_rows = pairs.get_column("_line"), pairs.get_column("_payment_row")
    same = references.gather(line_rows) == psp_ids.gather(payment_rows)
    pairs = pairs.filter(same.fill_null(False))
    found = _scattered(references.len(), pairs)
    if found.len() - found.null_count() != pairs.height:  # one PSP id, two payments
        pairs = pairs.sort("_line", "_payment_row").unique("_line", keep="first")
        found = _scattered(references.len(), pairs)
    return found.alias("_payment_row")


def _scattered(length: int, pairs: pl.DataFrame) -> pl.Series:
    """A new series of ``length`` nulls with ``_payment_row`` at each ``_line`` of ``pairs``."""
    empty = pl.repeat(None, length, dtype=pairs.schema["_payment_row"], eager=True)
    return empty.scatter(pairs.get_column("_line"), pairs.get_column("_payment_row"))


def _fallback_rows(frame: pl.DataFrame, payments: pl.DataFrame, rows: pl.Series) -> pl.Series:
    """``rows`` with the unresolved (null) ones looked up by token, registration reference
    or payment id (by the line's PSP reference first, then its merchant reference)."""
    unresolved = (
        frame.select("psp_reference", "merchant_reference")
        .with_row_index("_position")
        .with_columns(_rows=rows)
        .filter(pl.col("_rows").is_null())
    )
    wanted = (
        pl.concat(
            [unresolved.get_column("psp_reference"), unresolved.get_column("merchant_reference")]
        )
        .drop_nulls()
        .unique()
        .implode()
    )
    candidates = (
        payments.select("payment_id", "token", "psp_reference")
        .with_row_index("_payment_row")
        .filter(
            pl.col("token").is_in(wanted)
            | pl.col("psp_reference").is_in(wanted)
            | pl.col("payment_id").is_in(wanted)
        )
    )
    if candidates.height == 0:
        return rows
    keys = (
        pl.concat(
            candidates.select(pl.col(column).alias("ref"), pl.col("_payment_row").alias("id"))
            for column in ("payment_id", "token", "psp_reference")
        )
        .filter(pl.col("ref").is_not_null() & (pl.col("ref") != ""))
        .unique(subset="ref", keep="first", maintain_order=False)
    )
    found = _lookup(unresolved, keys, "psp_reference", "_by_psp")
    found = _lookup(found, keys, "merchant_reference", "_by_merchant")
    filled = found.select("_position", pl.coalesce("_by_psp", "_by_merchant").alias("_found"))
    patch = pl.repeat(None, rows.len(), dtype=rows.dtype, eager=True).scatter(
        filled.get_column("_position"), filled.get_column("_found")
    )
    return pl.select(pl.coalesce(rows, patch).alias(rows.name)).to_series()


def _with_subject(
    frame: pl.DataFrame,
    records: pl.DataFrame,
    *,
    id_column: str,
    line_type: SettlementLineType,
    reference: str,
    prefix: str,
) -> pl.DataFrame:
    """Lines of ``line_type`` with the ``id_column`` of the record whose id or PSP reference
    is their ``reference`` column or their merchant reference, and its facts (``prefix*``)."""
    keys = _keys(records, id_column, ["psp_reference"])
    frame = _lookup(frame, keys, reference, "_by_reference")
    frame = _lookup(frame, keys, "merchant_reference", "_by_merchant")
    frame = frame.with_columns(
        pl.when(pl.col("type") == line_type.value)
        .then(pl.coalesce("_by_reference", "_by_merchant"))
        .alias(id_column)
    ).drop("_by_reference", "_by_merchant")
    facts = records.select(
        id_column,
        pl.col("currency").alias(f"{prefix}currency"),
        pl.col("amount_minor").alias(f"{prefix}amount"),
        pl.col("status").alias(f"{prefix}status"),
    )
    return frame.join(facts, on=id_column, how="left")


def _with_refunds_and_payouts(frame: pl.DataFrame, records: Records) -> pl.DataFrame:
    """Refund lines with ``refund_id`` and ``r_*`` (by the refund's reference at the
    provider, the line's modification reference), payout lines with ``payout_id`` and
    ``po_*`` (by the payout's reference, the line's PSP reference); or by paymux's id."""
    frame = _with_subject(
        frame, records.refunds, id_column="refund_id", line_type=SettlementLineType.REFUND,
        reference="modification_reference", prefix="r_",
    )  # fmt: skip
    return _with_subject(
        frame, records.payouts, id_column="payout_id", line_type=SettlementLineType.PAYOUT,
        reference="psp_reference", prefix="po_",
    )  # fmt: skip


_NO_SUBJECT: dict[str, pl.DataType] = {
    "refund_id": _S, "r_currency": _S, "r_amount": pl.Int64(), "r_status": _S,
    "payout_id": _S, "po_currency": _S, "po_amount": pl.Int64(), "po_status": _S,
}  # fmt: skip
"""The columns :func:`_with_refunds_and_payouts` adds (all null for other lines)."""


def match(
    lines: pl.DataFrame,
    records: Records,
    *,
    seen: pl.DataFrame | None = None,
    due_until: datetime | None = None,
) -> MatchResult:
    """Match ``lines`` (the whole file) to ``records``.

    ``seen`` are lines of earlier runs (:data:`SEEN_SCHEMA`) with the line ids of this file
    (for duplicates across files). Succeeded payments with ``succeeded_at <=
    due_until`` that no capture line of this file names are ``missing``, and succeeded
    refunds due by then that no refund line names are ``missing_refunds``: the caller drops
    those an earlier file settled (:func:`settled_earlier`). The result's lines are not in file
    order (``line_number`` says where each was).
    """
    seen = seen if seen is not None else pl.DataFrame(schema=SEEN_SCHEMA)
    t = pl.col("type")
    frame = lines.with_columns(duplicate=_repeated(lines))
    earlier = seen.filter(~pl.col("same_file") & pl.col("line_reference").is_not_null())
    if earlier.height:
        before = earlier.select("type", "line_reference").unique().with_columns(_earlier=True)
        # only the key columns go through the join (joining the lines would copy them all)
        again = (
            frame.select("type", "line_reference")
            .join(before, on=["type", "line_reference"], how="left", maintain_order="left")
            .get_column("_earlier")
            .fill_null(False)
        )
        frame = frame.with_columns(duplicate=pl.col("duplicate") | again)

    frame = _with_payments(frame, records.payments)
    special = t.is_in([SettlementLineType.REFUND.value, SettlementLineType.PAYOUT.value])
    has_special = bool(frame.select(special.any()).item())
    if has_special:
        frame = pl.concat(
            [
                frame.filter(~special),
                _with_refunds_and_payouts(frame.filter(special), records),
            ],
            how="diagonal",
        )
    else:  # no refund or payout line: nothing to look up
        frame = frame.with_columns(pl.lit(None, dtype=d).alias(n) for n, d in _NO_SUBJECT.items())

    frame = (
        frame.lazy()  # one plan: the conditions the expressions share are computed once
        .with_columns(_classify())
        .with_columns(_expectations())
        .with_columns(
            subject_id=pl.coalesce("refund_id", "payout_id", "payment_id")
            if has_special
            else pl.col("payment_id"),  # the same column, not a copy
            settlement_payout=(t == SettlementLineType.PAYOUT.value)
            & pl.col("payout_id").is_null()
            & ~pl.col("duplicate"),
        )
        .with_columns(
            matched=pl.col("kind").is_null()
            & (
                pl.col("subject_id").is_not_null()
                | t.is_in([SettlementLineType.FEE.value, SettlementLineType.ADJUSTMENT.value])
                | pl.col("settlement_payout")
            )
        )
        .collect()
    )
    missing = _missing(frame, records.payments, due_until)
    missing_refunds = _missing_refunds(frame, records.refunds, due_until)
    drop = [*_FACTS, "_payment_row", "r_currency", "r_amount", "r_status"]
    frame = frame.drop([*drop, "po_currency", "po_amount", "po_status"])
    return MatchResult(frame, missing, missing_refunds)


def _repeated(lines: pl.DataFrame) -> pl.Series:
    """Per line: whether an earlier line of ``lines`` has its type and line id.

    Lines are first compared by a hash of both (8 bytes a line, sorted): only the lines
    whose hash occurs twice, a few, are compared exactly. All lines with one type and line id share
    their hash, so the answer is exact, without hashing a million pairs of strings."""
    pair = pl.struct("type", "line_reference")
    hashes = lines.select(pair.hash()).to_series()
    ordered = hashes.sort()  # equal hashes side by side: no hash table of a million
    twice = ordered.filter(ordered == ordered.shift(1)).unique()
    repeated = pl.repeat(False, lines.height, dtype=pl.Boolean, eager=True)
    if twice.len() == 0:
        return repeated.alias("duplicate")
    shared = hashes.is_in(twice.implode())
    del hashes, ordered
    candidates = (
        lines.select("type", "line_reference")
        .with_row_index("_position")
        .filter(shared)
        .select(
            "_position",
            (pl.col("line_reference").is_not_null() & ~pair.is_first_distinct()).alias("_again"),
        )
    )
    return repeated.scatter(
        candidates.get_column("_position"), candidates.get_column("_again")
    ).alias("duplicate")


def _classify() -> pl.Expr:
    t = pl.col("type")
    gross = pl.col("gross_minor")
    capture = t == SettlementLineType.CAPTURE.value
    refund = t == SettlementLineType.REFUND.value
    payout = t == SettlementLineType.PAYOUT.value
    disputes = t.is_in(
        [SettlementLineType.CHARGEBACK.value, SettlementLineType.CHARGEBACK_REVERSAL.value]
    )
    no_payment = pl.col("payment_id").is_null()
    kinds = DiscrepancyKind
    return (
        pl.when(pl.col("duplicate"))
        .then(pl.lit(kinds.DUPLICATE_LINE.value))
        .when(capture & no_payment)
        .then(pl.lit(kinds.UNKNOWN_REFERENCE.value))
        .when(capture & (pl.col("p_status") != "succeeded"))
        .then(pl.lit(kinds.MISSING_IN_LEDGER.value))
        .when(capture & (pl.col("currency") != pl.col("p_currency")))
        .then(pl.lit(kinds.CURRENCY_MISMATCH.value))
        .when(capture & (gross != pl.col("p_amount")))
        .then(pl.lit(kinds.AMOUNT_MISMATCH.value))
        .when(refund & pl.col("refund_id").is_null() & no_payment)
        .then(pl.lit(kinds.UNKNOWN_REFERENCE.value))
        .when(refund & pl.col("refund_id").is_null())
        .then(pl.lit(kinds.STATUS_MISMATCH.value))
        .when(refund & (pl.col("r_status") != "succeeded"))
        .then(pl.lit(kinds.MISSING_IN_LEDGER.value))
        .when(refund & (pl.col("currency") != pl.col("r_currency")))
        .then(pl.lit(kinds.CURRENCY_MISMATCH.value))
        .when(refund & (-gross != pl.col("r_amount")))
        .then(pl.lit(kinds.AMOUNT_MISMATCH.value))
        .when(disputes & no_payment)
        .then(pl.lit(kinds.UNKNOWN_REFERENCE.value))
        .when((t == SettlementLineType.CHARGEBACK.value) & ~pl.col("p_chargeback").fill_null(False))
        .then(pl.lit(kinds.STATUS_MISMATCH.value))
        .when(payout & pl.col("payout_id").is_not_null() & (pl.col("po_status") == "failed"))
        .then(pl.lit(kinds.STATUS_MISMATCH.value))
        .when(
            payout
            & pl.col("payout_id").is_not_null()
            & (pl.col("currency") != pl.col("po_currency"))
        )
        .then(pl.lit(kinds.CURRENCY_MISMATCH.value))
        .when(payout & pl.col("payout_id").is_not_null() & (-gross != pl.col("po_amount")))
        .then(pl.lit(kinds.AMOUNT_MISMATCH.value))
        .otherwise(pl.lit(None, dtype=_S))
        .alias("kind")
    )


def _expectations() -> list[pl.Expr]:
    t = pl.col("type")
    gross = pl.col("gross_minor")
    refund = t == SettlementLineType.REFUND.value
    payout = (t == SettlementLineType.PAYOUT.value) & pl.col("payout_id").is_not_null()
    return [
        pl.when(refund & pl.col("refund_id").is_not_null())
        .then(pl.col("r_amount"))
        .when(payout)
        .then(pl.col("po_amount"))
        .when(t == SettlementLineType.CAPTURE.value)
        .then(pl.col("p_amount"))
        .otherwise(pl.lit(None, dtype=pl.Int64))
        .alias("expected_minor"),
        pl.when(refund & pl.col("refund_id").is_not_null())
        .then(pl.col("r_currency"))
        .when(payout)
        .then(pl.col("po_currency"))
        .when(t == SettlementLineType.CAPTURE.value)
        .then(pl.col("p_currency"))
        .otherwise(pl.lit(None, dtype=_S))
        .alias("expected_currency"),
        pl.when(refund | payout).then(-gross).otherwise(gross).alias("actual_minor"),
    ]


def _missing(
    frame: pl.DataFrame,
    payments: pl.DataFrame,
    due_until: datetime | None,
) -> pl.DataFrame:
    columns = ["payment_id", "currency", "amount_minor", "psp_reference", "succeeded_at"]
    if due_until is None:
        return payments.select(columns).clear()
    captured = (
        frame.select("type", "duplicate", "_payment_row")
        .filter((pl.col("type") == SettlementLineType.CAPTURE.value) & ~pl.col("duplicate"))
        .get_column("_payment_row")
    )
    settled = pl.repeat(False, payments.height, dtype=pl.Boolean, eager=True).scatter(
        captured.drop_nulls(), True
    )  # one flag per payment, by row
    due = pl.col("succeeded_at").is_not_null() & (pl.col("succeeded_at") <= due_until)
    missing = payments.filter(due & (pl.col("status") == "succeeded") & ~settled)
    return missing.with_columns(
        psp_reference=pl.coalesce("psp_payment_id", "psp_reference", "token", "payment_id")
    ).select(columns)


def _missing_refunds(
    frame: pl.DataFrame, refunds: pl.DataFrame, due_until: datetime | None
) -> pl.DataFrame:
    """Succeeded refunds due by ``due_until`` that no refund line of ``frame`` names."""
    if due_until is None or refunds.height == 0:
        return pl.DataFrame(schema=MISSING_REFUND_SCHEMA)
    listed = (
        frame.select("type", "duplicate", "refund_id")
        .filter((pl.col("type") == SettlementLineType.REFUND.value) & ~pl.col("duplicate"))
        .get_column("refund_id")
        .drop_nulls()
        .unique()
        .implode()
    )
    due = pl.col("succeeded_at").is_not_null() & (pl.col("succeeded_at") <= due_until)
    return (
        refunds.filter(due & (pl.col("status") == "succeeded"))
        .filter(~pl.col("refund_id").is_in(listed))
        .with_columns(psp_reference=pl.coalesce("psp_reference", "refund_id"))
        .select(list(MISSING_REFUND_SCHEMA))
    )


def settled_earlier(
    result: MatchResult, settled: pl.Series, settled_refunds: pl.Series | None = None
) -> MatchResult:
    """``result`` without the missing payments and refunds an earlier file settled
    (``settled``: payment ids; ``settled_refunds``: refund ids)."""
    missing, refunds = result.missing, result.missing_refunds
    if missing.height and settled.len():
        missing = missing.filter(~pl.col("payment_id").is_in(settled.unique().implode()))
    if refunds.height and settled_refunds is not None and settled_refunds.len():
        refunds = refunds.filter(~pl.col("refund_id").is_in(settled_refunds.unique().implode()))
    return MatchResult(result.lines, missing, refunds)
