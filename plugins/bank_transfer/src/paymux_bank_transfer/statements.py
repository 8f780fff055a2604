"""Reading camt.053 bank statements (with pycamt) into :class:`StatementLine` objects.

pycamt flattens a statement into one dict per transaction (an entry, or each ``TxDtls`` of a
batch entry). Its amounts are decimal strings; they become minor units by the currency's own
exponent (:func:`paymux.currencies.parse_amount`, never a float). The return reason of a
returned transfer (``TxDtls/RtrInf/Rsn/Cd``) is not in pycamt's dicts and is read from its tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pycamt.parser import Camt053Parser

from paymux.currencies import Money, MoneyError, parse_amount

_E = TypeVar("_E", bound=StrEnum)


class StatementError(ValueError):
    """The document is not a camt.053 statement that can be read."""


class EntryStatus(StrEnum):
    """``Ntry/Sts`` (ISO ``EntryStatus2Code`` / ``ExternalEntryStatus1Code``)."""

    BOOKED = "BOOK"
    PENDING = "PDNG"
    INFORMATION = "INFO"
    FUTURE = "FUTR"


ENTRY_STATUS_APPLIES: dict[EntryStatus, bool] = {
    EntryStatus.BOOKED: True,  # the money moved: the only status that settles anything
    EntryStatus.PENDING: False,  # may still be reversed by the bank
    EntryStatus.INFORMATION: False,  # no booking at all
    EntryStatus.FUTURE: False,  # a forecast
}
"""Whether a line with each entry status may settle a payment or a payout."""


class Direction(StrEnum):
    """``CdtDbtInd``: money in (``CRDT``) or out (``DBIT``) of the platform's account."""

    CREDIT = "CRDT"
    DEBIT = "DBIT"


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One transaction of a statement, as the matcher needs it."""

    account_iban: str | None
    entry_reference: str | None
    """The bank's ``AcctSvcrRef`` of the entry, if any."""
    status: EntryStatus | None
    """``None`` when the bank used a status this plugin does not know (never applied)."""
    direction: Direction | None
    reversal: bool
    amount: Money | None
    """``None`` when the amount cannot be read exactly (then the line settles nothing)."""
    booked_on: date | None
    end_to_end_id: str | None
    texts: tuple[str, ...]
    """Structured creditor reference and unstructured remittance information, as given."""
    bank_transaction_code: str
    """``Domain/Family/SubFamily``, for example ``PMNT/RCDT/ESCT``."""
    return_reason: str | None
    """``RtrInf/Rsn/Cd`` of a returned transfer (for example ``AC04``)."""

    @property
    def applies(self) -> bool:
        """Whether this line may settle anything: booked, with a readable direction/amount."""
        return (
            self.status is not None
            and ENTRY_STATUS_APPLIES[self.status]
            and self.direction is not None
            and self.amount is not None
        )

    @property
    def occurred_at(self) -> datetime | None:
        """The booking date at midnight UTC."""
        if self.booked_on is None:
            return None
        return datetime(self.booked_on.year, self.booked_on.month, self.booked_on.day, tzinfo=UTC)

    def event_id(self, kind: str, key: str) -> str:
        """A stable id for the event this line gives about ``key`` (same on every upload)."""
        parts = [
            self.account_iban or "",
            self.entry_reference or "",
            self.booked_on.isoformat() if self.booked_on else "",
            self.direction or "",
            str(self.amount.minor) if self.amount else "",
            self.amount.currency if self.amount else "",
            kind,
            key,
        ]
        return "bt_" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def parse_statement(xml: bytes) -> list[StatementLine]:
    """Every transaction of a camt.053 document; :class:`StatementError` if unreadable."""
    try:
        parser = Camt053Parser(xml)
        if not parser.version.startswith("camt.053"):
            raise StatementError(f"not a camt.053 statement: {parser.tree.tag}")
        transactions: list[dict[str, Any]] = parser.get_transactions()
        reasons = dict(_return_reasons(parser))
    except StatementError:
        raise
    except Exception as error:  # lxml syntax errors, pycamt's parse errors, missing elements
        raise StatementError(f"the statement cannot be read: {error!r}") from None
    return [_line(tx, reasons) for tx in transactions]


def _line(tx: dict[str, Any], reasons: dict[str, str]) -> StatementLine:
    end_to_end = _text(tx.get("EndToEndId"))
    if end_to_end == "NOTPROVIDED":
        end_to_end = None
    keys = ("RemittanceInformation", "RemittanceInformationFull", "AdditionalEntryInformation")
    texts = tuple(dict.fromkeys(text for key in keys if (text := _text(tx.get(key)))))
    code = "/".join(
        _text(tx.get(key)) or ""
        for key in ("BankTransactionCode", "TransactionFamilyCode", "TransactionSubFamilyCode")
    )
    return StatementLine(
        account_iban=_compact(_text(tx.get("AccountIBAN"))),
        entry_reference=_text(tx.get("TransactionID")),
        status=_enum(EntryStatus, tx.get("Status")),
        direction=_enum(Direction, tx.get("CreditDebitIndicator")),
        reversal=(_text(tx.get("ReversalIndicator")) or "").lower() == "true",
        amount=_money(_text(tx.get("Amount")), _text(tx.get("Currency"))),
        booked_on=_date(_text(tx.get("BookingDate"))),
        end_to_end_id=end_to_end,
        texts=texts,
        bank_transaction_code=code,
        return_reason=reasons.get(end_to_end) if end_to_end else None,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _compact(value: str | None) -> str | None:
    return "".join(value.split()).upper() if value else None


def _enum(kind: type[_E], value: Any) -> _E | None:
    text = _text(value)
    try:
        return kind(text.upper()) if text else None
    except ValueError:
        return None


def _money(amount: str | None, currency: str | None) -> Money | None:
    if amount is None or currency is None:
        return None
    try:
        return Money(parse_amount(amount, currency.upper()), currency.upper())
    except MoneyError:
        return None


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value[:10])  # Dt, or the date of DtTm
    except ValueError:
        return None


def _return_reasons(parser: Camt053Parser) -> Iterator[tuple[str, str]]:
    """``(end-to-end id, RtrInf/Rsn/Cd)`` of every transaction that carries a return reason."""
    for element in parser.tree.iter():
        if not isinstance(element.tag, str) or _local(element.tag) != "TxDtls":
            continue
        end_to_end = reason = None
        for child in element.iter():
            if not isinstance(child.tag, str):
                continue
            name = _local(child.tag)
            parent = child.getparent()
            if name == "EndToEndId" and parent is not None and _local(parent.tag) == "Refs":
                end_to_end = _text(child.text)
            elif name == "Cd" and parent is not None and _local(parent.tag) == "Rsn":
                grand = parent.getparent()
                if grand is not None and _local(grand.tag) == "RtrInf":
                    reason = _text(child.text)
        if end_to_end and reason:
            yield end_to_end, reason


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
