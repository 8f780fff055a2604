"""``GET /metrics``: the exposition counts what the database holds and the requests served."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from paymux.app.factory import create_app
from paymux.app.runtime import create_runtime
from paymux.core.domain.jobs import NewJob
from paymux.core.settings import Settings
from paymux_test_support import (
    DECLINE_CARD,
    SUCCESS_CARD,
    auth,
    live_service,
    make_settings,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

HEADER = (
    "line_id,type,payment_reference,modification_reference,merchant_reference,currency,"
    "gross,fee,net,booked_at,batch"
)
UNKNOWN_CAPTURES = (
    "\n".join(
        [
            HEADER,
            "sbxln_1,capture,sbxref_nobody,,,EUR,10.00,0.39,9.61,2026-11-23T09:00:00Z,b1",
            "sbxln_2,capture,sbxref_noone,,,EUR,5.00,0.20,4.80,2026-11-23T10:00:00Z,b1",
        ]
    )
    + "\n"
).encode()
"""A sandbox settlement file with two captures of payments paymux never saw."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: httpx.Client | TestClient, **headers: str) -> Samples:
    """Every sample of ``GET /metrics``, by name and labels."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


def create_payment(client: httpx.Client, key: str) -> dict[str, Any]:
    response = client.post("/v1/payments", json=payment_body(), headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def queue_jobs(settings: Settings) -> None:
    """A dead letter (a kind no worker handles), one job held by a worker, one whose
    worker's lease ran out, one due now, one due in an hour."""
    runtime = create_runtime(settings)
    try:
        now = datetime.now(UTC)
        await runtime.jobs.enqueue(NewJob("no_such_kind", "metrics-dead"), client_id="dev")
        await runtime.create_worker(worker_id="metrics-test").drain()
        await runtime.jobs.enqueue(NewJob("metrics_held", "metrics-held"), now=now)
        [held] = await runtime.jobs.claim(
            worker="metrics-test", now=now, lease=timedelta(minutes=5), limit=1
        )
        assert held.kind == "metrics_held"
        # a worker that claimed a job an hour ago with a one-minute lease, then died
        past = now - timedelta(hours=1)
        await runtime.jobs.enqueue(NewJob("metrics_orphan", "metrics-orphan"), now=past)
        [orphan] = await runtime.jobs.claim(
            worker="metrics-dead-worker", now=past, lease=timedelta(minutes=1), limit=1
        )
        assert orphan.kind == "metrics_orphan"
        await runtime.jobs.enqueue(NewJob("metrics_ready", "metrics-ready"), now=now)
        await runtime.jobs.enqueue(
            NewJob("metrics_later", "metrics-later", run_at=now + timedelta(hours=1)), now=now
        )
    finally:
        await runtime.aclose()


def test_a_scrape_counts_payments_jobs_dead_letters_and_discrepancies(database_url: str) -> None:
    with (
        live_service(database_url, settings={"embedded_worker": "never"}) as service,
        service.client() as client,
    ):
        paid, declined, _waiting = (create_payment(client, f"metrics-{n}") for n in range(3))
        pay_on_hosted_page(paid["redirect_url"], SUCCESS_CARD)
        pay_on_hosted_page(declined["redirect_url"], DECLINE_CARD)
        wait_for_status(client, paid["id"], "succeeded")
        wait_for_status(client, declined["id"], "failed")
        run = client.post(
            "/v1/reconciliations",
            params={"provider": "sandbox"},
            content=UNKNOWN_CAPTURES,
            headers={"Idempotency-Key": "metrics-recon"},
        )
        assert run.status_code == 201, run.text
        assert run.json()["new_discrepancies"] == 2
        asyncio.run(queue_jobs(make_settings(database_url)))

        samples = scrape(client)

    # three checkouts of two orders each: one paid, one declined, one still on the hosted page
    orders = {
        status: value(samples, "paymux_payment_orders", status=status)
        for status in ("succeeded", "failed", "pending", "unknown", "executing")
    }
    assert orders == {"succeeded": 2, "failed": 2, "pending": 2, "unknown": 0, "executing": 0}
    assert value(samples, "paymux_dead_letters", kind="no_such_kind") == 1
    assert value(samples, "paymux_dead_letters", kind="register_payment") == 0
    assert value(samples, "paymux_jobs", kind="metrics_ready", state="ready") == 1
    assert value(samples, "paymux_jobs", kind="metrics_ready", state="scheduled") == 0
    assert value(samples, "paymux_jobs", kind="metrics_later", state="scheduled") == 1
    assert value(samples, "paymux_jobs", kind="metrics_later", state="ready") == 0
    assert value(samples, "paymux_jobs", kind="metrics_held", state="running") == 1
    assert value(samples, "paymux_jobs", kind="metrics_held", state="ready") == 0
    assert value(samples, "paymux_jobs", kind="metrics_orphan", state="ready") == 1
    assert value(samples, "paymux_jobs", kind="metrics_orphan", state="running") == 0
    assert (
        value(
            samples,
            "paymux_reconciliation_open_discrepancies",
            provider="sandbox",
            kind="unknown_reference",
        )
        == 2
    )
    created = value(
        samples,
        "paymux_http_request_duration_seconds_count",
        method="POST",
        route="/v1/payments",
        status="2xx",
    )
    assert created == 3


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    settings = make_settings(sqlite_url, settings={"embedded_worker": "never"})
    with TestClient(create_app(settings), headers=auth()) as test_client:
        yield test_client


