"""Ledger transactions per second on PostgreSQL, beside a plain-SQL posting script (pgbench).

Each run records ledger transactions through paymux's own code, one unit of work each
(``PaymentStore(Database(url)).begin()`` then ``uow.ledger.record(...)``), with 1, 8 and 32
writers (asyncio tasks, spread over ``--processes`` Python processes), for a fixed time after a
short warm-up. Two workloads:

``uniform``
    a shipment without fees for a random seller of ``--sellers``: debit ``seller_pending``,
    credit ``seller_available`` (2 postings, 2 balance rows, no platform account).
``hot``
    what real traffic does: ``payment_succeeded`` (debit the provider's ``psp_clearing``, credit
    a random seller's ``seller_pending``) then that order's ``shipment_confirmed`` (pending to
    available, plus the platform's ``commission`` and ``logistics_fees``): every writer posts to
    the same provider and platform accounts, which have no balance row ("hot" accounts).

The bound is ``bench/ledger_posting.sql`` run by pgbench on the same tables in the same run,
with the same number of clients: the same work in plain SQL, for the same workload shape. A
third pgbench variant, "hot row", has every client update the same balance rows: what a
balance row on a platform account would cost.

The benchmark creates its own ``paymux_bench_<hex>`` database on a loopback server, migrates it,
opens and funds the accounts through the ledger, and drops it at the end, also on an error,
Ctrl-C or SIGTERM. At the end it checks that every committed ledger transaction is stored, that
the ledger sums to zero per currency, and that every balance row equals the sum of its postings.

    .tools/bin/uv run python bench/bench_ledger.py [--quick] [--processes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import math
import multiprocessing
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

from bench_common import bench_database, libpq_dsn, machine_cpu, percentile, process_cpu
from paymux.core.identifiers import new_id, utc_now
from paymux.core.ledger.accounts import (
    AccountKey,
    Purpose,
    clearing_account,
    platform_account,
    seller_account,
)
from paymux.core.ledger.rules import (
    LedgerEvent,
    OrderFacts,
    PaymentSucceeded,
    ShipmentConfirmed,
    default_entry,
)
from paymux.core.storage.database import Database
from paymux.core.storage.migrate import upgrade
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money

SQL_SCRIPT = Path(__file__).with_name("ledger_posting.sql")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
PGBENCH = os.environ.get("PGBENCH", "/usr/bin/pgbench")

CLIENT = "bench"
"""The API client every account belongs to (``ledger_posting.sql`` uses the same)."""
PROVIDER = "sandbox"
CURRENCY = "EUR"
FUNDING = 10**13
"""Minor units credited to each seller's ``seller_pending`` before the runs (never runs out)."""
TARGET_VS_SQL = 0.6
TARGET_HOT_VS_UNIFORM = 0.8
TARGET_WRITERS = frozenset({8, 32})
"""The writer counts the 0.6x target applies to."""

Workload = Literal["uniform", "hot"]
WORKLOADS: tuple[Workload, ...] = ("uniform", "hot")
SQL_VARIANTS: dict[str, tuple[int, int | None]] = {
    # name: (-D mix, -D sellers; None = --sellers)
    "uniform": (0, None),
    "hot": (1, None),
    "hot row": (0, 1),
}


