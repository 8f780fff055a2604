"""Crash tests on PostgreSQL: real ``paymux serve``, ``paymux worker`` and ``paymux relay``
processes, one of them killed with SIGKILL at a crash point (``PAYMUX_CRASH_AT``, see
:mod:`paymux.core.crashpoints`) and restarted.

Each scenario creates two payments over HTTP (the client retries with the same
Idempotency-Key, as the API asks), the buyer pays the first and is declined on the second,
and the worker and the relay run until nothing is left to do. Then:

- every payment is in the right terminal state (paid: succeeded; declined: failed), with one
  payment per idempotency key and the same answer to the key's last request;
- the sandbox PSP, which runs in this test process and so survives every kill, holds exactly
  one registration per payment, the one paymux stored;
- the ledger sums to zero per currency, with one ``payment_succeeded`` transaction per paid
  order, and each order's status events form one chain (no change applied twice);
- every outbox event reached the publisher (the relay's log publisher) at least once, and the
  consumer helper :class:`~paymux.core.events_consumer.Deduplicator` applied each once.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from paymux.core import crashpoints
from paymux.core.events_consumer import Deduplicator
from paymux.core.storage.database import sync_url
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.simulator import SandboxPsp
from paymux_test_support import (
    DECLINE_CARD,
    SUCCESS_CARD,
    auth,
    free_socket,
    ledger_totals,
    payment_body,
    serve_in_thread,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]

PAYMUX = str(Path(sys.executable).with_name("paymux"))
COMMANDS = {
    "serve": ["serve"],  # with --port, see Cluster.start
    "worker": ["worker"],
    "relay": ["relay"],
}
READY_LINES = {"worker": "running (Ctrl-C stops)", "relay": "relaying events to"}
EVENT_LINE = re.compile(r" paymux\.events (\{.*\})$")
"""A line of the log publisher in the relay's output (its ``logging.basicConfig`` format)."""

T = TypeVar("T")


@dataclass(frozen=True)
class Crash:
    """Which process dies, and where (the value of its ``PAYMUX_CRASH_AT``)."""

    process: str
    at: str

    @property
    def point(self) -> str:
        return self.at.partition(":")[0]

    def __str__(self) -> str:
        return f"{self.process}@{self.at}"


SCENARIOS = [
    # the API, on the inline registration of the first payment ...
    Crash("serve", crashpoints.PAYMENT_COMMITTED),
    Crash("serve", crashpoints.BEFORE_PSP_CALL),
    Crash("serve", crashpoints.PSP_ANSWERED),
    Crash("serve", crashpoints.STATUS_COMMITTED),  # pending committed, 201 not sent
    # ... and on the first payment's succeeded webhook (its second status change)
    Crash("serve", f"{crashpoints.STATUS_COMMITTED}:2"),
    # a worker, on the registration job the API handed over (the PSP was unavailable)
    Crash("worker", crashpoints.BEFORE_PSP_CALL),
    Crash("worker", crashpoints.PSP_ANSWERED),
    Crash("worker", crashpoints.STATUS_COMMITTED),
    # the relay, after publishing its second batch (of two events), before marking it
    Crash("relay", f"{crashpoints.RELAY_PUBLISHED}:2"),
]


