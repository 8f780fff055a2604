"""Reconcile a generated 1,000,000-line Adyen settlement file against 1,000,000 payments on
PostgreSQL; print lines per second and peak memory beside a plain polars read of the file.

Target (issue 6): the whole run (parse, match, store the discrepancies) at no less than
0.35x the lines per second of ``pl.read_csv`` of the same file, measured in the same run,
with peak memory under 1 GiB. From the repository root::

    .tools/bin/uv run python bench/bench_reconciliation.py            # 1,000,000 lines
    .tools/bin/uv run python bench/bench_reconciliation.py --lines 100000
    .tools/bin/uv run python bench/bench_reconciliation.py --without-snapshot  # every row read

The benchmark creates a ``paymux_bench_<random>`` database, migrates it, loads the payments
with ``COPY`` (not timed), writes the file into a temporary folder, and drops both at the
end. The reconciliation runs in a child process, so its peak resident memory is its own.
Faults are injected so that matching has work to do and the figures are checked: changed
amounts, lines of unknown payments, duplicated lines and payments the file leaves out;
the run must find exactly those.

The timed run is a nightly one: 99% of the payments are loaded and an earlier, untimed run
(a small file of another month's unknown lines) leaves the payments' snapshot behind as the
previous night would have; then the last 1% of the payments arrive and a few thousand
others are updated (a chargeback flag, which capture lines do not look at), so the timed
run reads the snapshot and a day's delta.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import bench_database, libpq_dsn

FAULTS = 100
"""Of each kind: changed amounts, unknown references, duplicates, left-out payments."""

NEW_SHARE = 100
"""One payment in ``NEW_SHARE`` arrives after the earlier run (a day's worth)."""
UPDATED_EVERY = 300
"""Every ``UPDATED_EVERY``-th payment of the earlier run is updated after it."""

ADYEN_COLUMNS = [
    "Company Account", "Merchant Account", "Psp Reference", "Merchant Reference",
    "Payment Method", "Creation Date", "TimeZone", "Type", "Modification Reference",
    "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)", "Exchange Rate", "Net Currency",
    "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)", "Markup (NC)", "Scheme Fees (NC)",
    "Interchange (NC)", "Payment Method Variant", "Modification Merchant Reference",
    "Batch Number", "Reserved4", "Reserved5", "Reserved6", "Reserved7", "Reserved8",
    "Reserved9", "Reserved10",
]  # fmt: skip


def payments_frame(count: int) -> pl.DataFrame:
    """The payments: ids, Adyen pspReferences and amounts (deterministic)."""
    index = pl.int_range(0, count, eager=True)
    return pl.DataFrame(
        {
            "payment_id": "pe_bench" + index.cast(pl.String).str.zfill(12),
            "psp": (8800000000000000 + index).cast(pl.String),
            "amount": 100 + (index * 7919) % 99_900,
        }
    )


def seed(dsn: str, payments: pl.DataFrame, succeeded_at: datetime) -> None:
    """Succeeded Adyen payments of client ``dev``, one order each, via COPY (with the row of
    ``reconciliation_payment`` that the payment writes keep)."""
    at = succeeded_at.isoformat()
    events = payments.select(
        id="payment_id",
        client_id=pl.lit("dev"), buyer_id=pl.lit("b"), currency=pl.lit("EUR"),
        country=pl.lit("NL"), payment_method=pl.lit("card"), return_url=pl.lit("https://shop"),
        provider=pl.lit("adyen"), created_at=pl.lit(at),
    )  # fmt: skip
    orders = payments.select(
        id=pl.col("payment_id").str.replace("pe_", "po_"),
        payment_event_id="payment_id", seller_id=pl.lit("s1"), currency=pl.lit("EUR"),
        amount_minor="amount", commission_minor=pl.lit(0), logistics_fee_minor=pl.lit(0),
        reference=pl.lit("o"), status=pl.lit("succeeded"), position=pl.lit(0),
        created_at=pl.lit(at), updated_at=pl.lit(at), succeeded_at=pl.lit(at),
    )  # fmt: skip
    registrations = payments.select(
        payment_event_id="payment_id", provider=pl.lit("adyen"),
        psp_idempotency_key=pl.col("payment_id") + "_k", token=pl.col("payment_id") + "_t",
        created_at=pl.lit(at), updated_at=pl.lit(at), psp_payment_id="psp",
    )  # fmt: skip
    # What the payment writes keep for reconciliation, one row per payment.
    recon = payments.select(
        payment_event_id="payment_id", client_id=pl.lit("dev"), provider=pl.lit("adyen"),
        currency=pl.lit("EUR"), amount_minor="amount", status=pl.lit("succeeded"),
        succeeded_at=pl.lit(at), psp_payment_id="psp", token=pl.col("payment_id") + "_t",
        has_chargeback=pl.lit(False), created_at=pl.lit(at),
    )  # fmt: skip
    with psycopg.connect(dsn, autocommit=True) as connection:
        for table, frame in (
            ("payment_event", events),
            ("payment_order", orders),
            ("psp_registration", registrations),
            ("reconciliation_payment", recon),
        ):
            buffer = io.BytesIO()
            frame.write_csv(buffer, include_header=False)
            columns = ", ".join(frame.columns)
            with connection.cursor().copy(
                f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)"
            ) as copy:
                copy.write(buffer.getvalue())
        connection.execute("ANALYZE")


