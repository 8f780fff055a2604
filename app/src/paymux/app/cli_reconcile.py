"""``paymux reconcile FILE --provider NAME``: reconcile a settlement file from the shell,
with a progress bar and a summary table at the end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from paymux.core.markets_config import MarketsConfigError
from paymux.core.plugins import PluginError
from paymux.core.reconciliation.errors import SettlementFileError
from paymux.core.settings import Settings
from paymux.currencies import format_amount

if TYPE_CHECKING:  # the command line loads polars and the services only when it runs
    from paymux.core.services.reconciliation import RunResult
    from paymux.core.storage.reconciliation_repository import StoredRun


def reconcile(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The settlement file")
    ],
    provider: Annotated[str, typer.Option(help="The provider whose file it is (adyen, stripe...)")],
    client: Annotated[
        str | None,
        typer.Option(
            help="The API client to match against (default: PAYMUX_RECONCILIATION_CLIENT)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON")] = False,
) -> None:
    """Reconcile FILE, a settlement file of PROVIDER, against paymux's records and ledger.

    Nothing is written when the file is refused (not the provider's format, or a malformed
    line: its number is printed). Exits 0 when nothing new was found, 1 when the run opened
    discrepancies (listed with ``GET /v1/reconciliations/{id}/discrepancies``), 2 on errors.
    """
    from paymux.app.runtime import create_runtime

    console = Console(stderr=True)
    try:
        settings = Settings()
        runtime = create_runtime(settings)
    except (ValueError, MarketsConfigError, PluginError) as error:
        typer.echo(f"paymux: {error}", err=True)
        raise typer.Exit(2) from None
    size = file.stat().st_size

    async def run() -> int:
        client_id = client or await runtime.reconciliation_client_id()
        if client_id is None:
            await runtime.aclose()
            typer.echo(
                "paymux: several API clients: pass --client or set PAYMUX_RECONCILIATION_CLIENT",
                err=True,
            )
            return 2
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[lines]:,} lines"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=as_json or not console.is_terminal,
        )
        task = bar.add_task("reading", total=4, lines=0)
        steps = {"parsing": 1, "matching": 2, "storing": 3, "done": 4}

        def progress(stage: str, lines: int) -> None:
            bar.update(task, description=stage, completed=steps.get(stage, 0), lines=lines)

        try:
            with bar:
                result = await runtime.reconciliation.reconcile(
                    file, provider=provider, client_id=client_id, progress=progress
                )
        except SettlementFileError as error:
            typer.echo(f"paymux: {file.name} refused, nothing written: {error}", err=True)
            return 2
        finally:
            await runtime.aclose()
        run = result.run
        if as_json:
            typer.echo(json.dumps(_run_json(result.run), indent=2, default=str))
        else:
            _print_summary(Console(), run.id, file.name, size, result)
        return 1 if result.opened else 0

    raise typer.Exit(asyncio.run(run()))


def _run_json(run: StoredRun) -> dict[str, object]:
    from paymux.app.reconciliation_schemas import ReconciliationOut

    return ReconciliationOut.of(run).model_dump(mode="json")


def _print_summary(console: Console, run_id: str, name: str, size: int, result: RunResult) -> None:
    run = result.run
    console.print(
        f"[bold]{run.provider}[/bold] {name} ({size:,} bytes, {run.format}): run {run_id}, "
        f"period {run.period_start} to {run.period_end}"
    )
    lines = Table(title="Lines")
    for column in ("currency", "lines", "gross", "fees", "net"):
        lines.add_column(column, justify="right" if column != "currency" else "left")
    totals = run.summary.get("totals", {})
    assert isinstance(totals, dict)
    for currency, total in sorted(totals.items()):
        lines.add_row(
            currency,
            f"{total['lines']:,}",
            format_amount(total["gross_minor"], currency),
            format_amount(total["fee_minor"], currency),
            format_amount(total["net_minor"], currency),
        )
    console.print(lines)
    found = Table(title="Discrepancies")
    found.add_column("class")
    found.add_column("new", justify="right")
    kinds = run.summary.get("discrepancies", {})
    assert isinstance(kinds, dict)
    for kind, count in sorted(kinds.items()):
        found.add_row(kind, str(count))
    console.print(found)
    console.print(
        f"{run.lines_total:,} lines, {run.lines_matched:,} matched; "
        f"{len(result.opened)} new discrepancies, {result.resolved} resolved; "
        f"{len(result.booked)} bookings (fees and payouts per batch and currency)"
    )