def wait_until(what: str, probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll ``probe`` until it returns something other than ``None`` (or fail after
    ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


# -- the sandbox PSP, in this process -------------------------------------------------------


@contextmanager
def sandbox_psp() -> Iterator[tuple[str, SandboxPsp]]:
    """The sandbox PSP on a port of its own in this test process (so it keeps its state
    while paymux's processes die); yields its base URL and the simulator."""
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    psp = SandboxPsp(SandboxConfig(), public_base=url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await psp.aclose()

    app = FastAPI(lifespan=lifespan)
    app.mount("/", psp.asgi())
    with serve_in_thread(app, sock):
        yield url, psp


# -- paymux's processes ---------------------------------------------------------------------


class Cluster:
    """``paymux serve`` (no embedded worker), one ``paymux worker`` and one ``paymux relay``
    on one PostgreSQL database, talking to the sandbox PSP at ``psp_url``."""

    def __init__(
        self, directory: Path, database_url: str, psp_url: str, crash: Crash, *, pycache: Path
    ) -> None:
        self.directory = directory
        self.database_url = database_url
        self.crash = crash
        sock = free_socket()
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, list[Path]] = defaultdict(list)
        self.crashed = False
        self._started = time.monotonic()
        base = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("PAYMUX_") and name != "PYTHONDONTWRITEBYTECODE"
        }
        self.env = {
            **base,
            "PYTHONUNBUFFERED": "1",
            # a dozen processes start per scenario: compile the sources once, in a cache of
            # this test session (never beside the sources)
            "PYTHONPYCACHEPREFIX": str(pycache),
            "PAYMUX_DATABASE_URL": database_url,
            "PAYMUX_PUBLIC_URL": self.url,
            "PAYMUX_PROVIDERS": json.dumps(
                {"sandbox": {"base_url": psp_url, "request_timeout_seconds": 3.0}}
            ),
            "PAYMUX_EMBEDDED_WORKER": "never",
            "PAYMUX_IDEMPOTENCY_LOCK_SECONDS": "2",
            "PAYMUX_WORKER_LEASE_SECONDS": "2",
            "PAYMUX_WORKER_IDLE_SECONDS": "0.1",
            "PAYMUX_JOB_RETRY__REGISTER_PAYMENT__BASE_SECONDS": "0.2",
            "PAYMUX_JOB_RETRY__REGISTER_PAYMENT__CAP_SECONDS": "1",
            "PAYMUX_RELAY_INTERVAL_SECONDS": "0.1",
            "PAYMUX_RELAY_BATCH_SIZE": "2",
            "PAYMUX_LOG_PUBLISHER": "always",
        }

    def note(self, message: str) -> None:
        """Print a timed progress line (pytest shows them when a scenario fails)."""
        print(f"{time.monotonic() - self._started:6.1f}s  {message}")

    # -- processes --------------------------------------------------------------------------

    def start(self, name: str) -> None:
        """Start ``name``; the first run of the crashing process gets ``PAYMUX_CRASH_AT``."""
        env = dict(self.env)
        if name == self.crash.process and not self.crashed:
            env[crashpoints.ENVIRONMENT_VARIABLE] = self.crash.at
        log = self.directory / f"{name}-{len(self.logs[name]) + 1}.log"
        self.logs[name].append(log)
        command = [PAYMUX, *COMMANDS[name]]
        if name == "serve":
            command += ["--port", str(self.port)]
        with log.open("wb") as output:
            self.processes[name] = subprocess.Popen(  # noqa: S603 - our own CLI
                command, env=env, stdout=output, stderr=subprocess.STDOUT
            )

    def wait_ready(self, name: str) -> None:
        """Wait until ``name`` serves (``/healthz``) or printed its banner."""

        def ready() -> bool | None:
            process = self.processes[name]
            assert process.poll() is None, f"{name} exited:\n{self.output(name)}"
            if name == "serve":
                try:
                    return httpx.get(f"{self.url}/healthz").status_code == 200 or None
                except httpx.TransportError:
                    return None
            return READY_LINES[name] in self.output(name) or None

        wait_until(f"{name} to start", ready, timeout=60)

    def start_all(self) -> None:
        for name in COMMANDS:
            self.start(name)
        for name in COMMANDS:
            self.wait_ready(name)
        self.note("serve, worker and relay are up")

    def output(self, name: str, run: int = -1) -> str:
        return self.logs[name][run].read_text(errors="replace")

    def await_crash(self, timeout: float = 30.0) -> None:
        """Wait for the crashing process to die by SIGKILL at its point; restart it."""
        name = self.crash.process
        process = self.processes[name]
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{name} did not crash at {self.crash.at}:\n{self.output(name)}"
            ) from None
        assert process.returncode == -signal.SIGKILL, self.output(name)
        assert f"crash point {self.crash.point} reached" in self.output(name)
        self.note(f"{name} died at {self.crash.at}")
        self.crashed = True
        self.start(name)
        self.wait_ready(name)
        self.note(f"{name} is up again")

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    # -- the client and the buyer -----------------------------------------------------------

    def post_payment(self, key: str) -> httpx.Response | None:
        """One ``POST /v1/payments`` with ``key``; ``None`` if the connection broke."""
        try:
            return httpx.post(
                f"{self.url}/v1/payments",
                json=payment_body(),
                headers=auth(idempotency_key=key),
                timeout=15,
            )
        except httpx.TransportError:
            return None

    def create_payment(self, key: str) -> dict[str, Any]:
        """Send the request until it answers 201, as a client should (same key)."""

        def created() -> dict[str, Any] | None:
            response = self.post_payment(key)
            if response is None or response.status_code in (409, 503):
                time.sleep(0.1)
                return None
            assert response.status_code == 201, response.text
            body: dict[str, Any] = response.json()
            return body

        return wait_until(f"payment {key} to be created", created, timeout=60)

    def get_payment(self, payment_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/v1/payments/{payment_id}", headers=auth(), timeout=10)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_for_status(self, payment_id: str, status: str) -> dict[str, Any]:
        def settled() -> dict[str, Any] | None:
            payment = self.get_payment(payment_id)
            return payment if payment["status"] == status else None

        return wait_until(f"payment {payment_id} to be {status}", settled, timeout=30)

    # -- the database -----------------------------------------------------------------------

    def query(self, sql: str) -> list[Any]:
        engine = create_engine(sync_url(self.database_url))
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(sql)).all())
        finally:
            engine.dispose()

    def scalar(self, sql: str) -> int:
        return int(self.query(sql)[0][0])