def write_file(path: Path, payments: pl.DataFrame, day: str) -> dict[str, int]:
    """The Adyen settlement details report of ``payments`` with the faults; expected counts."""
    lines = payments.slice(FAULTS)  # the first FAULTS payments are left out
    changed = lines.head(FAULTS).with_columns(amount=pl.col("amount") + 1)
    lines = pl.concat([changed, lines.slice(FAULTS)])
    unknown = pl.DataFrame(
        {
            "payment_id": [f"pe_unknown{i}" for i in range(FAULTS)],
            "psp": [str(9900000000000000 + i) for i in range(FAULTS)],
            "amount": [1000] * FAULTS,
        }
    ).cast(lines.schema)
    lines = pl.concat([lines, unknown, lines.tail(FAULTS)])  # and FAULTS duplicates
    fee = (pl.col("amount") * 2) // 100
    rows = lines.select(
        pl.lit("Bench").alias("Company Account"),
        pl.lit("BenchEU").alias("Merchant Account"),
        pl.col("psp").alias("Psp Reference"),
        pl.col("payment_id").alias("Merchant Reference"),
        pl.lit("visa").alias("Payment Method"),
        pl.lit(f"{day} 10:00:00").alias("Creation Date"),
        pl.lit("CET").alias("TimeZone"),
        pl.lit("Settled").alias("Type"),
        ("c" + pl.col("psp")).alias("Modification Reference"),
        pl.lit("EUR").alias("Gross Currency"),
        pl.lit("").alias("Gross Debit (GC)"),
        _major(pl.col("amount")).alias("Gross Credit (GC)"),
        pl.lit("1").alias("Exchange Rate"),
        pl.lit("EUR").alias("Net Currency"),
        pl.lit("").alias("Net Debit (NC)"),
        _major(pl.col("amount") - fee).alias("Net Credit (NC)"),
        _major(fee).alias("Commission (NC)"),
        *[pl.lit("").alias(name) for name in ADYEN_COLUMNS[17:20]],
        pl.lit("visacredit").alias("Payment Method Variant"),
        pl.col("payment_id").alias("Modification Merchant Reference"),
        pl.lit("7").alias("Batch Number"),
        *[pl.lit("").alias(name) for name in ADYEN_COLUMNS[23:]],
    )
    rows.write_csv(path)
    return {
        "amount_mismatch": FAULTS,
        "unknown_reference": FAULTS,
        "duplicate_line": FAULTS,
        "missing_in_settlement": FAULTS,
        "lines": rows.height,
    }


def write_earlier_file(path: Path, day: str) -> None:
    """An earlier night's small file: lines of payments paymux does not know, dated
    ``day`` (a month back), so that no payment is due yet and none is reported missing."""
    header = ",".join(ADYEN_COLUMNS)
    rows = [
        f"Bench,BenchEU,{9700000000000000 + i},pe_earlier{i},visa,{day} 10:00:00,CET,Settled,"
        f"ce{i},EUR,,10.00,1,EUR,,9.80,0.20,,,,visacredit,pe_earlier{i},6" + "," * 7
        for i in range(FAULTS)
    ]
    path.write_text("\n".join([header, *rows]) + "\n")