# -- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What to run, after ``--quick`` and the defaults were applied."""

    seconds: float
    warmup: float
    writers: tuple[int, ...]
    processes: int
    workloads: tuple[Workload, ...]
    sellers: int
    pgbench: bool
    pgbench_jobs: int
    max_errors: int
    postgres_url: URL
    profile: Path | None


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Read the command line; ``--quick`` changes only the options not given explicitly."""
    parser = argparse.ArgumentParser(
        description="paymux ledger transactions/s on PostgreSQL, beside a plain-SQL pgbench "
        "script on the same tables.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="2 s runs (about 1 minute in all)")
    parser.add_argument(
        "--seconds", type=float, help="measured seconds per run, ledger and pgbench (5; quick 2)"
    )
    parser.add_argument(
        "--warmup", type=float, help="unmeasured seconds before each ledger run (1; quick 0.5)"
    )
    parser.add_argument(
        "--writers", default="1,8,32", help="comma-separated writer counts (pgbench clients)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="Python processes the writers are spread over (never more than the writers)",
    )
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), help="comma-separated: uniform, hot"
    )
    parser.add_argument("--sellers", type=int, default=1000, help="sellers drawn at random")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the plain-SQL bound")
    parser.add_argument(
        "--pgbench-jobs", type=int, default=2, help="pgbench -j (at most the clients)"
    )
    parser.add_argument(
        "--max-errors", type=int, default=1000, help="a process stops after this many errors"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("PAYMUX_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="an existing database on a loopback server, used to create and drop the bench's "
        "own database (env PAYMUX_BENCH_POSTGRES_URL)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="write a cProfile of each writer process to DIR/<workload>-<writers>w-p<n>.pstats",
    )
    args = parser.parse_args(argv)

    def pick(value: float | None, normal: float, quick: float) -> float:
        return value if value is not None else (quick if args.quick else normal)

    try:
        writers = tuple(int(part) for part in args.writers.split(",") if part.strip())
    except ValueError:
        parser.error("--writers takes comma-separated integers")
    workloads: list[Workload] = []
    for name in (part.strip() for part in args.workloads.split(",") if part.strip()):
        if name == "uniform" or name == "hot":
            workloads.append(name)
        else:
            parser.error(f"unknown workload {name!r}: use uniform, hot")
    url = make_url(args.postgres_url)
    if url.get_backend_name() != "postgresql":
        parser.error("--postgres-url must be a postgresql:// URL")
    if (url.host or "localhost") not in LOOPBACK:
        parser.error("--postgres-url must point at 127.0.0.1: pgbench measures this machine")
    options = Options(
        seconds=pick(args.seconds, 5.0, 2.0),
        warmup=pick(args.warmup, 1.0, 0.5),
        writers=writers,
        processes=args.processes,
        workloads=tuple(workloads),
        sellers=args.sellers,
        pgbench=not args.no_pgbench,
        pgbench_jobs=args.pgbench_jobs,
        max_errors=args.max_errors,
        postgres_url=url.set(drivername="postgresql"),
        profile=args.profile,
    )
    if not writers or min(writers) < 1 or max(writers) > 64:
        parser.error("--writers must be between 1 and 64")
    if not workloads:
        parser.error("--workloads names no workload")
    if options.seconds <= 0 or options.warmup < 0 or options.seconds + options.warmup > 600:
        parser.error("--seconds must be positive and a run at most 600 s")
    if min(options.processes, options.sellers, options.pgbench_jobs, options.max_errors) < 1:
        parser.error("--processes, --sellers, --pgbench-jobs and --max-errors must be positive")
    return options


# -- the database ----------------------------------------------------------------------------


def sql(database: URL, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement in autocommit on ``database``; its rows (none for a command)."""
    with psycopg.connect(libpq_dsn(database), autocommit=True, connect_timeout=5) as connection:
        cursor = connection.execute(statement.encode())
        return list(cursor.fetchall()) if cursor.description else []


def seller_id(number: int) -> str:
    """Seller ``number`` (1-based), as ``ledger_posting.sql`` spells it."""
    return f"seller-{number}"


async def prepare_ledger(database: URL, sellers: int) -> int:
    """Open every account the runs use and fund the sellers, through paymux's ledger.

    Each seller's ``seller_pending`` gets a ``payment_succeeded`` of :data:`FUNDING`, so shipments
    never hit the non-negative guard. Returns the ledger transactions recorded.
    """
    db = Database(libpq_dsn(database), pool_size=2)
    store = PaymentStore(db)
    now = utc_now()
    keys: list[AccountKey] = [
        clearing_account(CLIENT, PROVIDER, CURRENCY),
        platform_account(CLIENT, Purpose.COMMISSION, CURRENCY),
        platform_account(CLIENT, Purpose.LOGISTICS_FEES, CURRENCY),
    ]
    for number in range(1, sellers + 1):
        for purpose in (Purpose.SELLER_PENDING, Purpose.SELLER_AVAILABLE):
            keys.append(seller_account(CLIENT, seller_id(number), purpose, CURRENCY))
    recorded = 0
    try:
        for start in range(0, len(keys), 500):
            async with store.begin() as uow:
                await uow.ledger.ensure_accounts(keys[start : start + 500], now=now)
        for start in range(1, sellers + 1, 100):
            async with store.begin() as uow:
                for number in range(start, min(start + 100, sellers + 1)):
                    order = order_facts(seller_id(number), FUNDING, 0)
                    entry = default_entry(PaymentSucceeded(order))
                    if await uow.ledger.record(CLIENT, entry, now=now) is not None:
                        recorded += 1
    finally:
        await db.dispose()
    return recorded