def buyer_pays(redirect_url: str, card: str) -> None:
    """The buyer submits the hosted page; the PSP redirects to paymux's status page, which
    the buyer does not open (the service may be down just then)."""
    with httpx.Client(timeout=10.0) as browser:
        page = browser.get(redirect_url)
        page.raise_for_status()
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None, "the hosted page has no form"
        submitted = browser.post(
            httpx.URL(redirect_url).join(action.group(1)),
            data={"card_number": card, "expiry": "12/34", "cvc": "123"},
        )
    assert submitted.status_code == 303, submitted.text


def delivered_events(cluster: Cluster) -> list[dict[str, Any]]:
    """Every event the relays' log publisher wrote, in order, duplicates included (the
    relays log JSON lines, their output not being a terminal; text lines are read too)."""
    events = []
    for log in cluster.logs["relay"]:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("logger") == "paymux.events":
                    events.append(json.loads(record["message"]))
                continue
            match = EVENT_LINE.search(line)
            if match:
                events.append(json.loads(match.group(1)))
    return events


async def apply_once(events: list[dict[str, Any]], consumer_url: str) -> list[str]:
    """Feed ``events`` to a consumer through the Deduplicator; the ids it applied."""
    applied: list[str] = []

    async def apply(event: dict[str, Any]) -> None:
        applied.append(str(event["id"]))

    dedup = Deduplicator(consumer_url)
    try:
        for event in events:
            await dedup.handle("crash-test", event, apply)
    finally:
        await dedup.aclose()
    return applied


# -- the scenarios --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pycache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where paymux's processes keep their compiled bytecode."""
    return tmp_path_factory.mktemp("pycache")


@pytest.mark.parametrize("crash", SCENARIOS, ids=str)
def test_a_killed_process_loses_nothing(
    crash: Crash, postgres_url: str, tmp_path: Path, pycache: Path
) -> None:
    with sandbox_psp() as (psp_url, psp):
        cluster = Cluster(tmp_path, postgres_url, psp_url, crash, pycache=pycache)
        try:
            cluster.start_all()
            paid, declined = run_scenario(cluster, psp, crash)
            settle(cluster)
            check_replays(cluster, paid=paid, declined=declined)
        finally:
            cluster.stop_all()
        assert cluster.crashed, f"{crash} never happened"
        check_outcome(cluster, psp, paid=paid, declined=declined)
        check_events(cluster, tmp_path, duplicates_expected=crash.process == "relay")
        if crash.point == crashpoints.PSP_ANSWERED:
            # the PSP accepted the first call; the second got the same registration back
            assert psp.registration_requests >= 2


def run_scenario(cluster: Cluster, psp: SandboxPsp, crash: Crash) -> tuple[str, str]:
    """Create, crash, recover, pay; the ids of the paid and of the declined payment."""
    if crash.process == "worker":
        psp.fail_next("unavailable")  # the API hands the registration to the workers
    first = cluster.post_payment("crash-paid")
    if crash.process == "serve" and crash.at != f"{crashpoints.STATUS_COMMITTED}:2":
        assert first is None, "the service answered although it should have died"
        cluster.await_crash()
    elif crash.process == "worker":
        assert first is not None
        assert first.status_code == 503, first.text
        payment_id = str(first.json()["payment_id"])
        cluster.await_crash()
        wait_until(
            "the worker to register the payment",
            lambda: cluster.get_payment(payment_id)["redirect_url"],
        )
    paid = cluster.create_payment("crash-paid")
    buyer_pays(paid["redirect_url"], SUCCESS_CARD)
    if crash.at == f"{crashpoints.STATUS_COMMITTED}:2":
        cluster.await_crash()  # the succeeded webhook committed, its answer never went out
    declined = cluster.create_payment("crash-declined")
    buyer_pays(declined["redirect_url"], DECLINE_CARD)
    if crash.process == "relay":
        cluster.await_crash()
    cluster.wait_for_status(paid["id"], "succeeded")
    cluster.wait_for_status(declined["id"], "failed")
    cluster.note("both payments settled")
    return str(paid["id"]), str(declined["id"])


