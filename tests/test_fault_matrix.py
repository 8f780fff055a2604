"""The fault matrix: every PSP fault paymux must survive, through a running service.

Each case runs paymux on a real port with the sandbox PSP mounted (SQLite and PostgreSQL),
a job worker in the test's event loop (as a separate ``paymux worker`` would run), and
short retry and janitor settings. Faults are scripted over the simulator's
``/sandbox-psp/_admin/faults``; what the PSP saw comes from ``/_admin/registrations``.

| Fault | Expected |
| ----- | -------- |
| decline (registration refused, card declined) | ``failed``, the PSP asked once, no retry |
| 5xx, timeout, reset, 429 | retried with the same PSP key, ``pending`` then ``succeeded`` |
| 429 | the next attempt waits ``Retry-After`` |
| failing every attempt | a dead letter with its reason; a replay completes it |
| duplicate or reordered webhooks | the ledger posts once, no status goes back |
| a webhook that never comes | the janitor settles it, or expires it after its last check |
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from paymux.app.runtime import PaymuxRuntime, create_runtime
from paymux.core.domain.jobs import Job, JobState
from paymux.core.jobs.payment_jobs import JANITOR_EXPIRED
from paymux.core.services.payments import (
    check_job_key,
    derive_psp_idempotency_key,
    register_job_key,
)
from paymux.core.storage.tables import (
    LedgerTransactionRow,
    OutboxEventRow,
    ProcessedWebhookEventRow,
    table_of,
)
from paymux.core.storage.unit_of_work import PaymentStore
from paymux_test_support import (
    DECLINE_CARD,
    SUCCESS_CARD,
    LiveService,
    auth,
    live_service,
    make_settings,
    pay_on_hosted_page,
    payment_body,
)

RETRY = {"max_attempts": 3, "base_seconds": 0.05, "cap_seconds": 2.0}
"""Back-off: at most 0.05 s, then 0.1 s; a Retry-After is believed up to the cap."""
SETTINGS: dict[str, Any] = {
    "embedded_worker": "never",  # the test runs the worker
    "janitor_schedule": {"sandbox": [0.5, 0.5, 0.5]},
    "job_retry": {"register_payment": RETRY, "check_payment": RETRY},
}
SANDBOX: dict[str, Any] = {
    "request_timeout_seconds": 1.0,
    "stall_seconds": 1.2,
    "retry_after_seconds": 1,
    "pending_delay_seconds": 0.1,
    "webhook_attempts": 3,
}
RETRYABLE = ["unavailable", "timeout", "reset", "rate_limited"]
ORDERS = 2  # payment_body() has two sellers


@dataclass
class Rig:
    """The service, a worker beside it, and clients for the API and the PSP's controls."""

    service: LiveService
    runtime: PaymuxRuntime
    api: httpx.AsyncClient
    psp: httpx.AsyncClient

    async def faults(self, **plan: Any) -> None:
        answer = await self.psp.post("/_admin/faults", json=plan)
        assert answer.status_code == 200, answer.text

    async def registration_faults(self, *faults: str) -> None:
        await self.faults(api=[{"fault": f, "operation": "register"} for f in faults])

    async def create(self, key: str = "checkout-1") -> httpx.Response:
        return await self.api.post(
            "/v1/payments", json=payment_body(), headers={"Idempotency-Key": key}
        )

    async def payment(self, payment_id: str) -> dict[str, Any]:
        answer = await self.api.get(f"/v1/payments/{payment_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def wait_for(self, payment_id: str, status: str, within: float = 8.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            body = await self.payment(payment_id)
            if body["status"] == status:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"payment is {body['status']}, not {status}: {body}")
            await asyncio.sleep(0.05)

    async def pay(
        self, payment: dict[str, Any], card: str = SUCCESS_CARD, *, returns: bool = True
    ) -> None:
        """The buyer pays on the hosted page and, if ``returns``, follows the redirect back to
        paymux's status page (which asks the PSP); otherwise they close the tab."""
        if returns:
            page = await asyncio.to_thread(pay_on_hosted_page, payment["redirect_url"], card)
            assert page.status_code == 200, page.text
            return
        async with httpx.AsyncClient(timeout=10) as browser:
            form = await browser.get(payment["redirect_url"])
            action = re.search(r'<form method="post" action="([^"]+)"', form.text)
            assert action is not None
            submitted = await browser.post(
                httpx.URL(payment["redirect_url"]).join(action.group(1)),
                data={"card_number": card, "expiry": "12/34", "cvc": "123"},
            )
        assert submitted.status_code == 303, submitted.text

    async def seen_by_psp(self, payment_id: str) -> dict[str, Any]:
        answer = await self.psp.get("/_admin/registrations", params={"payment_id": payment_id})
        [registration] = answer.json()["registrations"]
        result: dict[str, Any] = registration
        return result

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = (await self.psp.get("/_admin/stats")).json()
        return result

    async def job(self, key: str) -> Job:
        async with PaymentStore(self.runtime.database).begin() as uow:
            job = await uow.jobs.get_by_key(key)
        assert job is not None, f"no job {key}"
        return job

    async def wait_for_job(
        self, key: str, predicate: Callable[[Job], bool], within: float = 8.0
    ) -> Job:
        deadline = time.monotonic() + within
        while True:
            job = await self.job(key)
            if predicate(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {key} did not get there: {job}")
            await asyncio.sleep(0.02)

    async def rows(self, table: Any, *where: Any) -> list[Any]:
        async with self.runtime.database.transaction() as session:
            return list((await session.execute(sa.select(table).where(*where))).all())

    async def ledger(self, payment: dict[str, Any]) -> int:
        """PaymentSucceeded transactions of the payment's orders."""
        ledger = table_of(LedgerTransactionRow)
        references = [f"payment_succeeded:{order['id']}" for order in payment["orders"]]
        return len(await self.rows(ledger, ledger.c.reference.in_(references)))

    async def status_events(self, payment_id: str) -> list[tuple[str, str, str | None]]:
        """``(previous, current, failure_code)`` of every status change in the outbox."""
        outbox = table_of(OutboxEventRow)
        rows = await self.rows(
            outbox,
            outbox.c.topic == "payment_order.status_changed",
            outbox.c.key == payment_id,
        )
        payloads = [json.loads(row.payload) for row in rows]
        return sorted((p["previous"], p["current"], p["failure_code"]) for p in payloads)

    async def webhooks_processed(self) -> int:
        return len(await self.rows(table_of(ProcessedWebhookEventRow)))


def psp_key(idempotency_key: str = "checkout-1") -> str:
    return derive_psp_idempotency_key("dev", idempotency_key)


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    with live_service(database_url, settings=SETTINGS, **SANDBOX) as service:
        # the worker's own runtime, as a `paymux worker` process beside the service has
        settings = make_settings(database_url, service.url, settings=SETTINGS, **SANDBOX)
        runtime = create_runtime(settings)
        stop = asyncio.Event()
        worker = asyncio.create_task(
            runtime.create_worker(worker_id="matrix").run(stop, idle_seconds=0.02)
        )
        try:
            async with (
                httpx.AsyncClient(base_url=service.url, headers=auth(), timeout=10) as api,
                httpx.AsyncClient(base_url=f"{service.url}/sandbox-psp", timeout=10) as psp,
            ):
                yield Rig(service, runtime, api, psp)
        finally:
            stop.set()
            await worker
            await runtime.aclose()


# -- declines: never retried -------------------------------------------------------------------


async def test_a_refused_registration_fails_at_once_and_is_never_retried(rig: Rig) -> None:
    await rig.registration_faults("rejected")
    created = await rig.create()
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["status"] == "failed"
    assert {order["failure_code"] for order in payment["orders"]} == {"sandbox_rejected"}
    assert (await rig.job(register_job_key(payment["id"]))).state is JobState.DONE
    await asyncio.sleep(0.3)  # the worker has every chance to call again
    seen = await rig.seen_by_psp(payment["id"])
    assert seen["idempotency_keys"] == {psp_key(): 1}
    assert seen["checkouts"] == []
    assert (await rig.payment(payment["id"]))["status"] == "failed"


async def test_a_declined_card_fails_the_payment_once(rig: Rig) -> None:
    payment = (await rig.create()).json()
    await rig.pay(payment, DECLINE_CARD)
    failed = await rig.wait_for(payment["id"], "failed")
    assert {order["failure_code"] for order in failed["orders"]} == {"card_declined"}
    assert (await rig.seen_by_psp(payment["id"]))["idempotency_keys"] == {psp_key(): 1}
    assert await rig.ledger(payment) == 0
    assert await rig.status_events(payment["id"]) == sorted(
        [("executing", "pending", None)] * ORDERS
        + [("pending", "failed", "card_declined")] * ORDERS
    )
    assert (await rig.job(check_job_key(payment["id"]))).state is JobState.DONE


# -- retryable faults: same PSP key, then success -------------------------------------------------


@pytest.mark.parametrize("fault", RETRYABLE)
async def test_a_retryable_fault_is_retried_with_the_same_psp_key(rig: Rig, fault: str) -> None:
    await rig.registration_faults(fault)
    created = await rig.create()
    assert created.status_code == 503, created.text
    assert created.json()["type"].endswith("provider-unavailable")
    payment_id = created.json()["payment_id"]
    job = await rig.job(register_job_key(payment_id))
    assert job.attempts == 1
    assert job.last_error is not None
    if fault == "reset":  # the status line came, then the connection broke
        assert "RemoteProtocolError" in job.last_error
    if fault == "rate_limited":
        assert "ProviderRateLimitedError" in job.last_error
        # Retry-After: 1 is believed: the retry is due a second later
        assert job.next_run_at - job.updated_at == timedelta(seconds=1)
    pending = await rig.wait_for(payment_id, "pending")
    seen = await rig.seen_by_psp(payment_id)
    assert seen["idempotency_keys"] == {psp_key(): 2}  # the retry kept the key
    assert len(seen["checkouts"]) == 1  # one registration at the PSP, whatever happened
    await rig.pay(pending)
    await rig.wait_for(payment_id, "succeeded")
    assert await rig.ledger(pending) == ORDERS
    changes = await rig.status_events(payment_id)
    assert changes.count(("pending", "succeeded", None)) == ORDERS
    # a lost answer left the payment unknown until the retry; a 429 said nothing was done
    went_unknown = ("executing", "unknown", None) in changes
    assert went_unknown is (fault != "rate_limited")


async def test_a_429_in_the_worker_waits_for_retry_after(rig: Rig) -> None:
    await rig.registration_faults("unavailable", "rate_limited")
    created = await rig.create()
    assert created.status_code == 503
    payment_id = created.json()["payment_id"]
    job = await rig.wait_for_job(register_job_key(payment_id), lambda job: job.attempts == 2)
    assert job.state is JobState.QUEUED
    assert job.last_error is not None
    assert "ProviderRateLimitedError" in job.last_error
    # due a second after the 429 (the worker reads its clock twice: a few µs apart)
    waited = job.next_run_at - job.updated_at
    assert timedelta(seconds=0.99) < waited <= timedelta(seconds=1)
    shown = await rig.payment(payment_id)
    assert shown["pending"]["reason"] == "outcome_unknown"  # the first 5xx left it unknown
    await rig.wait_for(payment_id, "pending")
    assert (await rig.seen_by_psp(payment_id))["idempotency_keys"] == {psp_key(): 3}


# -- what keeps failing: the dead-letter queue --------------------------------------------------


async def test_a_registration_failing_every_attempt_is_dead_lettered_and_replayed(
    rig: Rig,
) -> None:
    await rig.registration_faults("unavailable", "unavailable", "unavailable")
    created = await rig.create()
    payment_id = created.json()["payment_id"]
    dead = await rig.wait_for_job(
        register_job_key(payment_id), lambda job: job.state is JobState.DEAD
    )
    shown = await rig.payment(payment_id)
    assert shown["status"] == "unknown"  # never failed: the PSP may have acted
    assert shown["pending"]["reason"] == "needs_attention"
    assert shown["pending"]["dead_letter_id"] == dead.id
    [letter] = (await rig.api.get("/v1/dead-letters")).json()["dead_letters"]
    assert letter["id"] == dead.id
    assert letter["kind"] == "register_payment"
    assert "ProviderUnavailableError" in letter["last_error"]
    assert "attempt 3 of 3" in letter["last_error"]
    replayed = await rig.api.post(f"/v1/dead-letters/{dead.id}/replay")
    assert replayed.status_code == 202, replayed.text
    pending = await rig.wait_for(payment_id, "pending")
    assert (await rig.api.get("/v1/dead-letters")).json()["dead_letters"] == []
    await rig.pay(pending)
    await rig.wait_for(payment_id, "succeeded")
    seen = await rig.seen_by_psp(payment_id)
    assert seen["idempotency_keys"] == {psp_key(): 4}
    assert len(seen["checkouts"]) == 1


async def test_a_janitor_check_failing_every_attempt_is_dead_lettered_and_replayed(
    rig: Rig,
) -> None:
    payment = (await rig.create()).json()
    await rig.faults(api=[{"fault": "timeout", "operation": "status"}] * 3, webhooks=["drop"])
    await rig.pay(payment, returns=False)
    dead = await rig.wait_for_job(
        check_job_key(payment["id"]), lambda job: job.state is JobState.DEAD
    )
    assert dead.last_error is not None
    assert "ProviderTimeoutError" in dead.last_error
    shown = await rig.payment(payment["id"])
    assert shown["status"] == "pending"  # the webhook never came and nobody could ask
    assert shown["pending"]["reason"] == "needs_attention"
    assert shown["pending"]["dead_letter_id"] == dead.id
    assert (await rig.api.post(f"/v1/dead-letters/{dead.id}/replay")).status_code == 202
    await rig.wait_for(payment["id"], "succeeded")
    assert await rig.ledger(payment) == ORDERS
    assert await rig.webhooks_processed() == 0  # the janitor settled it


# -- webhooks: duplicated, reordered, dropped -------------------------------------------------


@pytest.mark.parametrize("webhook_fault", ["duplicate", "reorder"])
async def test_duplicate_and_reordered_webhooks_post_the_ledger_once(
    rig: Rig, webhook_fault: str
) -> None:
    payment = (await rig.create()).json()
    await rig.faults(webhooks=[webhook_fault])
    await rig.pay(payment)
    await rig.wait_for(payment["id"], "succeeded")
    deadline = time.monotonic() + 5
    while (await rig.stats())["webhooks_delivered"] < 2:  # both events arrived
        assert time.monotonic() < deadline, await rig.stats()
        await asyncio.sleep(0.05)
    assert (await rig.payment(payment["id"]))["status"] == "succeeded"  # nothing went back
    assert await rig.ledger(payment) == ORDERS
    assert await rig.status_events(payment["id"]) == sorted(
        [("executing", "pending", None)] * ORDERS + [("pending", "succeeded", None)] * ORDERS
    )
    expected_events = 1 if webhook_fault == "duplicate" else 2  # one event id twice, or two
    assert await rig.webhooks_processed() == expected_events


async def test_a_dropped_webhook_is_settled_by_the_janitor(rig: Rig) -> None:
    payment = (await rig.create()).json()
    await rig.faults(webhooks=["drop"])
    await rig.pay(payment, returns=False)  # the buyer closes the tab: only the janitor asks
    await rig.wait_for(payment["id"], "succeeded")
    assert await rig.webhooks_processed() == 0
    stats = await rig.stats()
    assert stats["webhook_faults"] == {"drop": 1}
    assert stats["webhooks_delivered"] == 0
    assert stats["status_requests"] >= 1
    assert await rig.ledger(payment) == ORDERS
    check = await rig.job(check_job_key(payment["id"]))
    assert (check.state, check.runs >= 1) == (JobState.DONE, True)


async def test_a_dropped_webhook_is_settled_when_the_buyer_returns(rig: Rig) -> None:
    payment = (await rig.create()).json()
    await rig.faults(webhooks=["drop"])
    await rig.pay(payment)  # back on paymux's status page, which asks the PSP
    assert (await rig.payment(payment["id"]))["status"] == "succeeded"
    assert await rig.webhooks_processed() == 0
    assert await rig.ledger(payment) == ORDERS


async def test_a_payment_nobody_pays_is_expired_after_the_janitors_last_check(rig: Rig) -> None:
    payment = (await rig.create()).json()
    expired = await rig.wait_for(payment["id"], "expired")
    assert {order["failure_code"] for order in expired["orders"]} == {JANITOR_EXPIRED}
    assert await rig.status_events(payment["id"]) == sorted(
        [("executing", "pending", None)] * ORDERS
        + [("pending", "expired", JANITOR_EXPIRED)] * ORDERS
    )
    check = await rig.job(check_job_key(payment["id"]))
    assert check.state is JobState.DONE
    assert check.payload["check"] == 2  # three checks: 0, 1 and 2
    stats = await rig.stats()
    assert stats["status_requests"] == 3
    assert await rig.ledger(payment) == 0