def order_facts(seller: str, amount: int, fee: int) -> OrderFacts:
    """A new order of ``seller`` with a commission and a logistics fee of ``fee`` each."""
    return OrderFacts(
        client_id=CLIENT,
        payment_id=new_id("pay"),
        order_id=new_id("po"),
        seller_id=seller,
        provider=PROVIDER,
        amount=Money(amount, CURRENCY),
        commission=Money(fee, CURRENCY),
        logistics_fee=Money(fee, CURRENCY),
    )


# -- CPU accounting (Linux /proc; None elsewhere) --------------------------------------------


def backend_cpu(admin: URL, database: str) -> dict[int, float] | None:
    """CPU seconds of every PostgreSQL backend connected to ``database``, by pid.

    The pids come from ``pg_stat_activity`` (asked over ``admin``'s database), so other
    databases' backends and PostgreSQL's background processes are not counted.
    """
    if not Path("/proc/self/stat").exists():
        return None
    with psycopg.connect(libpq_dsn(admin), autocommit=True, connect_timeout=5) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
    found: dict[int, float] = {}
    for (pid,) in rows:
        used = process_cpu(int(pid))
        if used is not None:
            found[int(pid)] = used
    return found


@dataclass(frozen=True)
class CpuWindow:
    """CPU used during one measured window, in CPU seconds."""

    wall: float
    machine_busy: float | None = None
    machine_total: float | None = None
    postgres: float | None = None
    """The bench database's backends only."""

    def machine_percent(self) -> float:
        """Busy CPU of the whole machine, 100% per core."""
        if self.machine_busy is None or not self.machine_total:
            return math.nan
        return 100 * (os.cpu_count() or 1) * self.machine_busy / self.machine_total


class CpuMeter:
    """Snapshots of the machine's and the bench database's backends' CPU."""

    def __init__(self, admin: URL, database: str) -> None:
        self.admin = admin
        self.database = database
        self._started = 0.0
        self._machine: tuple[float, float] | None = None
        self._backends: dict[int, float] | None = None

    def start(self) -> None:
        """Begin the window."""
        self._started = time.perf_counter()
        self._machine = machine_cpu()
        self._backends = backend_cpu(self.admin, self.database)

    def stop(self) -> CpuWindow:
        """End the window. A backend that started during it counts with all its CPU; one
        that exited during it is missed (so the PostgreSQL figure is a lower bound)."""
        wall = time.perf_counter() - self._started
        machine = machine_cpu()
        backends = backend_cpu(self.admin, self.database)
        busy = total = postgres = None
        if machine is not None and self._machine is not None:
            busy, total = machine[0] - self._machine[0], machine[1] - self._machine[1]
        if backends is not None and self._backends is not None:
            before = self._backends
            postgres = sum(used - before.get(pid, 0.0) for pid, used in backends.items())
        return CpuWindow(wall, busy, total, postgres)


# -- the writer processes ----------------------------------------------------------------------


@dataclass(frozen=True)
class WriterSpec:
    """What one writer process runs."""

    url: str
    workload: Workload
    tasks: int
    sellers: int
    max_errors: int
    profile: Path | None


@dataclass
class WriterResult:
    """What one writer process did, sent back to the parent."""

    committed: int = 0
    """Ledger transactions committed, warm-up and all."""
    measured: int = 0
    """Committed inside the measured window."""
    latencies: list[float] = field(default_factory=list)
    """Seconds per measured transaction (unit of work opened to committed)."""
    errors: Counter[str] = field(default_factory=Counter)
    cpu: float = 0.0
    """This process's CPU seconds in the window."""
    window: float = 0.0
    executes: int = 0
    """``cursor.execute``/``executemany`` calls in the window (an executemany is one)."""
    begins: int = 0
    """Database transactions begun in the window."""
    pings: int = 0
    """``pool_pre_ping`` round trips in the window (one per pool checkout when it is on)."""
    connects: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    """Measured transactions by ledger kind."""


@dataclass
class _SqlCounters:
    executes: int = 0
    begins: int = 0
    checkouts: int = 0
    connects: int = 0


def _count_sql(db: Database) -> _SqlCounters:
    counters = _SqlCounters()
    engine = db.engine.sync_engine

    @event.listens_for(engine, "before_cursor_execute")
    def _execute(*_args: Any) -> None:
        counters.executes += 1

    @event.listens_for(engine, "begin")
    def _begin(_connection: Any) -> None:
        counters.begins += 1

    @event.listens_for(engine.pool, "checkout")
    def _checkout(*_args: Any) -> None:
        counters.checkouts += 1

    @event.listens_for(engine.pool, "connect")
    def _connect(*_args: Any) -> None:
        counters.connects += 1

    return counters


