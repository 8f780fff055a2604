"""Reconciling a provider's settlement file: parse it whole, match it, store the run.

1. The provider's parser that accepts the file (else it is refused); paymux's records of
   the provider read in bulk (on PostgreSQL a stored snapshot of the payments and the
   rows written since) while the file is hashed.
2. The whole file parsed and checked (nothing is written before it is).
3. The lines matched (:mod:`paymux.core.reconciliation.matching`), against the records and
   the lines of earlier runs (duplicates across files; payments never settled).
4. One database transaction: the run and its lines appended; discrepancies whose key is
   not open yet opened (each is reported once), open ones this file resolves closed; fees
   and settlement payouts booked per batch and currency (the ledger reference makes a
   second booking a no-op); a ``reconciliation.completed`` event; an alert job when
   something new was found.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from typing import TypeVar

import polars as pl

from paymux.core.domain.errors import IdempotencyKeyInUseError
from paymux.core.domain.jobs import JobKind, NewJob
from paymux.core.domain.models import OutboxMessage
from paymux.core.identifiers import new_id
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import (
    FxSettled,
    LedgerEvent,
    PspFeeCharged,
    SettlementPaidOut,
    default_entry,
)
from paymux.core.reconciliation.findings import (
    Booking,
    bookings,
    findings,
    line_groups,
    resolved,
    summary,
)
from paymux.core.reconciliation.fx import (
    FxDifference,
    converted_refunds,
    disputed_payments,
    settle_fx,
)
from paymux.core.reconciliation.lines import LINE_SCHEMA, empty_lines
from paymux.core.reconciliation.matching import MatchResult, Records, match, settled_earlier
from paymux.core.reconciliation.parsers import SettlementParser, check_batch, choose_parser
from paymux.core.services.idempotency import IdempotentRequest, StoredResponse, replay_if_done
from paymux.core.storage.reconciliation_repository import (
    StoredDiscrepancy,
    StoredRun,
    read_records_postgresql,
)
from paymux.core.storage.reconciliation_snapshot import SnapshotToStore, store_snapshot_postgresql
from paymux.core.storage.unit_of_work import PaymentStore, UnitOfWork
from paymux.currencies import Money

log = logging.getLogger(__name__)

_T = TypeVar("_T")

Progress = Callable[[str, int], None]
"""``progress(stage, lines)``: called as a run goes (``parsing`` with the lines read so
far, then ``matching``, ``storing``, ``done``)."""


class _KeyTakenError(Exception):
    """Another request stored a run under the idempotency key first (rolls this one back)."""


class UnknownRunError(LookupError):
    """No reconciliation run with that id (for this client)."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished run and what it changed."""

    run: StoredRun
    opened: list[str]
    """Ids of the discrepancies this run opened."""
    resolved: int
    booked: list[Booking]


