"""paymux's logging setup: JSON lines with request and job ids, card numbers masked everywhere
a record can carry them, and request ids on every answer."""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from paymux.app.logging_setup import configure_logging
from paymux.app.request_ids import is_sane_request_id
from paymux.core.domain.jobs import Done, Job, JobOutcome, NewJob
from paymux.core.identifiers import utc_now
from paymux.core.jobs.worker import Worker
from paymux.core.settings import Settings
from paymux.core.storage.database import Database
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.unit_of_work import PaymentStore
from paymux_test_support import auth, live_service, payment_body

PAN = "4242424242424242"
log = logging.getLogger("paymux.tests.logging")


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_json_lines_mask_card_numbers_in_message_args_extras_and_tracebacks(
    json_logs: io.StringIO,
) -> None:
    log.info("paid with %s", "4242 4242 4242 4242", extra={"card": {"pan": PAN}, "n": [PAN]})
    try:
        raise ValueError(f"bad card {PAN}")
    except ValueError:
        log.exception("failed for %s", PAN)
    log.warning("stack", stack_info=True, extra={"raw": PAN.encode()})
    text = json_logs.getvalue()
    assert PAN not in text.replace(" ", "")
    first, second, third = records(json_logs)
    assert first["message"] == "paid with [card number ending 4242]"
    assert first["level"] == "INFO"
    assert first["time"].endswith("+00:00")
    assert first["time"][10] == "T"
    assert first["logger"] == "paymux.tests.logging"
    assert first["card"] == {"pan": "[card number ending 4242]"}
    assert first["n"] == ["[card number ending 4242]"]
    assert "ValueError: bad card [card number ending 4242]" in second["exc_info"]
    assert "stack_info" in third
    assert third["raw"] == "[card number ending 4242]"


def test_the_log_publishers_events_reach_consumers_unchanged(json_logs: io.StringIO) -> None:
    # a random event id whose digits pass the Luhn check (seen in a crash test's relay log)
    event = json.dumps({"id": "evt_0491098798a7530800313867", "type": "payment.succeeded"})
    logging.getLogger("paymux.events").info(event)
    log.info("relayed %s", "evt_0491098798a7530800313867")
    published, diagnostic = records(json_logs)
    assert json.loads(published["message"])["id"] == "evt_0491098798a7530800313867"
    assert diagnostic["message"] == "relayed evt_0491098798a[card number ending 3867]"


def test_text_format_and_a_second_call_replace_the_handler() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    before = len(root.handlers)
    first = configure_logging(Settings(log_format="text"), stream=io.StringIO())
    second = configure_logging(Settings(log_format="text"), stream=stream)
    try:
        assert first not in root.handlers
        assert len(root.handlers) == before + 1
        log.info("card %s", PAN)
        assert stream.getvalue().endswith(
            "INFO paymux.tests.logging: card [card number ending 4242]\n"
        )
    finally:
        root.removeHandler(second)
        root.setLevel(logging.WARNING)


def test_auto_format_is_text_on_a_terminal_and_json_otherwise() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    root = logging.getLogger()
    for stream, expected in ((Terminal(), "text"), (io.StringIO(), "json")):
        handler = configure_logging(Settings(), stream=stream)
        try:
            log.warning("hello")
        finally:
            root.removeHandler(handler)
        assert stream.getvalue().startswith("{") == (expected == "json"), stream.getvalue()


async def test_a_worker_s_log_records_carry_the_job_id(
    sqlite_url: str, json_logs: io.StringIO
) -> None:
    async def handler(job: Job) -> JobOutcome:
        log.info("working on it")
        return Done()

    database = Database(sqlite_url)
    try:
        async with PaymentStore(database).begin() as uow:
            await uow.jobs.enqueue(NewJob("k", "k:1", {}), now=utc_now(), client_id="c1")
        worker = Worker(JobQueue(database), {"k": handler}, rng=random.Random(1))
        assert await worker.drain() == 1
    finally:
        await database.dispose()
    (line,) = [r for r in records(json_logs) if r["message"] == "working on it"]
    assert line["job_id"].startswith("job_")
    assert line["job_kind"] == "k"
    log.info("after the job")
    assert "job_id" not in records(json_logs)[-1]


def test_every_answer_has_a_request_id_and_its_logs_carry_it(
    sqlite_url: str, json_logs: io.StringIO
) -> None:
    with live_service(sqlite_url) as service:
        fresh = httpx.get(f"{service.url}/healthz")
        assert len(fresh.headers["x-request-id"]) == 32
        kept = httpx.get(f"{service.url}/healthz", headers={"X-Request-ID": "lb-7f3a:01"})
        assert kept.headers["x-request-id"] == "lb-7f3a:01"
        replaced = httpx.get(f"{service.url}/healthz", headers={"X-Request-ID": "a b\x01"})
        assert replaced.headers["x-request-id"] != "a b\x01"
        refused = httpx.post(
            f"{service.url}/v1/payments",
            json=payment_body(card_number=PAN),
            headers={**auth(idempotency_key="k1"), "X-Request-ID": "req-42"},
        )
        assert refused.status_code == 422
        assert refused.headers["x-request-id"] == "req-42"
        assert refused.json()["request_id"] == "req-42"
        assert refused.json()["errors"] == [
            {"in": "body", "at": "/card_number", "detail": "a card number or security code field"}
        ]
    (line,) = [r for r in records(json_logs) if r["logger"] == "paymux.app.card_data"]
    assert line["request_id"] == "req-42"
    assert line["message"] == (
        "refused POST /v1/payments: it carries card data (body /card_number)"
    )


@pytest.mark.parametrize(
    ("value", "sane"),
    [
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("lb-7f3a:01", True),
        ("", False),
        ("a" * 129, False),
        ("has space", False),
        (PAN, False),
    ],
)
def test_sane_request_ids(value: str, sane: bool) -> None:
    assert is_sane_request_id(value) is sane