def update_some(dsn: str, payments: pl.DataFrame) -> int:
    """Flag a chargeback on every :data:`UPDATED_EVERY`-th of ``payments`` (capture lines
    do not look at it); how many rows were updated."""
    ids = payments.get_column("payment_id").gather_every(UPDATED_EVERY).to_list()
    with psycopg.connect(dsn, autocommit=True) as connection:
        cursor = connection.execute(
            "UPDATE reconciliation_payment SET has_chargeback = true"
            " WHERE payment_event_id = ANY(%s)",
            (ids,),
        )
        return cursor.rowcount


_SNAPSHOT_SQL = """
SELECT s.payments, s.snapshot,
       (SELECT count(*) FROM reconciliation_payment p
        WHERE p.client_id = s.client_id AND p.provider = s.provider
          AND p.written_xid >= pg_snapshot_xmin(s.snapshot::pg_snapshot)
          AND NOT pg_visible_in_snapshot(p.written_xid, s.snapshot::pg_snapshot))
FROM reconciliation_snapshot s WHERE s.client_id = 'dev' AND s.provider = 'adyen'
"""


def snapshot_figures(dsn: str) -> tuple[int, str, int] | None:
    """The stored snapshot's payments, its ``pg_snapshot`` and the rows written since."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        row = connection.execute(_SNAPSHOT_SQL).fetchone()
    return None if row is None else (int(row[0]), str(row[1]), int(row[2]))


def run_child(url: str, path: Path) -> dict[str, Any]:
    """One reconciliation in a child process (:func:`child`); its figures."""
    completed = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def _major(minor: pl.Expr) -> pl.Expr:
    return (minor // 100).cast(pl.String) + "." + (minor % 100).cast(pl.String).str.zfill(2)


def peak_rss_bytes() -> int:
    """This process's peak resident memory: ``VmHWM`` (Linux), else ``ru_maxrss``.

    Linux carries ``ru_maxrss`` over ``execve`` from the process that forked: the child
    started by this benchmark (whose parent holds the payments and three reads of the
    file) would report the parent's peak. ``VmHWM`` belongs to the child's own memory.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(url: str, path: Path) -> None:
    """Run one reconciliation; print its figures as JSON (the parent measures memory)."""
    from paymux.core.plugins import collect_settlement_parsers, create_plugin_manager
    from paymux.core.services.reconciliation import ReconciliationService
    from paymux.core.storage.database import Database
    from paymux.core.storage.unit_of_work import PaymentStore

    parsers = [
        p for p in collect_settlement_parsers(create_plugin_manager()) if p.provider == "adyen"
    ]

    async def run() -> dict[str, object]:
        database = Database(url)
        service = ReconciliationService(store=PaymentStore(database), parsers=parsers)
        stages: dict[str, float] = {}
        peaks: dict[str, int] = {}
        start = time.perf_counter()
        cpu_start = time.process_time()

        def progress(stage: str, _lines: int) -> None:
            stages.setdefault(stage, time.perf_counter() - start)
            peaks.setdefault(stage, peak_rss_bytes() >> 20)

        try:
            result = await service.reconcile(
                path, provider="adyen", client_id="dev", progress=progress
            )
        finally:
            await database.dispose()
        seconds = time.perf_counter() - start
        return {
            "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu_start,
            "stages": stages,
            "peak_mib_by_stage": peaks,
            "lines": result.run.lines_total,
            "matched": result.run.lines_matched,
            "found": result.run.summary.get("discrepancies", {}),
            "bookings": len(result.booked),
            "run_seconds": result.run.summary.get("seconds", {}),
        }

    figures = asyncio.run(run())
    figures["peak_rss_bytes"] = peak_rss_bytes()
    figures["ru_maxrss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(figures))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="payments (and lines)")
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "PAYMUX_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL server to create the throwaway database on",
    )
    parser.add_argument(
        "--without-snapshot",
        action="store_true",
        help="delete the payments' snapshot before the timed run (it reads every row)",
    )
    parser.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.child[0], Path(options.child[1]))
        return 0

    from paymux.core.storage.migrate import upgrade

    with bench_database(make_url(options.database)) as url, tempfile.TemporaryDirectory() as folder:
        upgrade(url.render_as_string(hide_password=False))
        dsn, address = libpq_dsn(url), url.render_as_string(hide_password=False)
        payments = payments_frame(options.lines)
        arriving = options.lines // NEW_SHARE
        earlier = payments.head(options.lines - arriving)
        now = datetime.now(UTC)
        started = time.perf_counter()
        seed(dsn, earlier, now - timedelta(days=5))
        print(f"seeded {earlier.height:,} payments in {time.perf_counter() - started:.1f} s")
        earlier_path = Path(folder) / "settlement_detail_report_batch_6.csv"
        write_earlier_file(earlier_path, (now - timedelta(days=30)).date().isoformat())
        warm = run_child(address, earlier_path)
        print(
            f"earlier run (untimed, {warm['lines']} lines): {warm['seconds']:.2f} s,"
            f" its timings (s): {json.dumps(warm['run_seconds'])}"
        )
        seed(dsn, payments.tail(arriving), now - timedelta(days=1))
        updated = update_some(dsn, earlier)
        print(f"since: {arriving:,} payments added, {updated:,} updated")
        if options.without_snapshot:
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute("DELETE FROM reconciliation_snapshot")
        before = snapshot_figures(dsn)
        path = Path(folder) / "settlement_detail_report_batch_7.csv"
        expected = write_file(path, payments, now.date().isoformat())
        size = path.stat().st_size
        print(f"file: {expected['lines']:,} lines, {size / 1e6:.0f} MB")

        reads, read_cpu = [], []
        for _ in range(3):
            start, cpu_start = time.perf_counter(), time.process_time()
            frame = pl.read_csv(path)
            reads.append(time.perf_counter() - start)
            read_cpu.append(time.process_time() - cpu_start)
            del frame
        polars_seconds = min(reads)

        figures = run_child(address, path)
        after = snapshot_figures(dsn)

    lines = int(figures["lines"])
    polars_rate = lines / polars_seconds
    run_rate = lines / float(figures["seconds"])
    ratio = run_rate / polars_rate
    peak = int(figures["peak_rss_bytes"])
    found = {k: v for k, v in dict(figures["found"]).items()}
    wanted = {k: v for k, v in expected.items() if k != "lines"}
    print(f"polars read_csv:     {polars_seconds:6.2f} s  {polars_rate:12,.0f} lines/s (best of 3)")
    print(f"reconciliation:      {figures['seconds']:6.2f} s  {run_rate:12,.0f} lines/s")
    stages = {k: round(v, 2) for k, v in figures["stages"].items()}
    print(f"  stages (s from start): {json.dumps(stages)}")
    print(f"  peak MiB when each stage began: {json.dumps(figures['peak_mib_by_stage'])}")
    print(f"  the run's own timings (s): {json.dumps(figures['run_seconds'])}")
    print(f"ratio:               {ratio:6.2f}x polars (target >= 0.35x)")
    print(
        f"CPU seconds:         {figures['cpu_seconds']:6.2f} s run (its process, not"
        f" PostgreSQL's), {min(read_cpu):.2f} s polars read"
    )
    print(f"peak memory:         {peak / 2**20:6.0f} MiB (target < 1024 MiB)")
    print(f"matched {figures['matched']:,} of {lines:,} lines; bookings: {figures['bookings']}")
    print(f"discrepancies found: {found}")
    if before is None:
        stored = "a new one stored" if after is not None else "none stored"
        print(f"snapshot:            none before the run (every row read); {stored}")
    else:
        refreshed = after is not None and after[1] != before[1]
        print(
            f"snapshot:            {before[0]:,} payments, {before[2]:,} rows written since;"
            f" refreshed by the run: {'yes' if refreshed else 'no'}"
        )
    if found != wanted:
        print(f"MISMATCH: expected {wanted}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
