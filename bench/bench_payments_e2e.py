"""End-to-end payments per second through paymux's API on PostgreSQL, beside pgbench's TPS.

One end-to-end payment is what a marketplace and its buyer do:

1. ``POST /v1/payments`` (Bearer key, unique ``Idempotency-Key``): paymux stores the payment
   and registers it with the sandbox PSP (an HTTP call to ``/sandbox-psp``);
2. ``POST {redirect_url}`` with the success card, as the hosted page's form does: the PSP
   answers 303 and sends a signed webhook to ``/v1/webhooks/sandbox`` on its own;
3. ``GET /v1/payments/{id}`` every ``--poll-interval`` until the status is ``succeeded``
   (the webhook was applied).

The benchmark creates a database of its own, migrates it, serves paymux from a separate
process (``paymux_bench_server.py``, one uvicorn worker) on 127.0.0.1, runs ``--payments``
payments with ``--concurrency`` at a time and measures each whole payment. Then it runs
pgbench (TPC-B-like) on the same database, as the bound of this machine, and drops the
database, also on failure. Everything is bounded by counts and ``--max-seconds``.

    .tools/bin/uv run python bench/bench_payments_e2e.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx
import psycopg
from sqlalchemy.engine import URL, make_url

from bench_common import bench_database, libpq_dsn, machine_cpu, percentile, process_cpu
from paymux.core.settings import DEVELOPMENT_API_KEY
from paymux.core.storage.migrate import upgrade

SERVER_SCRIPT = Path(__file__).with_name("paymux_bench_server.py")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
SUCCESS_CARD = "4242424242424242"
PGBENCH = os.environ.get("PGBENCH", "/usr/bin/pgbench")


# -- options -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What to run, after ``--quick`` and the defaults were applied."""

    payments: int
    concurrency: int
    warmup: int
    poll_interval: float
    payment_timeout: float
    max_seconds: float
    pgbench: bool
    pgbench_seconds: int
    pgbench_clients: int
    pgbench_jobs: int
    pgbench_scale: int
    postgres_url: URL
    profile: Path | None


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Read the command line; ``--quick`` changes only the options not given explicitly."""
    parser = argparse.ArgumentParser(
        description="paymux end-to-end payments/s on PostgreSQL, beside pgbench's TPS.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a run of a few seconds")
    parser.add_argument("--payments", type=int, help="measured payments (default 300; quick 60)")
    parser.add_argument("--concurrency", type=int, help="payments in flight (default 16; quick 8)")
    parser.add_argument(
        "--warmup", type=int, help="unmeasured payments first (default 20; quick 5)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=0.01, help="seconds between status polls"
    )
    parser.add_argument(
        "--payment-timeout", type=float, default=30.0, help="seconds before a payment is an error"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=600.0, help="stop starting payments after this"
    )
    parser.add_argument("--no-pgbench", action="store_true", help="skip pgbench")
    parser.add_argument("--pgbench-seconds", type=int, help="pgbench -T (default 10; quick 3)")
    parser.add_argument("--pgbench-clients", type=int, default=8, help="pgbench -c")
    parser.add_argument("--pgbench-jobs", type=int, default=2, help="pgbench -j")
    parser.add_argument("--pgbench-scale", type=int, default=1, help="pgbench -i -s")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("PAYMUX_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="an existing database on a loopback server, used to create and drop the bench's "
        "own database (env PAYMUX_BENCH_POSTGRES_URL)",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="write a cProfile of the server process here"
    )
    args = parser.parse_args(argv)

    def pick(value: int | None, normal: int, quick: int) -> int:
        return value if value is not None else (quick if args.quick else normal)

    url = make_url(args.postgres_url)
    if url.get_backend_name() != "postgresql":
        parser.error("--postgres-url must be a postgresql:// URL")
    if (url.host or "localhost") not in LOOPBACK:
        parser.error("--postgres-url must point at 127.0.0.1: pgbench measures this machine")
    options = Options(
        payments=pick(args.payments, 300, 60),
        concurrency=pick(args.concurrency, 16, 8),
        warmup=pick(args.warmup, 20, 5),
        poll_interval=args.poll_interval,
        payment_timeout=args.payment_timeout,
        max_seconds=args.max_seconds,
        pgbench=not args.no_pgbench,
        pgbench_seconds=pick(args.pgbench_seconds, 10, 3),
        pgbench_clients=args.pgbench_clients,
        pgbench_jobs=args.pgbench_jobs,
        pgbench_scale=args.pgbench_scale,
        postgres_url=url.set(drivername="postgresql"),
        profile=args.profile,
    )
    numbers = (options.payments, options.concurrency, options.pgbench_seconds)
    if min(numbers) < 1 or options.warmup < 0 or options.poll_interval < 0:
        parser.error("counts and durations must be positive")
    return options


# -- the database ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transactions:
    """``pg_stat_database`` counters of one database."""

    commits: int
    rollbacks: int
    sessions: int
    """Connections opened (PostgreSQL 14+; 0 before)."""

    def __sub__(self, other: Transactions) -> Transactions:
        return Transactions(
            self.commits - other.commits,
            self.rollbacks - other.rollbacks,
            self.sessions - other.sessions,
        )

    @property
    def total(self) -> int:
        """Commits and rollbacks."""
        return self.commits + self.rollbacks


def transactions(admin: URL, database: str, *, settle_seconds: float = 15.0) -> Transactions:
    """The database's transaction counters once no backend is connected to it.

    Backends report their counters when they exit, so this waits for them to be gone.
    """
    deadline = time.monotonic() + settle_seconds
    with psycopg.connect(libpq_dsn(admin), autocommit=True, connect_timeout=5) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)
            ).fetchone()
            if row is None or row[0] == 0:
                break
            time.sleep(0.05)
        time.sleep(0.1)
        version = connection.info.server_version
        sessions = "sessions" if version >= 140000 else "0"
        row = connection.execute(
            f"SELECT xact_commit, xact_rollback, {sessions} "  # noqa: S608 - a fixed column name
            "FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
    if row is None:
        return Transactions(0, 0, 0)
    return Transactions(int(row[0]), int(row[1]), int(row[2]))


# -- CPU accounting (Linux /proc; None elsewhere) ----------------------------------------------


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every running ``postgres`` process, by pid."""
    found: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*/comm"):
        try:
            if entry.read_text().strip() != "postgres":
                continue
        except OSError:
            continue
        pid = int(entry.parent.name)
        used = process_cpu(pid)
        if used is not None:
            found[pid] = used
    return found


