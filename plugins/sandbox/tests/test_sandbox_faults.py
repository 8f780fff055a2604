"""The simulator's scripted faults and its ``/_admin`` controls, in process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRequest,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from paymux.core.settings import Settings
from paymux.currencies import Money
from paymux_sandbox import plugin
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.provider import SandboxProvider
from paymux_sandbox.simulator import SandboxPsp

BASE = "http://psp.test"
SUCCESS = "4242 4242 4242 4242"
DECLINE = "4000 0000 0000 0002"
PENDING_THEN_SUCCESS = "4000 0000 0000 3220"


@dataclass
class Psp:
    psp: SandboxPsp
    provider: SandboxProvider
    admin: httpx.AsyncClient
    webhooks: list[dict[str, object]] = field(default_factory=list)

    def statuses(self) -> list[object]:
        return [event["type"] for event in self.webhooks]


@pytest.fixture
async def sandbox() -> AsyncIterator[Psp]:
    config = SandboxConfig(
        request_timeout_seconds=0.3,
        stall_seconds=0.6,
        pending_delay_seconds=0.05,
        webhook_attempts=1,
    )
    received: list[dict[str, object]] = []

    def receive(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        return httpx.Response(200)

    psp = SandboxPsp(config, public_base=BASE, webhook_transport=httpx.MockTransport(receive))
    provider = SandboxProvider(
        config, base_url=BASE, webhook_url="http://paymux.test/wh", transport=psp.transport()
    )
    admin = httpx.AsyncClient(transport=psp.transport(), base_url=BASE)
    yield Psp(psp, provider, admin, received)
    await admin.aclose()
    await provider.aclose()
    await psp.aclose()


def checkout(payment_id: str = "pay_1") -> CheckoutRequest:
    return CheckoutRequest(
        payment_id=payment_id,
        amount=Money(1234, "EUR"),
        country="DE",
        payment_method="card",
        buyer_id="b1",
        order_references=("o1",),
        return_url=f"https://paymux.example/checkout/{payment_id}",
    )


async def test_a_fault_aimed_at_status_leaves_registrations_alone(sandbox: Psp) -> None:
    sandbox.psp.faults.queue_api("unavailable", "status")
    registration = await sandbox.provider.register_checkout(checkout(), idempotency_key="k")
    with pytest.raises(ProviderUnavailableError):
        await sandbox.provider.fetch_status(registration.token)
    assert (await sandbox.provider.fetch_status(registration.token)).status is (
        PaymentStatus.PENDING
    )
    assert sandbox.psp.faults.injected == {"unavailable": 1}


async def test_a_reset_registers_and_then_drops_the_connection(sandbox: Psp) -> None:
    sandbox.psp.fail_next("reset")
    with pytest.raises(ProviderUnavailableError) as raised:
        await sandbox.provider.register_checkout(checkout(), idempotency_key="k")
    assert raised.value.outcome_unknown
    assert len(sandbox.psp.checkouts) == 1  # the PSP acted before the connection dropped
    again = await sandbox.provider.register_checkout(checkout(), idempotency_key="k")
    assert list(sandbox.psp.checkouts) == [again.token]


async def test_requests_are_counted_per_payment_and_key_faults_included(sandbox: Psp) -> None:
    for fault in ("unavailable", "rate_limited", "timeout"):
        sandbox.psp.fail_next(fault)
    errors = (ProviderUnavailableError, ProviderRateLimitedError, ProviderTimeoutError)
    for _ in range(3):
        with pytest.raises(errors):
            await sandbox.provider.register_checkout(checkout(), idempotency_key="k1")
    await sandbox.provider.register_checkout(checkout(), idempotency_key="k1")
    await sandbox.provider.register_checkout(checkout("pay_2"), idempotency_key="k2")
    report = (await sandbox.admin.get("/_admin/registrations")).json()["registrations"]
    assert [(r["payment_id"], r["idempotency_keys"], len(r["checkouts"])) for r in report] == [
        ("pay_1", {"k1": 4}, 1),
        ("pay_2", {"k2": 1}, 1),
    ]
    one = (await sandbox.admin.get("/_admin/registrations?payment_id=pay_2")).json()
    assert [r["payment_id"] for r in one["registrations"]] == ["pay_2"]
    stats = (await sandbox.admin.get("/_admin/stats")).json()
    assert stats["registration_requests"] == 5
    assert stats["registrations"] == 2
    assert stats["payments_with_several_keys"] == 0
    assert stats["payments_with_several_checkouts"] == 0
    assert stats["faults_injected"] == {"unavailable": 1, "rate_limited": 1, "timeout": 1}


async def test_a_payment_registered_under_two_keys_shows(sandbox: Psp) -> None:
    await sandbox.provider.register_checkout(checkout(), idempotency_key="k1")
    await sandbox.provider.register_checkout(checkout(), idempotency_key="k2")
    stats = (await sandbox.admin.get("/_admin/stats")).json()
    assert stats["payments_with_several_keys"] == 1
    assert stats["payments_with_several_checkouts"] == 1


async def test_random_faults_follow_rate_operations_and_seed(sandbox: Psp) -> None:
    plan = {
        "random_api": [
            {"rate": 1.0, "faults": ["unavailable"], "operations": ["status"]},
            {"rate": 0.0, "faults": ["unavailable"]},
        ],
        "seed": 3,
    }
    assert (await sandbox.admin.post("/_admin/faults", json=plan)).status_code == 200
    registration = await sandbox.provider.register_checkout(checkout(), idempotency_key="k")
    for _ in range(3):
        with pytest.raises(ProviderUnavailableError):
            await sandbox.provider.fetch_status(registration.token)
    half = {"random_api": [{"rate": 0.5, "faults": ["unavailable", "rate_limited"]}], "seed": 1}
    await sandbox.admin.post("/_admin/faults", json=half)
    outcomes = []
    for _ in range(200):
        try:
            await sandbox.provider.fetch_status(registration.token)
            outcomes.append("ok")
        except ProviderRateLimitedError:
            outcomes.append("rate_limited")
        except ProviderUnavailableError:
            outcomes.append("unavailable")
    assert 60 < outcomes.count("ok") < 140
    assert outcomes.count("rate_limited") > 20
    assert outcomes.count("unavailable") > 20
    await sandbox.admin.post("/_admin/faults", json=half)  # the same seed: the same draws
    again = []
    for _ in range(200):
        try:
            await sandbox.provider.fetch_status(registration.token)
            again.append("ok")
        except ProviderRateLimitedError:
            again.append("rate_limited")
        except ProviderUnavailableError:
            again.append("unavailable")
    assert again == outcomes
    assert (await sandbox.admin.delete("/_admin/faults")).status_code == 204
    await sandbox.provider.fetch_status(registration.token)
    described = (await sandbox.admin.get("/_admin/faults")).json()
    assert described["random_api"] == []
    assert described["injected"]["unavailable"] >= 3


async def test_queued_faults_over_the_admin_api(sandbox: Psp) -> None:
    plan = {"api": ["rejected", {"fault": "timeout", "operation": "register"}]}
    described = (await sandbox.admin.post("/_admin/faults", json=plan)).json()
    assert described["api"] == [
        {"fault": "rejected", "operation": None},
        {"fault": "timeout", "operation": "register"},
    ]
    with pytest.raises(ProviderRejectedError) as raised:
        await sandbox.provider.register_checkout(checkout(), idempotency_key="k")
    assert raised.value.code == "sandbox_rejected"
    with pytest.raises(ProviderTimeoutError):
        await sandbox.provider.register_checkout(checkout(), idempotency_key="k")
    bad = await sandbox.admin.post("/_admin/faults", json={"api": ["explode"]})
    assert bad.status_code == 422
    bad_rate = {"random_api": [{"rate": 2, "faults": ["timeout"]}]}
    assert (await sandbox.admin.post("/_admin/faults", json=bad_rate)).status_code == 422


async def pay(sandbox: Psp, card: str, fault: str | None = None) -> str:
    registration = await sandbox.provider.register_checkout(checkout(), idempotency_key="k")
    if fault is not None:
        await sandbox.admin.post("/_admin/faults", json={"webhooks": [fault]})
    sandbox.psp.pay(registration.token, card)
    await sandbox.psp.idle()
    return registration.token


async def test_duplicate_webhooks_carry_the_same_event_twice(sandbox: Psp) -> None:
    await pay(sandbox, SUCCESS, "duplicate")
    assert sandbox.statuses() == ["payment.succeeded", "payment.succeeded"]
    assert sandbox.webhooks[0]["id"] == sandbox.webhooks[1]["id"]


async def test_reordered_webhooks_send_the_later_status_first(sandbox: Psp) -> None:
    await pay(sandbox, DECLINE, "reorder")
    assert sandbox.statuses() == ["payment.failed", "payment.pending"]
    first, second = sandbox.webhooks
    assert int(str(second["created"])) < int(str(first["created"]))


async def test_a_delayed_success_reordered_comes_before_its_pending(sandbox: Psp) -> None:
    await pay(sandbox, PENDING_THEN_SUCCESS, "reorder")
    assert sandbox.statuses() == ["payment.succeeded", "payment.pending"]


async def test_dropped_webhooks_never_come_but_the_status_changes(sandbox: Psp) -> None:
    token = await pay(sandbox, SUCCESS, "drop")
    assert sandbox.webhooks == []
    assert (await sandbox.provider.fetch_status(token)).status is PaymentStatus.SUCCEEDED
    stats = (await sandbox.admin.get("/_admin/stats")).json()
    assert stats["webhook_faults"] == {"drop": 1}
    assert stats["webhooks_delivered"] == 0
    assert stats["paid"] == 1


async def test_a_delayed_success_dropped_still_settles(sandbox: Psp) -> None:
    token = await pay(sandbox, PENDING_THEN_SUCCESS, "drop")
    assert sandbox.webhooks == []
    assert (await sandbox.provider.fetch_status(token)).status is PaymentStatus.SUCCEEDED


async def test_without_a_fault_each_status_is_sent_once(sandbox: Psp) -> None:
    await pay(sandbox, SUCCESS)
    assert sandbox.statuses() == ["payment.succeeded"]
    await sandbox.admin.post(
        "/_admin/faults", json={"random_webhooks": {"rate": 1.0, "faults": ["drop"]}}
    )
    registration = await sandbox.provider.register_checkout(checkout("pay_2"), idempotency_key="2")
    sandbox.psp.pay(registration.token, SUCCESS)
    await sandbox.psp.idle()
    assert sandbox.statuses() == ["payment.succeeded"]  # the second one was dropped


async def test_faults_apply_below_any_mount_point() -> None:
    psp = SandboxPsp(SandboxConfig(), public_base=f"{BASE}/shop/sandbox-psp")
    host = FastAPI()
    host.mount("/shop/sandbox-psp", psp.asgi())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url=BASE) as http:
        plan = {"api": [{"fault": "unavailable", "operation": "register"}]}
        assert (await http.post("/shop/sandbox-psp/_admin/faults", json=plan)).status_code == 200
        body = {
            "payment_id": "pay_1", "amount": 100, "currency": "EUR", "country": "DE",
            "method": "card", "buyer_id": "b", "references": ["o"],
            "return_url": "https://x.example", "webhook_url": "https://y.example",
        }  # fmt: skip
        headers = {"Idempotency-Key": "k"}
        first = await http.post("/shop/sandbox-psp/v1/checkouts", json=body, headers=headers)
        again = await http.post("/shop/sandbox-psp/v1/checkouts", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (503, 201)
    assert psp.keys_by_payment == {"pay_1": {"k": 2}}
    await psp.aclose()


def test_the_simulator_and_its_controls_are_mounted_in_sandbox_mode_only() -> None:
    sandbox = Settings(providers={"sandbox": {}})
    assert [mount.path for mount in plugin.paymux_asgi_mounts(settings=sandbox)] == ["/sandbox-psp"]
    live = Settings.model_construct(**{**dict(sandbox), "mode": "live"})
    assert plugin.paymux_asgi_mounts(settings=live) == []
