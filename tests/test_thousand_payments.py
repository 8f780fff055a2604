"""1,000 payments through a running paymux while the PSP fails a fifth of its calls.

paymux serves its API with the sandbox PSP mounted, on PostgreSQL; three workers run beside
it, each with a runtime of its own (as ``paymux worker`` processes would). The PSP fails 20%
of the registrations (5xx, timeouts, resets, 429 with ``Retry-After``, and some refusals), 10%
of the status checks, and misbehaves on 20% of the webhooks (duplicated, reordered, dropped).
Shops send the checkouts (half of them resend the request with its key after a 503, the
other half just read the payment later) and buyers pay most of them: by card, by a card that
stays pending a moment, by a declined card; some never pay. A quarter of those who pay come
back to paymux's status page; the others close the tab.

Once the janitor's (shrunk) schedule has run, every payment is in a terminal state or its job
is in the dead-letter queue. Then the PSP recovers, every dead letter is replayed, and every
payment ends terminal. Throughout: each payment reached the PSP under one idempotency key and
holds at most one checkout there; no checkout the PSP charged is missing from paymux (none
lost), none was charged twice, every succeeded order has exactly one PaymentSucceeded
transaction, and the ledger sums to zero per currency.

``PAYMUX_FAULT_PAYMENTS`` sets the number of payments (default 1,000).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from paymux.core.jobs.payment_jobs import JANITOR_EXPIRED
from paymux.core.services.payments import derive_psp_idempotency_key
from paymux.core.storage.database import Database
from paymux_sandbox.simulator import ConnectionDropped
from paymux_test_support import (
    DECLINE_CARD,
    SUCCESS_CARD,
    LiveService,
    auth,
    ledger_totals,
    live_service,
    make_settings,
    payment_body,
)

pytestmark = pytest.mark.postgres

PAYMUX = str(Path(sys.executable).with_name("paymux"))

PAYMENTS = int(os.environ.get("PAYMUX_FAULT_PAYMENTS", "1000"))
SHOPS = 25
"""Checkout sessions at once (a shop sends the checkout, then its buyer pays)."""
WORKERS = 3
SCHEDULE = [3.0, 3.0, 3.0]
"""The janitor's checks: an unpaid payment expires about 9 s after its registration."""
RETRY = {"max_attempts": 4, "base_seconds": 0.1, "cap_seconds": 2.0}
"""Four attempts, 0.1 s, 0.2 s, 0.4 s apart at most (a Retry-After is believed up to 2 s)."""
SETTINGS: dict[str, Any] = {
    "embedded_worker": "never",
    "janitor_schedule": {"sandbox": SCHEDULE},
    "job_retry": {"register_payment": RETRY, "check_payment": RETRY},
    "circuit_open_seconds": 1.0,
}
SANDBOX: dict[str, Any] = {
    "request_timeout_seconds": 1.0,
    "stall_seconds": 1.2,
    "retry_after_seconds": 1,
    "pending_delay_seconds": 0.2,
    "webhook_attempts": 6,
}
FAULTS: dict[str, Any] = {
    "random_api": [
        {
            "rate": 0.2,
            "operations": ["register"],
            "faults": [
                *("unavailable", "unavailable", "timeout", "reset"),
                *("rate_limited", "rate_limited", "rejected"),
            ],
        },
        {
            "rate": 0.1,
            "operations": ["status"],
            "faults": ["unavailable", "timeout", "reset", "rate_limited"],
        },
    ],
    "random_webhooks": {"rate": 0.2, "faults": ["duplicate", "reorder", "drop"]},
    "seed": 2026,
}
TERMINAL = frozenset({"succeeded", "failed", "canceled", "expired"})
PENDING_CARD = "4000 0000 0000 3220"
SETTLE_WITHIN = 90.0


class Plan(StrEnum):
    """What the buyer of a payment does."""

    PAY = "pay"
    PAY_PENDING = "pay, pending a moment"
    DECLINED = "pay with a declined card"
    NEVER = "never pay"


CARDS = {Plan.PAY: SUCCESS_CARD, Plan.PAY_PENDING: PENDING_CARD, Plan.DECLINED: DECLINE_CARD}


def plan_for(n: int) -> Plan:
    """15% never pay, 5% are declined, 5% stay pending a moment, the rest pay."""
    slot = n % 20
    if slot < 3:
        return Plan.NEVER
    return {3: Plan.DECLINED, 4: Plan.PAY_PENDING}.get(slot, Plan.PAY)


