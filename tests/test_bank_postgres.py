"""Jepsen-style bank test on PostgreSQL: many writers, consistent readers, nothing lost.

16 workers run random payments, shipments, refunds, chargebacks (opened, then won or lost)
and payouts through the use cases while
readers take snapshots of the whole ledger. Every snapshot sums to zero per currency, no
guarded balance is ever negative, and at the end every business fact that succeeded has
exactly its journal transactions: none lost, none duplicated. ``PAYMUX_BANK_OPERATIONS``
sets the number of operations (default 20,000).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.errors import PaymuxError
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import DisputeEvent, ProviderEvent
from paymux.core.providers import ProviderRegistry
from paymux.core.services.chargebacks import ChargebackService
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.payments import PaymentService
from paymux.core.services.payouts import PayoutService
from paymux.core.services.refunds import RefundAsk, RefundService
from paymux.core.services.shipments import ShipmentService
from paymux.core.services.webhooks import WebhookService
from paymux.core.storage.database import Database
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeProvider

pytestmark = pytest.mark.postgres

WORKERS = 16
READERS = 2
SELLERS = [f"s{i}" for i in range(12)]
EXPECTED_REFUSALS = (
    "order-already-shipped",
    "order-fully-refunded",
    "order-not-succeeded",
    "refund-not-allowed",
    "payout-not-allowed",
)


@dataclass
class World:
    payments: PaymentService
    shipments: ShipmentService
    refunds: RefundService
    payouts: PayoutService
    webhooks: WebhookService
    database: Database
    orders: list[tuple[str, str]] = field(default_factory=list)
    """(payment id, order id) of every succeeded order."""
    tokens: dict[str, str] = field(default_factory=dict)
    """The provider's token of each payment."""
    disputes: list[tuple[str, str, int]] = field(default_factory=list)
    """(payment id, dispute id, amount) of every dispute opened."""
    references: set[str] = field(default_factory=set)
    """References of the journal transactions the successful operations must have made."""
    payouts_made: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    snapshots: int = 0


@pytest.fixture
async def world(postgres_url: str) -> AsyncIterator[World]:
    database = Database(postgres_url, pool_size=WORKERS + READERS + 2)
    store = PaymentStore(database)
    provider = FakeProvider()
    registry = ProviderRegistry([provider])
    payments = PaymentService(
        store=store, providers=registry, buyer_return_url=lambda p: "https://x", lock_seconds=60
    )
    refunds = RefundService(store=store, providers=registry, lock_seconds=60)
    payouts = PayoutService(store=store, providers=registry, lock_seconds=60)
    webhooks = WebhookService(
        store=store, payments=payments, refunds=refunds, payouts=payouts,
        chargebacks=ChargebackService(store=store),
    )  # fmt: skip
    yield World(
        payments=payments,
        shipments=ShipmentService(store=store),
        refunds=refunds,
        payouts=payouts,
        webhooks=webhooks,
        database=database,
    )
    await database.dispose()


