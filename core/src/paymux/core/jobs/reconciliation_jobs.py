"""The reconciliation jobs: the nightly run per provider, and the alert of a run.

``reconcile_nightly`` (one job per provider and day, key ``reconcile_nightly:<provider>:<day>``):
fetches the provider's settlement report of the day (the provider implements
:class:`~paymux.core.reconciliation.parsers.SettlementReportFetcher`), reconciles it and
queues the next day's job. No report yet: asked again in an hour, for a week. A report the provider
cannot be asked for (a network error) is retried like any provider call; a malformed
report is dead-lettered with its line number (an operator looks at it).

``reconcile_announced_report`` (one job per provider and report, key
``reconcile_announced_report:<provider>:<report name>``): queued by the webhook service in
the transaction that records the provider's announcement
(:class:`~paymux.core.ports.provider.SettlementReportAvailable`); downloads the report
through the provider (:class:`~paymux.core.reconciliation.parsers.SettlementReportDownloader`)
and reconciles it. The job is marked done in the run's own transaction, so a worker that
dies after the run committed leaves nothing to do, and a worker that lost its lease meanwhile
cannot store a second run. A download the provider cannot answer is retried like any
provider call; a refused download or report is dead-lettered with its reason.

``send_reconciliation_alert``: sends a run's new discrepancies through every alerter;
remembers in its payload the alerters that delivered, so a retry never alerts twice
through the same channel.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from paymux.core import crashpoints
from paymux.core.domain.jobs import (
    Done,
    GiveUp,
    Job,
    JobKind,
    JobOutcome,
    NewJob,
    Retry,
    RunAgainAt,
)
from paymux.core.identifiers import utc_now
from paymux.core.jobs.worker import JobHandler
from paymux.core.ports.provider import SettlementReportAvailable
from paymux.core.providers import ProviderRegistry
from paymux.core.reconciliation.alerts import (
    DiscrepancySummary,
    ReconciliationAlert,
    ReconciliationAlerter,
)
from paymux.core.reconciliation.errors import SettlementFileError
from paymux.core.reconciliation.parsers import (
    SettlementReportDownloader,
    SettlementReportFetcher,
)
from paymux.core.services.reconciliation import ReconciliationService
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.reconciliation_repository import StoredRun
from paymux.core.storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

DELIVERED = "delivered"
EXAMPLES = 20
WAIT_FOR_REPORT = timedelta(days=7)
"""How long after its day a report that has not come is asked for (hourly) before the
job gives up quietly: a provider that settled nothing that day may never write one."""


def nightly_job(provider: str, day: date, *, hour: int, client_id: str) -> NewJob:
    """The job that reconciles ``provider``'s report of ``day`` (due the next day at ``hour``)."""
    return NewJob(
        kind=JobKind.RECONCILE_NIGHTLY.value,
        key=f"reconcile_nightly:{provider}:{day.isoformat()}",
        payload={"provider": provider, "day": day.isoformat(), "client_id": client_id},
        provider=provider,
        run_at=datetime.combine(day + timedelta(days=1), time(hour), UTC),
    )


def fetching_providers(
    providers: ProviderRegistry, reconciliation: ReconciliationService
) -> list[str]:
    """Enabled providers that can fetch their report and have a parser for it."""
    parsable = set(reconciliation.providers())
    return [
        name
        for name in providers.names()
        if name in parsable and isinstance(providers.get(name), SettlementReportFetcher)
    ]