def test_latency_is_counted_per_route_template_method_and_status_class(
    client: TestClient,
) -> None:
    for payment_id in ("pay_one", "pay_two"):
        assert client.get(f"/v1/payments/{payment_id}").status_code == 404
    assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/path/42").status_code == 404
    assert client.get("/sandbox-psp/v1/checkouts/tok_1").status_code == 404
    assert client.delete("/healthz").status_code == 405
    for made_up in ("M0", "Z1", "BREW"):  # clients choose methods: not a label each
        client.request(made_up, "/healthz")
    first = scrape(client)
    second = scrape(client)

    def count(samples: Samples, method: str, route: str, status: str) -> float:
        name = "paymux_http_request_duration_seconds_count"
        return samples.get(
            (name, frozenset(dict(method=method, route=route, status=status).items())), 0
        )

    assert count(first, "GET", "/v1/payments/{payment_id}", "4xx") == 2
    assert count(first, "GET", "/healthz", "2xx") == 1
    assert count(first, "DELETE", "/healthz", "4xx") == 1
    assert count(first, "other", "/healthz", "4xx") == 3
    methods = {dict(labels).get("method") for (_, labels) in first}
    assert not methods & {"M0", "Z1", "BREW"}
    assert count(first, "GET", "unmatched", "4xx") == 1
    assert count(first, "GET", "/sandbox-psp/v1/checkouts/{token}", "4xx") == 1
    # a scrape is observed once answered: the second sees the first, no raw path is a label
    assert count(first, "GET", "/metrics", "2xx") == 0
    assert count(second, "GET", "/metrics", "2xx") == 1
    routes = {dict(labels)["route"] for (_, labels) in first if "route" in dict(labels)}
    assert not any("pay_one" in route or "42" in route for route in routes)
    bucket = value(
        first,
        "paymux_http_request_duration_seconds_bucket",
        method="GET",
        route="/v1/payments/{payment_id}",
        status="4xx",
        le="+Inf",
    )
    assert bucket == 2


def test_two_apps_in_one_process_keep_their_own_counts(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, settings={"embedded_worker": "never"})
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        one.get("/healthz")
        one.get("/healthz")
        two.get("/healthz")
        name = "paymux_http_request_duration_seconds_count"
        labels = frozenset({"method": "GET", "route": "/healthz", "status": "2xx"}.items())
        assert scrape(one)[name, labels] == 2
        assert scrape(two)[name, labels] == 1


def test_a_metrics_token_is_required_when_set(sqlite_url: str) -> None:
    settings = make_settings(
        sqlite_url, settings={"embedded_worker": "never", "metrics_token": "scrape-me-0123456789"}
    )
    with TestClient(create_app(settings)) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"] == "Bearer"
        # an API key is no metrics token
        assert client.get("/metrics", headers=auth()).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        samples = scrape(client, Authorization="Bearer scrape-me-0123456789")
        assert value(samples, "paymux_payment_orders", status="pending") == 0
    with pytest.raises(ValidationError, match="at least 16"):  # an empty token is no token
        make_settings(sqlite_url, settings={"metrics_token": ""})


def test_openmetrics_is_served_when_asked_for(client: TestClient) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
