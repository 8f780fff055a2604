"""The fake Stripe's itemized balance report: what it processed, as Stripe's report CSV.

One row per balance transaction the fake made: a succeeded charge (``charge``), a succeeded
refund (``refund``) and a Connect transfer (``transfer``), created in the run's interval.
Amounts are decimal text in major units of Stripe's amount unit (``25.00`` EUR, ``1000``
JPY, ``12.340`` KWD), ``currency`` lower case, as Stripe writes them. The fake's fee on a
charge is 1.5 % of it (rounded down); refunds and transfers carry none.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from paymux_stripe.amounts import stripe_exponent

Row = dict[str, str]

BASE_COLUMNS: frozenset[str] = frozenset(
    {
        "balance_transaction_id",
        "created_utc",
        "created",
        "available_on_utc",
        "available_on",
        "currency",
        "gross",
        "fee",
        "net",
        "reporting_category",
        "source_id",
        "description",
        "customer_facing_amount",
        "customer_facing_currency",
        "automatic_payout_id",
        "payment_intent_id",
        "charge_id",
    }
)
"""Plain columns the fake can fill (``automatic_payout_id`` stays empty: no payouts yet)."""

METADATA_COLUMN = re.compile(r"^(payment|refund|transfer)_metadata\[([^\[\]]+)\]$")
"""``payment_metadata[key]`` and the like."""

FEE_PER_MILLE = 15


def unknown_columns(columns: Iterable[str]) -> list[str]:
    """The requested columns the report does not have."""
    return [c for c in columns if c not in BASE_COLUMNS and not METADATA_COLUMN.match(c)]


def major(amount: int, currency: str) -> str:
    """Stripe's integer ``amount`` as report text in major units (``2500`` eur: ``25.00``)."""
    exponent = stripe_exponent(currency.upper())
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


def _txn_id(source_id: str) -> str:
    return "txn_" + hashlib.sha256(source_id.encode()).hexdigest()[:24]


def _row(
    source: Mapping[str, Any],
    category: str,
    gross: int,
    fee: int,
    *,
    charge: Mapping[str, Any] | None,
) -> tuple[int, Row]:
    currency = str(source["currency"]).lower()
    created = int(source["created"])
    stamp = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d %H:%M:%S")
    row: Row = {
        "balance_transaction_id": _txn_id(str(source["id"])),
        "created_utc": stamp,
        "created": stamp,
        "available_on_utc": stamp,
        "available_on": stamp,
        "currency": currency,
        "gross": major(gross, currency),
        "fee": major(fee, currency),
        "net": major(gross - fee, currency),
        "reporting_category": category,
        "source_id": str(source["id"]),
        "description": str(source.get("description") or ""),
        "customer_facing_amount": major(abs(gross), currency) if charge else "",
        "customer_facing_currency": currency if charge else "",
        "automatic_payout_id": "",
        "payment_intent_id": str(charge.get("payment_intent") or "") if charge else "",
        "charge_id": str(charge["id"]) if charge else "",
    }
    own = source.get("metadata") or {}
    metadata = {
        "payment": (charge or {}).get("metadata") or {},
        "refund": own if category == "refund" else {},
        "transfer": own if category == "transfer" else {},
    }
    for kind, values in metadata.items():
        for key, value in values.items():
            row[f"{kind}_metadata[{key}]"] = str(value)
    return created, row


def balance_rows(
    charges: Mapping[str, Mapping[str, Any]],
    refunds: Mapping[str, Mapping[str, Any]],
    transfers: Mapping[str, Mapping[str, Any]],
) -> list[tuple[int, Row]]:
    """Every balance transaction of the fake, with its creation time, oldest first."""
    rows: list[tuple[int, Row]] = []
    for charge in charges.values():
        if charge.get("status") == "succeeded":
            amount = int(charge["amount"])
            rows.append(
                _row(charge, "charge", amount, amount * FEE_PER_MILLE // 1000, charge=charge)
            )
    for refund in refunds.values():
        if refund.get("status") == "succeeded":
            refunded = charges.get(str(refund["charge"]))
            rows.append(_row(refund, "refund", -int(refund["amount"]), 0, charge=refunded))
    for transfer in transfers.values():
        rows.append(_row(transfer, "transfer", -int(transfer["amount"]), 0, charge=None))
    rows.sort(key=lambda item: item[0])
    return rows


def report_csv(
    rows: Iterable[tuple[int, Row]], start: int, end: int, columns: Sequence[str]
) -> bytes:
    """The report file: ``columns`` as header, the rows created in ``[start, end)``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for created, row in rows:
        if start <= created < end:
            writer.writerow([row.get(column, "") for column in columns])
    return out.getvalue().encode()