def postgres_cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the ``postgres`` processes used between two snapshots (not counting ones that exited)."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


# -- the server --------------------------------------------------------------------------------


@dataclass
class Server:
    """The paymux process under test."""

    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    final_log: str = ""
    """The whole log, once the server stopped."""

    def log_text(self) -> str:
        """What the server wrote to stderr and stdout so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@contextmanager
def paymux_server(database_url: URL, profile: Path | None) -> Iterator[Server]:
    """paymux on a fresh 127.0.0.1 port in a child process; stopped (SIGINT) at the end."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {
        **os.environ,
        "PAYMUX_DATABASE_URL": database_url.set(drivername="postgresql+psycopg").render_as_string(
            hide_password=False
        ),
        "PAYMUX_PUBLIC_URL": url,
        "PAYMUX_API_KEYS": f'{{"{DEVELOPMENT_API_KEY}": "bench"}}',
        "PAYMUX_PROVIDERS": '{"sandbox": {}}',
        "PAYMUX_MODE": "sandbox",
        # the limiter stays in the path (its cost is measured) but never caps the benchmark
        "PAYMUX_RATE_LIMIT": "1000000/second",
        "PAYMUX_RATE_LIMIT_ANONYMOUS": "1000000/second",
        "PAYMUX_RATE_LIMIT_WEBHOOKS": "1000000/second",
    }
    command = [sys.executable, str(SERVER_SCRIPT), "--fd", str(sock.fileno())]
    if profile is not None:
        command += ["--profile", str(profile)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, env=env, pass_fds=(sock.fileno(),), stdout=log, stderr=subprocess.STDOUT
        )
        sock.close()
        server = Server(url, process, log)
        try:
            _wait_until_ready(server)
            yield server
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            server.final_log = server.log_text()


