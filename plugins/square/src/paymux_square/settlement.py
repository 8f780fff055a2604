"""Square's payouts and payout entries (Payouts API, JSON) as paymux settlement files.

Square has no settlement CSV in its API; its settlement record is the Payouts API:
``GET /v2/payouts`` (the payouts to the seller's bank) and
``GET /v2/payouts/{payout_id}/payout-entries`` (the balance activity each payout settled).
The file paymux reads is one JSON document holding both lists, as Square returns the objects
(all pages concatenated)::

    {"payouts": [Payout, ...], "payout_entries": [PayoutEntry, ...]}

Other keys are ignored. ``line_number`` is the 1-based position of an object counting the
payouts first, then the entries (the third of two payouts' entries is line 5); an error about
the document as a whole (not JSON, a list missing) is reported at line 0.

Mapping (see docs/providers/square.md, "Settlement files"):

* each Payout is a ``payout`` line: ``gross = net = -amount_money`` (a positive amount, a
  deposit to the bank, takes money out of the Square balance), fee 0, ``psp_reference``,
  ``line_reference`` and ``payout_batch`` the payout id, booked on its ``created_at``;
* each PayoutEntry is a line typed by :data:`ENTRY_TYPES` (``DISPUTE`` and
  ``OPEN_DISPUTE`` by sign: money taken is a chargeback, money given back a chargeback
  reversal), ``psp_reference`` its ``type_<type>_details.payment_id`` (the Square payment id
  paymux stores as ``psp_payment_id``; the entry id when there is none),
  ``modification_reference`` the details' ``refund_id`` or ``dispute_id``,
  ``line_reference`` the entry id, ``payout_batch`` its ``payout_id``, booked on the UTC
  date of ``effective_at``.

Signs: ``net_amount_money`` is what the entry did to the balance and is kept as is; the fee
is ``gross - net``. Square writes ``fee_amount_money`` in either sign (its own examples have
``+19`` on a charge and ``-2`` on a refund whose fee was returned), so only its size is
checked against ``gross - net``. Fee entries (:data:`FEE_TYPES`) become pure fee lines:
gross 0, fee ``-net``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from paymux.core.reconciliation.errors import MalformedSettlementError
from paymux.core.reconciliation.lines import SettlementLine, SettlementLineType, lines_frame
from paymux.core.reconciliation.parsers import HEAD_BYTES
from paymux.currencies import Money
from paymux.currencies.errors import MoneyError
from paymux_square.amounts import from_square

PROVIDER = "square"
FORMAT = "square_payouts_json"

SQUARE_SETTLEMENT_DELAY = timedelta(days=2)
"""Square deposits a day's card payments the next business day (standard transfer); two
days cover the payout's creation and its entries' ``effective_at`` lagging a night."""

DOCUMENT_LINE = 0
"""The line number of errors about the document as a whole."""

ENTRY_TYPES: dict[str, SettlementLineType] = {
    "CHARGE": SettlementLineType.CAPTURE,
    "REFUND": SettlementLineType.REFUND,
}
"""Square ``ActivityType`` → line type, besides disputes and fees; any other is an
adjustment."""

DISPUTE_TYPES: frozenset[str] = frozenset({"DISPUTE", "OPEN_DISPUTE"})
"""A chargeback when the entry takes money (gross ≤ 0), a chargeback reversal when it gives
money back; Square has no separate reversal type."""

FEE_TYPES: frozenset[str] = frozenset(
    {
        "FEE",
        "THIRD_PARTY_FEE",
        "THIRD_PARTY_FEE_REFUND",
        "PROCESSING_FEE",
        "PROCESSING_FEE_REFUND",
        "UNDO_PROCESSING_FEE_REFUND",
        "DEPOSIT_FEE",
        "DEPOSIT_FEE_REVERSED",
        "TAX_ON_FEE",
    }
)
"""Fees Square (or a third party through Square) charged on payments and deposits, and
their returns (a negative fee)."""

_HEAD_KEY = re.compile(rb'^\s*\{\s*"(payouts|payout_entries)"\s*:')


@dataclass(frozen=True, slots=True)
class SquarePayoutsParser:
    """A :class:`~paymux.core.reconciliation.parsers.SettlementParser` of Square's payouts JSON
    (see the module doc for the document and the mapping)."""

    @property
    def provider(self) -> str:
        """``"square"``."""
        return PROVIDER

    @property
    def format(self) -> str:
        """``"square_payouts_json"``."""
        return FORMAT

    @property
    def settlement_delay(self) -> timedelta:
        """:data:`SQUARE_SETTLEMENT_DELAY`."""
        return SQUARE_SETTLEMENT_DELAY

    def accepts(self, head: bytes) -> bool:
        """Whether ``head`` is a JSON object with both lists, or (a document longer than the
        head) begins with one of them."""
        text = head.removeprefix(b"\xef\xbb\xbf")
        try:
            document = json.loads(text)
        except ValueError:
            # Cut off by the head's size: judge by the first key.
            return len(head) >= HEAD_BYTES and _HEAD_KEY.match(text) is not None
        return (
            isinstance(document, dict)
            and isinstance(document.get("payouts"), list)
            and isinstance(document.get("payout_entries"), list)
        )

    def parse(self, path: Path) -> Iterator[pl.DataFrame]:
        """The payouts' and the entries' lines, in one batch (a day's payouts are small)."""
        yield lines_frame(square_lines(path.read_bytes()))


SETTLEMENT_PARSER = SquarePayoutsParser()


def square_lines(content: bytes) -> list[SettlementLine]:
    """The lines of a payouts document (see the module doc)."""
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedSettlementError(DOCUMENT_LINE, f"not a JSON document: {error}") from None
    if not isinstance(document, dict):
        raise MalformedSettlementError(DOCUMENT_LINE, "not a JSON object")
    for key in ("payouts", "payout_entries"):
        if not isinstance(document.get(key), list):
            raise MalformedSettlementError(DOCUMENT_LINE, f"missing list {key}")
    payouts: list[Any] = document["payouts"]
    entries: list[Any] = document["payout_entries"]
    lines = [payout_line(payout, number) for number, payout in enumerate(payouts, 1)]
    first = len(payouts) + 1
    lines += [entry_line(entry, number) for number, entry in enumerate(entries, first)]
    return lines


def payout_line(payout: object, number: int) -> SettlementLine:
    """The ``payout`` line of a Square Payout (line ``number``)."""
    found = _object(payout, number, "payout")
    payout_id = _text(found, "id", number)
    money = _money(found, "amount_money", number)
    if money is None:
        raise MalformedSettlementError(number, "amount_money is missing")
    when = found.get("created_at") or found.get("arrival_date")
    return SettlementLine(
        provider=PROVIDER,
        line_number=number,
        type=SettlementLineType.PAYOUT,
        psp_reference=payout_id,
        gross_minor=-money.minor,
        fee_minor=0,
        net_minor=-money.minor,
        currency=money.currency,
        booking_date=_date(when, "created_at", number),
        line_reference=payout_id,
        payout_batch=payout_id,
    )


def entry_line(entry: object, number: int) -> SettlementLine:
    """The line of a Square PayoutEntry (line ``number``)."""
    found = _object(entry, number, "payout entry")
    entry_id = _text(found, "id", number)
    payout_id = _text(found, "payout_id", number)
    activity = found.get("type") or "OTHER"
    if not isinstance(activity, str):
        raise MalformedSettlementError(number, f"type {activity!r} is not a text")
    gross = _money(found, "gross_amount_money", number)
    net = _money(found, "net_amount_money", number)
    fee_given = _money(found, "fee_amount_money", number)
    if gross is None or net is None:
        missing = "gross_amount_money" if gross is None else "net_amount_money"
        raise MalformedSettlementError(number, f"{missing} is missing")
    currencies = {m.currency for m in (gross, net, fee_given) if m is not None}
    if len(currencies) > 1:
        raise MalformedSettlementError(
            number, f"amounts in several currencies {sorted(currencies)}"
        )
    fee = gross.minor - net.minor
    if fee_given is not None and abs(fee_given.minor) != abs(fee):
        raise MalformedSettlementError(
            number,
            f"fee_amount_money {fee_given.minor} does not match gross {gross.minor} "
            f"minus net {net.minor}",
        )
    line_type = _entry_type(activity, gross.minor)
    gross_minor = gross.minor
    if line_type is SettlementLineType.FEE:
        gross_minor, fee = 0, -net.minor
    details = _details(found, activity)
    payment_id = details.get("payment_id")
    modification = details.get("refund_id") or details.get("dispute_id")
    return SettlementLine(
        provider=PROVIDER,
        line_number=number,
        type=line_type,
        psp_reference=str(payment_id) if payment_id else entry_id,
        gross_minor=gross_minor,
        fee_minor=fee,
        net_minor=net.minor,
        currency=net.currency,
        booking_date=_date(found.get("effective_at"), "effective_at", number),
        modification_reference=str(modification) if modification else None,
        line_reference=entry_id,
        payout_batch=payout_id,
    )


def _entry_type(activity: str, gross: int) -> SettlementLineType:
    if activity in DISPUTE_TYPES:
        return (
            SettlementLineType.CHARGEBACK_REVERSAL if gross > 0 else SettlementLineType.CHARGEBACK
        )
    if activity in FEE_TYPES:
        return SettlementLineType.FEE
    return ENTRY_TYPES.get(activity, SettlementLineType.ADJUSTMENT)


def _details(entry: Mapping[str, Any], activity: str) -> Mapping[str, Any]:
    """``type_<activity>_details``, else the first ``type_*_details`` naming a payment."""
    own = entry.get(f"type_{activity.lower()}_details")
    if isinstance(own, Mapping):
        return own
    for key, value in entry.items():
        named = key.startswith("type_") and key.endswith("_details")
        if named and isinstance(value, Mapping) and value.get("payment_id"):
            return value
    return {}


def _object(value: object, number: int, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedSettlementError(number, f"the {what} is not a JSON object")
    return value


def _text(found: Mapping[str, Any], key: str, number: int) -> str:
    value = found.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedSettlementError(number, f"{key} is missing")
    return value


def _money(found: Mapping[str, Any], key: str, number: int) -> Money | None:
    """Square's ``Money`` at ``key`` in ISO minor units; ``None`` when absent.

    The currency is ``currency`` (Square's schema); ``currency_code``, which Square's own
    examples write, is read too."""
    value = found.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise MalformedSettlementError(number, f"{key} is not a Money object")
    amount = value.get("amount")
    currency = value.get("currency") or value.get("currency_code")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise MalformedSettlementError(number, f"{key}.amount {amount!r} is not an integer")
    if not isinstance(currency, str):
        raise MalformedSettlementError(number, f"{key}.currency is missing")
    try:
        return from_square(amount, currency)
    except (ValueError, MoneyError) as error:
        raise MalformedSettlementError(number, f"{key}: {error}") from None


def _date(value: object, key: str, number: int) -> date:
    """The UTC date of an RFC 3339 timestamp, or a plain ``YYYY-MM-DD`` date."""
    if not isinstance(value, str) or not value:
        raise MalformedSettlementError(number, f"{key} is missing")
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedSettlementError(number, f"{key} {value!r} is not a timestamp") from None
    return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
