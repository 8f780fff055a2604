"""What operators watch, counted in the database: a few aggregate queries in one short
read-only transaction (for the Prometheus ``/metrics`` endpoint, read at scrape time)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from paymux.core.domain.jobs import JobState
from paymux.core.storage.database import Database
from paymux.core.storage.tables import (
    JobRow,
    PaymentOrderRow,
    ReconciliationDiscrepancyRow,
    table_of,
)

_order = table_of(PaymentOrderRow)
_job = table_of(JobRow)
_discrepancy = table_of(ReconciliationDiscrepancyRow)


@dataclass(frozen=True, slots=True)
class OperationsSnapshot:
    """Counts across every API client at one moment."""

    payment_orders: Mapping[str, int]
    """Payment orders per status."""
    jobs: Mapping[tuple[str, str], int]
    """Unfinished jobs per ``(kind, queue state)``: ``ready`` (queued and due), ``scheduled``
    (queued for later, e.g. a retry's backoff) or ``running`` (claimed by a worker whose
    lease still holds; a job past its lease counts as ready: any worker takes it next)."""
    dead_letters: Mapping[str, int]
    """Dead-lettered jobs per kind."""
    open_discrepancies: Mapping[tuple[str, str], int]
    """Unresolved reconciliation discrepancies per ``(provider, kind)``."""


async def read_operations_snapshot(database: Database, *, now: datetime) -> OperationsSnapshot:
    """Count payment orders, jobs, dead letters and open discrepancies (three queries, each
    a ``GROUP BY`` over indexed columns, in one transaction)."""
    due = (_job.c.next_run_at <= now).label("due")
    # a running job past its lease belongs to no one (its worker died): it is ready again
    abandoned = sa.func.coalesce(_job.c.locked_until < now, False).label("abandoned")
    jobs_query = (
        sa.select(_job.c.kind, _job.c.state, due, abandoned, sa.func.count())
        .where(_job.c.state != JobState.DONE.value)
        .group_by(_job.c.kind, _job.c.state, due, abandoned)
    )
    orders_query = sa.select(_order.c.status, sa.func.count()).group_by(_order.c.status)
    discrepancies_query = (
        sa.select(_discrepancy.c.provider, _discrepancy.c.kind, sa.func.count())
        .where(_discrepancy.c.resolved_at.is_(None))
        .group_by(_discrepancy.c.provider, _discrepancy.c.kind)
    )
    async with database.transaction() as session:
        orders = (await session.execute(orders_query)).all()
        job_rows = (await session.execute(jobs_query)).all()
        discrepancies = (await session.execute(discrepancies_query)).all()
    jobs: dict[tuple[str, str], int] = {}
    dead: dict[str, int] = {}
    for kind, state, is_due, is_abandoned, count in job_rows:
        if state == JobState.DEAD.value:
            dead[kind] = dead.get(kind, 0) + int(count)
            continue
        if state == JobState.RUNNING.value:
            queue_state = "ready" if is_abandoned else "running"
        else:
            queue_state = "ready" if is_due else "scheduled"
        jobs[kind, queue_state] = jobs.get((kind, queue_state), 0) + int(count)
    return OperationsSnapshot(
        payment_orders={status: int(count) for status, count in orders},
        jobs=jobs,
        dead_letters=dead,
        open_discrepancies={
            (provider, kind): int(count) for provider, kind, count in discrepancies
        },
    )
