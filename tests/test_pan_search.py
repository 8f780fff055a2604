"""PCI hygiene end to end: test card numbers sent every way a client, a buyer or a PSP could
send them never end up in paymux's logs, database or published events.

The app runs on a real port (uvicorn's own loggers included) with paymux's logging set up at
DEBUG for every logger (SQLAlchemy's statements and rows, httpx, uvicorn's access log). Card
numbers go in JSON bodies, form fields, query strings, paths, headers and correctly signed
sandbox webhooks; the buyer pays on the sandbox PSP's hosted page with them (the PSP may take
them, paymux may not see them). Then the captured logs, a full dump of the database
(``pg_dump`` / SQLite's ``iterdump``), the outbox and the events the relay published are
searched for every card number, with and without separators.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from starlette.routing import Mount

from paymux.app.logging_setup import configure_logging
from paymux.core.events import CloudEvent
from paymux.core.outbox_relay import OutboxRelay
from paymux.core.settings import Settings
from paymux.core.storage.database import Database
from paymux_sandbox.config import DEFAULT_WEBHOOK_SECRET
from paymux_sandbox.signature import sign
from paymux_test_support import (
    API_KEY,
    auth,
    count_rows,
    free_socket,
    make_settings,
    outbox_payloads,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

PROBLEM = "https://paymux.dev/problems/"

CARD_NUMBERS = ("4242424242424242", "4000056655665556", "5555555555554444", "378282246310005")
"""Visa, Visa debit, Mastercard and American Express test numbers."""

_LOGGERS: tuple[str, ...] = (
    *("", "paymux", "paymux_sandbox", "uvicorn", "uvicorn.access", "uvicorn.error"),
    *("httpx", "httpcore", "sqlalchemy", "sqlalchemy.engine", "aiosqlite", "asyncio"),
)
"""Every logger set to DEBUG (SQLAlchemy's own default is WARNING)."""


def grouped(number: str, separator: str) -> str:
    """``4242 4242 4242 4242``; American Express as ``3782 822463 10005``."""
    sizes = (4, 6, 5) if len(number) == 15 else (4,) * (len(number) // 4)
    parts, start = [], 0
    for size in sizes:
        parts.append(number[start : start + size])
        start += size
    return separator.join(parts)


def spellings(number: str) -> tuple[str, str, str]:
    """The card number as digits, with spaces and with dashes."""
    return number, grouped(number, " "), grouped(number, "-")


def hits(text: str) -> list[str]:
    """Every card number of :data:`CARD_NUMBERS` in ``text``: contiguous, or with a space, a
    dash, ``+`` or ``%20`` between any two digits."""
    found = []
    for number in CARD_NUMBERS:
        pattern = r"(?:[ +\-]|%20|%2[dD])?".join(number)
        found += [match.group() for match in re.finditer(pattern, text)]
    return found


def test_the_search_finds_what_it_looks_for() -> None:
    assert hits("paid with 4242 4242 4242 4242 today") == ["4242 4242 4242 4242"]
    assert hits('{"pan": "3782-822463-10005"}') == ["3782-822463-10005"]
    assert hits("GET /v1/payments?q=5555+5555+5555+4444") == ["5555+5555+5555+4444"]
    assert hits("evt_4000056655665556") == ["4000056655665556"]
    assert hits("[card number ending 4242] 424242") == []


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything every logger writes at DEBUG, through paymux's logging setup (JSON)."""
    stream = io.StringIO()
    levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    handler = configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=stream)
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _serve(database_url: str) -> tuple[Any, str, Any, Any]:
    import threading

    import uvicorn

    from paymux.app import create_app

    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(make_settings(database_url, url))
    # log_config=None as `paymux serve` runs it: uvicorn logs through paymux's handler
    config = uvicorn.Config(app, log_config=None, log_level="debug", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        assert thread.is_alive(), "the server stopped"
        time.sleep(0.01)
    return app, url, server, thread


def _signed_webhook(url: str, event: dict[str, Any], **headers: str) -> httpx.Response:
    body = json.dumps(event).encode()
    signature = sign(body, secret=DEFAULT_WEBHOOK_SECRET, timestamp=int(time.time()))
    return httpx.post(
        f"{url}/v1/webhooks/sandbox",
        content=body,
        headers={"content-type": "application/json", "sandbox-signature": signature, **headers},
    )


def _event(token: str, status: str, event_id: str, **data: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": f"payment.{status}",
        "created": int(time.time()),
        "data": {"token": token, "status": status, "failure_code": None, **data},
    }


def _not_refused(response: httpx.Response) -> str | None:
    """Why ``response`` is not a proper refusal, or ``None``."""
    if response.status_code != 422:
        return f"answered {response.status_code}: {response.text[:200]}"
    problem = response.json()
    if problem["type"] != PROBLEM + "card-data-refused":
        return f"answered {problem['type']}"
    if problem.get("request_id") != response.headers.get("x-request-id"):
        return "no request id in the problem"
    if hits(response.text):
        return "the answer repeats the card number"
    return None


def _refused_requests(
    client: httpx.Client, url: str, number: str, payment: dict[str, Any]
) -> Iterator[tuple[str, httpx.Response]]:
    digits, spaced, dashed = spellings(number)
    token = str(payment["redirect_url"]).rsplit("/", 1)[1]
    key = f"k-{digits[-4:]}"

    def create(body: Any, **headers: str) -> httpx.Response:
        return client.post("/v1/payments", json=body, headers={"Idempotency-Key": key, **headers})

    yield "body field card_number", create(payment_body(card_number=digits))
    yield "body card.number and cvc", create(payment_body(card={"number": digits, "cvc": "123"}))
    yield "body cvv only", create(payment_body(cvv="123"))
    yield "body buyer_id", create(payment_body(buyer_id=spaced))
    orders = payment_body()["orders"]
    orders[1]["reference"] = f"paid by {dashed}"
    yield "body order reference", create(payment_body(orders=orders))
    yield "body integer", create(payment_body(buyer_id=int(digits)))
    yield "body key", create({**payment_body(), digits: "x"})
    yield (
        "body refund reason",
        client.post(
            f"/v1/payments/{payment['id']}/refunds",
            json={"reason": f"customer card {spaced}"},
            headers={"Idempotency-Key": f"r-{key}"},
        ),
    )
    yield (
        "body payout account",
        client.put(
            "/v1/sellers/seller-a/payout-method", json={"provider": "sandbox", "account": dashed}
        ),
    )
    yield (
        "form field",
        client.post(
            "/v1/payments",
            data={"card_number": digits, "cvc": "123"},
            headers={"Idempotency-Key": key},
        ),
    )
    yield "query", client.get("/v1/payments/" + payment["id"], params={"q": spaced})
    yield "query name", client.get("/v1/wallets/seller-a", params={"card_number": "x"})
    yield "status page query", httpx.get(f"{url}/checkout/{payment['id']}", params={"sig": digits})
    yield "path", client.get(f"/v1/payments/{spaced}")
    yield (
        "path of a write",
        client.put(
            f"/v1/sellers/{digits}/payout-method", json={"provider": "sandbox", "account": "acct"}
        ),
    )
    yield "idempotency key", create(payment_body(), **{"Idempotency-Key": dashed})
    yield "header", create(payment_body(), **{"X-Note": spaced})
    yield (
        "authorization",
        httpx.get(
            f"{url}/v1/payments/{payment['id']}", headers={"Authorization": f"Bearer {digits}"}
        ),
    )
    yield (
        "webhook data",
        _signed_webhook(
            url, _event(token, "failed", f"evt_x{digits[-4:]}", card={"number": digits})
        ),
    )
    yield (
        "webhook value",
        _signed_webhook(url, _event(token, "failed", f"evt_y{digits[-4:]}", note=f"card {spaced}")),
    )
    yield (
        "webhook header",
        _signed_webhook(url, _event(token, "failed", f"evt_z{digits[-4:]}"), **{"X-Card": dashed}),
    )


class _Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        self.published += [event.to_json() for event in events]

    async def aclose(self) -> None:
        pass


async def _publish_outbox(database_url: str) -> list[str]:
    recorder = _Recorder()
    database = Database(database_url)
    try:
        await OutboxRelay(database, [recorder]).drain()
    finally:
        await database.dispose()
    return recorder.published


def _database_dump(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(str(url.database)) as connection:
            return "\n".join(connection.iterdump())
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(  # noqa: S603 - pg_dump with our own test database
        ["pg_dump", "--no-owner", dsn],  # noqa: S607 - pg_dump from PATH
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return dump.stdout


def _sandbox_checkouts(app: Any) -> list[str]:
    for route in app.routes:
        if isinstance(route, Mount) and hasattr(route.app, "state"):
            psp = getattr(route.app.state, "psp", None)
            if psp is not None:
                return [repr(vars(checkout)) for checkout in psp.checkouts.values()]
    raise AssertionError("the sandbox PSP is not mounted")


def test_card_numbers_are_refused_and_never_logged_stored_or_published(
    database_url: str, captured_logs: io.StringIO
) -> None:
    app, url, server, thread = _serve(database_url)
    try:
        not_refused = _scenario(app, url, database_url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    logs = captured_logs.getvalue()
    assert "uvicorn.access" in logs, "uvicorn's access log was not captured"
    assert "sqlalchemy.engine" in logs, "SQLAlchemy's log was not captured"
    access = [json.loads(line) for line in logs.splitlines() if '"uvicorn.access"' in line]
    assert all("request_id" in record for record in access), "an access log without request id"
    dump = _database_dump(database_url)
    assert "payment_event" in dump
    payloads = outbox_payloads(database_url)
    published = asyncio.run(_publish_outbox(database_url))
    assert payloads, "no event in the outbox"
    assert published, "no event published"
    found = {
        "logs": hits(logs),
        "database dump": hits(dump),
        "outbox": hits("\n".join(payloads)),
        "published events": hits("\n".join(published)),
        "logs of the relay": hits(captured_logs.getvalue()[len(logs) :]),
    }
    failures = {"not refused": not_refused, **found}
    assert not any(failures.values()), {place: spots[:5] for place, spots in failures.items()}


def _scenario(app: Any, url: str, database_url: str) -> list[str]:
    with httpx.Client(base_url=url, headers=auth(API_KEY), timeout=10.0) as client:
        paid = []
        for index, card in enumerate(("4242 4242 4242 4242", "5555555555554444")):
            created = client.post(
                "/v1/payments", json=payment_body(), headers={"Idempotency-Key": f"ok-{index}"}
            )
            assert created.status_code == 201, created.text
            payment = created.json()
            paid_page = pay_on_hosted_page(payment["redirect_url"], card)
            assert paid_page.status_code == 200
            paid.append(payment)
        for payment in paid:
            wait_for_status(client, payment["id"], "succeeded", timeout=5.0)
        checkouts = _sandbox_checkouts(app)
        assert any("'card_last4': '4242'" in checkout for checkout in checkouts)
        assert not hits("\n".join(checkouts))

        legit = client.put(
            "/v1/sellers/seller-4111/payout-method",
            json={"provider": "sandbox", "account": "BE68 5390 0754 7034", "holder_name": "Jo"},
        )
        assert legit.status_code == 200, legit.text  # an IBAN is not a card number

        pending = client.post(
            "/v1/payments", json=payment_body(), headers={"Idempotency-Key": "pending"}
        ).json()
        before = count_rows(database_url)
        not_refused = [
            f"{number} in the {where}: {reason}"
            for number in CARD_NUMBERS
            for where, response in _refused_requests(client, url, number, pending)
            if (reason := _not_refused(response)) is not None
        ]
        if count_rows(database_url) != before:
            not_refused.append(f"rows written: {before} -> {count_rows(database_url)}")
        status = client.get(f"/v1/payments/{pending['id']}").json()["status"]
        if status != "pending":
            not_refused.append(f"a refused webhook changed the payment to {status}")

        request_id = client.get("/healthz", headers={"X-Request-ID": CARD_NUMBERS[0]})
        assert request_id.status_code == 200
        assert request_id.headers["x-request-id"] != CARD_NUMBERS[0]
    return not_refused
