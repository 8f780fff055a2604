"""The dead-letter queue over HTTP and from the command line, and the embedded worker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paymux.app.cli import cli
from paymux.app.factory import create_app
from paymux.app.runtime import PaymuxRuntime
from paymux.core.domain.jobs import JobState, NewJob
from paymux.core.storage.database import Database
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.unit_of_work import PaymentStore
from paymux_test_support import OTHER_API_KEY, auth, live_service, make_settings, payment_body

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url).model_copy(update={"embedded_worker": "never"})
    with TestClient(create_app(settings), headers=auth()) as test_client:
        yield test_client


def runtime_of(client: TestClient) -> PaymuxRuntime:
    return runtime_of_app(client.app)


def runtime_of_app(app: object) -> PaymuxRuntime:
    runtime: PaymuxRuntime = app.state.paymux  # type: ignore[attr-defined]
    return runtime


def dead_letter(client: TestClient, key: str, client_id: str = "dev") -> str:
    """A job nobody can run (no handler for its kind), dead-lettered by a worker."""
    runtime = runtime_of(client)

    async def make() -> str:
        async with PaymentStore(runtime.database).begin() as uow:
            await uow.jobs.enqueue(
                NewJob("no_such_kind", key, {"note": key}), now=NOW, client_id=client_id
            )
            job = await uow.jobs.get_by_key(key)
        await runtime.create_worker(worker_id="test").drain()
        assert job is not None
        return job.id

    return client.portal.call(make)  # type: ignore[union-attr]


def test_dead_letters_are_listed_per_client_and_replayed_once(client: TestClient) -> None:
    mine = dead_letter(client, "a")
    theirs = dead_letter(client, "b", client_id="other")
    listed = client.get("/v1/dead-letters")
    assert listed.status_code == 200
    [job] = listed.json()["dead_letters"]
    assert (job["id"], job["state"], job["kind"]) == (mine, "dead", "no_such_kind")
    assert "no handler" in job["last_error"]
    assert listed.json()["next_after"] is None
    # another client's dead letter does not exist for this one
    assert client.get(f"/v1/dead-letters/{theirs}").status_code == 404
    assert client.post(f"/v1/dead-letters/{theirs}/replay").status_code == 404
    other = client.get("/v1/dead-letters", headers=auth(OTHER_API_KEY)).json()
    assert [j["id"] for j in other["dead_letters"]] == [theirs]
    replayed = client.post(f"/v1/dead-letters/{mine}/replay")
    assert replayed.status_code == 202, replayed.text
    assert (replayed.json()["state"], replayed.json()["replays"]) == ("queued", 1)
    again = client.post(f"/v1/dead-letters/{mine}/replay")
    assert again.status_code == 409
    assert again.json()["type"].endswith("job-not-dead")
    assert client.get("/v1/dead-letters").json()["dead_letters"] == []
    assert client.get("/v1/dead-letters/job_missing").status_code == 404
    assert client.get("/v1/dead-letters?limit=0").status_code == 422


def test_dead_letters_page(client: TestClient) -> None:
    ids = sorted(dead_letter(client, f"k{n}") for n in range(3))
    first = client.get("/v1/dead-letters?limit=2").json()
    assert [j["id"] for j in first["dead_letters"]] == ids[:2]
    rest = client.get(f"/v1/dead-letters?limit=2&after={first['next_after']}").json()
    assert [j["id"] for j in rest["dead_letters"]] == ids[2:]
    assert rest["next_after"] is None


def test_dlq_cli_lists_and_replays(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = dead_letter(client, "cli")
    monkeypatch.setenv("PAYMUX_DATABASE_URL", database_url)
    runner = CliRunner()
    listed = runner.invoke(cli, ["dlq", "list"])
    assert listed.exit_code == 0, listed.output
    assert job_id in listed.output
    assert "no handler" in listed.output
    as_json = runner.invoke(cli, ["dlq", "list", "--json"])
    assert json.loads(as_json.output.splitlines()[0])["id"] == job_id
    replayed = runner.invoke(cli, ["dlq", "replay", job_id])
    assert replayed.exit_code == 0, replayed.output
    assert "replayed" in replayed.output
    twice = runner.invoke(cli, ["dlq", "replay", job_id])
    assert twice.exit_code == 1
    assert "not dead" in twice.output
    missing = runner.invoke(cli, ["dlq", "replay", "job_nope"])
    assert missing.exit_code == 1
    empty = runner.invoke(cli, ["dlq", "list"])
    assert "empty" in empty.output


def test_worker_once_runs_what_is_due(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = runtime_of(client)

    async def enqueue() -> None:
        async with PaymentStore(runtime.database).begin() as uow:
            await uow.jobs.enqueue(NewJob("no_such_kind", "w1"), now=NOW, client_id="dev")

    client.portal.call(enqueue)  # type: ignore[union-attr]
    monkeypatch.setenv("PAYMUX_DATABASE_URL", database_url)
    monkeypatch.setenv("PAYMUX_API_KEYS", '{"pmx_dev_sandbox_key": "dev"}')
    monkeypatch.setenv("PAYMUX_RECONCILIATION_HOUR", "0")  # yesterday's run is due, any time
    result = CliRunner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    # the job, and yesterday's nightly reconciliation the worker queued when it started
    # (due since midnight; the sandbox is not reachable here, so it is retried later)
    assert "ran 2 job(s)" in result.output
    assert "1 dead-lettered" in result.output
    assert "1 to retry" in result.output


def test_the_embedded_worker_runs_jobs_in_the_service(sqlite_url: str) -> None:
    async def enqueue() -> None:
        database = Database(sqlite_url)
        async with PaymentStore(database).begin() as uow:
            await uow.jobs.enqueue(NewJob("no_such_kind", "e1"), now=NOW, client_id="dev")
        await database.dispose()

    async def counts() -> dict[JobState, int]:
        database = Database(sqlite_url)
        try:
            return await JobQueue(database).counts()
        finally:
            await database.dispose()

    with live_service(sqlite_url) as service, service.client() as http:
        assert runtime_of_app(service.app).runs_embedded_worker
        created = http.post("/v1/payments", json=payment_body(), headers={"Idempotency-Key": "1"})
        assert created.status_code == 201, created.text
        assert created.json()["pending"] is None  # the stored answer stays as it was
        shown = http.get(f"/v1/payments/{created.json()['id']}").json()
        assert shown["pending"]["reason"] == "awaiting_buyer"
        assert shown["pending"]["next_check_at"] is not None
        assert "redirect_url" in shown["pending"]["detail"]
        asyncio.run(enqueue())
        deadline = time.monotonic() + 5
        while asyncio.run(counts())[JobState.DEAD] == 0:
            assert time.monotonic() < deadline, "the embedded worker did not run the job"
            time.sleep(0.05)
    # the embedded worker took the job; the registration is done, the janitor's first check
    # waits for its time
    assert asyncio.run(counts()) == {
        JobState.QUEUED: 1,
        JobState.RUNNING: 0,
        JobState.DONE: 1,
        JobState.DEAD: 1,
    }