def _wait_until_ready(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"the paymux server exited:\n{server.log_text()[-3000:]}")
            try:
                if client.get(f"{server.url}/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"the paymux server did not answer in {timeout:.0f}s")


# -- the load ----------------------------------------------------------------------------------


class PaymentFailedError(Exception):
    """A step of a payment did not answer as expected."""


@dataclass(frozen=True)
class PaymentResult:
    """One end-to-end payment: its latencies (seconds) or what went wrong."""

    total: float
    create: float = 0.0
    pay: float = 0.0
    settle: float = 0.0
    polls: int = 0
    payment_id: str | None = None
    error: str | None = None


def payment_body(index: int) -> dict[str, Any]:
    """A checkout with two sellers, as in the tests."""
    return {
        "buyer_id": f"bench-buyer-{index}",
        "currency": "EUR",
        "country": "DE",
        "payment_method": "card",
        "return_url": "https://shop.example/thanks",
        "orders": [
            {
                "seller_id": "seller-a",
                "amount": "30.00",
                "commission": "3.00",
                "logistics_fee": "4.50",
                "reference": f"order-{index}-a",
            },
            {"seller_id": "seller-b", "amount": "12.50", "reference": f"order-{index}-b"},
        ],
    }


async def one_payment(
    api: httpx.AsyncClient, buyer: httpx.AsyncClient, key: str, index: int, options: Options
) -> PaymentResult:
    """Create, pay on the hosted page, and poll until the webhook was applied."""
    started = time.perf_counter()
    created = await api.post(
        "/v1/payments", json=payment_body(index), headers={"Idempotency-Key": key}
    )
    if created.status_code != 201:
        raise PaymentFailedError(f"create answered {created.status_code}")
    payment = created.json()
    redirect_url = payment.get("redirect_url")
    if payment.get("status") != "pending" or not isinstance(redirect_url, str):
        raise PaymentFailedError(f"create gave status {payment.get('status')}")
    after_create = time.perf_counter()

    paid = await buyer.post(
        redirect_url, data={"card_number": SUCCESS_CARD, "expiry": "12/34", "cvc": "123"}
    )
    if paid.status_code != 303:
        raise PaymentFailedError(f"the hosted page answered {paid.status_code}")
    after_pay = time.perf_counter()

    polls = 0
    while True:
        polls += 1
        polled = await api.get(f"/v1/payments/{payment['id']}")
        if polled.status_code != 200:
            raise PaymentFailedError(f"status poll answered {polled.status_code}")
        status = polled.json().get("status")
        if status == "succeeded":
            break
        if status not in {"pending", "executing"}:
            raise PaymentFailedError(f"payment ended {status}")
        await asyncio.sleep(options.poll_interval)
    done = time.perf_counter()
    return PaymentResult(
        total=done - started,
        create=after_create - started,
        pay=after_pay - after_create,
        settle=done - after_pay,
        polls=polls,
        payment_id=str(payment["id"]),
    )


async def run_payments(
    api: httpx.AsyncClient,
    buyer: httpx.AsyncClient,
    run_id: str,
    indexes: range,
    options: Options,
    deadline: float,
) -> list[PaymentResult]:
    """Run the payments of ``indexes``, ``options.concurrency`` at a time, until ``deadline``."""
    pending = iter(indexes)
    results: list[PaymentResult] = []

    async def worker() -> None:
        for index in pending:
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            try:
                async with asyncio.timeout(options.payment_timeout):
                    result = await one_payment(
                        api, buyer, f"bench-{run_id}-{index}", index, options
                    )
            except TimeoutError:
                result = PaymentResult(time.perf_counter() - started, error="timeout")
            except (PaymentFailedError, httpx.HTTPError, ValueError, KeyError) as error:
                message = str(error) or type(error).__name__
                result = PaymentResult(time.perf_counter() - started, error=message)
            results.append(result)

    await asyncio.gather(*(worker() for _ in range(options.concurrency)))
    return results


@dataclass(frozen=True)
class SqlWork:
    """The server's SQL counters (``GET /_bench/sql``), or a difference of two readings."""

    transactions: float = 0.0
    statements: float = 0.0
    checkouts: float = 0.0
    connects: float = 0.0

    def __sub__(self, other: SqlWork) -> SqlWork:
        return SqlWork(
            self.transactions - other.transactions,
            self.statements - other.statements,
            self.checkouts - other.checkouts,
            self.connects - other.connects,
        )

    def __truediv__(self, count: float) -> SqlWork:
        return SqlWork(
            self.transactions / count,
            self.statements / count,
            self.checkouts / count,
            self.connects / count,
        )


async def sql_work(api: httpx.AsyncClient) -> SqlWork:
    """The server's SQL counters now."""
    response = await api.get("/_bench/sql")
    response.raise_for_status()
    body = response.json()
    return SqlWork(
        transactions=body["transactions"],
        statements=body["statements"],
        checkouts=body["checkouts"],
        connects=body["connects"],
    )


@dataclass
class LoadResult:
    """The measured payments and what the machine did meanwhile."""

    results: list[PaymentResult]
    wall: float
    warmup_payments: int
    sql: SqlWork
    """SQL of the measured payments."""
    sql_per_poll: SqlWork | None
    """SQL of one ``GET /v1/payments/{id}``, measured after the run."""
    server_cpu: float | None
    client_cpu: float
    postgres_cpu: float | None
    machine_busy: float | None
    machine_total: float | None


async def run_load(server: Server, options: Options) -> LoadResult:
    """Warm up, then run and time the measured payments; then measure one poll's SQL."""
    limits = httpx.Limits(
        max_connections=options.concurrency, max_keepalive_connections=options.concurrency
    )
    run_id = secrets.token_hex(4)
    headers = {"Authorization": f"Bearer {DEVELOPMENT_API_KEY}"}
    async with (
        httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits) as api,
        httpx.AsyncClient(limits=limits) as buyer,
    ):
        deadline = time.monotonic() + options.max_seconds
        warm = await run_payments(api, buyer, run_id, range(options.warmup), options, deadline)
        if any(result.error for result in warm):
            errors = Counter(result.error for result in warm if result.error)
            raise RuntimeError(f"warm-up payments failed: {dict(errors)}")

        sql_before = await sql_work(api)
        server_before = process_cpu(server.process.pid)
        postgres_before = postgres_cpu()
        machine_before = machine_cpu()
        client_before = time.process_time()
        started = time.perf_counter()
        measured = range(options.warmup, options.warmup + options.payments)
        results = await run_payments(api, buyer, run_id, measured, options, deadline)
        wall = time.perf_counter() - started
        client_cpu = time.process_time() - client_before
        machine_after = machine_cpu()
        postgres_after = postgres_cpu()
        server_after = process_cpu(server.process.pid)
        sql_after = await sql_work(api)

        per_poll = None
        paid = next((r.payment_id for r in results if r.payment_id is not None), None)
        if paid is not None:
            polls = 20
            for _ in range(polls):
                (await api.get(f"/v1/payments/{paid}")).raise_for_status()
            per_poll = (await sql_work(api) - sql_after) / polls

    server_cpu = (
        server_after - server_before
        if server_after is not None and server_before is not None
        else None
    )
    busy = total = None
    if machine_before is not None and machine_after is not None:
        busy = machine_after[0] - machine_before[0]
        total = machine_after[1] - machine_before[1]
    return LoadResult(
        results=results,
        wall=wall,
        warmup_payments=len(warm),
        sql=sql_after - sql_before,
        sql_per_poll=per_poll,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        postgres_cpu=postgres_cpu_between(postgres_before, postgres_after)
        if postgres_after
        else None,
        machine_busy=busy,
        machine_total=total,
    )