@dataclass
class Shop:
    """The shops and buyers, over HTTP."""

    api: httpx.AsyncClient
    browser: httpx.AsyncClient
    counts: Counter[str] = field(default_factory=Counter)
    payment_ids: dict[int, str] = field(default_factory=dict)
    unpaid: set[int] = field(default_factory=set)
    """Buyers who meant to pay but found the registration dead-lettered."""

    async def checkout(self, n: int) -> dict[str, Any]:
        """Send checkout ``n`` until paymux holds a payment for it: the answer, or just the
        payment's id after a 503."""
        key = f"order-{n}"
        body = payment_body(buyer_id=f"buyer-{n}")
        resent = 0
        for _ in range(100):
            answer = await self.api.post(
                "/v1/payments", json=body, headers={"Idempotency-Key": key}
            )
            problem = answer.json()
            if answer.status_code == 201:
                self.counts[f"checkout answered {problem['status']}"] += 1
                created: dict[str, Any] = problem
                return created
            if answer.status_code == 503 and "payment_id" in problem:
                self.counts["checkout answered 503"] += 1
                if n % 2 and resent < 2:  # this shop sends the request again, same key
                    resent += 1
                    self.counts["checkout resent with its key"] += 1
                    await asyncio.sleep(0.3)
                    continue
                return {"id": problem["payment_id"]}  # this one reads the payment later
            if answer.status_code == 409:  # its first request is still running
                await asyncio.sleep(0.3)
                continue
            if answer.status_code == 422 and problem["type"].endswith("no-provider"):
                self.counts["checkout refused: circuit open"] += 1  # nothing was created
                await asyncio.sleep(0.5)
                continue
            raise AssertionError(f"checkout {n}: {answer.status_code} {answer.text}")
        raise AssertionError(f"checkout {n} never went through")

    async def buy(self, n: int, payment: dict[str, Any], plan: Plan) -> None:
        """The buyer waits for the hosted page and pays on it (unless they never do)."""
        if plan is Plan.NEVER:
            return
        deadline = time.monotonic() + 60
        payment_id = payment["id"]
        while True:
            if "status" not in payment:
                payment = (await self.api.get(f"/v1/payments/{payment_id}")).json()
            if payment["status"] in TERMINAL:
                self.counts[f"buyer found it {payment['status']}"] += 1
                return
            if payment["status"] == "pending" and payment["redirect_url"]:
                break
            if (payment["pending"] or {}).get("reason") == "needs_attention":
                self.counts["buyer found it dead-lettered"] += 1
                self.unpaid.add(n)
                return
            assert time.monotonic() < deadline, f"payment {payment_id} never got a page"
            await asyncio.sleep(0.2)
            payment = {"id": payment_id}
        page = await self.browser.get(payment["redirect_url"])
        page.raise_for_status()
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        submitted = await self.browser.post(
            httpx.URL(payment["redirect_url"]).join(action.group(1)),
            data={"card_number": CARDS[plan], "expiry": "12/34", "cvc": "123"},
        )
        assert submitted.status_code == 303, submitted.text
        self.counts["buyers paid"] += 1
        if n % 4 == 0:  # a quarter come back to paymux's status page (which asks the PSP)
            back = await self.browser.get(submitted.headers["location"])
            assert back.status_code == 200, back.text
            self.counts["buyers came back"] += 1


@contextmanager
def workers(service: LiveService, database_url: str, logs: Path) -> Iterator[None]:
    """``WORKERS`` ``paymux worker`` processes with the service's settings, until the block
    ends (their output goes to ``logs``)."""
    settings = make_settings(database_url, service.url, settings=SETTINGS, **SANDBOX)
    env = {
        **os.environ,
        "PAYMUX_DATABASE_URL": database_url,
        "PAYMUX_PUBLIC_URL": service.url,
        "PAYMUX_API_KEYS": json.dumps(settings.api_keys),
        "PAYMUX_PROVIDERS": json.dumps(settings.providers),
        "PAYMUX_JANITOR_SCHEDULE": json.dumps(settings.janitor_schedule),
        "PAYMUX_JOB_RETRY": json.dumps(SETTINGS["job_retry"]),
        "PAYMUX_CIRCUIT_OPEN_SECONDS": str(settings.circuit_open_seconds),
        "PAYMUX_WORKER_IDLE_SECONDS": "0.1",
        "PAYMUX_WORKER_BATCH_SIZE": "5",
    }
    with logs.open("w") as output:
        processes = [
            subprocess.Popen(  # noqa: S603 - our own CLI
                [PAYMUX, "worker", "--id", f"w{n}"], env=env, stdout=output, stderr=output
            )
            for n in range(WORKERS)
        ]
        try:
            yield
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                assert process.wait(timeout=30) == 0, logs.read_text()[-3000:]


