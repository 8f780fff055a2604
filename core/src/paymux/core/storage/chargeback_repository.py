"""Chargebacks and their parts per order, within a unit of work's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from paymux.core.domain.chargebacks import Chargeback, ChargebackPart, DisputeStatus
from paymux.core.storage.tables import (
    ChargebackPartRow,
    ChargebackRow,
    ReconciliationPaymentRow,
    table_of,
)
from paymux.currencies import Money

_cb = table_of(ChargebackRow)
_part = table_of(ChargebackPartRow)
_recon = table_of(ReconciliationPaymentRow)

HOLDING: tuple[str, ...] = (DisputeStatus.OPENED.value, DisputeStatus.LOST.value)
"""Statuses in which a chargeback's money is out of the order (frozen or gone)."""


class ChargebackRepository:
    """Reads and writes chargebacks in one open transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _execute(self, statement: Any) -> sa.CursorResult[Any]:
        return cast(sa.CursorResult[Any], await self._session.execute(statement))

    async def insert(self, chargeback: Chargeback) -> None:
        """Store a new chargeback and its parts (and mark its payment as charged back for
        reconciliation)."""
        await self._execute(
            sa.update(_recon)
            .where(_recon.c.payment_event_id == chargeback.payment_event_id)
            .values(has_chargeback=True)
        )
        await self._execute(
            sa.insert(_cb).values(
                id=chargeback.id,
                payment_event_id=chargeback.payment_event_id,
                client_id=chargeback.client_id,
                provider=chargeback.provider,
                dispute_id=chargeback.dispute_id,
                currency=chargeback.amount.currency,
                amount_minor=chargeback.amount.minor,
                unallocated_minor=chargeback.unallocated.minor,
                status=chargeback.status.value,
                reason=chargeback.reason,
                created_at=chargeback.created_at,
                updated_at=chargeback.updated_at,
            )
        )
        if chargeback.parts:
            await self._session.execute(
                sa.insert(_part),
                [
                    {
                        "chargeback_id": chargeback.id,
                        "payment_order_id": part.payment_order_id,
                        "amount_minor": part.amount.minor,
                        "released": part.released,
                    }
                    for part in chargeback.parts
                ],
            )

    async def get(self, chargeback_id: str, *, client_id: str | None = None) -> Chargeback | None:
        """A chargeback with its parts (of ``client_id`` only, if given)."""
        query = sa.select(_cb).where(_cb.c.id == chargeback_id)
        if client_id is not None:
            query = query.where(_cb.c.client_id == client_id)
        row = (await self._execute(query)).one_or_none()
        return None if row is None else await self._with_parts(row)

    async def find(self, provider: str, dispute_id: str) -> Chargeback | None:
        """The chargeback ``provider`` knows as ``dispute_id``."""
        query = sa.select(_cb).where(_cb.c.provider == provider, _cb.c.dispute_id == dispute_id)
        row = (await self._execute(query)).one_or_none()
        return None if row is None else await self._with_parts(row)

    async def of_payment(self, payment_id: str) -> list[Chargeback]:
        """Every chargeback of a payment, oldest first."""
        rows = (
            await self._execute(
                sa.select(_cb)
                .where(_cb.c.payment_event_id == payment_id)
                .order_by(_cb.c.created_at, _cb.c.id)
            )
        ).all()
        return [await self._with_parts(row) for row in rows]

    async def set_status(self, chargeback_id: str, status: DisputeStatus, *, now: datetime) -> bool:
        """Settle an open chargeback; ``False`` if it was settled before."""
        result = await self._execute(
            sa.update(_cb)
            .where(_cb.c.id == chargeback_id, _cb.c.status == DisputeStatus.OPENED.value)
            .values(status=status.value, updated_at=now)
        )
        return result.rowcount == 1

    async def held_per_order(self, payment_id: str) -> dict[str, tuple[int, int]]:
        """Per order: minor units out of it by open or lost chargebacks, in total and in parts
        taken before the order was released (those the order's shipment must not release)."""
        rows: list[Any] = list(
            (
                await self._execute(
                    sa.select(
                        _part.c.payment_order_id,
                        _part.c.released,
                        sa.func.sum(_part.c.amount_minor),
                    )
                    .join(_cb, _cb.c.id == _part.c.chargeback_id)
                    .where(_cb.c.payment_event_id == payment_id, _cb.c.status.in_(HOLDING))
                    .group_by(_part.c.payment_order_id, _part.c.released)
                )
            ).all()
        )
        held: dict[str, tuple[int, int]] = {}
        for order_id, released, amount in rows:
            total, before_release = held.get(order_id, (0, 0))
            total += int(amount)
            if not released:
                before_release += int(amount)
            held[order_id] = (total, before_release)
        return held

    async def _with_parts(self, row: Any) -> Chargeback:
        parts = (
            await self._execute(
                sa.select(_part).where(_part.c.chargeback_id == row.id).order_by(_part.c.id)
            )
        ).all()
        return Chargeback(
            id=row.id,
            payment_event_id=row.payment_event_id,
            client_id=row.client_id,
            provider=row.provider,
            dispute_id=row.dispute_id,
            amount=Money(row.amount_minor, row.currency),
            unallocated=Money(row.unallocated_minor, row.currency),
            status=DisputeStatus(row.status),
            reason=row.reason,
            parts=tuple(
                ChargebackPart(
                    p.payment_order_id, Money(p.amount_minor, row.currency), bool(p.released)
                )
                for p in parts
            ),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