# -- pgbench -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgbenchResult:
    """pgbench's throughput and mean latency."""

    tps: float
    latency_ms: float | None
    command: str


def run_pgbench(database: URL, options: Options) -> PgbenchResult:
    """``pgbench -i`` then a timed TPC-B-like run on ``database``; its ``tps = ...``."""
    connection = [
        "-h",
        database.host or "127.0.0.1",
        "-p",
        str(database.port or 5432),
        "-U",
        database.username or "postgres",
    ]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    if database.password:
        env["PGPASSWORD"] = database.password
    name = database.database or ""
    init = [PGBENCH, "-i", "-q", "-s", str(options.pgbench_scale), *connection, name]
    subprocess.run(init, env=env, check=True, capture_output=True, timeout=300)
    run = [
        PGBENCH,
        "-c",
        str(options.pgbench_clients),
        "-j",
        str(options.pgbench_jobs),
        "-T",
        str(options.pgbench_seconds),
        *connection,
        name,
    ]
    finished = subprocess.run(
        run,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=options.pgbench_seconds + 120,
    )
    tps = re.search(r"^tps = ([0-9.]+)", finished.stdout, re.MULTILINE)
    if tps is None:
        raise RuntimeError(f"no 'tps = ' in pgbench's output:\n{finished.stdout}")
    latency = re.search(r"^latency average = ([0-9.]+) ms", finished.stdout, re.MULTILINE)
    shown = " ".join([*run[:-1], "<db>"]).replace(PGBENCH, "pgbench")
    return PgbenchResult(float(tps.group(1)), float(latency.group(1)) if latency else None, shown)