OPEN_PAYMENTS = sa.text(
    """
    SELECT pe.id FROM payment_event pe
    WHERE EXISTS (SELECT 1 FROM payment_order po WHERE po.payment_event_id = pe.id
                  AND po.status NOT IN ('succeeded', 'failed', 'canceled', 'expired'))
    AND NOT EXISTS (SELECT 1 FROM job j WHERE j.state = 'dead'
                    AND j.key IN ('register_payment:' || pe.id, 'check_payment:' || pe.id))
    """
)


async def wait_until_settled(database: Database, what: str) -> float:
    """Wait until no payment is open outside the dead-letter queue; how long it took."""
    started = time.monotonic()
    while True:
        async with database.transaction() as session:
            open_ids = list((await session.execute(OPEN_PAYMENTS)).scalars())
        if not open_ids:
            return time.monotonic() - started
        if time.monotonic() - started > SETTLE_WITHIN:
            raise AssertionError(f"{what}: {len(open_ids)} payments still open: {open_ids[:5]}")
        await asyncio.sleep(0.5)


async def fetch(database: Database, query: str) -> list[Any]:
    async with database.transaction() as session:
        return list((await session.execute(sa.text(query))).all())


async def run_all(count: int, job: Callable[[int], Awaitable[None]]) -> None:
    gate = asyncio.Semaphore(SHOPS)

    async def one(n: int) -> None:
        async with gate:
            await job(n)

    await asyncio.gather(*(one(n) for n in range(count)))