class ReconciliationService:
    """Runs reconciliations and reads their results."""

    def __init__(
        self,
        *,
        store: PaymentStore,
        parsers: Sequence[SettlementParser],
        ledger_entry: Callable[[LedgerEvent], JournalEntry] = default_entry,
        lookback: timedelta = timedelta(days=90),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._parsers = list(parsers)
        self._ledger_entry = ledger_entry
        self._lookback = lookback
        self._clock = clock

    def providers(self) -> list[str]:
        """Providers with at least one settlement parser."""
        return sorted({parser.provider for parser in self._parsers})

    async def reconcile(
        self,
        path: Path,
        *,
        provider: str,
        client_id: str,
        source: str = "cli",
        file_name: str | None = None,
        progress: Progress | None = None,
        before_commit: Callable[[UnitOfWork, StoredRun], Awaitable[None]] | None = None,
        file_sha256: str | None = None,
    ) -> RunResult:
        """Reconcile the settlement file at ``path`` for ``provider`` and ``client_id``.

        Raises :class:`~paymux.core.reconciliation.errors.SettlementFileError` (wrong
        format, malformed line) before anything is written. ``before_commit`` runs in the
        run's own database transaction, last (if it raises, nothing of the run is stored).
        ``file_sha256``: the file's SHA-256 (hex) when the caller has it already (an upload
        hashed as it was received); else it is computed while the records are read.
        """
        report = progress or (lambda _stage, _lines: None)
        started = self._clock()
        started_clock = perf_counter()
        parser = choose_parser(self._parsers, provider, path)
        since = started - self._lookback
        # The records are read while the file is hashed (two threads), then the file is
        # parsed: the parse's peak memory is not added to the records' (each thread's
        # freed memory stays with the allocator for a while), and nothing is written
        # before the file parsed whole.
        took: dict[str, float] = {}

        async def timed(name: str, work: Awaitable[_T]) -> _T:
            begun = perf_counter()
            try:
                return await work
            finally:
                took[name] = perf_counter() - begun

        snapshot: list[SnapshotToStore] = []  # PostgreSQL: stored once the run committed
        hashed, read = await asyncio.gather(
            timed("hash", _given(file_sha256) if file_sha256 else asyncio.to_thread(_sha256, path)),
            timed("records", self._read_records(client_id, provider, since, snapshot)),
            return_exceptions=True,
        )
        for outcome in (hashed, read):
            if isinstance(outcome, BaseException):
                raise outcome
        assert isinstance(hashed, str)
        assert isinstance(read, Records)
        parsing = asyncio.to_thread(self._parse, parser, path, provider, report)
        parsed = await timed("parse", parsing)
        digest, lines, records = hashed, parsed, read
        del parsed, read  # the records are let go right after the match
        report("matching", lines.height)
        clock = perf_counter
        timings = {"read": clock() - started_clock}
        # the parts of "read" (hash and records side by side, then the parse; not added up):
        sides = {f"read_{name}": value for name, value in sorted(took.items())}
        period_start, period_end = _period(lines)
        async with self._store.begin() as uow:
            seen = await uow.reconciliation.seen_lines(
                client_id,
                provider,
                since=since.date(),
                file_sha256=digest,
                line_references=lines.get_column("line_reference"),
            )
            open_ = await uow.reconciliation.open_discrepancies(client_id, provider)
        due_until = (
            None
            if period_end is None
            else datetime.combine(period_end + timedelta(days=1), time(), UTC)
            - parser.settlement_delay
        )
        timings["earlier_runs"] = clock() - started_clock - timings["read"]
        result = await asyncio.to_thread(match, lines, records, seen=seen, due_until=due_until)
        del records, seen
        if result.missing.height or result.missing_refunds.height:
            # a payment (a refund) an earlier file settled is not missing
            async with self._store.begin() as uow:
                settled, settled_refunds = await uow.reconciliation.settled_earlier(
                    client_id,
                    provider,
                    since=since.date(),
                    payment_ids=result.missing.get_column("payment_id"),
                    refund_ids=result.missing_refunds.get_column("refund_id"),
                )
            result = settled_earlier(result, settled, settled_refunds)
        async with self._store.begin() as uow:  # converted payments: currency and FX check
            converted = await uow.reconciliation.converted_payments(client_id, provider, since)
            refund_ids = converted_refunds(result, converted)
            posted = (
                await uow.reconciliation.refunds_posted(client_id, provider, refund_ids)
                if refund_ids
                else None
            )
            disputed = disputed_payments(result, converted)
            chargebacks, chargebacks_posted = (
                await uow.reconciliation.converted_chargebacks(client_id, provider, disputed)
                if disputed
                else (None, None)
            )
        result, fx_differences = settle_fx(
            result,
            converted,
            posted,
            chargebacks=chargebacks,
            chargebacks_posted=chargebacks_posted,
        )
        timings["match"] = clock() - started_clock - sum(timings.values())
        found, closing, groups, booked = await asyncio.to_thread(
            _classified, result, open_, fallback_batch=f"file-{digest[:16]}"
        )
        # after the findings, not beside them: both at once peak 100 MiB higher
        blob = await asyncio.to_thread(_parquet, result.lines)
        timings["classify"] = clock() - started_clock - sum(timings.values())
        report("storing", lines.height)
        now = self._clock()
        run_id = new_id("rr")
        matched = int(result.lines.get_column("matched").sum())
        details = _run_summary(groups, found, booked, parser, {**timings, **sides})
        if fx_differences:
            details["fx_differences"] = [
                {
                    "payment_id": d.payment_id,
                    "currency": d.currency,
                    "settled_minor": d.settled_minor,
                    "expected_minor": d.expected_minor,
                    "difference_minor": d.difference_minor,
                    **({} if d.refund_id is None else {"refund_id": d.refund_id}),
                    **(
                        {}
                        if d.chargeback_id is None
                        else {"chargeback_id": d.chargeback_id, "line_type": d.line_type}
                    ),
                }
                for d in fx_differences
            ]
        closing_ids = closing.get_column("id").to_list()
        run = StoredRun(
            id=run_id,
            client_id=client_id,
            provider=provider,
            format=parser.format,
            source=source,
            file_name=file_name or path.name,
            file_sha256=digest,
            period_start=period_start,
            period_end=period_end,
            lines_total=lines.height,
            lines_matched=matched,
            summary=details,
            new_discrepancies=found.height,
            resolved_discrepancies=len(closing_ids),
            created_at=started,
            finished_at=now,
        )
        async with self._store.begin() as uow:
            await uow.reconciliation.insert_run(run, blob)
            opened = await uow.reconciliation.insert_discrepancies(
                client_id, provider, run_id, found, now=now
            )
            closed = await uow.reconciliation.resolve(closing_ids, run_id, now=now)
            if len(opened) != found.height or closed != len(closing_ids):
                # a concurrent run opened (resolved) some of them first: count only ours
                if len(opened) != found.height:
                    details = {
                        **details,
                        "discrepancies": await uow.reconciliation.opened_by_kind(run_id),
                    }
                run = replace(
                    run,
                    new_discrepancies=len(opened),
                    resolved_discrepancies=closed,
                    summary=details,
                )
                await uow.reconciliation.correct_counts(
                    run_id, new=len(opened), resolved=closed, summary=details
                )
            events = [
                *booking_events(client_id, provider, booked),
                *fx_events(client_id, provider, fx_differences),
            ]
            entries = [self._ledger_entry(e) for e in events]
            if entries:
                await uow.ledger.record_all(client_id, entries, now=now)
            await uow.add_outbox([completed_message(run, len(opened), closed)], now=now)
            if opened:
                await uow.jobs.enqueue(alert_job(run_id), now=now, client_id=client_id)
            if before_commit is not None:
                await before_commit(uow, run)
        # the payments' snapshot (PostgreSQL): after the commit, never failing the run
        await self._store_snapshot(client_id, provider, snapshot)
        report("done", lines.height)
        log.info(
            "reconciled %s file %s: %d lines, %d matched, %d new discrepancies, %d resolved",
            provider,
            run.file_name,
            run.lines_total,
            matched,
            len(opened),
            closed,
        )
        return RunResult(run=run, opened=opened, resolved=closed, booked=booked)

    async def upload(
        self,
        path: Path,
        request: IdempotentRequest,
        *,
        provider: str,
        file_name: str,
        render: Callable[[StoredRun], str],
        file_sha256: str | None = None,
    ) -> StoredResponse:
        """Reconcile an uploaded file once per idempotency key: the same key again replays
        the first run's response (another file or provider with it: refused).

        The key is stored with the run, in its transaction. Two requests with the same key
        at once both do the work; the second to commit replays the first's response.
        ``file_sha256`` as for :meth:`reconcile`.
        """
        async with self._store.begin() as uow:
            record = await uow.find_idempotency_key(request.client_id, request.key)
        if record is not None:
            replay = replay_if_done(record, request)
            if replay is None:
                raise IdempotencyKeyInUseError("a request with this idempotency key is running")
            return replay
        response: list[StoredResponse] = []

        async def keep_key(uow: UnitOfWork, run: StoredRun) -> None:
            record_id = await uow.insert_idempotency_key(
                client_id=request.client_id,
                key=request.key,
                fingerprint=request.fingerprint,
                resource_id=run.id,
                now=run.finished_at,
            )
            if record_id is None:
                raise _KeyTakenError
            body = render(run)
            await uow.complete_idempotency_key(record_id, status=201, body=body)
            response.append(StoredResponse(201, body))

        try:
            await self.reconcile(
                path,
                provider=provider,
                client_id=request.client_id,
                source="upload",
                file_name=file_name,
                before_commit=keep_key,
                file_sha256=file_sha256,
            )
        except _KeyTakenError:
            async with self._store.begin() as uow:
                record = await uow.find_idempotency_key(request.client_id, request.key)
            replay = None if record is None else replay_if_done(record, request)
            if replay is None:
                raise IdempotencyKeyInUseError(
                    "a request with this idempotency key is running"
                ) from None
            return replay
        return response[0]

    def _parse(
        self, parser: SettlementParser, path: Path, provider: str, report: Progress
    ) -> pl.DataFrame:
        batches: list[pl.DataFrame] = []
        total = 0
        for batch in parser.parse(path):
            batches.append(check_batch(batch, provider))
            total += batch.height
            report("parsing", total)
        # The parsers' few pieces are matched as they are: copying them into one chunk
        # cost a second copy of the lines at the peak, not time (a frame of many chunks,
        # as COPY's, is compacted where it is read).
        lines = pl.concat(batches, rechunk=False) if batches else empty_lines()
        return lines.select(list(LINE_SCHEMA))

    async def _read_records(
        self, client_id: str, provider: str, since: datetime, snapshot: list[SnapshotToStore]
    ) -> Records:
        """The records; on PostgreSQL a payments' snapshot due to be stored goes to
        ``snapshot`` (for :meth:`_store_snapshot`)."""
        database = self._store.database
        if database.dialect == "postgresql":  # streamed with COPY on its own connection
            records, pending = await asyncio.to_thread(
                read_records_postgresql, database.url, client_id, provider, since
            )
            snapshot.extend([] if pending is None else [pending])
            return records
        async with self._store.begin() as uow:
            return await uow.reconciliation.read_records(client_id, provider, since)

    async def _store_snapshot(
        self, client_id: str, provider: str, snapshot: list[SnapshotToStore]
    ) -> None:
        """Store the payments' snapshot a run read, in a transaction of its own; a failure
        is logged (the next run reads the rows again and tries anew)."""
        for pending in snapshot:
            try:
                await asyncio.to_thread(
                    store_snapshot_postgresql,
                    self._store.database.url,
                    client_id,
                    provider,
                    pending,
                )
            except Exception:
                log.warning(
                    "reconciliation snapshot of %s/%s not stored",
                    client_id,
                    provider,
                    exc_info=True,
                )

    async def get_run(self, run_id: str, *, client_id: str | None) -> StoredRun:
        """A run of ``client_id``; :class:`UnknownRunError` otherwise."""
        async with self._store.begin() as uow:
            run = await uow.reconciliation.get_run(run_id, client_id=client_id)
        if run is None:
            raise UnknownRunError(run_id)
        return run

    async def list_runs(self, client_id: str, *, limit: int = 50) -> list[StoredRun]:
        """The client's latest runs."""
        async with self._store.begin() as uow:
            return await uow.reconciliation.list_runs(client_id, limit=limit)

    async def run_discrepancies(
        self, run_id: str, *, client_id: str | None, after: str | None = None, limit: int = 100
    ) -> list[StoredDiscrepancy]:
        """The discrepancies a run of ``client_id`` opened."""
        await self.get_run(run_id, client_id=client_id)
        async with self._store.begin() as uow:
            return await uow.reconciliation.run_discrepancies(run_id, after=after, limit=limit)


async def _given(digest: str) -> str:
    return digest


def _sha256(path: Path) -> str:
    """The file's SHA-256 (hex), read in 1 MiB pieces (hashlib lets go of the GIL)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _classified(
    result: MatchResult, open_: pl.DataFrame, *, fallback_batch: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, list[Booking]]:
    """``(found, closing, groups, booked)``: the discrepancies to open (each key once, none
    already open), the open ones this match resolves, the lines' :func:`line_groups` and
    the bookings."""
    every = findings(result)
    found = every.join(open_.select("key"), on="key", how="anti")
    closing = resolved(open_, result, every)
    groups = line_groups(result.lines)
    return found, closing, groups, bookings(groups, fallback_batch=fallback_batch)


def _run_summary(
    groups: pl.DataFrame,
    found: pl.DataFrame,
    booked: Sequence[Booking],
    parser: SettlementParser,
    timings: dict[str, float],
) -> dict[str, object]:
    """What a run keeps as its summary (see ``docs/api/reconciliations.md``)."""
    return {
        **summary(groups),
        "discrepancies": {
            row["kind"]: int(row["len"])
            for row in found.group_by("kind").len().sort("kind").iter_rows(named=True)
        },
        "bookings": [
            {
                "kind": b.kind,
                "batch": b.batch,
                "currency": b.currency,
                "amount_minor": b.amount_minor,
            }
            for b in booked
        ],
        "settlement_delay_seconds": int(parser.settlement_delay.total_seconds()),
        "seconds": {name: round(value, 3) for name, value in timings.items()},
    }


def _period(lines: pl.DataFrame) -> tuple[date | None, date | None]:
    if lines.height == 0:
        return None, None
    dates = lines.get_column("booking_date")
    first, last = dates.min(), dates.max()
    assert isinstance(first, date)
    assert isinstance(last, date)
    return first, last


_KEPT = [
    "line_number", "type", "psp_reference", "line_reference", "gross_minor", "currency",
    "payment_id", "refund_id", "payout_id", "kind", "duplicate",
]  # fmt: skip
"""What a run keeps of its lines: what later runs read (the line ids and the payments they
settled) and enough to find a line in the file again."""


def _parquet(lines: pl.DataFrame) -> bytes:
    keep = _KEPT
    buffer = io.BytesIO()
    lines.select(keep).write_parquet(
        buffer, compression="zstd", compression_level=1, statistics=False
    )
    return buffer.getvalue()


def booking_events(client_id: str, provider: str, booked: Sequence[Booking]) -> list[LedgerEvent]:
    """The ledger events of a run's bookings."""
    events: list[LedgerEvent] = []
    for booking in booked:
        money = Money(booking.amount_minor, booking.currency)
        reference = f"{booking.batch}:{booking.currency}"
        if booking.kind == "fee":
            events.append(PspFeeCharged(client_id, provider, money, reference))
        else:
            events.append(SettlementPaidOut(client_id, provider, money, reference))
    return events


def fx_events(
    client_id: str, provider: str, differences: Sequence[FxDifference]
) -> list[LedgerEvent]:
    """The FX gains and losses of a run's converted captures, refunds, chargebacks and
    chargeback reversals (none for a zero difference).

    Keyed on the payment (a capture), the refund or the chargeback and the line's type
    (:attr:`FxDifference.subject`), not on the line: one FX settlement per payment capture,
    per refund, per chargeback and per reversal, however often it is reconciled, and also
    when a re-issued or corrected file lists it again under a new line id."""
    return [
        FxSettled(
            client_id,
            provider,
            difference.payment_id,
            Money(difference.difference_minor, difference.currency),
            f"{difference.subject}:{difference.currency}",
        )
        for difference in differences
        if difference.difference_minor != 0
    ]


def completed_message(run: StoredRun, opened: int, resolved_count: int) -> OutboxMessage:
    """The ``reconciliation.completed`` event of a run."""
    return OutboxMessage(
        topic="reconciliation.completed",
        key=run.provider,
        payload={
            "run_id": run.id,
            "provider": run.provider,
            "period_start": None if run.period_start is None else run.period_start.isoformat(),
            "period_end": None if run.period_end is None else run.period_end.isoformat(),
            "lines_total": run.lines_total,
            "lines_matched": run.lines_matched,
            "new_discrepancies": opened,
            "resolved_discrepancies": resolved_count,
        },
    )


def alert_job(run_id: str) -> NewJob:
    """The job that sends a run's alert."""
    return NewJob(
        kind=JobKind.SEND_RECONCILIATION_ALERT.value,
        key=f"reconciliation_alert:{run_id}",
        payload={"run_id": run_id},
    )
