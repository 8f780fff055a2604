"""The durable executor against real databases: claims, retries, dead letters, replays,
lost workers, circuit breaking, and many workers on PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from paymux.core.domain.jobs import (
    Done,
    GiveUp,
    Job,
    JobOutcome,
    JobState,
    NewJob,
    Retry,
    RunAgainAt,
)
from paymux.core.jobs.circuit import CircuitBreakers
from paymux.core.jobs.retry import RetryPolicy
from paymux.core.jobs.worker import JobHandler, Worker
from paymux.core.ports.provider import (
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from paymux.core.storage.database import Database
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.unit_of_work import PaymentStore

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Scripted:
    """A handler that answers from a script (an outcome, or an exception to raise)."""

    script: list[JobOutcome | Exception] = field(default_factory=list)
    seen: list[Job] = field(default_factory=list)

    async def __call__(self, job: Job) -> JobOutcome:
        self.seen.append(job)
        step = self.script.pop(0) if self.script else Done()
        if isinstance(step, Exception):
            raise step
        return step


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


async def enqueue(database: Database, *jobs: NewJob, now: datetime = START) -> None:
    async with PaymentStore(database).begin() as uow:
        for job in jobs:
            await uow.jobs.enqueue(job, now=now, client_id="c1")


def worker(
    database: Database,
    handlers: dict[str, JobHandler],
    clock: Clock,
    *,
    breakers: CircuitBreakers | None = None,
    worker_id: str = "w1",
    max_attempts: int = 3,
) -> Worker:
    return Worker(
        JobQueue(database),
        handlers,
        policies={"k": RetryPolicy(max_attempts=max_attempts, base_seconds=1, cap_seconds=8)},
        breakers=breakers,
        worker_id=worker_id,
        lease_seconds=60,
        clock=clock,
        rng=random.Random(1),
    )


async def only_job(database: Database) -> Job:
    queue = JobQueue(database)
    found = [job for state in JobState for job in await _jobs(queue, state)]
    assert len(found) == 1
    return found[0]


async def _jobs(queue: JobQueue, state: JobState) -> list[Job]:
    import sqlalchemy as sa

    from paymux.core.storage.job_repository import job_from_row
    from paymux.core.storage.tables import JobRow, table_of

    table = table_of(JobRow)
    async with queue.database.transaction() as session:
        rows = (await session.execute(sa.select(table).where(table.c.state == state.value))).all()
    return [job_from_row(row._mapping) for row in rows]


async def test_a_job_runs_once_and_is_done(database: Database) -> None:
    clock, handler = Clock(), Scripted()
    await enqueue(database, NewJob("k", "k:1", {"n": 1}))
    await enqueue(database, NewJob("k", "k:1", {"n": 2}))  # same key: not queued twice
    w = worker(database, {"k": handler}, clock)
    assert await w.drain() == 1
    assert await w.drain() == 0
    assert [job.payload for job in handler.seen] == [{"n": 1}]
    job = await only_job(database)
    assert job.state is JobState.DONE
    assert job.finished_at == START


async def test_enqueue_answers_whether_it_queued(database: Database) -> None:
    # On PostgreSQL psycopg reports rowcount -1 for INSERT ... ON CONFLICT DO NOTHING:
    # the answer must not depend on it (webhooks count an announced report as applied).
    queue = JobQueue(database)
    assert await queue.enqueue(NewJob("k", "k:answer"), now=START) is True
    assert await queue.enqueue(NewJob("k", "k:answer"), now=START) is False
    async with PaymentStore(database).begin() as uow:
        assert await uow.jobs.enqueue(NewJob("k", "k:other"), now=START) is True
        assert await uow.jobs.enqueue(NewJob("k", "k:other"), now=START) is False


async def test_retryable_failures_back_off_then_dead_letter(database: Database) -> None:
    clock = Clock()
    handler = Scripted([ProviderUnavailableError("503")] * 3)
    await enqueue(database, NewJob("k", "k:1", provider="psp"))
    w = worker(database, {"k": handler}, clock)
    await w.drain()
    job = await only_job(database)
    assert (job.state, job.attempts) == (JobState.QUEUED, 1)
    assert START <= job.next_run_at <= START + timedelta(seconds=1)
    assert "503" in (job.last_error or "")
    assert await w.drain() == 0  # not due yet
    clock.advance(1)
    await w.drain()
    job = await only_job(database)
    assert job.attempts == 2
    assert job.next_run_at <= clock.now + timedelta(seconds=2)
    clock.advance(2)
    await w.drain()
    job = await only_job(database)
    assert job.state is JobState.DEAD
    assert job.attempts == 3
    assert "attempt 3 of 3" in (job.last_error or "")
    clock.advance(3600)
    assert await w.drain() == 0  # dead letters never run by themselves
    assert len(handler.seen) == 3


async def test_a_final_refusal_is_dead_lettered_at_once(database: Database) -> None:
    handler = Scripted([ProviderRejectedError("bad request", code="invalid")])
    await enqueue(database, NewJob("k", "k:1"))
    await worker(database, {"k": handler}, Clock()).drain()
    job = await only_job(database)
    assert job.state is JobState.DEAD
    assert "bad request" in (job.last_error or "")
    assert len(handler.seen) == 1


async def test_retry_after_is_honoured(database: Database) -> None:
    handler = Scripted([ProviderRateLimitedError("429", retry_after_seconds=7)])
    await enqueue(database, NewJob("k", "k:1"))
    await worker(database, {"k": handler}, Clock()).drain()
    job = await only_job(database)
    assert job.next_run_at == START + timedelta(seconds=7)
    assert job.attempts == 1


async def test_run_again_spends_no_attempt_and_keeps_the_new_payload(database: Database) -> None:
    clock = Clock()
    seen: list[Job] = []

    async def later(job: Job) -> JobOutcome:
        seen.append(job)
        check = int(job.payload["check"]) + 1
        return RunAgainAt(clock.now + timedelta(minutes=5), payload={"check": check})

    await enqueue(database, NewJob("k", "k:1", {"check": 0}))
    w = worker(database, {"k": later}, clock, max_attempts=2)
    for _ in range(4):
        assert await w.drain() == 1
        clock.advance(300)
    job = await only_job(database)
    assert (job.state, job.attempts, dict(job.payload)) == (JobState.QUEUED, 0, {"check": 4})
    assert [dict(job.payload) for job in seen] == [{"check": n} for n in range(4)]


async def test_retry_and_give_up_keep_a_new_payload_for_the_next_run(database: Database) -> None:
    clock = Clock()
    handler = Scripted(
        [
            Retry("one part failed", payload={"done": ["a"]}),
            Retry("still failing", payload={"done": ["a", "b"]}),
            Retry("no payload: keep it"),
            GiveUp("for good", payload={"done": ["a", "b", "c"]}),
        ]
    )
    await enqueue(database, NewJob("k", "k:1", {"done": []}))
    w = worker(database, {"k": handler}, clock, max_attempts=5)
    for _ in range(4):
        assert await w.drain() == 1
        clock.advance(60)
    assert [dict(job.payload) for job in handler.seen] == [
        {"done": []},
        {"done": ["a"]},
        {"done": ["a", "b"]},
        {"done": ["a", "b"]},
    ]
    job = await only_job(database)
    assert (job.state, job.attempts) == (JobState.DEAD, 3)
    assert dict(job.payload) == {"done": ["a", "b", "c"]}


async def test_the_last_retry_keeps_its_payload_in_the_dead_letter(database: Database) -> None:
    handler = Scripted([Retry("failed", payload={"done": ["a"]})])
    await enqueue(database, NewJob("k", "k:1", {"done": []}))
    await worker(database, {"k": handler}, Clock(), max_attempts=1).drain()
    job = await only_job(database)
    assert (job.state, dict(job.payload)) == (JobState.DEAD, {"done": ["a"]})


async def test_a_lost_worker_counts_as_an_attempt_and_another_takes_over(
    database: Database,
) -> None:
    clock = Clock()
    await enqueue(database, NewJob("k", "k:1"))
    queue = JobQueue(database)
    claimed = await queue.claim(worker="dead", now=clock.now, lease=timedelta(seconds=60), limit=5)
    assert len(claimed) == 1
    handler = Scripted()
    survivor = worker(database, {"k": handler}, clock, worker_id="alive")
    assert await survivor.drain() == 0  # the lease still holds
    clock.advance(61)
    assert await survivor.drain() == 1
    job = await only_job(database)
    assert job.state is JobState.DONE
    assert (job.attempts, job.runs) == (1, 2)
    assert "lost" in (job.last_error or "")
    # the lost worker cannot settle what it no longer holds
    assert not await queue.finish(job.id, worker="dead", now=clock.now)


async def test_a_job_lost_too_often_is_dead_lettered_without_running(database: Database) -> None:
    clock = Clock()
    await enqueue(database, NewJob("k", "k:1"))
    queue = JobQueue(database)
    for _ in range(3):
        await queue.claim(worker="crashy", now=clock.now, lease=timedelta(seconds=60), limit=5)
        clock.advance(61)
    handler = Scripted()
    await worker(database, {"k": handler}, clock).drain()
    job = await only_job(database)
    assert job.state is JobState.DEAD
    assert handler.seen == []


async def test_replay_runs_a_dead_letter_once_more(database: Database) -> None:
    clock = Clock()
    handler = Scripted([GiveUp("the payment is gone"), Done()])
    await enqueue(database, NewJob("k", "k:1"))
    w = worker(database, {"k": handler}, clock)
    await w.drain()
    queue = JobQueue(database)
    [dead] = await queue.dead_letters()
    assert dead.last_error == "the payment is gone"
    assert await queue.dead_letters(client_id="other") == []
    assert not await queue.replay(dead.id, now=clock.now, client_id="other")
    results = await asyncio.gather(*(queue.replay(dead.id, now=clock.now) for _ in range(3)))
    assert sorted(results) == [False, False, True]  # replayed once
    replayed = await queue.get(dead.id)
    assert replayed is not None
    assert (replayed.state, replayed.attempts, replayed.replays) == (JobState.QUEUED, 0, 1)
    await w.drain()
    assert await w.drain() == 0
    assert len(handler.seen) == 2
    final = await queue.get(dead.id)
    assert final is not None
    assert final.state is JobState.DONE
    assert not await queue.replay(dead.id, now=clock.now)


async def test_unknown_kind_is_dead_lettered(database: Database) -> None:
    await enqueue(database, NewJob("mystery", "m:1"))
    await worker(database, {}, Clock()).drain()
    job = await only_job(database)
    assert job.state is JobState.DEAD
    assert "no handler" in (job.last_error or "")


async def test_an_unexpected_exception_is_retried(database: Database) -> None:
    handler = Scripted([RuntimeError("plugin bug")])
    await enqueue(database, NewJob("k", "k:1"))
    await worker(database, {"k": handler}, Clock()).drain()
    job = await only_job(database)
    assert (job.state, job.attempts) == (JobState.QUEUED, 1)
    assert "plugin bug" in (job.last_error or "")


async def test_an_open_circuit_defers_jobs_without_spending_attempts(database: Database) -> None:
    clock = Clock()
    breakers = CircuitBreakers(threshold=2, open_seconds=30, clock=clock)
    handler = Scripted([ProviderUnavailableError("down")] * 2)
    await enqueue(database, NewJob("k", "k:1", provider="psp"), NewJob("k", "k:2", provider="psp"))
    w = Worker(
        JobQueue(database),
        {"k": handler},
        policies={"k": RetryPolicy(max_attempts=5, base_seconds=100, cap_seconds=100)},
        breakers=breakers,
        worker_id="w",
        batch_size=1,
        clock=clock,
        rng=random.Random(3),
    )
    await w.run_once()
    await w.run_once()  # two failures of psp: its circuit opens
    assert breakers.allow("other")
    await enqueue(
        database,
        NewJob("k", "k:3", provider="other"),
        NewJob("k", "k:4", provider="psp"),
        now=clock.now,
    )
    await w.drain()
    assert w.stats.deferred == 1  # k:4 waits for the circuit instead of calling psp
    deferred = [j for j in await _jobs(JobQueue(database), JobState.QUEUED) if j.key == "k:4"]
    assert deferred[0].attempts == 0
    assert deferred[0].next_run_at == START + timedelta(seconds=30)
    assert sorted(job.key for job in handler.seen) == ["k:1", "k:2", "k:3"]


@pytest.mark.postgres
async def test_many_workers_on_postgresql_run_each_job_exactly_once(postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=12)
    try:
        await enqueue(database, *(NewJob("k", f"k:{n}", {"n": n}) for n in range(300)))
        runs: Counter[int] = Counter()

        async def handle(job: Job) -> JobOutcome:
            runs[int(job.payload["n"])] += 1
            await asyncio.sleep(random.uniform(0, 0.003))
            return Done()

        workers = [
            Worker(JobQueue(database), {"k": handle}, worker_id=f"w{i}", batch_size=7)
            for i in range(6)
        ]
        done = await asyncio.gather(*(w.drain() for w in workers))
        assert sum(done) == 300
        assert runs == Counter(range(300))
        assert sum(1 for w in workers if w.stats.done) > 1  # the work was shared
        assert len(await _jobs(JobQueue(database), JobState.DONE)) == 300
    finally:
        await database.dispose()
