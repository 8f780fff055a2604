"""What a statement line means for paymux: rules shared by webhook uploads and imports.

=========  ===========================  ===========================================
direction  carries                      outcome
=========  ===========================  ===========================================
CRDT       our pay-in reference         exact amount: payment ``succeeded``;
                                        any other amount: nothing (stays pending)
DBIT       our pay-in reference         the transfer went back: payment ``failed``
                                        (``transfer-returned``)
DBIT       our payout end-to-end id     exact amount: payout ``paid``
CRDT       our payout end-to-end id     returned or reversed: payout ``failed``
                                        (code from the return reason)
=========  ===========================  ===========================================

Only booked lines (``BOOK``) on the platform's own account count; reversal entries
(``RvslInd``) never make anything succeed. Without a store, "our" and "this amount" are
decided by the tags inside the ids (:mod:`paymux_bank_transfer.references`); an import
checks the same rules against the stored amounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import PayoutEvent, ProviderEvent, WebhookEvent
from paymux_bank_transfer.references import (
    Identifiers,
    compact,
    payment_reference_candidates,
    payout_id_candidates,
)
from paymux_bank_transfer.statements import Direction, StatementLine

TRANSFER_RETURNED = "transfer-returned"
"""Failure code of a pay-in whose money was sent back to the buyer."""

RETURN_REASONS: dict[str, str] = {
    "AC01": "account-invalid",
    "AC04": "account-closed",
    "AC06": "account-blocked",
    "AC13": "invalid-debtor-account-type",
    "AG01": "transaction-forbidden",
    "AG02": "invalid-bank-operation-code",
    "AM04": "insufficient-funds",
    "AM05": "duplicate",
    "BE04": "creditor-address-missing",
    "CNOR": "creditor-bank-not-registered",
    "DNOR": "debtor-bank-not-registered",
    "ERIN": "extended-remittance-not-supported",
    "FF01": "invalid-file-format",
    "FOCR": "recalled",
    "MD07": "end-customer-deceased",
    "MS02": "refused-by-creditor",
    "MS03": "reason-not-specified",
    "RC01": "invalid-bic",
    "RR01": "regulatory-reason",
    "RR02": "regulatory-reason",
    "RR03": "regulatory-reason",
    "RR04": "regulatory-reason",
    "SL01": "specific-service-refused",
    "TM01": "cut-off-time",
}
"""SEPA credit-transfer return/reject reason codes (EPC guidance) to paymux failure codes."""


def payout_failure_code(reason: str | None) -> str:
    """The failure code of a returned payout with this ISO reason code."""
    if reason is None:
        return "payout-returned"
    return RETURN_REASONS.get(reason.upper(), f"payout-returned-{reason.lower()}")


class LineOutcome(StrEnum):
    """What a line did."""

    PAYMENT_SUCCEEDED = "payment-succeeded"
    PAYMENT_AMOUNT_MISMATCH = "payment-amount-mismatch"
    PAYMENT_RETURNED = "payment-returned"
    PAYOUT_PAID = "payout-paid"
    PAYOUT_AMOUNT_MISMATCH = "payout-amount-mismatch"
    PAYOUT_RETURNED = "payout-returned"
    UNKNOWN_REFERENCE = "unknown-reference"
    """Import only: an id of our shape that the store does not hold."""
    UNRELATED = "unrelated"
    NOT_BOOKED = "not-booked"
    OTHER_ACCOUNT = "other-account"


@dataclass(frozen=True, slots=True)
class Match:
    """A line, what it did, the id it concerned (if any) and the event it gives (if any)."""

    line: StatementLine
    outcome: LineOutcome
    key: str | None = None
    event: WebhookEvent | None = None


@dataclass(frozen=True, slots=True)
class Keys:
    """The ids of ours a line carries: pay-in references and payout end-to-end ids."""

    references: tuple[str, ...]
    payout_ids: tuple[str, ...]


def keys_of(line: StatementLine, ids: Identifiers | None = None) -> Keys:
    """Candidates in the line (with ``ids``: only those whose owner tag is ours)."""
    references: list[str] = []
    payouts: list[str] = []
    if line.end_to_end_id:
        payouts.extend(payout_id_candidates(line.end_to_end_id))
    for text in line.texts:
        references.extend(payment_reference_candidates(text))
        payouts.extend(payout_id_candidates(text))
    if ids is not None:
        references = [r for r in references if ids.payment_reference_is_ours(r)]
        payouts = [p for p in payouts if ids.payout_id_is_ours(p)]
    return Keys(tuple(dict.fromkeys(references)), tuple(dict.fromkeys(payouts)))


def screen(line: StatementLine, account_iban: str) -> LineOutcome | None:
    """The outcome of a line that cannot concern us, or ``None`` if it must be looked at."""
    if line.account_iban is not None and compact(line.account_iban) != account_iban:
        return LineOutcome.OTHER_ACCOUNT
    if not line.applies:
        return LineOutcome.NOT_BOOKED
    return None


def payment_event(line: StatementLine, reference: str, status: PaymentStatus) -> ProviderEvent:
    """The payment event of a line (its token is the reference)."""
    return ProviderEvent(
        event_id=line.event_id(f"payment-{status}", reference),
        token=reference,
        status=status,
        failure_code=TRANSFER_RETURNED if status is PaymentStatus.FAILED else None,
        occurred_at=line.occurred_at,
    )


def payout_event(
    line: StatementLine, end_to_end_id: str, status: PayoutStatus, payout_id: str | None = None
) -> PayoutEvent:
    """The payout event of a line (found by its end-to-end id, our ``psp_reference``)."""
    return PayoutEvent(
        event_id=line.event_id(f"payout-{status}", end_to_end_id),
        status=status,
        payout_id=payout_id,
        psp_reference=end_to_end_id,
        failure_code=(
            payout_failure_code(line.return_reason) if status is PayoutStatus.FAILED else None
        ),
        occurred_at=line.occurred_at,
    )


def match_without_store(line: StatementLine, ids: Identifiers, account_iban: str) -> Match:
    """Judge a line by the tags alone (what :meth:`parse_webhook` may do: no I/O)."""
    screened = screen(line, account_iban)
    if screened is not None:
        return Match(line, screened)
    assert line.amount is not None
    minor, currency = line.amount.minor, line.amount.currency
    keys = keys_of(line, ids)
    if line.direction is Direction.DEBIT:
        if keys.payout_ids and not line.reversal:
            for payout_id in keys.payout_ids:
                if ids.payout_id_matches(payout_id, minor, currency):
                    reported = payout_event(line, payout_id, PayoutStatus.PAID)
                    return Match(line, LineOutcome.PAYOUT_PAID, payout_id, reported)
            return Match(line, LineOutcome.PAYOUT_AMOUNT_MISMATCH, keys.payout_ids[0])
        if keys.references:
            reference = keys.references[0]
            event = payment_event(line, reference, PaymentStatus.FAILED)
            return Match(line, LineOutcome.PAYMENT_RETURNED, reference, event)
        return Match(line, LineOutcome.UNRELATED)
    if keys.payout_ids:
        payout_id = keys.payout_ids[0]
        reported = payout_event(line, payout_id, PayoutStatus.FAILED)
        return Match(line, LineOutcome.PAYOUT_RETURNED, payout_id, reported)
    if keys.references and not line.reversal:
        for reference in keys.references:
            if ids.payment_reference_matches(reference, minor, currency):
                event = payment_event(line, reference, PaymentStatus.SUCCEEDED)
                return Match(line, LineOutcome.PAYMENT_SUCCEEDED, reference, event)
        return Match(line, LineOutcome.PAYMENT_AMOUNT_MISMATCH, keys.references[0])
    return Match(line, LineOutcome.UNRELATED)
