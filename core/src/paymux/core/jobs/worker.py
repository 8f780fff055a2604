"""The worker: claims due jobs, runs their handlers, and retries, reschedules or dead-letters.

Any number of workers may run against PostgreSQL (claims skip locked rows); the embedded
SQLite service runs one in its own process. A handler runs outside any transaction (it may
call a provider) and must be idempotent: a job may run again after a crash, and replaying a
dead letter runs it once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from paymux.core.domain.jobs import Done, GiveUp, Job, JobOutcome, JobState, Retry, RunAgainAt
from paymux.core.identifiers import utc_now
from paymux.core.jobs.circuit import CircuitBreakers
from paymux.core.jobs.retry import RetryPolicy, policy_for
from paymux.core.log_context import job_context
from paymux.core.ports.provider import ProviderError
from paymux.core.storage.job_repository import JobQueue

log = logging.getLogger(__name__)

JobHandler = Callable[[Job], Awaitable[JobOutcome]]
"""Runs one job. Raise a retryable :class:`ProviderError` (or any unexpected exception) to
have it retried; a non-retryable :class:`ProviderError` dead-letters it."""


def default_worker_id() -> str:
    """``host:pid``, unique among live workers."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(slots=True)
class WorkerStats:
    """What a worker did so far (for progress lines and tests)."""

    done: int = 0
    retried: int = 0
    rescheduled: int = 0
    dead: int = 0
    deferred: int = 0
    """Put back without an attempt because the provider's circuit was open."""
    lost: int = 0
    """Settled by someone else meanwhile (the lease ran out)."""
    by_kind: dict[str, int] = field(default_factory=dict)


class Worker:
    """Runs jobs from a :class:`JobQueue` with the handlers registered per kind."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, JobHandler],
        *,
        policies: Mapping[str, RetryPolicy] | None = None,
        breakers: CircuitBreakers | None = None,
        worker_id: str | None = None,
        lease_seconds: float = 120.0,
        batch_size: int = 10,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.stats = WorkerStats()
        self._policies = dict(policies or {})
        self._breakers = breakers
        self.worker_id = worker_id or default_worker_id()
        self._lease = timedelta(seconds=lease_seconds)
        self._batch_size = batch_size
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret

    async def run_once(self) -> int:
        """Claim one batch of due jobs and run them concurrently; how many were claimed."""
        jobs = await self.queue.claim(
            worker=self.worker_id, now=self._clock(), lease=self._lease, limit=self._batch_size
        )
        if jobs:
            await asyncio.gather(*(self._run(job) for job in jobs))
        return len(jobs)

    async def drain(self, *, max_batches: int = 10_000) -> int:
        """Run batches until no job is due; how many jobs ran."""
        total = 0
        for _ in range(max_batches):
            claimed = await self.run_once()
            if not claimed:
                break
            total += claimed
        return total

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
        """Work until ``stop`` is set, sleeping ``idle_seconds`` when nothing is due."""
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception:
                log.exception("worker %s: claiming jobs failed; trying again", self.worker_id)
                claimed = 0
            if claimed:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=idle_seconds)

    # -- one job ---------------------------------------------------------------------------

    async def _run(self, job: Job) -> None:
        with job_context(job.id, job.kind):  # every log record of the job carries its id
            await self._run_job(job)

    async def _run_job(self, job: Job) -> None:
        policy = policy_for(job.kind, self._policies)
        if policy.exhausted(job.attempts):
            await self._dead(job, job.last_error or "no attempts left")
            return
        handler = self.handlers.get(job.kind)
        if handler is None:
            await self._dead(job, f"no handler for jobs of kind {job.kind!r}")
            return
        if job.provider and self._breakers and not self._breakers.allow(job.provider):
            reopen = self._breakers.reopens_at(job.provider) or self._clock()
            await self._release(job, next_run_at=reopen, failed=False, note="circuit open")
            self.stats.deferred += 1
            return
        self.stats.by_kind[job.kind] = self.stats.by_kind.get(job.kind, 0) + 1
        try:
            outcome = await handler(job)
        except ProviderError as error:
            if not error.retryable:
                self._provider_answered(job)
                await self._dead(job, f"{type(error).__name__}: {error}")
                return
            if job.provider and self._breakers:
                self._breakers.record_failure(job.provider)
            outcome = Retry(f"{type(error).__name__}: {error}", error.retry_after_seconds)
        except Exception as error:
            log.exception("job %s (%s) raised", job.id, job.kind)
            outcome = Retry(f"{type(error).__name__}: {error}")
        else:
            self._provider_answered(job)
        await self._settle(job, outcome, policy)

    def _provider_answered(self, job: Job) -> None:
        if job.provider and self._breakers:
            self._breakers.record_success(job.provider)

    async def _settle(self, job: Job, outcome: JobOutcome, policy: RetryPolicy) -> None:
        now = self._clock()
        if isinstance(outcome, Done):
            if await self.queue.finish(job.id, worker=self.worker_id, now=now):
                self.stats.done += 1
            elif await self._finished_meanwhile(job):
                self.stats.done += 1  # its own work closed it (a settled payment's check)
            else:
                self.stats.lost += 1
        elif isinstance(outcome, RunAgainAt):
            await self._release(
                job, next_run_at=outcome.at, failed=False, note=outcome.note,
                payload=outcome.payload,
            )  # fmt: skip
            self.stats.rescheduled += 1
        elif isinstance(outcome, GiveUp):
            await self._dead(job, outcome.reason, payload=outcome.payload)
        else:
            failures = job.attempts + 1
            if policy.exhausted(failures):
                await self._dead(job, f"{outcome.reason} (attempt {failures} of "
                                      f"{policy.max_attempts})", failed=True,
                                 payload=outcome.payload)  # fmt: skip
                return
            delay = policy.delay(failures, retry_after=outcome.after_seconds, rng=self._rng)
            log.info(
                "job %s (%s) failed (attempt %d of %d), retry in %.1fs: %s",
                job.id, job.kind, failures, policy.max_attempts, delay, outcome.reason,
            )  # fmt: skip
            await self._release(
                job, next_run_at=now + timedelta(seconds=delay), failed=True,
                note=outcome.reason, payload=outcome.payload,
            )  # fmt: skip
            self.stats.retried += 1

    async def _finished_meanwhile(self, job: Job) -> bool:
        current = await self.queue.get(job.id)
        return current is not None and current.state is JobState.DONE

    async def _dead(
        self,
        job: Job,
        reason: str,
        *,
        failed: bool = False,
        payload: Mapping[str, object] | None = None,
    ) -> None:
        log.warning("job %s (%s) dead-lettered: %s", job.id, job.kind, reason)
        now = self._clock()
        settled = await self.queue.release(
            job.id, worker=self.worker_id, now=now, next_run_at=now, failed=failed,
            error=reason, dead=True, payload=payload,
        )  # fmt: skip
        if settled:
            self.stats.dead += 1
        else:
            self.stats.lost += 1

    async def _release(
        self,
        job: Job,
        *,
        next_run_at: datetime,
        failed: bool,
        note: str | None,
        payload: Mapping[str, object] | None = None,
    ) -> None:
        settled = await self.queue.release(
            job.id, worker=self.worker_id, now=self._clock(), next_run_at=next_run_at,
            failed=failed, error=note, payload=payload,
        )  # fmt: skip
        if not settled:
            self.stats.lost += 1