async def schedule_nightly(
    jobs: JobQueue,
    providers: Sequence[str],
    *,
    hour: int,
    client_id: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Queue yesterday's nightly job of each provider unless it exists; how many were new."""
    yesterday = now().date() - timedelta(days=1)
    queued = 0
    for provider in providers:
        job = nightly_job(provider, yesterday, hour=hour, client_id=client_id)
        if await jobs.enqueue(job, client_id=client_id):
            queued += 1
    return queued


def reconcile_nightly_handler(
    reconciliation: ReconciliationService,
    providers: ProviderRegistry,
    jobs: JobQueue,
    *,
    hour: int,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> JobHandler:
    """The handler of ``reconcile_nightly`` jobs (for the client that queued each)."""

    async def run(job: Job) -> JobOutcome:
        name = str(job.payload["provider"])
        client_id = str(job.payload["client_id"])
        day = date.fromisoformat(str(job.payload["day"]))
        if name not in providers:
            return GiveUp(f"provider {name} is not enabled any more; no more nightly runs")
        provider = providers.get(name)
        if not isinstance(provider, SettlementReportFetcher):
            return GiveUp(f"provider {name} cannot fetch its settlement report")
        # The chain goes on whatever happens to this day (a refused report is dead-lettered).
        following = nightly_job(name, day + timedelta(days=1), hour=hour, client_id=client_id)
        await jobs.enqueue(following, client_id=client_id)
        report = await provider.fetch_settlement_report(day)
        if report is None:
            if now() - datetime.combine(day, time(), UTC) > WAIT_FOR_REPORT:
                return Done(f"no {name} report for {day} came within {WAIT_FOR_REPORT.days} days")
            return RunAgainAt(now() + timedelta(hours=1), f"no {name} report for {day} yet")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{name}-{day.isoformat()}.settlement"
            path.write_bytes(report)
            try:
                result = await reconciliation.reconcile(
                    path, provider=name, client_id=client_id, source="nightly",
                    file_name=path.name,
                )  # fmt: skip
            except SettlementFileError as error:
                return GiveUp(f"the {name} report of {day} was refused: {error}")
        return Done(
            f"run {result.run.id}: {result.run.lines_total} lines, "
            f"{len(result.opened)} new discrepancies"
        )

    return run


KEY_LENGTH = 255
"""The longest job key; a longer report name is keyed by its hash."""


def announced_report_job(
    provider: str, report: SettlementReportAvailable, *, client_id: str | None
) -> NewJob:
    """The job that downloads and reconciles a report ``provider`` announced (due now).

    ``client_id``: the API client whose records it is matched against (``None``: the one
    the worker's settings name when it runs).
    """
    key = f"{JobKind.RECONCILE_ANNOUNCED_REPORT.value}:{provider}:{report.report_name}"
    if len(key) > KEY_LENGTH:
        digest = hashlib.sha256(report.report_name.encode()).hexdigest()
        key = f"{JobKind.RECONCILE_ANNOUNCED_REPORT.value}:{provider}:sha256:{digest}"
    occurred = None if report.occurred_at is None else report.occurred_at.isoformat()
    return NewJob(
        kind=JobKind.RECONCILE_ANNOUNCED_REPORT.value,
        key=key,
        payload={
            "provider": provider,
            "client_id": client_id,
            "event_id": report.event_id,
            "report_name": report.report_name,
            "download_url": report.download_url,
            "occurred_at": occurred,
        },
        provider=provider,
    )


def announced_report(job: Job) -> SettlementReportAvailable:
    """The announcement a ``reconcile_announced_report`` job carries."""
    occurred = job.payload.get("occurred_at")
    return SettlementReportAvailable(
        event_id=str(job.payload["event_id"]),
        report_name=str(job.payload["report_name"]),
        download_url=str(job.payload["download_url"]),
        occurred_at=None if occurred is None else datetime.fromisoformat(str(occurred)),
    )


class _ReconciledMeanwhileError(Exception):
    """Another worker finished the job first (rolls this run back)."""


def reconcile_announced_handler(
    reconciliation: ReconciliationService,
    providers: ProviderRegistry,
    *,
    resolve_client: Callable[[], Awaitable[str | None]],
    now: Callable[[], datetime] = utc_now,
) -> JobHandler:
    """The handler of ``reconcile_announced_report`` jobs. ``resolve_client``: whose records
    a job queued without a client is matched against (the reconciliation client, asked when
    the job runs, so that a client configured or given a key since then counts)."""

    async def run(job: Job) -> JobOutcome:
        name = str(job.payload["provider"])
        report = announced_report(job)
        client = job.payload.get("client_id") or await resolve_client()
        if client is None:
            return GiveUp(
                f"the {name} report {report.report_name} names no API client to reconcile "
                "for: set PAYMUX_RECONCILIATION_CLIENT, then replay this dead letter"
            )
        if name not in providers:
            return GiveUp(f"provider {name} is not enabled; its report {report.report_name} "
                          "is not reconciled")  # fmt: skip
        provider = providers.get(name)
        if not isinstance(provider, SettlementReportDownloader):
            return GiveUp(f"provider {name} cannot download its settlement reports")

        async def finish_with_the_run(uow: UnitOfWork, _run: StoredRun) -> None:
            if not await uow.jobs.finish_key(job.key, now=now()):
                raise _ReconciledMeanwhileError

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "report.settlement"
            await provider.download_settlement_report(report, path)
            try:
                result = await reconciliation.reconcile(
                    path, provider=name, client_id=str(client), source="webhook",
                    file_name=report.report_name[:255], before_commit=finish_with_the_run,
                )  # fmt: skip
            except SettlementFileError as error:
                return GiveUp(f"the {name} report {report.report_name} was refused: {error}")
            except _ReconciledMeanwhileError:
                return Done(f"the {name} report {report.report_name} was reconciled meanwhile")
        crashpoints.reached(crashpoints.REPORT_RECONCILED)
        return Done(
            f"run {result.run.id}: {result.run.lines_total} lines, "
            f"{len(result.opened)} new discrepancies"
        )

    return run


def send_alert_handler(
    reconciliation: ReconciliationService, alerters: Sequence[ReconciliationAlerter]
) -> JobHandler:
    """The handler of ``send_reconciliation_alert`` jobs."""

    async def send(job: Job) -> JobOutcome:
        run_id = str(job.payload["run_id"])
        if not alerters:
            log.warning(
                "reconciliation run %s found discrepancies; no alerter is installed", run_id
            )
            return Done("no alerter installed")
        alert = await alert_of(reconciliation, run_id)
        delivered = [str(name) for name in job.payload.get(DELIVERED, ())]
        failed: dict[str, str] = {}
        for alerter in alerters:
            if alerter.name in delivered:
                continue
            try:
                await alerter.alert(alert)
            except Exception as error:  # any channel failure is retried later
                failed[alerter.name] = f"{type(error).__name__}: {error}"
                log.warning("alerter %s failed for run %s: %s", alerter.name, run_id, error)
            else:
                delivered.append(alerter.name)
        payload = {**job.payload, DELIVERED: delivered}
        if failed:
            return Retry("; ".join(f"{n}: {r}" for n, r in failed.items()), payload=payload)
        return Done(f"alerted through {', '.join(delivered)}")

    return send


async def alert_of(reconciliation: ReconciliationService, run_id: str) -> ReconciliationAlert:
    """The alert of a run: its new discrepancies per class and the first of them."""
    run = await reconciliation.get_run(run_id, client_id=None)
    found = await reconciliation.run_discrepancies(run_id, client_id=None, limit=100_000)
    by_kind = Counter(d.kind for d in found)
    return ReconciliationAlert(
        run_id=run.id,
        client_id=run.client_id,
        provider=run.provider,
        file_name=run.file_name,
        period_start=run.period_start,
        period_end=run.period_end,
        new_discrepancies=len(found),
        by_kind=dict(sorted(by_kind.items())),
        examples=[
            DiscrepancySummary(
                id=d.id,
                kind=d.kind,
                psp_reference=d.psp_reference,
                subject_id=d.subject_id,
                currency=d.currency or d.expected_currency,
                expected_minor=d.expected_minor,
                actual_minor=d.actual_minor,
                line_number=d.line_number,
            )
            for d in found[:EXAMPLES]
        ],
    )
