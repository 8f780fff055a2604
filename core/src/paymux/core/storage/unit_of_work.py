"""The unit of work: every read and write of the use cases, inside one database transaction.

Services open one with :meth:`PaymentStore.begin` and call these methods; SQL stays here. The
methods return the domain's plain records, never ORM objects.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paymux.core.domain.delivery import DeliveryEstimate
from paymux.core.domain.models import (
    IdempotencyRecord,
    OutboxMessage,
    PaymentEvent,
    PaymentOrder,
    PspRegistration,
)
from paymux.core.domain.payouts import Payout, PayoutDestination, PayoutStatus
from paymux.core.domain.refunds import Refund, RefundPart, RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.fx.quotes import Quote
from paymux.core.identifiers import new_id
from paymux.core.storage.chargeback_repository import ChargebackRepository
from paymux.core.storage.database import Database
from paymux.core.storage.job_repository import JobRepository
from paymux.core.storage.ledger_repository import LedgerRepository
from paymux.core.storage.payout_method_repository import PayoutMethodRepository
from paymux.core.storage.reconciliation_repository import ReconciliationRepository
from paymux.core.storage.tables import (
    IdempotencyKeyRow,
    OutboxEventRow,
    PaymentEventRow,
    PaymentOrderRow,
    PayoutRow,
    ProcessedWebhookEventRow,
    PspRegistrationRow,
    ReconciliationPaymentRow,
    RefundPartRow,
    RefundRow,
    table_of,
)
from paymux.currencies import Money

log = logging.getLogger(__name__)

FAILURE_CODE_LENGTH = 64
"""Provider failure codes are kept to this many characters (the column's size)."""

_ev = table_of(PaymentEventRow)
_po = table_of(PaymentOrderRow)
_reg = table_of(PspRegistrationRow)
_recon = table_of(ReconciliationPaymentRow)
_idem = table_of(IdempotencyKeyRow)
_hook = table_of(ProcessedWebhookEventRow)
_out = table_of(OutboxEventRow)
_refund = table_of(RefundRow)
_part = table_of(RefundPartRow)
_payout = table_of(PayoutRow)


class PaymentStore:
    """Opens units of work on a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[UnitOfWork]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Callbacks registered with :meth:`UnitOfWork.after_commit` run once the commit is done;
        one that raises is logged and the others still run.
        """
        async with self.database.transaction() as session:
            uow = UnitOfWork(session, self.database.dialect)
            yield uow
            await uow.ledger.flush()
        for callback in uow.committed_callbacks:
            try:
                callback()
            except Exception:
                log.exception("an after-commit callback failed; the change stands")


class UnitOfWork:
    """Reads and writes within one open transaction."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect
        self.ledger = LedgerRepository(session, dialect)
        """The ledger, in this same transaction."""
        self.chargebacks = ChargebackRepository(session)
        """Chargebacks, in this same transaction."""
        self.payout_methods = PayoutMethodRepository(session, dialect)
        """Sellers' payout methods, in this same transaction."""
        self.jobs = JobRepository(session, dialect)
        """Durable jobs, queued in this same transaction."""
        self.reconciliation = ReconciliationRepository(session, dialect)
        """Reconciliation runs and discrepancies, in this same transaction."""
        self.committed_callbacks: list[Callable[[], object]] = []

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` after this transaction commits (never if it rolls back)."""
        self.committed_callbacks.append(callback)

    # -- helpers -----------------------------------------------------------------------------

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    async def _execute(self, statement: Any) -> sa.CursorResult[Any]:
        return cast(sa.CursorResult[Any], await self._session.execute(statement))

    # -- idempotency keys --------------------------------------------------------------------

    async def find_idempotency_key(self, client_id: str, key: str) -> IdempotencyRecord | None:
        """The record of ``key`` for ``client_id``, if it was used before."""
        row = (
            await self._execute(
                sa.select(_idem).where(_idem.c.client_id == client_id, _idem.c.key == key)
            )
        ).one_or_none()
        return None if row is None else _idempotency_record(row._mapping)

    async def insert_idempotency_key(
        self, *, client_id: str, key: str, fingerprint: str, resource_id: str, now: datetime
    ) -> int | None:
        """Claim ``key`` (locked by this request); ``None`` if another request holds it."""
        statement = (
            self._insert(_idem)
            .values(
                client_id=client_id,
                key=key,
                fingerprint=fingerprint,
                resource_id=resource_id,
                locked_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["client_id", "key"])
            .returning(_idem.c.id)
        )
        inserted = (await self._execute(statement)).scalar_one_or_none()
        return None if inserted is None else int(inserted)

    async def lock_idempotency_key(
        self, record_id: int, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Take over an unfinished key whose lock was released or went stale."""
        result = await self._execute(
            sa.update(_idem)
            .where(
                _idem.c.id == record_id,
                _idem.c.response_status.is_(None),
                sa.or_(_idem.c.locked_at.is_(None), _idem.c.locked_at < stale_before),
            )
            .values(locked_at=now)
        )
        return result.rowcount == 1

    async def release_idempotency_key(self, record_id: int) -> None:
        """Let the next request with this key resume the work (nothing final was stored)."""
        await self._execute(sa.update(_idem).where(_idem.c.id == record_id).values(locked_at=None))

    async def complete_idempotency_key(self, record_id: int, *, status: int, body: str) -> None:
        """Store the final response; every later request with the key replays it."""
        await self._execute(
            sa.update(_idem)
            .where(_idem.c.id == record_id)
            .values(locked_at=None, response_status=status, response_body=body)
        )

    # -- payments ----------------------------------------------------------------------------

    async def insert_payment(self, event: PaymentEvent) -> None:
        """Store a new payment event, its orders and its (not yet answered) registration."""
        await self._execute(
            sa.insert(_ev).values(
                id=event.id,
                client_id=event.client_id,
                buyer_id=event.buyer_id,
                currency=event.currency,
                country=event.country,
                payment_method=event.payment_method,
                return_url=event.return_url,
                provider=event.provider,
                created_at=event.created_at,
                buyer_email=event.buyer_email,
                buyer_locale=event.buyer_locale,
                settlement_currency=event.settles_in,
                fx_quote=None if event.fx_quote is None else json.dumps(event.fx_quote.as_dict()),
            )
        )
        await self._session.execute(
            sa.insert(_po),
            [
                {
                    "id": order.id,
                    "payment_event_id": event.id,
                    "position": position,
                    "seller_id": order.seller_id,
                    "currency": event.currency,
                    "amount_minor": order.amount.minor,
                    "commission_minor": order.commission.minor,
                    "logistics_fee_minor": order.logistics_fee.minor,
                    "reference": order.reference,
                    "status": order.status.value,
                    "failure_code": order.failure_code,
                    "created_at": order.created_at,
                    "updated_at": order.updated_at,
                    **_delivery_columns(order.estimated_delivery),
                    "settlement_minor": None
                    if order.settlement_amount is None
                    else order.settlement_amount.minor,
                }
                for position, order in enumerate(event.orders)
            ],
        )
        registration = event.registration
        if registration is not None:
            await self._execute(
                sa.insert(_reg).values(
                    payment_event_id=event.id,
                    provider=registration.provider,
                    psp_idempotency_key=registration.psp_idempotency_key,
                    token=registration.token,
                    psp_reference=registration.psp_reference,
                    redirect_url=registration.redirect_url,
                    created_at=event.created_at,
                    updated_at=event.created_at,
                )
            )
        if event.orders:  # reconciliation's copy (reconciliation_payment)
            settled = event.settlement_total
            await self._execute(
                sa.insert(_recon).values(
                    payment_event_id=event.id,
                    client_id=event.client_id,
                    provider=event.provider if registration is None else registration.provider,
                    currency=event.currency,
                    amount_minor=sum(order.amount.minor for order in event.orders),
                    status=min(order.status.value for order in event.orders),
                    succeeded_at=None,
                    token=None if registration is None else registration.token,
                    psp_reference=None if registration is None else registration.psp_reference,
                    psp_payment_id=None,
                    has_chargeback=False,
                    created_at=event.created_at,
                    settlement_currency=None if settled is None else settled.currency,
                    settlement_minor=None if settled is None else settled.minor,
                )
            )

    async def get_payment(
        self, payment_id: str, *, client_id: str | None = None, lock: bool = False
    ) -> PaymentEvent | None:
        """The payment with its orders and registration; ``lock`` takes row locks on its orders.

        With ``client_id`` a payment of another client is not found.
        """
        query = sa.select(_ev).where(_ev.c.id == payment_id)
        if client_id is not None:
            query = query.where(_ev.c.client_id == client_id)
        event_row = (await self._execute(query)).one_or_none()
        if event_row is None:
            return None
        order_query = (
            sa.select(_po).where(_po.c.payment_event_id == payment_id).order_by(_po.c.position)
        )
        if lock:
            order_query = order_query.with_for_update()
        order_rows = (await self._execute(order_query)).all()
        registration_row = (
            await self._execute(sa.select(_reg).where(_reg.c.payment_event_id == payment_id))
        ).one_or_none()
        return _payment_event(event_row._mapping, order_rows, registration_row)

    async def find_payment_id_by_order(self, order_id: str, *, client_id: str) -> str | None:
        """The payment an order of ``client_id`` belongs to."""
        found = (
            await self._execute(
                sa.select(_po.c.payment_event_id)
                .join(_ev, _ev.c.id == _po.c.payment_event_id)
                .where(_po.c.id == order_id, _ev.c.client_id == client_id)
            )
        ).scalar_one_or_none()
        return None if found is None else str(found)

    async def mark_order_shipped(self, order_id: str, *, now: datetime) -> bool:
        """Record the shipment; ``False`` if the order was marked shipped before."""
        result = await self._execute(
            sa.update(_po)
            .where(_po.c.id == order_id, _po.c.shipped_at.is_(None))
            .values(shipped_at=now, updated_at=now)
        )
        return result.rowcount == 1

    async def find_payment_id_by_token(self, provider: str, token: str) -> str | None:
        """The payment the provider knows by ``token``."""
        found = (
            await self._execute(
                sa.select(_reg.c.payment_event_id).where(
                    _reg.c.provider == provider, _reg.c.token == token
                )
            )
        ).scalar_one_or_none()
        return None if found is None else str(found)

    async def find_payment_id_by_psp_id(self, provider: str, psp_id: str) -> str | None:
        """The payment the provider knows by ``psp_id``: its token or its own payment id."""
        found = await self.find_payment_id_by_token(provider, psp_id)
        if found is not None:
            return found
        found = (
            await self._execute(
                sa.select(_reg.c.payment_event_id).where(
                    _reg.c.provider == provider, _reg.c.psp_payment_id == psp_id
                )
            )
        ).scalar_one_or_none()
        return None if found is None else str(found)

    async def record_psp_payment_id(self, payment_id: str, psp_payment_id: str) -> None:
        """Keep the PSP's own id of the payment (the first one reported stays)."""
        await self._execute(
            sa.update(_reg)
            .where(_reg.c.payment_event_id == payment_id, _reg.c.psp_payment_id.is_(None))
            .values(psp_payment_id=psp_payment_id[:255])
        )
        await self._execute(
            sa.update(_recon)
            .where(_recon.c.payment_event_id == payment_id, _recon.c.psp_payment_id.is_(None))
            .values(psp_payment_id=psp_payment_id[:255])
        )

    async def set_order_status(
        self,
        order_id: str,
        status: PaymentStatus,
        *,
        failure_code: str | None,
        now: datetime,
    ) -> None:
        """Record an order's new status (the caller has checked the transition)."""
        await self._execute(
            sa.update(_po)
            .where(_po.c.id == order_id)
            .values(
                status=status.value,
                failure_code=None if failure_code is None else failure_code[:FAILURE_CODE_LENGTH],
                updated_at=now,
                **({"succeeded_at": now} if status is PaymentStatus.SUCCEEDED else {}),
            )
        )
        orders = sa.select(_po.c.payment_event_id).where(_po.c.id == order_id).scalar_subquery()
        siblings = _po.c.payment_event_id == _recon.c.payment_event_id
        await self._execute(
            sa.update(_recon)
            .where(_recon.c.payment_event_id == orders)
            .values(
                status=sa.select(sa.func.min(_po.c.status)).where(siblings).scalar_subquery(),
                succeeded_at=sa.select(sa.func.min(_po.c.succeeded_at))
                .where(siblings)
                .scalar_subquery(),
            )
        )

    async def record_registration(
        self,
        payment_id: str,
        *,
        token: str,
        redirect_url: str,
        psp_reference: str | None,
        now: datetime,
    ) -> None:
        """Store the provider's answer to the registration."""
        await self._execute(
            sa.update(_reg)
            .where(_reg.c.payment_event_id == payment_id)
            .values(
                token=token, redirect_url=redirect_url, psp_reference=psp_reference, updated_at=now
            )
        )
        await self._execute(
            sa.update(_recon)
            .where(_recon.c.payment_event_id == payment_id)
            .values(token=token, psp_reference=psp_reference)
        )

    # -- refunds -------------------------------------------------------------------------

    async def insert_refund(self, refund: Refund) -> None:
        """Store a new refund and its parts."""
        await self._execute(
            sa.insert(_refund).values(
                id=refund.id,
                payment_event_id=refund.payment_event_id,
                client_id=refund.client_id,
                currency=refund.amount.currency,
                amount_minor=refund.amount.minor,
                status=refund.status.value,
                reason=refund.reason,
                failure_code=refund.failure_code,
                psp_idempotency_key=refund.psp_idempotency_key,
                psp_reference=refund.psp_reference,
                created_at=refund.created_at,
                updated_at=refund.updated_at,
            )
        )
        if not refund.parts:  # a late payment's refund: no order carries it
            return
        await self._session.execute(
            sa.insert(_part),
            [
                {
                    "refund_id": refund.id,
                    "payment_order_id": part.payment_order_id,
                    "amount_minor": part.amount.minor,
                }
                for part in refund.parts
            ],
        )

    async def get_refund(self, refund_id: str, *, client_id: str | None = None) -> Refund | None:
        """A refund with its parts (of ``client_id`` only, if given)."""
        query = sa.select(_refund).where(_refund.c.id == refund_id)
        if client_id is not None:
            query = query.where(_refund.c.client_id == client_id)
        row = (await self._execute(query)).one_or_none()
        if row is None:
            return None
        parts = (
            await self._execute(
                sa.select(_part).where(_part.c.refund_id == refund_id).order_by(_part.c.id)
            )
        ).all()
        return Refund(
            id=row.id,
            payment_event_id=row.payment_event_id,
            client_id=row.client_id,
            amount=Money(row.amount_minor, row.currency),
            status=RefundStatus(row.status),
            reason=row.reason,
            failure_code=row.failure_code,
            psp_idempotency_key=row.psp_idempotency_key,
            psp_reference=row.psp_reference,
            parts=tuple(
                RefundPart(p.payment_order_id, Money(p.amount_minor, row.currency)) for p in parts
            ),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def refunded_per_order(self, payment_id: str) -> dict[str, tuple[int, int]]:
        """Per order of the payment: minor units refunded (succeeded) and still pending."""
        rows: list[Any] = list(
            (
                await self._execute(
                    sa.select(
                        _part.c.payment_order_id,
                        _refund.c.status,
                        sa.func.sum(_part.c.amount_minor),
                    )
                    .join(_refund, _refund.c.id == _part.c.refund_id)
                    .where(_refund.c.payment_event_id == payment_id)
                    .group_by(_part.c.payment_order_id, _refund.c.status)
                )
            ).all()
        )
        totals: dict[str, tuple[int, int]] = {}
        for order_id, status, amount in rows:
            done, pending = totals.get(order_id, (0, 0))
            if status == RefundStatus.SUCCEEDED.value:
                done += int(amount)
            elif status == RefundStatus.PENDING.value:
                pending += int(amount)
            totals[order_id] = (done, pending)
        return totals

    async def set_refund_status(
        self,
        refund_id: str,
        status: RefundStatus,
        *,
        psp_reference: str | None,
        failure_code: str | None,
        now: datetime,
    ) -> bool:
        """Settle a pending refund; ``False`` if it was settled before. A kept provider
        reference stays when ``psp_reference`` is ``None``."""
        return await self._settle_pending(
            _refund, refund_id, RefundStatus.PENDING.value, status.value,
            psp_reference=psp_reference, failure_code=failure_code, now=now,
        )  # fmt: skip

    async def record_refund_reference(self, refund_id: str, psp_reference: str) -> None:
        """Keep the provider's reference of a refund still pending (its webhooks name it)."""
        await self._keep_reference(_refund, refund_id, psp_reference)

    async def find_refund_id(self, provider: str, psp_reference: str) -> str | None:
        """The refund a provider knows by ``psp_reference``."""
        found = (
            await self._execute(
                sa.select(_refund.c.id)
                .join(_ev, _ev.c.id == _refund.c.payment_event_id)
                .where(_ev.c.provider == provider, _refund.c.psp_reference == psp_reference)
            )
        ).scalar_one_or_none()
        return None if found is None else str(found)

    # -- payouts -------------------------------------------------------------------------

    async def insert_payout(self, payout: Payout) -> None:
        """Store a new payout."""
        converted = payout.payout_amount
        await self._execute(
            sa.insert(_payout).values(
                id=payout.id,
                client_id=payout.client_id,
                seller_id=payout.seller_id,
                provider=payout.provider,
                currency=payout.amount.currency,
                amount_minor=payout.amount.minor,
                status=payout.status.value,
                failure_code=payout.failure_code,
                psp_idempotency_key=payout.psp_idempotency_key,
                psp_reference=payout.psp_reference,
                created_at=payout.created_at,
                updated_at=payout.updated_at,
                destination=_destination_json(payout.destination),
                payout_currency=None if converted is None else converted.currency,
                payout_amount_minor=None if converted is None else converted.minor,
                fx_quote=(
                    None
                    if payout.fx_quote is None
                    else json.dumps(payout.fx_quote.as_dict(), sort_keys=True)
                ),
            )
        )

    async def get_payout(self, payout_id: str, *, client_id: str | None = None) -> Payout | None:
        """A payout (of ``client_id`` only, if given)."""
        query = sa.select(_payout).where(_payout.c.id == payout_id)
        if client_id is not None:
            query = query.where(_payout.c.client_id == client_id)
        row = (await self._execute(query)).one_or_none()
        if row is None:
            return None
        return Payout(
            id=row.id,
            client_id=row.client_id,
            seller_id=row.seller_id,
            provider=row.provider,
            amount=Money(row.amount_minor, row.currency),
            status=PayoutStatus(row.status),
            failure_code=row.failure_code,
            psp_idempotency_key=row.psp_idempotency_key,
            psp_reference=row.psp_reference,
            created_at=row.created_at,
            updated_at=row.updated_at,
            destination=_destination(row.destination),
            payout_amount=(
                None
                if row.payout_amount_minor is None
                else Money(row.payout_amount_minor, row.payout_currency)
            ),
            fx_quote=None if row.fx_quote is None else Quote.from_dict(json.loads(row.fx_quote)),
        )

    async def set_payout_status(
        self,
        payout_id: str,
        status: PayoutStatus,
        *,
        psp_reference: str | None,
        failure_code: str | None,
        now: datetime,
    ) -> bool:
        """Settle a pending payout; ``False`` if it was settled before. A kept provider
        reference stays when ``psp_reference`` is ``None``."""
        return await self._settle_pending(
            _payout, payout_id, PayoutStatus.PENDING.value, status.value,
            psp_reference=psp_reference, failure_code=failure_code, now=now,
        )  # fmt: skip

    async def record_payout_reference(self, payout_id: str, psp_reference: str) -> None:
        """Keep the provider's reference of a payout still pending (its webhooks name it)."""
        await self._keep_reference(_payout, payout_id, psp_reference)

    async def find_payout_id(self, provider: str, psp_reference: str) -> str | None:
        """The payout a provider knows by ``psp_reference``."""
        found = (
            await self._execute(
                sa.select(_payout.c.id).where(
                    _payout.c.provider == provider, _payout.c.psp_reference == psp_reference
                )
            )
        ).scalar_one_or_none()
        return None if found is None else str(found)

    async def paid_out(self, client_id: str, seller_id: str) -> dict[str, int]:
        """Minor units paid to the seller per currency (paid payouts), in the currency the
        seller was paid in (a converted payout counts its payout amount)."""
        currency = sa.func.coalesce(_payout.c.payout_currency, _payout.c.currency)
        amount = sa.func.coalesce(_payout.c.payout_amount_minor, _payout.c.amount_minor)
        rows: list[Any] = list(
            (
                await self._execute(
                    sa.select(currency, sa.func.sum(amount))
                    .where(
                        _payout.c.client_id == client_id,
                        _payout.c.seller_id == seller_id,
                        _payout.c.status == PayoutStatus.PAID.value,
                    )
                    .group_by(currency)
                )
            ).all()
        )
        return {str(currency): int(total) for currency, total in rows}

    async def _settle_pending(
        self,
        table: sa.Table,
        row_id: str,
        pending: str,
        status: str,
        *,
        psp_reference: str | None,
        failure_code: str | None,
        now: datetime,
    ) -> bool:
        """Move a row of ``table`` (refunds, payouts) out of ``pending``, at most once."""
        result = await self._execute(
            sa.update(table)
            .where(table.c.id == row_id, table.c.status == pending)
            .values(
                status=status,
                psp_reference=sa.func.coalesce(psp_reference, table.c.psp_reference),
                failure_code=None if failure_code is None else failure_code[:FAILURE_CODE_LENGTH],
                updated_at=now,
            )
        )
        return result.rowcount == 1

    async def _keep_reference(self, table: sa.Table, row_id: str, psp_reference: str) -> None:
        """Store the provider's reference of a row of ``table`` unless it has one."""
        await self._execute(
            sa.update(table)
            .where(table.c.id == row_id, table.c.psp_reference.is_(None))
            .values(psp_reference=psp_reference)
        )

    # -- webhooks and outbox -----------------------------------------------------------------

    async def mark_webhook_event_processed(
        self, provider: str, event_id: str, *, now: datetime
    ) -> bool:
        """Remember a provider event; ``False`` if it was processed before (a duplicate)."""
        statement = (
            self._insert(_hook)
            .values(provider=provider, event_id=event_id, received_at=now)
            .on_conflict_do_nothing(index_elements=["provider", "event_id"])
            .returning(_hook.c.id)
        )
        return (await self._execute(statement)).scalar_one_or_none() is not None

    async def add_outbox(self, messages: Sequence[OutboxMessage], *, now: datetime) -> None:
        """Queue events for the broker, in this same transaction.

        The events share ``now`` as their time; their ids are drawn in ascending order so
        the relay (which orders by time, then id) publishes them in the given order.
        """
        if not messages:
            return
        ids = sorted(new_id("evt") for _ in messages)
        await self._session.execute(
            sa.insert(_out),
            [
                {
                    "id": event_id,
                    "topic": message.topic,
                    "key": message.key,
                    "payload": json.dumps(message.payload, sort_keys=True),
                    "created_at": now,
                }
                for event_id, message in zip(ids, messages, strict=True)
            ],
        )


def _destination_json(destination: PayoutDestination | None) -> str | None:
    if destination is None:
        return None
    return json.dumps(
        {
            "account": destination.account,
            "holder_name": destination.holder_name,
            "details": dict(destination.details),
        },
        sort_keys=True,
    )


def _destination(stored: str | None) -> PayoutDestination | None:
    if stored is None:
        return None
    data = json.loads(stored)
    return PayoutDestination(data["account"], data["holder_name"], dict(data["details"]))


def _idempotency_record(row: Any) -> IdempotencyRecord:
    return IdempotencyRecord(
        id=row["id"],
        client_id=row["client_id"],
        key=row["key"],
        fingerprint=row["fingerprint"],
        resource_id=row["resource_id"],
        locked_at=row["locked_at"],
        response_status=row["response_status"],
        response_body=row["response_body"],
    )


def _delivery_columns(estimate: DeliveryEstimate | None) -> dict[str, date | None]:
    if estimate is None:
        return {"delivery_earliest": None, "delivery_latest": None}
    return {"delivery_earliest": estimate.earliest, "delivery_latest": estimate.latest}


def _delivery(earliest: date | None, latest: date | None) -> DeliveryEstimate | None:
    if earliest is None:
        return None
    return DeliveryEstimate(earliest, latest or earliest)


def _payment_event(event: Any, orders: Sequence[Any], registration: Any | None) -> PaymentEvent:
    currency = event["currency"]
    stored_quote = event["fx_quote"]
    quote = None if stored_quote is None else Quote.from_dict(json.loads(stored_quote))
    settles_in = event["settlement_currency"] or currency
    return PaymentEvent(
        id=event["id"],
        client_id=event["client_id"],
        buyer_id=event["buyer_id"],
        currency=currency,
        country=event["country"],
        payment_method=event["payment_method"],
        return_url=event["return_url"],
        provider=event["provider"],
        created_at=event["created_at"],
        buyer_email=event["buyer_email"],
        buyer_locale=event["buyer_locale"],
        settlement_currency=settles_in,
        fx_quote=quote,
        orders=tuple(
            PaymentOrder(
                id=o.id,
                payment_event_id=o.payment_event_id,
                seller_id=o.seller_id,
                amount=Money(o.amount_minor, currency),
                commission=Money(o.commission_minor, currency),
                logistics_fee=Money(o.logistics_fee_minor, currency),
                reference=o.reference,
                status=PaymentStatus(o.status),
                failure_code=o.failure_code,
                created_at=o.created_at,
                updated_at=o.updated_at,
                shipped_at=o.shipped_at,
                estimated_delivery=_delivery(o.delivery_earliest, o.delivery_latest),
                settlement_amount=None
                if o.settlement_minor is None
                else Money(o.settlement_minor, settles_in),
            )
            for o in orders
        ),
        registration=None
        if registration is None
        else PspRegistration(
            payment_event_id=registration.payment_event_id,
            provider=registration.provider,
            psp_idempotency_key=registration.psp_idempotency_key,
            token=registration.token,
            psp_reference=registration.psp_reference,
            redirect_url=registration.redirect_url,
            psp_payment_id=registration.psp_payment_id,
        ),
    )
