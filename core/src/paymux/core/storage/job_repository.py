"""The ``job`` table: queueing in a use case's transaction, claiming and settling for workers.

Claiming is ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of workers take
disjoint jobs; SQLite serializes writers and ignores the clause. A claim is a lease: a job
``running`` past ``locked_until`` belongs to no one and the next claim takes it, counting the
lost run as a failed attempt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paymux.core.domain.jobs import Job, JobState, NewJob
from paymux.core.identifiers import new_id
from paymux.core.jobs.retry import RetryPolicy
from paymux.core.ports.provider import ProviderError
from paymux.core.storage.database import Database
from paymux.core.storage.tables import JobRow, table_of

_job = table_of(JobRow)

ERROR_LENGTH = 2000
"""Reasons are kept to this many characters."""

INLINE_WORKER = "api"
"""Who holds a job while the API request that queued it runs it inline (a registration,
a refund or payout submission); if the request dies, the lease runs out and a worker takes
over."""


class JobRepository:
    """Jobs within one open transaction (``uow.jobs``)."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def enqueue(
        self,
        job: NewJob,
        *,
        now: datetime,
        client_id: str | None = None,
        running_until: datetime | None = None,
        worker: str | None = None,
    ) -> bool:
        """Queue ``job`` unless a job with its key exists; ``True`` if it was queued.

        With ``running_until`` the job is written already claimed by ``worker`` (the API
        running it inline): if that process dies, the lease runs out and a worker takes over.
        """
        insert = (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(_job)
        statement = insert.values(
            id=new_id("job"),
            kind=job.kind,
            key=job.key,
            client_id=client_id,
            provider=job.provider,
            payload=json.dumps(dict(job.payload), sort_keys=True),
            state=(JobState.RUNNING if running_until else JobState.QUEUED).value,
            attempts=0,
            runs=1 if running_until else 0,
            next_run_at=job.run_at or now,
            locked_by=worker if running_until else None,
            locked_until=running_until,
            replays=0,
            created_at=now,
            updated_at=now,
        ).on_conflict_do_nothing(index_elements=["key"])
        # RETURNING, not rowcount: psycopg reports -1 for this compiled INSERT
        inserted = await self._session.execute(statement.returning(_job.c.id))
        return inserted.first() is not None

    async def get_by_key(self, key: str) -> Job | None:
        """The job queued under ``key``."""
        row = (await self._session.execute(sa.select(_job).where(_job.c.key == key))).one_or_none()
        return None if row is None else job_from_row(row._mapping)

    async def finish_key(self, key: str, *, now: datetime) -> bool:
        """Mark the job of ``key`` done whoever holds it (its work was just done in this
        transaction); a dead letter is resolved too. ``False`` if there is no open job."""
        result = cast(
            sa.CursorResult[Any],
            await self._session.execute(
                sa.update(_job)
                .where(_job.c.key == key, _job.c.state != JobState.DONE.value)
                .values(
                    state=JobState.DONE.value,
                    locked_by=None,
                    locked_until=None,
                    finished_at=now,
                    updated_at=now,
                )
            ),
        )
        return result.rowcount == 1

    async def hand_to_workers(
        self, key: str, *, error: Exception, policy: RetryPolicy, now: datetime
    ) -> bool:
        """The request holding the job of ``key`` failed at it retryably: the job goes to the
        workers after the first back-off of ``policy`` (a provider's ``Retry-After`` is
        believed), one attempt spent. ``False`` if the request holds it no longer."""
        retry_after = error.retry_after_seconds if isinstance(error, ProviderError) else None
        delay = policy.delay(1, retry_after=retry_after)
        return await self.release_key(
            key,
            worker=INLINE_WORKER,
            now=now,
            next_run_at=now + timedelta(seconds=delay),
            error=f"{type(error).__name__}: {error}",
            failed=True,
        )

    async def release_key(
        self,
        key: str,
        *,
        worker: str,
        now: datetime,
        next_run_at: datetime,
        error: str,
        failed: bool,
    ) -> bool:
        """:meth:`release` for the job of ``key``."""
        return await self._release(
            _job.c.key == key, worker=worker, now=now, next_run_at=next_run_at,
            failed=failed, error=error,
        )  # fmt: skip

    async def finish(self, job_id: str, *, worker: str, now: datetime) -> bool:
        """Mark a job this worker holds as done; ``False`` if it holds it no longer."""
        result = cast(
            sa.CursorResult[Any],
            await self._session.execute(
                sa.update(_job)
                .where(
                    _job.c.id == job_id,
                    _job.c.state == JobState.RUNNING.value,
                    _job.c.locked_by == worker,
                )
                .values(
                    state=JobState.DONE.value,
                    locked_by=None,
                    locked_until=None,
                    finished_at=now,
                    updated_at=now,
                )
            ),
        )
        return result.rowcount == 1

    async def release(
        self,
        job_id: str,
        *,
        worker: str,
        now: datetime,
        next_run_at: datetime,
        failed: bool,
        error: str | None,
        dead: bool = False,
        payload: Mapping[str, Any] | None = None,
    ) -> bool:
        """Hand back a job this worker holds: queued again for ``next_run_at``, or ``dead``.

        ``failed`` counts an attempt. ``False`` if the worker holds the job no longer.
        """
        return await self._release(
            _job.c.id == job_id, worker=worker, now=now, next_run_at=next_run_at,
            failed=failed, error=error, dead=dead, payload=payload,
        )  # fmt: skip

    async def _release(
        self,
        which: sa.ColumnElement[bool],
        *,
        worker: str,
        now: datetime,
        next_run_at: datetime,
        failed: bool,
        error: str | None,
        dead: bool = False,
        payload: Mapping[str, Any] | None = None,
    ) -> bool:
        values: dict[str, Any] = {
            "state": (JobState.DEAD if dead else JobState.QUEUED).value,
            "next_run_at": next_run_at,
            "locked_by": None,
            "locked_until": None,
            "updated_at": now,
        }
        if failed:
            values["attempts"] = _job.c.attempts + 1
        if error is not None:
            values["last_error"] = error[:ERROR_LENGTH]
        if dead:
            values["finished_at"] = now
        if payload is not None:
            values["payload"] = json.dumps(dict(payload), sort_keys=True)
        result = cast(
            sa.CursorResult[Any],
            await self._session.execute(
                sa.update(_job)
                .where(which, _job.c.state == JobState.RUNNING.value, _job.c.locked_by == worker)
                .values(**values)
            ),
        )
        return result.rowcount == 1


class JobQueue:
    """The workers' and operators' view of the jobs (each call its own short transaction)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def enqueue(
        self, job: NewJob, *, client_id: str | None = None, now: datetime | None = None
    ) -> bool:
        """Queue ``job`` on its own unless a job with its key exists; ``True`` if queued."""
        async with self.database.transaction() as session:
            return await JobRepository(session, self.database.dialect).enqueue(
                job, now=now or datetime.now(UTC), client_id=client_id
            )

    async def claim(self, *, worker: str, now: datetime, lease: timedelta, limit: int) -> list[Job]:
        """Take up to ``limit`` due jobs for ``worker`` until ``now + lease``.

        Due: ``queued`` with ``next_run_at`` reached, or ``running`` with its lease run out
        (that lost run counts as a failed attempt, recorded in ``last_error``).
        """
        due = sa.or_(
            sa.and_(_job.c.state == JobState.QUEUED.value, _job.c.next_run_at <= now),
            sa.and_(_job.c.state == JobState.RUNNING.value, _job.c.locked_until < now),
        )
        candidates = (
            sa.select(_job.c.id)
            .where(due)
            .order_by(_job.c.next_run_at, _job.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        lost = _job.c.state == JobState.RUNNING.value
        async with self.database.transaction() as session:
            ids = list((await session.scalars(candidates)).all())
            if not ids:
                return []
            await session.execute(
                sa.update(_job)
                .where(_job.c.id.in_(ids))
                .values(
                    attempts=sa.case((lost, _job.c.attempts + 1), else_=_job.c.attempts),
                    last_error=sa.case(
                        (lost, sa.literal("the worker running it was lost (lease expired)")),
                        else_=_job.c.last_error,
                    ),
                    state=JobState.RUNNING.value,
                    runs=_job.c.runs + 1,
                    locked_by=worker,
                    locked_until=now + lease,
                    updated_at=now,
                )
            )
            rows = (
                await session.execute(
                    sa.select(_job).where(_job.c.id.in_(ids)).order_by(_job.c.next_run_at)
                )
            ).all()
        return [job_from_row(row._mapping) for row in rows]

    async def finish(self, job_id: str, *, worker: str, now: datetime) -> bool:
        """See :meth:`JobRepository.finish`."""
        async with self.database.transaction() as session:
            return await JobRepository(session, self.database.dialect).finish(
                job_id, worker=worker, now=now
            )

    async def release(self, job_id: str, **options: Any) -> bool:
        """See :meth:`JobRepository.release`."""
        async with self.database.transaction() as session:
            return await JobRepository(session, self.database.dialect).release(job_id, **options)

    async def get(self, job_id: str, *, client_id: str | None = None) -> Job | None:
        """One job (``client_id``: only if it belongs to that client)."""
        query = sa.select(_job).where(_job.c.id == job_id)
        if client_id is not None:
            query = query.where(_job.c.client_id == client_id)
        async with self.database.transaction() as session:
            row = (await session.execute(query)).one_or_none()
        return None if row is None else job_from_row(row._mapping)

    async def dead_letters(
        self, *, client_id: str | None = None, limit: int = 100, after: str | None = None
    ) -> list[Job]:
        """Dead-lettered jobs, oldest first (``after``: the id of the previous page's last)."""
        query = sa.select(_job).where(_job.c.state == JobState.DEAD.value)
        if client_id is not None:
            query = query.where(_job.c.client_id == client_id)
        if after is not None:
            query = query.where(_job.c.id > after)
        query = query.order_by(_job.c.id).limit(limit)
        async with self.database.transaction() as session:
            rows = (await session.execute(query)).all()
        return [job_from_row(row._mapping) for row in rows]

    async def replay(self, job_id: str, *, now: datetime, client_id: str | None = None) -> bool:
        """Queue a dead-lettered job again with fresh attempts; ``False`` unless it was dead.

        Two replays of one dead letter queue it once: the second finds it no longer dead.
        """
        statement = (
            sa.update(_job)
            .where(_job.c.id == job_id, _job.c.state == JobState.DEAD.value)
            .values(
                state=JobState.QUEUED.value,
                attempts=0,
                next_run_at=now,
                finished_at=None,
                replays=_job.c.replays + 1,
                updated_at=now,
            )
        )
        if client_id is not None:
            statement = statement.where(_job.c.client_id == client_id)
        async with self.database.transaction() as session:
            result = cast(sa.CursorResult[Any], await session.execute(statement))
        return result.rowcount == 1

    async def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        async with self.database.transaction() as session:
            rows = (
                await session.execute(
                    sa.select(_job.c.state, sa.func.count()).group_by(_job.c.state)
                )
            ).all()
        found = {JobState(state): int(count) for state, count in rows}
        return {state: found.get(state, 0) for state in JobState}

    async def next_due(self) -> datetime | None:
        """When the earliest queued job becomes due."""
        async with self.database.transaction() as session:
            return cast(
                datetime | None,
                await session.scalar(
                    sa.select(sa.func.min(_job.c.next_run_at)).where(
                        _job.c.state == JobState.QUEUED.value
                    )
                ),
            )


def job_from_row(row: sa.RowMapping) -> Job:
    """A stored row as a :class:`Job`."""
    return Job(
        id=row["id"],
        kind=row["kind"],
        key=row["key"],
        payload=json.loads(row["payload"]),
        provider=row["provider"],
        state=JobState(row["state"]),
        attempts=row["attempts"],
        runs=row["runs"],
        next_run_at=row["next_run_at"],
        locked_by=row["locked_by"],
        locked_until=row["locked_until"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        replays=row["replays"],
    )