# -- the report --------------------------------------------------------------------------------


@dataclass
class Report:
    """Everything one run measured."""

    options: Options
    load: LoadResult
    postgres_transactions: Transactions | None
    pgbench: PgbenchResult | None
    server_warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The report as printed."""
        load, options = self.load, self.options
        ok = [r for r in load.results if r.error is None]
        errors = Counter(r.error for r in load.results if r.error is not None)
        rate = len(ok) / load.wall if load.wall > 0 else math.nan

        def ms(values: Sequence[float], q: float) -> str:
            return f"{percentile(values, q) * 1000:.1f}"

        phases = (
            ("create", [r.create for r in ok]),
            ("pay", [r.pay for r in ok]),
            ("until webhook applied", [r.settle for r in ok]),
        )
        polls = sum(r.polls for r in ok) / len(ok) if ok else math.nan
        lines = [
            "paymux end-to-end payments on PostgreSQL "
            "(POST /v1/payments -> card on the hosted page -> webhook applied)",
            "",
            f"{'payments':>9} {'concurrency':>12} {'wall s':>8} {'payments/s':>11} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>7}",
            f"{len(load.results):>9} {options.concurrency:>12} {load.wall:>8.2f} {rate:>11.1f} "
            f"{ms([r.total for r in ok], 50):>8} {ms([r.total for r in ok], 99):>8} "
            f"{sum(errors.values()):>7}",
            "",
            "latency by phase, p50 / p99 ms: "
            + " | ".join(f"{name} {ms(v, 50)} / {ms(v, 99)}" for name, v in phases),
            f"status polls per payment: {polls:.2f} (every {options.poll_interval * 1000:g} ms)",
        ]
        if errors:
            lines.append("errors: " + ", ".join(f"{e} x{n}" for e, n in errors.most_common()))
        lines += self._sql_lines(rate, polls)
        lines += self._cpu_lines(len(ok))
        if self.server_warnings:
            lines.append(f"server log: {len(self.server_warnings)} warning/error lines, first:")
            lines.extend(f"  {line}" for line in self.server_warnings[:5])
        lines.append("")
        lines += self._pgbench_lines(rate)
        return "\n".join(lines)

    def _sql_lines(self, rate: float, polls: float) -> list[str]:
        load = self.load
        if not load.results:
            return []
        each = load.sql / len(load.results)
        lines = [
            "",
            f"SQL per payment (counted in the server): {each.transactions:.2f} transactions, "
            f"{each.statements:.1f} statements, {each.checkouts:.2f} pool checkouts, "
            f"{each.connects:.2f} new connections",
        ]
        poll = load.sql_per_poll
        if poll is not None and not math.isnan(polls):
            lines.append(
                f"  one status poll = {poll.transactions:.0f} transaction, "
                f"{poll.statements:.0f} statements -> without polls: "
                f"{each.transactions - polls * poll.transactions:.2f} transactions, "
                f"{each.statements - polls * poll.statements:.1f} statements per payment"
            )
        counted = self.postgres_transactions
        if counted is not None:
            payments = load.warmup_payments + len(load.results)
            lines.append(
                f"  PostgreSQL counted {counted.total / payments:.2f} transactions per payment "
                "(pg_stat_database, warm-up and poll calibration included: "
                "each pool pre-ping counts as one); "
                f"{counted.sessions} connections opened in all"
            )
        lines.append(f"  paymux SQL transactions/s during the run: {rate * each.transactions:.0f}")
        return lines

    def _cpu_lines(self, succeeded: int) -> list[str]:
        load = self.load
        if load.machine_busy is None or not load.machine_total or load.wall <= 0:
            return []
        cores = os.cpu_count() or 1
        machine = 100 * cores * load.machine_busy / load.machine_total
        server = 100 * load.server_cpu / load.wall if load.server_cpu is not None else math.nan
        client = 100 * load.client_cpu / load.wall
        postgres = 100 * load.postgres_cpu / load.wall if load.postgres_cpu is not None else 0.0
        lines = [
            f"CPU during the run ({cores} cores = {100 * cores}%): machine {machine:.0f}%, "
            f"paymux server {server:.0f}%, PostgreSQL >= {postgres:.0f}%, "
            f"load generator {client:.0f}%, other processes and OS "
            f"{machine - server - client - postgres:.0f}%"
        ]
        if load.server_cpu is not None and succeeded:
            per_payment = load.server_cpu / succeeded
            lines.append(
                f"  paymux server CPU per payment: {1000 * per_payment:.1f} ms "
                f"(one process, one core: at most ~{1 / per_payment:.0f} payments/s)"
            )
        return lines

    def _pgbench_lines(self, rate: float) -> list[str]:
        bench = self.pgbench
        if bench is None:
            return ["pgbench: skipped"]
        latency = f", latency average {bench.latency_ms:.2f} ms" if bench.latency_ms else ""
        lines = [
            f"pgbench (TPC-B-like, scale {self.options.pgbench_scale}, same database): "
            f"{bench.tps:.1f} TPS{latency}",
            f"  {bench.command}",
        ]
        if not rate > 0:
            return [*lines, "ratio: no payment succeeded"]
        lines.append(
            f"ratio: {rate:.1f} payments/s / {bench.tps:.1f} TPS = {rate / bench.tps:.4f} "
            f"(one payment per {bench.tps / rate:.1f} pgbench transactions)"
        )
        if self.load.results:
            sql_rate = rate * self.load.sql.transactions / len(self.load.results)
            lines.append(
                f"       {sql_rate:.0f} paymux SQL transactions/s / {bench.tps:.1f} TPS "
                f"= {sql_rate / bench.tps:.3f}"
            )
        return lines


def _warnings(log: str) -> list[str]:
    return [line for line in log.splitlines() if re.search(r"WARNING|ERROR|Traceback", line)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its report; 0 if every payment succeeded."""
    options = parse_options(argv)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    admin = options.postgres_url
    print(
        f"paymux e2e benchmark: {options.payments} payments, concurrency {options.concurrency}, "
        f"warm-up {options.warmup}; pgbench "
        + (f"{options.pgbench_seconds}s" if options.pgbench else "skipped"),
        flush=True,
    )
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if busy > 0.5:
        print(
            f"note: the 1-minute load average is {busy:.2f}: other work on this machine "
            "(or a previous run) may skew the figures",
            flush=True,
        )
    with bench_database(admin) as database:
        name = database.database or ""
        upgrade(database.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
        before = transactions(admin, name)
        with paymux_server(database, options.profile) as server:
            load = asyncio.run(run_load(server, options))
        # the server stopped: its backends exited and reported their counters
        counted = transactions(admin, name) - before
        warnings = _warnings(server.final_log)
        pgbench = run_pgbench(database, options) if options.pgbench else None
    report = Report(options, load, counted, pgbench, warnings)
    print(report.render())
    return 0 if all(r.error is None for r in load.results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the server was stopped and the database dropped", file=sys.stderr)
        sys.exit(130)
