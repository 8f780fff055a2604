"""camt.053 bank statements as settlement lines (the bank account is this provider's "PSP").

The statement is read with :func:`paymux_bank_transfer.statements.parse_statement` (pycamt),
the same reader as webhook uploads and ``paymux bank-transfer import``, and each booked
transaction becomes one line. What a line is follows :mod:`paymux_bank_transfer.matching`
(ids of ours are found by their shape and check digits; the reference secret is not needed):

=========  ==================================  ===========  ==============================
direction  carries                             type         psp_reference
=========  ==================================  ===========  ==============================
CRDT       a pay-in RF reference               capture      the RF reference (the token
                                                            paymux registered)
DBIT       a payout end-to-end id (``PMXPO``)  payout       the end-to-end id (the payout's
                                                            provider reference)
DBIT       a bank charge code (``CHRG``,       fee          the bank's entry reference
           ``FEES``, ``COMM``, ``COMT``)
any        anything else (returned pay-ins     adjustment   our id in it, else the
           and payouts, reversals, transfers                end-to-end id, else the
           that are not ours)                               entry reference
=========  ==================================  ===========  ==============================

Amounts are in the provider-balance view (the account's): money in positive, money out
negative; a capture or adjustment has ``gross = net``, ``fee 0``; a payout ``gross = net =
-amount``; a fee line ``gross 0``, ``fee = amount``, ``net = -amount``. Entries that are
not booked (``PDNG``, ``INFO``, ``FUTR`` or an unknown status) are no line: no money moved.

``line_number`` is the 1-based index of the transaction in the document (each ``Ntry``,
or each ``TxDtls`` of a batch entry, in document order; skipped entries keep their
number), since XML has no useful physical line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import polars as pl

from paymux.core.reconciliation.errors import MalformedSettlementError
from paymux.core.reconciliation.lines import SettlementLine, SettlementLineType, lines_frame
from paymux_bank_transfer.matching import keys_of
from paymux_bank_transfer.statements import (
    Direction,
    EntryStatus,
    StatementError,
    StatementLine,
    parse_statement,
)

PROVIDER = "bank_transfer"
FORMAT = "camt.053"

SETTLEMENT_DELAY = timedelta(days=1)
"""The bank reports each day in the next morning's end-of-day statement."""

FEE_SUBFAMILIES = frozenset({"CHRG", "FEES", "COMM", "COMT"})
"""ISO bank transaction sub-family codes of charges, fees and commissions."""

_NAMESPACE = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.053\.\d{3}\.\d{2}")
_PAYOUT_ID = re.compile(r"\bpayout[-_]([0-9a-f]{24})\b")


@dataclass(frozen=True, slots=True)
class Camt053SettlementParser:
    """Reads a camt.053 end-of-day statement of the platform's account (one batch)."""

    @property
    def provider(self) -> str:
        """``"bank_transfer"``."""
        return PROVIDER

    @property
    def format(self) -> str:
        """``"camt.053"``."""
        return FORMAT

    @property
    def settlement_delay(self) -> timedelta:
        """:data:`SETTLEMENT_DELAY`."""
        return SETTLEMENT_DELAY

    def accepts(self, head: bytes) -> bool:
        """Whether ``head`` is an XML document in a camt.053 namespace."""
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return start.startswith(b"<") and _NAMESPACE.search(head) is not None

    def parse(self, path: Path) -> Iterator[pl.DataFrame]:
        """Every booked transaction as a line (see the module docstring)."""
        try:
            transactions = parse_statement(path.read_bytes())
        except StatementError as error:
            raise MalformedSettlementError(0, str(error)) from None  # the whole document
        entry_counts = Counter(tx.entry_reference for tx in transactions if tx.entry_reference)
        lines = []
        for number, transaction in enumerate(transactions, start=1):
            if transaction.status is not EntryStatus.BOOKED:
                continue
            lines.append(_line(number, transaction, entry_counts))
        yield lines_frame(lines)


def _line(number: int, tx: StatementLine, entry_counts: Counter[str]) -> SettlementLine:
    if tx.direction is None:
        raise MalformedSettlementError(number, "the transaction has no CdtDbtInd")
    if tx.amount is None:
        raise MalformedSettlementError(number, "the transaction's amount cannot be read")
    if tx.booked_on is None:
        raise MalformedSettlementError(number, "the transaction has no booking date")
    keys = keys_of(tx)
    amount = tx.amount.minor
    signed = amount if tx.direction is Direction.CREDIT else -amount
    subfamily = tx.bank_transaction_code.rsplit("/", 1)[-1]
    kind, reference, fee = SettlementLineType.ADJUSTMENT, None, 0
    if tx.direction is Direction.DEBIT and keys.payout_ids and not tx.reversal:
        kind, reference = SettlementLineType.PAYOUT, keys.payout_ids[0]
    elif tx.direction is Direction.CREDIT and keys.references and not tx.reversal:
        kind, reference = SettlementLineType.CAPTURE, keys.references[0]
    elif tx.direction is Direction.DEBIT and subfamily in FEE_SUBFAMILIES and not tx.reversal:
        kind, fee = SettlementLineType.FEE, amount
    ours = (*keys.payout_ids, *keys.references)
    reference = (
        reference
        or (ours[0] if ours else None)
        or tx.end_to_end_id
        or tx.entry_reference
        or f"entry:{tx.booked_on.isoformat()}:{number}"
    )
    return SettlementLine(
        provider=PROVIDER,
        line_number=number,
        type=kind,
        psp_reference=reference,
        gross_minor=0 if kind is SettlementLineType.FEE else signed,
        fee_minor=fee,
        net_minor=signed,
        currency=tx.amount.currency,
        booking_date=tx.booked_on,
        modification_reference=tx.entry_reference,
        merchant_reference=_payout_id(tx) if keys.payout_ids else None,
        line_reference=_line_reference(tx, entry_counts),
        payout_batch=reference if kind is SettlementLineType.PAYOUT else None,
    )


def _payout_id(tx: StatementLine) -> str | None:
    """paymux's payout id from the remittance paymux wrote (``Payout payout-<hex>``)."""
    for text in tx.texts:
        found = _PAYOUT_ID.search(text)
        if found:
            return f"payout_{found.group(1)}"
    return None


def _line_reference(tx: StatementLine, entry_counts: Counter[str]) -> str:
    """The bank's entry reference; with the end-to-end id for a transaction of a batch
    entry; a hash of the transaction (as the plugin's store keys lines) without one."""
    if tx.entry_reference is None:
        return tx.event_id("line", "|".join(tx.texts) + (tx.end_to_end_id or ""))
    if entry_counts[tx.entry_reference] > 1:
        return f"{tx.entry_reference}/{tx.end_to_end_id or tx.event_id('line', '|'.join(tx.texts))}"
    return tx.entry_reference
