"""Test support for reconciliation: paymux records seeded from a settlement file's lines.

Each capture line becomes a succeeded payment with the line's PSP reference, amount and
currency; each refund line a succeeded refund; each transfer-style payout line that names
a paymux payout a paid payout; each chargeback line a chargeback. A fixture file then
matches without a discrepancy, and tests change one record to see one discrepancy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time

import sqlalchemy as sa

from paymux.core.reconciliation.lines import SettlementLine, SettlementLineType
from paymux.core.storage.tables import (
    ChargebackRow,
    PaymentEventRow,
    PaymentOrderRow,
    PayoutRow,
    PspRegistrationRow,
    ReconciliationPaymentRow,
    RefundRow,
    table_of,
)
from paymux.core.storage.unit_of_work import PaymentStore

T = SettlementLineType


@dataclass
class Seeded:
    """What was seeded, by the line it came from."""

    payments: dict[str, str] = field(default_factory=dict)
    """PSP reference -> paymux payment id."""
    refunds: dict[str, str] = field(default_factory=dict)
    payouts: dict[str, str] = field(default_factory=dict)


async def seed_from_lines(
    store: PaymentStore,
    provider: str,
    lines: list[SettlementLine],
    *,
    client_id: str = "dev",
    amount_delta: dict[str, int] | None = None,
) -> Seeded:
    """Records that agree with ``lines`` (``amount_delta`` changes a payment's amount by
    PSP reference)."""
    now = datetime.now(UTC)
    seeded = Seeded()
    delta = amount_delta or {}
    payments: dict[str, SettlementLine] = {}
    for line in lines:
        if line.type is T.CAPTURE:
            payments.setdefault(line.psp_reference, line)
    for line in lines:  # a refund or dispute of a payment the file does not capture
        if line.type in (T.REFUND, T.CHARGEBACK, T.CHARGEBACK_REVERSAL):
            payments.setdefault(line.psp_reference, line)
    async with store.begin() as uow:
        session = uow._session  # test seeding writes rows directly
        for number, (reference, line) in enumerate(payments.items()):
            payment_id = f"pe_seed{number:06d}"
            seeded.payments[reference] = payment_id
            succeeded = datetime.combine(line.booking_date, time(12), UTC)
            amount = (line.gross_minor if line.type is T.CAPTURE else 100_000) + delta.get(
                reference, 0
            )
            await session.execute(
                sa.insert(table_of(PaymentEventRow)).values(
                    id=payment_id, client_id=client_id, buyer_id="b", currency=line.currency,
                    country="NL", payment_method="card", return_url="https://shop",
                    provider=provider, created_at=now,
                )
            )  # fmt: skip
            await session.execute(
                sa.insert(table_of(PaymentOrderRow)).values(
                    id=f"po_seed{number:06d}", payment_event_id=payment_id, seller_id="s1",
                    currency=line.currency, amount_minor=amount, commission_minor=0,
                    logistics_fee_minor=0, reference="o", status="succeeded", position=0,
                    created_at=now, updated_at=now, succeeded_at=succeeded,
                )
            )  # fmt: skip
            await session.execute(
                sa.insert(table_of(PspRegistrationRow)).values(
                    payment_event_id=payment_id, provider=provider,
                    psp_idempotency_key=f"{payment_id}_k", token=f"{payment_id}_t",
                    created_at=now, updated_at=now, psp_payment_id=reference,
                )
            )  # fmt: skip
            await session.execute(  # what the payment writes keep for reconciliation
                sa.insert(table_of(ReconciliationPaymentRow)).values(
                    payment_event_id=payment_id, client_id=client_id, provider=provider,
                    currency=line.currency, amount_minor=amount, status="succeeded",
                    succeeded_at=succeeded, token=f"{payment_id}_t", psp_payment_id=reference,
                    has_chargeback=False, created_at=now,
                )
            )  # fmt: skip
        for number, line in enumerate(lines):
            payment_id = seeded.payments.get(line.psp_reference, "")
            if line.type is T.REFUND:
                refund_id = f"rf_seed{number:06d}"
                seeded.refunds[line.modification_reference or refund_id] = refund_id
                await session.execute(
                    sa.insert(table_of(RefundRow)).values(
                        id=refund_id, payment_event_id=payment_id, client_id=client_id,
                        currency=line.currency, amount_minor=-line.gross_minor,
                        status="succeeded", psp_idempotency_key=f"{refund_id}_k",
                        psp_reference=line.modification_reference, created_at=now,
                        updated_at=now,
                    )
                )  # fmt: skip
            elif line.type is T.CHARGEBACK:
                recon = table_of(ReconciliationPaymentRow)
                await session.execute(
                    sa.update(recon)
                    .where(recon.c.payment_event_id == payment_id)
                    .values(has_chargeback=True)
                )
                await session.execute(
                    sa.insert(table_of(ChargebackRow)).values(
                        id=f"cb_seed{number:06d}", payment_event_id=payment_id,
                        client_id=client_id, provider=provider,
                        dispute_id=line.modification_reference or f"dp{number}",
                        currency=line.currency, amount_minor=-line.gross_minor,
                        unallocated_minor=0, status="opened", created_at=now, updated_at=now,
                    )
                )  # fmt: skip
            elif line.type is T.PAYOUT and line.merchant_reference:
                payout_id = line.merchant_reference
                seeded.payouts[line.psp_reference] = payout_id
                await session.execute(
                    sa.insert(table_of(PayoutRow)).values(
                        id=payout_id, client_id=client_id, seller_id="s1", provider=provider,
                        currency=line.currency, amount_minor=-line.gross_minor, status="paid",
                        psp_idempotency_key=f"{payout_id}_k", psp_reference=line.psp_reference,
                        created_at=now, updated_at=now,
                    )
                )  # fmt: skip
    return seeded