class _NotScriptedResets(logging.Filter):
    """Keeps uvicorn from logging a traceback for each connection the sandbox drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, ConnectionDropped)


@pytest.fixture
def quiet_resets() -> Iterator[None]:
    resets = _NotScriptedResets()
    logging.getLogger("uvicorn.error").addFilter(resets)
    yield
    logging.getLogger("uvicorn.error").removeFilter(resets)


@pytest.mark.usefixtures("quiet_resets")
async def test_a_thousand_payments_with_psp_faults_none_lost_none_charged_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    database = Database(postgres_url, pool_size=2)
    with (
        live_service(postgres_url, settings=SETTINGS, **SANDBOX) as service,
        workers(service, postgres_url, tmp_path / "workers.log"),
    ):
        async with (
            httpx.AsyncClient(base_url=service.url, headers=auth(), timeout=30) as api,
            httpx.AsyncClient(timeout=30) as browser,
            httpx.AsyncClient(base_url=f"{service.url}/sandbox-psp", timeout=30) as psp,
        ):
            assert (await psp.post("/_admin/faults", json=FAULTS)).status_code == 200
            shop = Shop(api, browser)

            async def session(n: int) -> None:
                payment = await shop.checkout(n)
                shop.payment_ids[n] = payment["id"]
                await shop.buy(n, payment, plan_for(n))

            await run_all(PAYMENTS, session)
            checkouts_done = time.monotonic() - started
            settled_in = await wait_until_settled(database, "after the janitor's schedule")
            dead_letters = await fetch(database, "SELECT kind FROM job WHERE state = 'dead'")
            faults_seen = (await psp.get("/_admin/stats")).json()

            # the PSP is back: every dead letter is replayed; buyers left waiting pay now
            assert (await psp.delete("/_admin/faults")).status_code == 204
            listed = (await api.get("/v1/dead-letters?limit=500")).json()["dead_letters"]
            assert len(listed) == len(dead_letters)
            for letter in listed:
                replayed = await api.post(f"/v1/dead-letters/{letter['id']}/replay")
                assert replayed.status_code == 202, replayed.text
            waiting = sorted(shop.unpaid)
            shop.unpaid.clear()

            async def late_buyer(k: int) -> None:
                n = waiting[k]
                await shop.buy(n, {"id": shop.payment_ids[n]}, plan_for(n))

            await run_all(len(waiting), late_buyer)
            assert shop.unpaid == set()
            await wait_until_settled(database, "after the replays")
            assert await fetch(database, "SELECT id FROM job WHERE state = 'dead'") == []
            stats = (await psp.get("/_admin/stats")).json()
            report = (await psp.get("/_admin/registrations")).json()["registrations"]

    orders = await fetch(
        database,
        "SELECT pe.id, pe.buyer_id, po.id, po.status, po.failure_code FROM payment_event pe "
        "JOIN payment_order po ON po.payment_event_id = pe.id",
    )
    succeeded_tx = Counter(
        row[0]
        for row in await fetch(
            database, "SELECT reference FROM ledger_transaction WHERE kind = 'payment_succeeded'"
        )
    )
    outbox = [
        json.loads(row[0])
        for row in await fetch(
            database,
            "SELECT payload FROM outbox_event WHERE topic = 'payment_order.status_changed'",
        )
    ]
    jobs = await fetch(
        database,
        "SELECT kind, state, count(*), sum(attempts + replays) FROM job GROUP BY kind, state "
        "ORDER BY kind, state",
    )
    await database.dispose()

    # every checkout became one payment, and every payment is terminal
    by_payment: dict[str, list[tuple[str, str | None]]] = {}
    buyer_of: dict[str, int] = {}
    for payment_id, buyer_id, _order_id, status, failure_code in orders:
        by_payment.setdefault(payment_id, []).append((status, failure_code))
        buyer_of[payment_id] = int(buyer_id.removeprefix("buyer-"))
    assert len(by_payment) == PAYMENTS
    assert sorted(buyer_of.values()) == list(range(PAYMENTS))
    outcome: dict[str, str] = {}
    for payment_id, statuses in by_payment.items():
        assert len({status for status, _ in statuses}) == 1, (payment_id, statuses)
        outcome[payment_id] = statuses[0][0]
        assert outcome[payment_id] in TERMINAL, (payment_id, statuses)

    # each payment reached the PSP under its one derived key, with at most one checkout
    several = [entry for entry in report if len(entry["idempotency_keys"]) > 1]
    assert stats["payments_with_several_keys"] == 0, several
    assert stats["payments_with_several_checkouts"] == 0
    seen = {entry["payment_id"]: entry for entry in report}
    assert set(seen) == set(by_payment)
    for payment_id, entry in seen.items():
        expected_key = derive_psp_idempotency_key("dev", f"order-{buyer_of[payment_id]}")
        assert list(entry["idempotency_keys"]) == [expected_key], entry
        assert len(entry["checkouts"]) <= 1, entry

    # none lost, none charged twice: what the PSP charged paymux has, once
    for payment_id, entry in seen.items():
        charged = [c for c in entry["checkouts"] if c["status"] == "succeeded"]
        assert len(charged) <= 1
        assert (outcome[payment_id] == "succeeded") is bool(charged), (payment_id, entry)

    # the buyers got what they did
    for payment_id, statuses in by_payment.items():
        plan = plan_for(buyer_of[payment_id])
        codes = {code for _, code in statuses}
        if codes == {"sandbox_rejected"}:  # refused at registration: failed, nothing to pay
            assert outcome[payment_id] == "failed"
        elif plan in (Plan.PAY, Plan.PAY_PENDING):
            assert outcome[payment_id] == "succeeded", (payment_id, statuses)
        elif plan is Plan.DECLINED:
            assert (outcome[payment_id], codes) == ("failed", {"card_declined"})
        else:
            assert (outcome[payment_id], codes) == ("expired", {JANITOR_EXPIRED})
    assert shop.counts["buyer found it expired"] == 0  # no buyer came too late

    # the ledger: one PaymentSucceeded per succeeded order, balanced per currency
    succeeded_orders = {
        order_id for _pid, _buyer, order_id, status, _code in orders if status == "succeeded"
    }
    assert set(succeeded_tx) == {f"payment_succeeded:{o}" for o in succeeded_orders}
    assert set(succeeded_tx.values()) <= {1}
    assert all(total == 0 for total in ledger_totals(postgres_url).values())
    # each order went into its terminal state once (no event repeated, none regressed)
    into_terminal = Counter(
        event["payment_order_id"] for event in outbox if event["current"] in TERMINAL
    )
    assert set(into_terminal.values()) == {1}
    assert len(into_terminal) == len(orders)

    # the faults really happened
    injected = faults_seen["faults_injected"]
    assert sum(injected.values()) >= PAYMENTS // 10
    assert {"unavailable", "timeout", "reset", "rate_limited", "rejected"} <= set(injected)
    assert set(faults_seen["webhook_faults"]) == {"duplicate", "reorder", "drop"}

    outcomes = Counter(outcome.values())
    print(
        f"\n{PAYMENTS} payments in {time.monotonic() - started:.0f} s "
        f"(checkouts and buyers {checkouts_done:.0f} s, then settled in {settled_in:.1f} s): "
        + ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
        + f"\nPSP: {stats['registration_requests']} registration requests, "
        f"{stats['registrations']} checkouts, {stats['status_requests']} status checks; "
        f"faults injected {dict(injected)}, webhook faults {faults_seen['webhook_faults']}"
        f"\ndead letters after the janitor's schedule: {len(dead_letters)} "
        f"{dict(Counter(kind for (kind,) in dead_letters))}, all replayed to a terminal state"
        f"\nshops and buyers: {dict(shop.counts)}"
        + "".join(
            f"\njobs {kind} {state}: {count}, {retries} failed attempts"
            for kind, state, count, retries in jobs
        )
    )
