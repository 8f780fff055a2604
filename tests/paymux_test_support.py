"""Helpers shared by paymux's tests: settings, a live server, and a test buyer."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from paymux.app import create_app
from paymux.core.settings import DEVELOPMENT_API_KEY, Settings

API_KEY = DEVELOPMENT_API_KEY
OTHER_API_KEY = "pmx_test_other_client"
SUCCESS_CARD = "4242 4242 4242 4242"
DECLINE_CARD = "4000 0000 0000 0002"


def make_settings(
    database_url: str,
    public_url: str = "http://127.0.0.1:9",
    *,
    settings: Mapping[str, Any] | None = None,
    **sandbox: Any,
) -> Settings:
    """Sandbox settings for tests: quick timeouts, two API clients; ``settings`` overrides
    other fields (``janitor_schedule``, ``job_retry``, ``embedded_worker`` ...), ``sandbox``
    the sandbox provider's."""
    config = {
        "request_timeout_seconds": 3.0,  # timeout tests set their own, shorter values
        "stall_seconds": 4.0,
        "pending_delay_seconds": 0.3,
        **sandbox,
    }
    fields: dict[str, Any] = {
        "api_keys": {API_KEY: "dev", OTHER_API_KEY: "other"},
        "providers": {"sandbox": config},
        **dict(settings or {}),
    }
    return Settings(database_url=database_url, public_url=public_url, **fields)


def payment_body(**overrides: Any) -> dict[str, Any]:
    """A valid checkout with two sellers."""
    body: dict[str, Any] = {
        "buyer_id": "buyer-1",
        "currency": "EUR",
        "country": "DE",
        "payment_method": "card",
        "return_url": "https://shop.example/thanks",
        "orders": [
            {
                "seller_id": "seller-a",
                "amount": "30.00",
                "commission": "3.00",
                "logistics_fee": "4.50",
                "reference": "order-1",
            },
            {"seller_id": "seller-b", "amount": "12.50", "reference": "order-2"},
        ],
    }
    body.update(overrides)
    return body


def auth(key: str = API_KEY, idempotency_key: str | None = None) -> dict[str, str]:
    """Headers with an API key and, if given, an idempotency key."""
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def free_socket() -> socket.socket:
    """A listening TCP socket on 127.0.0.1 with a port the OS picked."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class LiveService:
    """A paymux app served by uvicorn in a thread, reachable over real HTTP."""

    url: str
    app: FastAPI

    def client(self, key: str = API_KEY) -> httpx.Client:
        """A client with the API key set."""
        return httpx.Client(base_url=self.url, headers=auth(key), timeout=10.0)


@contextmanager
def serve_in_thread(app: FastAPI, sock: socket.socket) -> Iterator[None]:
    """Run ``app`` on ``sock`` until the block ends."""
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def live_service(
    database_url: str, *, settings: Mapping[str, Any] | None = None, **sandbox: Any
) -> Iterator[LiveService]:
    """paymux on a real port, with the sandbox PSP mounted (``settings``: see
    :func:`make_settings`)."""
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(make_settings(database_url, url, settings=settings, **sandbox))
    with serve_in_thread(app, sock):
        yield LiveService(url=url, app=app)


def pay_on_hosted_page(redirect_url: str, card: str) -> httpx.Response:
    """Do what the buyer does: open the hosted page, submit a card, follow the redirect."""
    with httpx.Client(follow_redirects=True, timeout=10.0) as browser:
        page = browser.get(redirect_url)
        page.raise_for_status()
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None, "the hosted page has no form"
        target = httpx.URL(redirect_url).join(action.group(1))
        return browser.post(target, data={"card_number": card, "expiry": "12/34", "cvc": "123"})


def wait_for_status(
    client: httpx.Client, payment_id: str, status: str, timeout: float = 2.0
) -> dict[str, Any]:
    """Poll ``GET /v1/payments/{id}`` until the payment reaches ``status``."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/v1/payments/{payment_id}").json()
        if body["status"] == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"payment is {body['status']} after {timeout}s, not {status}")
        time.sleep(0.05)


def count_rows(database_url: str) -> dict[str, int]:
    """Rows per paymux table, read with a synchronous connection."""
    from sqlalchemy import create_engine, text

    from paymux.core.storage.database import sync_url

    tables = (
        "payment_event",
        "payment_order",
        "psp_registration",
        "idempotency_key",
        "processed_webhook_event",
        "outbox_event",
        "ledger_transaction",
        "ledger_posting",
        "ledger_account",
        "refund",
        "payout",
        "job",
    )
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return {
                table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - fixed names
                for table in tables
            }
    finally:
        engine.dispose()


def sandbox_stats(service_url: str) -> dict[str, Any]:
    """The sandbox PSP's counters: registrations made and received, faults injected ..."""
    stats: dict[str, Any] = httpx.get(f"{service_url}/sandbox-psp/_admin/stats").json()
    return stats


def ledger_totals(database_url: str) -> dict[str, int]:
    """The sum of all postings per currency (zero in a sound ledger)."""
    from sqlalchemy import create_engine, text

    from paymux.core.storage.database import sync_url

    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT currency, SUM(amount_minor) FROM ledger_posting GROUP BY currency")
            ).all()
        return {str(currency): int(total) for currency, total in rows}
    finally:
        engine.dispose()


def outbox_payloads(database_url: str) -> list[str]:
    """Every outbox event's payload (JSON text), read with a synchronous connection."""
    from sqlalchemy import create_engine, text

    from paymux.core.storage.database import sync_url

    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return [
                str(row)
                for row in connection.execute(text("SELECT payload FROM outbox_event")).scalars()
            ]
    finally:
        engine.dispose()