def settle(cluster: Cluster) -> None:
    """Let the worker finish every job and the relay publish every event."""

    def none_left(sql: str) -> Callable[[], bool | None]:
        return lambda: cluster.scalar(sql) == 0 or None

    wait_until(
        "every job to be done",
        none_left(  # the nightly reconciliation's next run is not work left
            "SELECT count(*) FROM job WHERE state <> 'done' AND kind <> 'reconcile_nightly'"
        ),
        timeout=30,
    )
    wait_until(
        "every event to be published",
        none_left("SELECT count(*) FROM outbox_event WHERE published_at IS NULL"),
        timeout=30,
    )
    cluster.note("every job done, every event published")


def check_replays(cluster: Cluster, *, paid: str, declined: str) -> None:
    """Each key's request, sent once more, answers its one payment."""
    for key, payment_id in (("crash-paid", paid), ("crash-declined", declined)):
        again = cluster.post_payment(key)
        assert again is not None
        assert again.status_code == 201, again.text
        assert again.json()["id"] == payment_id


def check_outcome(cluster: Cluster, psp: SandboxPsp, *, paid: str, declined: str) -> None:
    assert cluster.scalar("SELECT count(*) FROM payment_event") == 2  # one per key
    statuses = dict(
        Counter(
            (str(row[0]), str(row[1]))
            for row in cluster.query("SELECT payment_event_id, status FROM payment_order")
        )
    )
    assert statuses == {(paid, "succeeded"): 2, (declined, "failed"): 2}

    # at most one registration per payment at the PSP, and it is the one paymux stored
    at_psp = Counter(checkout.request.payment_id for checkout in psp.checkouts.values())
    assert at_psp == Counter({paid: 1, declined: 1})
    stored = {
        str(row[0]): str(row[1])
        for row in cluster.query("SELECT payment_event_id, token FROM psp_registration")
    }
    for token, checkout in psp.checkouts.items():
        assert stored[checkout.request.payment_id] == token

    # the ledger balances, and each paid order was booked once
    assert ledger_totals(cluster.database_url) == {"EUR": 0}
    booked = cluster.scalar(
        "SELECT count(*) FROM ledger_transaction WHERE kind = 'payment_succeeded'"
    )
    assert booked == 2
    assert cluster.scalar("SELECT count(*) FROM job WHERE state = 'dead'") == 0


def check_events(cluster: Cluster, tmp_path: Path, *, duplicates_expected: bool) -> None:
    outbox = {
        str(row[0]): (str(row[1]), json.loads(row[2]))
        for row in cluster.query("SELECT id, topic, payload FROM outbox_event")
    }
    delivered = delivered_events(cluster)
    assert {str(event["id"]) for event in delivered} == set(outbox)
    if duplicates_expected:
        assert len(delivered) > len(outbox), "the relay's crash should have repeated events"

    applied = asyncio.run(apply_once(delivered, f"sqlite+aiosqlite:///{tmp_path / 'consumer.db'}"))
    assert sorted(applied) == sorted(outbox)

    # each order's status events chain from executing to its final status: none twice
    chains: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for topic, payload in outbox.values():
        if topic == "payment_order.status_changed":
            chains[payload["payment_order_id"]].append((payload["previous"], payload["current"]))
    finals = {
        str(row[0]): str(row[1]) for row in cluster.query("SELECT id, status FROM payment_order")
    }
    assert set(chains) == set(finals)
    created = Counter(topic for topic, _payload in outbox.values())["payment.created"]
    assert created == 2
    for order_id, changes in chains.items():
        ordered = order_chain(changes)
        assert ordered[-1] == finals[order_id], (order_id, changes)


def order_chain(changes: list[tuple[str, str]]) -> list[str]:
    """The statuses ``changes`` walk through from ``executing``; fails unless they form one
    chain that uses every change exactly once."""
    remaining = list(changes)
    walk = ["executing"]
    while remaining:
        step = next((change for change in remaining if change[0] == walk[-1]), None)
        assert step is not None, f"{changes} do not chain from {walk}"
        remaining.remove(step)
        walk.append(step[1])
    return walk
