"""The fake bank: camt.053.001.02 end-of-day statements for given credit and debit lines.

There is no remote PSP behind this provider; what a bank "says" is its statement. Tests and
hosts in sandbox mode use these documents to simulate a buyer's transfer arriving, a payout
leaving, or a payout coming back. The structure follows camt.053.001.02 (group header,
statement with account, opening/closing balances, one entry per line with transaction
details, references, related parties, remittance information and return information).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET  # building only: nothing is parsed here

from paymux.currencies import Money, format_amount

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


@dataclass(frozen=True, slots=True)
class Line:
    """One statement entry. ``direction`` is ``CRDT`` (money in) or ``DBIT`` (money out)."""

    direction: str
    amount: Money
    creditor_reference: str | None = None
    """Structured remittance (``Strd/CdtrRefInf/Ref``): how banks pass an RF reference."""
    remittance_text: str | None = None
    """Unstructured remittance (``Ustrd``): what a buyer typed."""
    end_to_end_id: str | None = None
    counterparty_name: str = "Erika Mustermann"
    counterparty_iban: str = "DE02120300000000202051"
    status: str = "BOOK"
    reversal: bool = False
    return_reason: str | None = None
    """``RtrInf/Rsn/Cd`` of a returned transfer, for example ``AC04`` (account closed)."""
    booked_on: date | None = None
    entry_reference: str = field(default_factory=lambda: f"FB{secrets.token_hex(8).upper()}")
    family: str | None = None
    """Bank transaction code family/subfamily, default ``RCDT/ESCT`` (in) or ``ICDT/ESCT``."""


def credit(amount: Money, reference: str) -> Line:
    """A buyer's SEPA transfer into the platform's account carrying ``reference``
    (vary it with :func:`dataclasses.replace`)."""
    return Line("CRDT", amount, creditor_reference=reference)


def returned_payment(amount: Money, reference: str) -> Line:
    """The platform sending a buyer's transfer back, quoting its reference."""
    return Line("DBIT", amount, remittance_text=f"Return {reference}", family="ICDT/RRTN")


def payout_debit(amount: Money, end_to_end_id: str) -> Line:
    """A payout leaving the platform's account (as executed from a pain.001 batch)."""
    return Line("DBIT", amount, end_to_end_id=end_to_end_id)


def payout_return(amount: Money, end_to_end_id: str, reason: str = "AC04") -> Line:
    """A payout coming back, returned by the seller's bank with an ISO reason code."""
    return Line(
        "CRDT", amount, end_to_end_id=end_to_end_id, return_reason=reason, family="ICDT/RRTN"
    )


def statement(
    account_iban: str,
    lines: Sequence[Line],
    *,
    statement_id: str | None = None,
    created_at: datetime | None = None,
    opening_balance: Money | None = None,
) -> bytes:
    """A camt.053.001.02 document for ``account_iban`` with one entry per line."""
    created = created_at or datetime.now(UTC)
    today = created.date()
    currency = lines[0].amount.currency if lines else "EUR"
    opening = opening_balance or Money(0, currency)
    closing = opening.minor + sum(
        line.amount.minor if line.direction == "CRDT" else -line.amount.minor for line in lines
    )
    ident = statement_id or f"STMT{secrets.token_hex(6).upper()}"

    document = ET.Element("Document", {"xmlns": NAMESPACE})
    root = ET.SubElement(document, "BkToCstmrStmt")
    header = ET.SubElement(root, "GrpHdr")
    _text(header, "MsgId", f"MSG{ident}")
    _text(header, "CreDtTm", created.strftime("%Y-%m-%dT%H:%M:%S"))
    stmt = ET.SubElement(root, "Stmt")
    _text(stmt, "Id", ident)
    _text(stmt, "CreDtTm", created.strftime("%Y-%m-%dT%H:%M:%S"))
    account = ET.SubElement(stmt, "Acct")
    _text(ET.SubElement(account, "Id"), "IBAN", account_iban)
    _text(account, "Ccy", currency)
    _balance(stmt, "OPBD", opening.minor, currency, today)
    _balance(stmt, "CLBD", closing, currency, today)
    for line in lines:
        _entry(stmt, line, today)
    body: bytes = ET.tostring(document, encoding="utf-8", xml_declaration=True)
    return body


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = value
    return element


def _amount(parent: ET.Element, tag: str, minor: int, currency: str) -> None:
    element = ET.SubElement(parent, tag, {"Ccy": currency})
    element.text = format_amount(abs(minor), currency)


def _balance(stmt: ET.Element, code: str, minor: int, currency: str, day: date) -> None:
    balance = ET.SubElement(stmt, "Bal")
    _text(ET.SubElement(ET.SubElement(balance, "Tp"), "CdOrPrtry"), "Cd", code)
    _amount(balance, "Amt", minor, currency)
    _text(balance, "CdtDbtInd", "CRDT" if minor >= 0 else "DBIT")
    _text(ET.SubElement(balance, "Dt"), "Dt", day.isoformat())


def _entry(stmt: ET.Element, line: Line, today: date) -> None:
    day = (line.booked_on or today).isoformat()
    entry = ET.SubElement(stmt, "Ntry")
    _amount(entry, "Amt", line.amount.minor, line.amount.currency)
    _text(entry, "CdtDbtInd", line.direction)
    if line.reversal:
        _text(entry, "RvslInd", "true")
    _text(entry, "Sts", line.status)
    _text(ET.SubElement(entry, "BookgDt"), "Dt", day)
    _text(ET.SubElement(entry, "ValDt"), "Dt", day)
    _text(entry, "AcctSvcrRef", line.entry_reference)
    family, subfamily = (
        line.family or ("RCDT/ESCT" if line.direction == "CRDT" else "ICDT/ESCT")
    ).split("/")
    domain = ET.SubElement(ET.SubElement(entry, "BkTxCd"), "Domn")
    _text(domain, "Cd", "PMNT")
    codes = ET.SubElement(domain, "Fmly")
    _text(codes, "Cd", family)
    _text(codes, "SubFmlyCd", subfamily)

    details = ET.SubElement(ET.SubElement(entry, "NtryDtls"), "TxDtls")
    refs = ET.SubElement(details, "Refs")
    _text(refs, "AcctSvcrRef", line.entry_reference)
    _text(refs, "EndToEndId", line.end_to_end_id or "NOTPROVIDED")
    _amount(
        ET.SubElement(ET.SubElement(details, "AmtDtls"), "TxAmt"),
        "Amt",
        line.amount.minor,
        line.amount.currency,
    )
    parties = ET.SubElement(details, "RltdPties")
    role = "Dbtr" if line.direction == "CRDT" else "Cdtr"
    _text(ET.SubElement(parties, role), "Nm", line.counterparty_name)
    _text(
        ET.SubElement(ET.SubElement(parties, f"{role}Acct"), "Id"), "IBAN", line.counterparty_iban
    )
    if line.creditor_reference or line.remittance_text:
        remittance = ET.SubElement(details, "RmtInf")
        if line.remittance_text:
            _text(remittance, "Ustrd", line.remittance_text)
        if line.creditor_reference:
            reference = ET.SubElement(ET.SubElement(remittance, "Strd"), "CdtrRefInf")
            kind = ET.SubElement(reference, "Tp")
            _text(ET.SubElement(kind, "CdOrPrtry"), "Cd", "SCOR")
            _text(kind, "Issr", "ISO")
            _text(reference, "Ref", line.creditor_reference)
    if line.return_reason:
        _text(ET.SubElement(ET.SubElement(details, "RtrInf"), "Rsn"), "Cd", line.return_reason)