def writer_events(workload: Workload, rng: random.Random, sellers: int) -> list[LedgerEvent]:
    """The ledger events of one order: a shipment without fees, or paid then shipped."""
    seller = seller_id(rng.randint(1, sellers))
    amount = rng.randint(100, 10_000)
    if workload == "uniform":
        return [ShipmentConfirmed(order_facts(seller, amount, 0))]
    order = order_facts(seller, amount, amount // 10)
    return [PaymentSucceeded(order), ShipmentConfirmed(order)]


async def run_writers(connection: Connection, spec: WriterSpec) -> WriterResult:
    """Open the pool, say ready, wait for the window, write until it ends; the result."""
    db = Database(spec.url, pool_size=spec.tasks)
    store = PaymentStore(db)
    counters = _count_sql(db)
    result = WriterResult()
    try:

        async def touch() -> None:
            async with db.transaction() as session:
                await session.execute(sa.text("SELECT 1"))

        await asyncio.gather(*(touch() for _ in range(spec.tasks)))  # fill the pool
        connection.send("ready")
        start_at, end_at = connection.recv()
        stop = False

        async def writer() -> None:
            nonlocal stop
            rng = random.Random(secrets.randbits(64))
            while not stop and time.time() < end_at:
                for ledger_event in writer_events(spec.workload, rng, spec.sellers):
                    if stop or time.time() >= end_at:
                        return
                    entry = default_entry(ledger_event)
                    started = time.perf_counter()
                    try:
                        async with store.begin() as uow:
                            recorded = await uow.ledger.record(CLIENT, entry, now=utc_now())
                    except Exception as error:  # counted and reported, the writer goes on
                        result.errors[f"{type(error).__name__}: {str(error)[:120]}"] += 1
                        stop = stop or result.errors.total() >= spec.max_errors
                        break
                    finished = time.time()
                    if recorded is None:
                        result.errors["deduplicated (reference recorded before)"] += 1
                        continue
                    result.committed += 1
                    if start_at <= finished < end_at:
                        result.measured += 1
                        result.latencies.append(time.perf_counter() - started)
                        result.kinds[entry.kind] += 1

        async def window() -> None:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            cpu, wall = time.process_time(), time.perf_counter()
            sql_before = replace(counters)
            await asyncio.sleep(max(0.0, end_at - time.time()))
            result.cpu = time.process_time() - cpu
            result.window = time.perf_counter() - wall
            result.executes = counters.executes - sql_before.executes
            result.begins = counters.begins - sql_before.begins
            if getattr(db.engine.sync_engine.pool, "_pre_ping", True):
                result.pings = counters.checkouts - sql_before.checkouts
            result.connects = counters.connects - sql_before.connects

        await asyncio.gather(window(), *(writer() for _ in range(spec.tasks)))
        connection.recv()  # keep the backends until the parent has read their CPU
    finally:
        await db.dispose()
    return result


def writer_process(connection: Connection, spec: WriterSpec, profile_path: str | None) -> None:
    """The body of a writer process: run, then send a :class:`WriterResult` or a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us on Ctrl-C
    profiler = cProfile.Profile() if profile_path else None
    try:
        if profiler is not None:
            profiler.enable()
        result = asyncio.run(run_writers(connection, spec))
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)
        connection.send(result)
    except BaseException:
        connection.send(traceback.format_exc())
    finally:
        connection.close()


@dataclass
class LedgerRun:
    """One workload at one writer count, all processes together."""

    workload: Workload
    writers: int
    processes: int
    results: list[WriterResult]
    cpu: CpuWindow

    @property
    def measured(self) -> int:
        """Transactions committed in the window."""
        return sum(r.measured for r in self.results)

    @property
    def committed(self) -> int:
        """Transactions committed in all."""
        return sum(r.committed for r in self.results)

    @property
    def window(self) -> float:
        """Length of the measured window (the longest of the processes')."""
        return max((r.window for r in self.results), default=0.0)

    @property
    def tps(self) -> float:
        """Committed ledger transactions per second in the window."""
        return self.measured / self.window if self.window > 0 else math.nan

    @property
    def errors(self) -> Counter[str]:
        """Errors of every process."""
        total: Counter[str] = Counter()
        for r in self.results:
            total.update(r.errors)
        return total

    def per_transaction(self, value: float) -> float:
        """``value`` divided by the measured transactions."""
        return value / self.measured if self.measured else math.nan


def split(writers: int, processes: int) -> list[int]:
    """Writers per process: as even as possible, no process without writers."""
    count = max(1, min(processes, writers))
    return [writers // count + (1 if index < writers % count else 0) for index in range(count)]


def run_ledger(database: URL, workload: Workload, writers: int, options: Options) -> LedgerRun:
    """Start the writer processes, warm up, measure ``options.seconds``; stop them always."""
    context = multiprocessing.get_context("spawn")
    url = libpq_dsn(database)
    tasks = split(writers, options.processes)
    pipes: list[Connection] = []
    processes: list[multiprocessing.process.BaseProcess] = []
    meter = CpuMeter(options.postgres_url, database.database or "")
    try:
        for index, count in enumerate(tasks):
            parent, child = context.Pipe()
            spec = WriterSpec(url, workload, count, options.sellers, options.max_errors, None)
            profile = None
            if options.profile is not None:
                options.profile.mkdir(parents=True, exist_ok=True)
                profile = str(options.profile / f"{workload}-{writers}w-p{index}.pstats")
            started = context.Process(
                target=writer_process, args=(child, spec, profile), daemon=True
            )
            started.start()
            child.close()
            pipes.append(parent)
            processes.append(started)
        for pipe in pipes:
            if not pipe.poll(120):
                raise RuntimeError("a writer process did not start in 120 s")
            message = pipe.recv()
            if message != "ready":
                raise RuntimeError(f"a writer process failed to start:\n{message}")
        start_at = time.time() + options.warmup
        end_at = start_at + options.seconds
        for pipe in pipes:
            pipe.send((start_at, end_at))
        time.sleep(max(0.0, start_at - time.time()))
        meter.start()
        time.sleep(max(0.0, end_at - time.time()))
        cpu = meter.stop()
        for pipe in pipes:
            pipe.send("measured")
        results: list[WriterResult] = []
        for pipe in pipes:
            if not pipe.poll(120):
                raise RuntimeError("a writer process did not finish 120 s after its window")
            message = pipe.recv()
            if not isinstance(message, WriterResult):
                raise RuntimeError(f"a writer process failed:\n{message}")
            results.append(message)
        for process in processes:
            process.join(30)
        return LedgerRun(workload, writers, len(tasks), results, cpu)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(10)
            if process.is_alive():
                process.kill()
                process.join(10)
        for pipe in pipes:
            pipe.close()


# -- pgbench ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgbenchRun:
    """One pgbench run of ``ledger_posting.sql``."""

    variant: str
    clients: int
    tps: float
    processed: int
    failed: int
    latency_ms: float | None
    command: str
    cpu: CpuWindow
    aborted: str | None = None
    """pgbench's complaint when a client aborted (a guard that matched no row, an error)."""


def run_pgbench(database: URL, variant: str, clients: int, options: Options) -> PgbenchRun:
    """``pgbench -f ledger_posting.sql`` with ``clients`` clients for ``options.seconds``."""
    mix, sellers = SQL_VARIANTS[variant]
    seconds = max(1, round(options.seconds))
    name = database.database or ""
    command = [
        PGBENCH,
        "-n",
        "-M",
        "prepared",
        "-f",
        str(SQL_SCRIPT),
        "-D",
        f"mix={mix}",
        "-D",
        f"sellers={sellers or options.sellers}",
        "-c",
        str(clients),
        "-j",
        str(min(options.pgbench_jobs, clients)),
        "-T",
        str(seconds),
        "-h",
        database.host or "127.0.0.1",
        "-p",
        str(database.port or 5432),
        "-U",
        database.username or "postgres",
        name,
    ]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    if database.password:
        env["PGPASSWORD"] = database.password
    meter = CpuMeter(options.postgres_url, name)
    meter.start()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # pgbench's backends exit with it: read their CPU just before the end of the run
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, seconds - 0.3))
        cpu = meter.stop()
        stdout, stderr = process.communicate(timeout=seconds + 120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)

    def number(pattern: str) -> float | None:
        found = re.search(pattern, stdout, re.MULTILINE)
        return float(found.group(1)) if found else None

    tps = number(r"^tps = ([0-9.]+)")
    aborted = None
    if process.returncode != 0 or tps is None:
        lines = [line for line in (stderr + stdout).splitlines() if line.strip()]
        aborted = f"exit {process.returncode}: " + " | ".join(lines[-4:])
    shown = " ".join([*command[:-1], "<db>"]).replace(PGBENCH, "pgbench")
    shown = shown.replace(str(SQL_SCRIPT), "bench/ledger_posting.sql")
    return PgbenchRun(
        variant=variant,
        clients=clients,
        tps=tps if tps is not None else math.nan,
        processed=int(number(r"^number of transactions actually processed: (\d+)") or 0),
        failed=int(number(r"^number of failed transactions: (\d+)") or 0),
        latency_ms=number(r"^latency average = ([0-9.]+) ms"),
        command=shown,
        cpu=cpu,
        aborted=aborted,
    )


# -- checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checks:
    """What the database holds at the end, against what the runs counted."""

    ledger_rows: int
    """``ledger_transaction`` rows written through paymux (setup and runs)."""
    pgbench_rows: int
    totals: dict[str, int]
    """Sum of every posting per currency (``uow.ledger.totals_by_currency()``)."""
    balance_rows: int
    mismatched_balances: int
    """Balance rows that differ from the sum of their account's postings."""


async def _totals(database: URL) -> dict[str, int]:
    db = Database(libpq_dsn(database), pool_size=1)
    try:
        async with PaymentStore(db).begin() as uow:
            return await uow.ledger.totals_by_currency()
    finally:
        await db.dispose()


def check_ledger(database: URL) -> Checks:
    """Count the rows, sum the postings, compare every balance row with its postings."""
    kinds = dict(
        sql(database, "SELECT kind = 'pgbench', count(*) FROM ledger_transaction GROUP BY 1")
    )
    mismatched = sql(
        database,
        "SELECT count(*), count(*) FILTER (WHERE a.balance_minor <> coalesce(p.total, 0)) "
        "FROM ledger_account a LEFT JOIN (SELECT account_id, sum(amount_minor) AS total "
        "FROM ledger_posting GROUP BY account_id) p ON p.account_id = a.id "
        "WHERE a.balance_minor IS NOT NULL",
    )[0]
    return Checks(
        ledger_rows=int(kinds.get(False, 0)),
        pgbench_rows=int(kinds.get(True, 0)),
        totals=asyncio.run(_totals(database)),
        balance_rows=int(mismatched[0]),
        mismatched_balances=int(mismatched[1]),
    )


# -- the report ------------------------------------------------------------------------------


def verdict(ratio: float, target: float) -> str:
    """``met`` or by how much ``ratio`` falls short of ``target``."""
    if math.isnan(ratio):
        return "no figure"
    if ratio >= target:
        return f"met (+{ratio - target:.2f})"
    return f"SHORT by {target - ratio:.2f} (x{target / ratio:.1f} needed)" if ratio > 0 else "SHORT"


@dataclass
class Report:
    """Everything one run measured."""

    options: Options
    server: str
    setup_transactions: int
    ledger: dict[tuple[Workload, int], LedgerRun]
    pgbench: dict[tuple[str, int], PgbenchRun]
    checks: Checks | None = None

    def render(self) -> str:
        """The report as printed."""
        lines = [
            "",
            f"paymux ledger transactions/s on {self.server}: {self.options.seconds:g} s per run",
            f"(ledger runs after {self.options.warmup:g} s of warm-up); writers are asyncio tasks, "
            f"one unit of work per ledger transaction, spread over at most "
            f"{self.options.processes} Python process(es); {self.options.sellers} sellers",
            "bound: the same work in plain SQL, "
            + (
                "pgbench -n -M prepared -f bench/ledger_posting.sql, same tables, same clients"
                if self.options.pgbench
                else "skipped (--no-pgbench)"
            ),
            "",
            f"{'workload':<9} {'writers':>7} {'procs':>5} {'ledger TPS':>10} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'errors':>6} {'SQL TPS':>8} {'ratio':>6} {'target':>7}  result",
        ]
        for (workload, writers), run in self.ledger.items():
            bound = self.pgbench.get((workload, writers))
            latencies = [v for r in run.results for v in r.latencies]
            p50, p99 = 1000 * percentile(latencies, 50), 1000 * percentile(latencies, 99)
            ratio = run.tps / bound.tps if bound and bound.tps > 0 else math.nan
            target = writers in TARGET_WRITERS
            lines.append(
                f"{workload:<9} {writers:>7} {run.processes:>5} {run.tps:>10.1f} "
                f"{p50:>7.1f} {p99:>7.1f} "
                f"{run.errors.total():>6} {bound.tps if bound else math.nan:>8.1f} {ratio:>6.3f} "
                + (
                    f"{'>= ' + str(TARGET_VS_SQL):>7}  {verdict(ratio, TARGET_VS_SQL)}"
                    if target and bound
                    else f"{'-':>7}  -"
                )
            )
        lines += self._hot_lines()
        lines += self._hot_row_lines()
        lines += self._cost_lines()
        lines += self._error_lines()
        lines += self._check_lines()
        return "\n".join(lines)

    def _hot_lines(self) -> list[str]:
        writers = [
            w
            for w in self.options.writers
            if ("hot", w) in self.ledger and ("uniform", w) in self.ledger
        ]
        if not writers:
            return []
        lines = [
            "",
            f"hot platform accounts / uniform account set (target >= {TARGET_HOT_VS_UNIFORM}):",
            f"{'writers':>7} {'ledger hot':>10} {'uniform':>8} {'ratio':>6}  {'result':<28} "
            f"{'SQL hot/uniform':>15}",
        ]
        for w in writers:
            hot, uniform = self.ledger[("hot", w)], self.ledger[("uniform", w)]
            ratio = hot.tps / uniform.tps if uniform.tps > 0 else math.nan
            sql_hot, sql_uniform = self.pgbench.get(("hot", w)), self.pgbench.get(("uniform", w))
            sql_ratio = (
                sql_hot.tps / sql_uniform.tps
                if sql_hot and sql_uniform and sql_uniform.tps
                else math.nan
            )
            lines.append(
                f"{w:>7} {hot.tps:>10.1f} {uniform.tps:>8.1f} {ratio:>6.3f}  "
                f"{verdict(ratio, TARGET_HOT_VS_UNIFORM):<28} {sql_ratio:>15.3f}"
            )
        lines.append(
            "  (a hot-workload transaction is half payment_succeeded: 2 postings, 1 balance row; "
            "half shipment: 4 postings, 2 balance rows)"
        )
        return lines

    def _hot_row_lines(self) -> list[str]:
        runs = [
            self.pgbench[("hot row", w)]
            for w in self.options.writers
            if ("hot row", w) in self.pgbench
        ]
        if not runs:
            return []
        shown = ", ".join(f"{r.clients} clients {r.tps:.0f} TPS" for r in runs)
        vs = ", ".join(
            f"{r.tps / self.pgbench[('uniform', r.clients)].tps:.2f}"
            for r in runs
            if ("uniform", r.clients) in self.pgbench and self.pgbench[("uniform", r.clients)].tps
        )
        return [
            "",
            "SQL reference, every client updating the same 2 balance rows (-D sellers=1, "
            f"what a balance row on a platform account would cost): {shown}",
            f"  = {vs} x the uniform SQL script",
        ]

    def _cost_lines(self) -> list[str]:
        lines = [
            "",
            f"where the time goes (measured window; CPU 100% = one core of {os.cpu_count()}; "
            "PG = this database's backends; rest = the machine's other busy CPU):",
            f"{'run':<22} {'Python ms/tx':>12} {'PG ms/tx':>8} {'SQL calls/tx':>12} "
            f"{'round trips/tx':>14} {'Python %':>8} {'PG %':>5} {'rest %':>6}",
        ]
        for (workload, writers), run in self.ledger.items():
            python = sum(r.cpu for r in run.results)
            postgres = math.nan if run.cpu.postgres is None else run.cpu.postgres
            calls = sum(r.executes for r in run.results)
            # BEGIN and COMMIT per transaction, and one pre-ping per pool checkout
            trips = calls + 2 * sum(r.begins for r in run.results)
            trips += sum(r.pings for r in run.results)
            lines.append(
                f"{f'ledger {workload} {writers}w':<22} "
                f"{1000 * run.per_transaction(python):>12.2f} "
                f"{1000 * run.per_transaction(postgres):>8.2f} "
                f"{run.per_transaction(calls):>12.2f} {run.per_transaction(trips):>14.2f} "
                + self._percents(run.cpu, python)
            )
        for (variant, clients), bench in self.pgbench.items():
            postgres = math.nan if bench.cpu.postgres is None else bench.cpu.postgres
            done = bench.tps * bench.cpu.wall
            lines.append(
                f"{f'pgbench {variant} {clients}c':<22} {'-':>12} "
                f"{1000 * postgres / done if done else math.nan:>8.2f} {'-':>12} {'-':>14} "
                + self._percents(bench.cpu, 0.0)
            )
        opened = sum(r.connects for run in self.ledger.values() for r in run.results)
        if opened:
            lines.append(f"  the pools opened {opened} new connections inside the windows")
        lines.append(
            "  SQL calls = cursor executes (the postings' executemany counts once); round trips "
            "add BEGIN, COMMIT and pool_pre_ping's ping; pgbench's rest % includes pgbench itself"
        )
        return lines

    @staticmethod
    def _percents(cpu: CpuWindow, python: float) -> str:
        wall = cpu.wall or math.nan
        postgres = math.nan if cpu.postgres is None else cpu.postgres
        rest = cpu.machine_percent() - 100 * (python + postgres) / wall
        shown = f"{100 * python / wall:>8.0f}" if python else f"{'-':>8}"
        return f"{shown} {100 * postgres / wall:>5.0f} {rest:>6.0f}"

    def _error_lines(self) -> list[str]:
        lines: list[str] = []
        for (workload, writers), run in self.ledger.items():
            for message, count in run.errors.most_common(5):
                lines.append(f"  ledger {workload} {writers}w: {message} x{count}")
        for (variant, clients), bench in self.pgbench.items():
            if bench.aborted or bench.failed:
                lines.append(
                    f"  pgbench {variant} {clients}c: {bench.failed} failed; {bench.aborted or ''}"
                )
        return ["", "errors:", *lines] if lines else ["", "errors: none"]

    def _check_lines(self) -> list[str]:
        checks = self.checks
        if checks is None:
            return ["", "checks: not run"]
        committed = self.setup_transactions + sum(r.committed for r in self.ledger.values())
        processed = sum(b.processed for b in self.pgbench.values())
        return [
            "",
            "checks:",
            f"  ledger transactions committed {committed} (setup {self.setup_transactions}) "
            f"= ledger_transaction rows {checks.ledger_rows}: "
            + ("ok" if committed == checks.ledger_rows else "MISMATCH"),
            f"  pgbench transactions processed {processed} <= pgbench rows {checks.pgbench_rows}: "
            + ("ok" if processed <= checks.pgbench_rows else "MISMATCH"),
            f"  postings sum per currency {checks.totals}: "
            + ("ok" if not any(checks.totals.values()) else "NOT ZERO"),
            f"  balance rows equal to the sum of their postings: "
            f"{checks.balance_rows - checks.mismatched_balances}/{checks.balance_rows} "
            + ("ok" if not checks.mismatched_balances else "MISMATCH"),
        ]

    @property
    def ok(self) -> bool:
        """No error, no aborted pgbench client, and every check passed."""
        checks = self.checks
        if checks is None:
            return False
        committed = self.setup_transactions + sum(r.committed for r in self.ledger.values())
        return (
            not any(r.errors for r in self.ledger.values())
            and not any(b.aborted or b.failed for b in self.pgbench.values())
            and committed == checks.ledger_rows
            and sum(b.processed for b in self.pgbench.values()) <= checks.pgbench_rows
            and not any(checks.totals.values())
            and not checks.mismatched_balances
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its report; 0 if nothing failed and every check passed."""
    options = parse_options(argv)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    admin = options.postgres_url
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > 0.5:
        print(
            f"note: the 1-minute load average is {load:.2f}: other work on this machine "
            "may skew the figures",
            flush=True,
        )
    with bench_database(admin) as database:
        print(f"database {database.database}: migrating, opening and funding accounts", flush=True)
        upgrade(libpq_dsn(database))
        setup = asyncio.run(prepare_ledger(database, options.sellers))
        sql(database, "ANALYZE")
        server = "PostgreSQL " + str(sql(database, "SHOW server_version")[0][0]).split()[0]
        report = Report(options, server, setup, {}, {})
        for writers in options.writers:
            for workload in options.workloads:
                sql(database, "CHECKPOINT")
                run = run_ledger(database, workload, writers, options)
                report.ledger[(workload, writers)] = run
                print(
                    f"ledger {workload:<7} {writers:>2} writers in {run.processes} process(es): "
                    f"{run.tps:8.1f} TPS, {run.errors.total()} errors",
                    flush=True,
                )
            if not options.pgbench:
                continue
            for variant in SQL_VARIANTS:
                sql(database, "CHECKPOINT")
                bench = run_pgbench(database, variant, writers, options)
                report.pgbench[(variant, writers)] = bench
                print(
                    f"pgbench {variant:<7} {writers:>2} clients: {bench.tps:8.1f} TPS"
                    + (f"  ({bench.aborted})" if bench.aborted else ""),
                    flush=True,
                )
        report.checks = check_ledger(database)
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(
            "interrupted; the writer processes were stopped and the database dropped",
            file=sys.stderr,
        )
        sys.exit(130)