async def pay(world: World, rng: random.Random, key: str) -> None:
    currency = "EUR"  # the one currency the fake provider serves
    orders = tuple(
        OrderDraft(seller, Money(amount, currency), Money(amount // 10, currency),
                   Money(amount // 20, currency), f"r{index}")
        for index, (seller, amount) in enumerate(
            (rng.choice(SELLERS), rng.randint(100, 50_000)) for _ in range(rng.randint(1, 2))
        )
    )  # fmt: skip
    draft = CheckoutDraft("buyer", currency, "DE", "card", "https://shop", orders)
    stored = await world.payments.create_payment(
        IdempotentRequest("c1", key, "f"), draft, lambda p: json.dumps({"id": p.id})
    )
    payment = await world.payments.get_payment(json.loads(stored.body)["id"], client_id="c1")
    assert payment.registration is not None
    assert payment.registration.token is not None
    await world.payments.apply_provider_events(
        "fake", [ProviderEvent(f"evt-{key}", payment.registration.token, PaymentStatus.SUCCEEDED)]
    )
    world.tokens[payment.id] = payment.registration.token
    for order in payment.orders:
        world.orders.append((payment.id, order.id))
        world.references.add(f"payment_succeeded:{order.id}")


async def ship(world: World, rng: random.Random, key: str) -> None:
    _payment_id, order_id = rng.choice(world.orders)
    stored = await world.shipments.confirm_shipment(
        IdempotentRequest("c1", key, "f"), order_id, lambda s: json.dumps(s.ledger_transaction_id)
    )
    if json.loads(stored.body) is not None:  # None: chargebacks hold it all, nothing released
        world.references.add(f"shipment_confirmed:{order_id}")


async def refund(world: World, rng: random.Random, key: str) -> None:
    payment_id, order_id = rng.choice(world.orders)
    amount = Money(rng.randint(1, 20_000), "EUR").amount_str
    stored = await world.refunds.create_refund(
        IdempotentRequest("c1", key, "f"),
        payment_id,
        RefundAsk(order_id, amount, None),
        lambda r: json.dumps({"id": r.id, "status": r.status.value}),
    )
    body = json.loads(stored.body)
    assert body["status"] == "succeeded"
    world.references.add(f"refund_succeeded:{body['id']}:{order_id}")


async def payout(world: World, rng: random.Random, key: str) -> None:
    stored = await world.payouts.create_payout(
        IdempotentRequest("c1", key, "f"),
        seller_id=rng.choice(SELLERS),
        currency="EUR",
        amount=None,
        render=lambda p: json.dumps({"id": p.id, "status": p.status.value}),
    )
    body = json.loads(stored.body)
    assert body["status"] == "paid"
    world.payouts_made.append(body["id"])
    world.references.update({f"payout_initiated:{body['id']}", f"payout_paid:{body['id']}"})


async def dispute(world: World, rng: random.Random, key: str) -> None:
    """The buyer's bank disputes (part of) a payment: sometimes more than it still holds."""
    payment_id, _order_id = rng.choice(world.orders)
    amount = rng.randint(1, 30_000)
    event = DisputeEvent(f"evt-{key}", world.tokens[payment_id], f"dp-{key}",
                         DisputeStatus.OPENED, Money(amount, "EUR"))  # fmt: skip
    outcome = await world.webhooks.apply("fake", [event])
    assert outcome.applied == 1
    world.disputes.append((payment_id, f"dp-{key}", amount))


async def resolve(world: World, rng: random.Random, key: str) -> None:
    """A dispute is decided (another worker may have decided it first: then nothing changes)."""
    if not world.disputes:
        return
    payment_id, dispute_id, amount = rng.choice(world.disputes)
    status = rng.choice((DisputeStatus.WON, DisputeStatus.LOST))
    event = DisputeEvent(f"evt-{key}", world.tokens[payment_id], dispute_id, status,
                         Money(amount, "EUR"))  # fmt: skip
    await world.webhooks.apply("fake", [event])


OPERATIONS = (pay, ship, refund, payout, dispute, resolve)


async def worker(world: World, index: int, quota: int) -> None:
    rng = random.Random(index)
    for step in range(quota):
        operation = pay if not world.orders else rng.choices(OPERATIONS, (6, 6, 4, 4, 1, 1))[0]
        try:
            await operation(world, rng, f"w{index}-{step}")
            world.counts[operation.__name__] += 1
        except PaymuxError as error:
            if error.code not in EXPECTED_REFUSALS:
                raise
            world.counts[f"{operation.__name__} refused"] += 1


SNAPSHOT = sa.text(
    """
    SELECT
      (SELECT coalesce(json_object_agg(currency, total), '{}')
         FROM (SELECT currency, sum(amount_minor) AS total
                 FROM ledger_posting GROUP BY currency) t) AS totals,
      (SELECT count(*) FROM ledger_account
        WHERE purpose IN ('seller_pending', 'seller_available', 'seller_payout_in_transit',
                          'seller_disputed')
          AND balance_minor > 0) AS negative_guarded,
      (SELECT count(*) FROM ledger_account a
        WHERE a.balance_minor IS NOT NULL
          AND a.balance_minor <> (SELECT coalesce(sum(p.amount_minor), 0)
                                    FROM ledger_posting p WHERE p.account_id = a.id))
        AS stale_balances
    """
)


async def reader(world: World, done: asyncio.Event) -> None:
    engine = world.database.engine.execution_options(isolation_level="REPEATABLE READ")
    while not done.is_set():
        async with engine.connect() as connection:
            totals, negative, stale = (await connection.execute(SNAPSHOT)).one()
        sums = json.loads(totals) if isinstance(totals, str) else totals
        assert set(sums.values()) <= {0}, f"a snapshot does not sum to zero: {sums}"
        assert negative == 0, "a guarded balance went below zero"
        assert stale == 0, "a balance row disagrees with its postings"
        world.snapshots += 1
        await asyncio.sleep(0.05)


@pytest.mark.timeout(1800)  # 20,000 operations on 2 cores take a few minutes
async def test_bank(world: World) -> None:
    total = int(os.environ.get("PAYMUX_BANK_OPERATIONS", "20000"))
    quota = -(-total // WORKERS)
    done = asyncio.Event()
    readers = [asyncio.create_task(reader(world, done)) for _ in range(READERS)]
    try:
        await asyncio.gather(*(worker(world, index, quota) for index in range(WORKERS)))
    finally:
        done.set()
        await asyncio.gather(*readers)
    print(f"\nbank test: {dict(world.counts)}; {world.snapshots} consistent snapshots")
    assert sum(world.counts.values()) >= total
    assert world.snapshots > 0
    for operation in ("pay", "ship", "refund", "payout", "dispute", "resolve"):
        assert world.counts[operation] > 0, f"no {operation} succeeded: {world.counts}"

    async with world.database.transaction() as session:
        world.references |= await chargeback_references(session)
        stored = set(
            (await session.execute(sa.text("SELECT reference FROM ledger_transaction"))).scalars()
        )
        malformed = (
            await session.execute(
                sa.text(
                    "SELECT transaction_id FROM ledger_posting GROUP BY transaction_id "
                    "HAVING count(*) < 2 OR sum(amount_minor) <> 0"
                )
            )
        ).all()
    recovered = {r for r in stored if r.startswith("receivable_recovered:")}
    reversed_ = {r for r in stored if r.startswith("payout_reversed:")}
    assert reversed_ == set(), "the fake provider never fails a payout"
    assert world.references <= stored, f"lost: {sorted(world.references - stored)[:5]}"
    assert stored - world.references == recovered, (
        f"unexpected: {sorted(stored - world.references - recovered)[:5]}"
    )
    assert {r.split(":", 1)[1] for r in recovered} <= set(world.payouts_made)
    assert malformed == [], "a transaction is unbalanced or has fewer than two postings"


async def chargeback_references(session: Any) -> set[str]:
    """The journal references the stored chargebacks must have: one per part and step."""
    rows = (
        await session.execute(
            sa.text(
                "SELECT c.id, c.status, c.unallocated_minor, p.payment_order_id "
                "FROM chargeback c LEFT JOIN chargeback_part p ON p.chargeback_id = c.id"
            )
        )
    ).all()
    references: set[str] = set()
    for chargeback_id, status, unallocated, order_id in rows:
        steps = ["opened"] if status == "opened" else ["opened", status]
        targets = [order_id] if order_id is not None else []
        if unallocated:
            targets.append("unallocated")
        references |= {f"chargeback_{s}:{chargeback_id}:{t}" for s in steps for t in targets}
    return references
