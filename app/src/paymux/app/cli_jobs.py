"""``paymux worker`` and ``paymux dlq list|replay``: the job executor from the command line."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Annotated

import typer

from paymux.app.logging_setup import configure_logging
from paymux.core.domain.jobs import Job
from paymux.core.identifiers import utc_now
from paymux.core.markets_config import MarketsConfigError
from paymux.core.plugins import PluginError
from paymux.core.settings import Settings

dlq_cli = typer.Typer(
    help="The dead-letter queue: jobs that failed for good.", no_args_is_help=True
)


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as error:
        typer.echo(f"paymux: invalid settings: {error}", err=True)
        raise typer.Exit(2) from None


def worker(
    once: Annotated[bool, typer.Option("--once", help="Run every job due now, then exit")] = False,
    worker_id: Annotated[
        str | None, typer.Option("--id", help="This worker's name (default host:pid)")
    ] = None,
) -> None:
    """Run durable jobs: provider registrations, the janitor's checks, notifications.

    Any number of workers may run side by side on PostgreSQL; each claims its own jobs.
    Runs until interrupted (SIGINT/SIGTERM finish the jobs in hand first).
    """
    from paymux.app.runtime import create_runtime

    settings = _settings()
    configure_logging(settings)
    try:
        runtime = create_runtime(settings)
    except (PluginError, MarketsConfigError, ValueError) as error:
        typer.echo(f"paymux: invalid settings: {error}", err=True)
        raise typer.Exit(2) from None

    async def run() -> int:
        job_worker = runtime.create_worker(worker_id=worker_id)
        await runtime.schedule_nightly_reconciliation()
        try:
            if once:
                ran = await job_worker.drain()
                stats = job_worker.stats
                typer.echo(
                    f"ran {ran} job(s): {stats.done} done, {stats.retried} to retry, "
                    f"{stats.rescheduled} rescheduled, {stats.deferred} deferred (circuit open), "
                    f"{stats.dead} dead-lettered"
                )
                return 0
            typer.echo(f"worker {job_worker.worker_id} running (Ctrl-C stops)")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await job_worker.run(stop, idle_seconds=settings.worker_idle_seconds)
            return 0
        finally:
            await runtime.aclose()

    raise typer.Exit(asyncio.run(run()))


@dlq_cli.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """List dead-lettered jobs, oldest first, with the reason each failed."""
    from paymux.core.storage.database import Database
    from paymux.core.storage.job_repository import JobQueue

    settings = _settings()

    async def run() -> list[Job]:
        database = Database(settings.database_url)
        try:
            return await JobQueue(database).dead_letters(limit=limit)
        finally:
            await database.dispose()

    jobs = asyncio.run(run())
    if as_json:
        for job in jobs:
            typer.echo(json.dumps(job_summary(job), sort_keys=True))
        return
    if not jobs:
        typer.echo("the dead-letter queue is empty")
        return
    typer.echo(f"{'ID':<29} {'KIND':<17} {'ATTEMPTS':>8}  {'DEAD SINCE':<20} REASON")
    for job in jobs:
        since = job.finished_at.strftime("%Y-%m-%d %H:%M:%S") if job.finished_at else "-"
        typer.echo(
            f"{job.id:<29} {job.kind:<17} {job.attempts:>8}  {since:<20} {job.last_error or ''}"
        )


@dlq_cli.command("replay")
def dlq_replay(job_id: Annotated[str, typer.Argument(help="The dead letter's id")]) -> None:
    """Queue a dead-lettered job again with fresh attempts (a worker runs it once)."""
    from paymux.core.storage.database import Database
    from paymux.core.storage.job_repository import JobQueue

    settings = _settings()

    async def run() -> Job | None:
        database = Database(settings.database_url)
        try:
            queue = JobQueue(database)
            if await queue.replay(job_id, now=utc_now()):
                return await queue.get(job_id)
            found = await queue.get(job_id)
            if found is None:
                typer.echo(f"paymux: no job {job_id}", err=True)
                raise typer.Exit(1)
            typer.echo(f"paymux: job {job_id} is {found.state.value}, not dead", err=True)
            raise typer.Exit(1)
        finally:
            await database.dispose()

    job = asyncio.run(run())
    assert job is not None
    typer.echo(f"replayed {job.id} ({job.kind}); a worker runs it next")


def job_summary(job: Job) -> dict[str, object]:
    """A job as plain JSON values."""
    return {
        "id": job.id,
        "kind": job.kind,
        "key": job.key,
        "provider": job.provider,
        "state": job.state.value,
        "attempts": job.attempts,
        "replays": job.replays,
        "last_error": job.last_error,
        "payload": dict(job.payload),
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
