"""``paymux bank-transfer``: export payout batches, show them again, import bank statements.

Added to the ``paymux`` command by the plugin's ``paymux_cli_commands`` hook. Every command
builds paymux's runtime from the settings (``PAYMUX_*`` environment variables), as
``paymux payouts run`` does, and uses the enabled ``bank_transfer`` provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from paymux.core.ports.provider import (
    DisputeEvent,
    PayoutEvent,
    ProviderEvent,
    RefundEvent,
    WebhookEvent,
)

if TYPE_CHECKING:
    from paymux.app.runtime import PaymuxRuntime
    from paymux_bank_transfer.provider import BankTransferProvider, PayoutBatch

NAME = "bank_transfer"
NOT_ENABLED_EXIT = 2


def create_commands() -> typer.Typer:
    """The ``bank-transfer`` command group."""
    group = typer.Typer(
        help="SEPA bank transfers: payout batches (pain.001) and bank statements (camt.053).",
        no_args_is_help=True,
    )
    group.command("export")(export_batch)
    group.command("show")(show_batch)
    group.command("import")(import_statement)
    return group


def export_batch(
    execution_date: Annotated[
        str | None,
        typer.Option(help="Requested execution date, YYYY-MM-DD (default: today)"),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Where to write the file (default: ./<batch id>.xml)")
    ] = None,
) -> None:
    """Close the open payout batch into a pain.001.001.09 file to hand to the bank.

    Prints the batch id, the number of transfers and the total. Exits 0 with "nothing to
    export" when no payout is waiting. The file can be written again with ``show``.
    """
    day = _parse_date(execution_date)

    async def work(provider: BankTransferProvider, runtime: PaymuxRuntime) -> int:
        batch = await provider.export_payout_batch(day)
        if batch is None:
            typer.echo("nothing to export: no payout is waiting for a batch")
            return 0
        return _write_batch(batch, output, exported=True)

    raise typer.Exit(_run(work))


def show_batch(
    batch_id: Annotated[str, typer.Argument(help="The id `export` printed (bt-batch-...)")],
    output: Annotated[
        Path | None, typer.Option(help="Where to write the file (default: ./<batch id>.xml)")
    ] = None,
) -> None:
    """Write an exported batch's pain.001 file again, and print what it holds.

    Exits 1 when there is no batch with that id.
    """

    async def work(provider: BankTransferProvider, runtime: PaymuxRuntime) -> int:
        batch = await provider.payout_batch(batch_id)
        if batch is None:
            typer.echo(f"paymux: no payout batch {batch_id!r}", err=True)
            return 1
        return _write_batch(batch, output, exported=False)

    raise typer.Exit(_run(work))


def import_statement(
    file: Annotated[Path, typer.Argument(help="A camt.053 bank statement (XML)")],
) -> None:
    """Apply a camt.053 statement of the platform's account to paymux.

    Buyers' transfers settle their payments (matched by RF reference and exact amount), debits
    of exported payouts mark them paid (matched by end-to-end id). The file is the operator's
    own, so it carries no signature. Importing the same file again changes nothing more.
    Exits 2 for an unreadable file, 1 when an event names something paymux does not know.
    """
    from paymux.core.domain.errors import PaymuxError

    try:
        xml = file.read_bytes()
    except OSError as error:
        typer.echo(f"paymux: cannot read {file}: {error.strerror or error}", err=True)
        raise typer.Exit(2) from None

    async def work(provider: BankTransferProvider, runtime: PaymuxRuntime) -> int:
        try:
            events = await provider.import_statement(xml)
        except ValueError as error:  # StatementError, or a file over max_statement_bytes
            typer.echo(f"paymux: {file} is not a usable camt.053 statement: {error}", err=True)
            return 2
        typer.echo(f"statement {file}: {len(events)} matched line(s)")
        for event in events:
            typer.echo(f"  {_describe(event)}")
        try:
            outcome = await runtime.webhooks.apply(NAME, events)
        except PaymuxError as error:
            typer.echo(f"paymux: {error} (the events before it were applied)", err=True)
            return 1
        typer.echo(
            f"applied {outcome.applied}, duplicates {outcome.duplicates}, "
            f"unchanged {outcome.unchanged}"
        )
        return 0

    raise typer.Exit(_run(work))


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        typer.echo(f"paymux: --execution-date must be YYYY-MM-DD, not {value!r}", err=True)
        raise typer.Exit(2) from None


def _write_batch(batch: PayoutBatch, output: Path | None, *, exported: bool) -> int:
    target = output or Path(f"{batch.batch_id}.xml")
    try:
        target.write_bytes(batch.document)
    except OSError as error:
        typer.echo(f"paymux: cannot write {target}: {error.strerror or error}", err=True)
        if exported:
            typer.echo(
                f"paymux: batch {batch.batch_id} is exported; write it with "
                f"`paymux bank-transfer show {batch.batch_id} --output FILE`",
                err=True,
            )
        return 1
    typer.echo(f"batch {batch.batch_id} (message {batch.message_id})")
    typer.echo(f"  transfers: {batch.transfer_count}")
    typer.echo(f"  total:     {batch.total}")
    typer.echo(f"  file:      {target}")
    return 0


def _describe(event: WebhookEvent) -> str:
    if isinstance(event, ProviderEvent):
        return f"payment {event.token}: {event.status.value}"
    if isinstance(event, PayoutEvent):
        return f"payout {event.psp_reference or event.payout_id}: {event.status.value}"
    if isinstance(event, RefundEvent):
        return f"refund {event.psp_reference or event.refund_id}: {event.status.value}"
    assert isinstance(event, DisputeEvent)
    return f"dispute {event.dispute_id}: {event.status.value}"


def _run(work: Callable[[BankTransferProvider, PaymuxRuntime], Awaitable[int]]) -> int:
    """Build the runtime, hand ``work`` the provider, close everything; the exit code."""

    async def main() -> int:
        async with _runtime() as (provider, runtime):
            return await work(provider, runtime)

    return asyncio.run(main())


@asynccontextmanager
async def _runtime() -> AsyncIterator[tuple[BankTransferProvider, PaymuxRuntime]]:
    from paymux.app.runtime import create_runtime
    from paymux.core.domain.errors import UnknownProviderError
    from paymux.core.markets_config import MarketsConfigError
    from paymux.core.plugins import PluginError
    from paymux.core.settings import Settings
    from paymux_bank_transfer.provider import BankTransferProvider

    try:
        runtime = create_runtime(Settings())
    except MarketsConfigError as error:
        _fail(f"invalid markets file {error}")
    except (PluginError, ValueError) as error:  # pydantic's ValidationError is a ValueError
        _fail(f"invalid settings: {error}")
    try:
        try:
            provider = runtime.providers.get(NAME)
        except UnknownProviderError:
            _fail(
                f"the {NAME} provider is not enabled: configure it with "
                "PAYMUX_PROVIDERS__BANK_TRANSFER__IBAN (and the other fields of its section)"
            )
        if not isinstance(provider, BankTransferProvider):
            _fail(f"the provider called {NAME!r} is not paymux-bank-transfer's")
        yield provider, runtime
    finally:
        await runtime.aclose()


def _fail(message: str) -> NoReturn:
    typer.echo(f"paymux: {message}", err=True)
    raise typer.Exit(NOT_ENABLED_EXIT)
