"""The ``paymux`` command: ``serve``, ``migrate``, ``relay``, ``worker``,
``dlq list|replay``, ``keys create|list|revoke``, ``payouts run``, ``markets check``, and the
commands plugins add through the ``paymux_cli_commands`` hook (see :func:`create_cli`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.engine import make_url

from paymux.app.cli_jobs import dlq_cli, worker
from paymux.app.cli_keys import keys_cli
from paymux.app.cli_reconcile import reconcile
from paymux.app.logging_setup import configure_logging
from paymux.core.markets_config import MarketsConfig, MarketsConfigError
from paymux.core.plugins import PluginError
from paymux.core.settings import DEVELOPMENT_API_KEY, Settings
from paymux.core.storage.migrate import upgrade

if TYPE_CHECKING:
    import pluggy

HELP = "paymux: payments for marketplaces."

cli = typer.Typer(help=HELP, no_args_is_help=True)
"""paymux's own commands, without the plugins' (the ``paymux`` script runs :func:`create_cli`)."""


def _settings(**overrides: object) -> Settings:
    try:
        settings = Settings()
    except ValueError as error:
        typer.echo(f"paymux: invalid settings: {error}", err=True)
        raise typer.Exit(2) from None
    return settings.model_copy(update=overrides) if overrides else settings


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this certificate (PEM)")
    ] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="The certificate's key (PEM)")] = None,
) -> None:
    """Run the API. On SQLite the database is migrated first; on PostgreSQL run `migrate`.

    HTTPS with --ssl-certfile and --ssl-keyfile (or PAYMUX_SSL_CERTFILE/_KEYFILE); proxy
    headers are believed only from PAYMUX_TRUSTED_PROXIES.
    """
    import os

    import uvicorn

    from paymux.app.factory import create_app
    from paymux.app.https import uvicorn_options

    overrides: dict[str, object] = {}
    settings = _settings()
    try:
        options = uvicorn_options(settings, certfile=ssl_certfile, keyfile=ssl_keyfile)
    except ValueError as error:
        typer.echo(f"paymux: {error}", err=True)
        raise typer.Exit(2) from None
    if "PAYMUX_PUBLIC_URL" not in os.environ:
        scheme = "https" if "ssl_certfile" in options else "http"
        overrides["public_url"] = f"{scheme}://{host}:{port}"
    settings = _settings(**overrides)
    try:
        app = create_app(settings)
    except MarketsConfigError as error:
        typer.echo(f"paymux: invalid markets file {error}", err=True)
        raise typer.Exit(2) from None
    except (PluginError, ValueError) as error:  # pydantic's ValidationError is a ValueError
        typer.echo(f"paymux: invalid settings: {error}", err=True)
        raise typer.Exit(2) from None
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        upgrade(settings.database_url)
    typer.echo(f"paymux {settings.mode} mode on {settings.public_url}")
    typer.echo(f"  API docs:  {settings.public_url}/docs")
    typer.echo(f"  database:  {make_url(settings.database_url).render_as_string()}")
    if DEVELOPMENT_API_KEY in settings.api_keys:
        typer.echo(f"  API key:   {DEVELOPMENT_API_KEY}  (development only)")
    configure_logging(settings)  # after the banner, which stays plain text on stdout
    # log_config=None: uvicorn's loggers go through paymux's handler (JSON, ids, redaction)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level=settings.log_level.lower(),
        **options,
    )


@cli.command()
def migrate() -> None:
    """Bring the database of PAYMUX_DATABASE_URL to the newest schema."""
    settings = _settings()
    upgrade(settings.database_url)
    typer.echo("database is up to date")


payouts_cli = typer.Typer(help="Seller payouts.", no_args_is_help=True)
cli.add_typer(payouts_cli, name="payouts")


@payouts_cli.command("run")
def payouts_run(
    currency: Annotated[str, typer.Option(help="ISO 4217 code of the batch")] = "EUR",
    threshold: Annotated[
        str, typer.Option(help="Pay sellers with at least this available")
    ] = "10.00",
    batch_id: Annotated[
        str | None, typer.Option(help="Idempotency scope; default: payouts-<date>-<currency>")
    ] = None,
) -> None:
    """Pay out every seller with at least THRESHOLD available in CURRENCY.

    Running the same batch id again replays it: nobody is paid twice. Exits 1 if a seller's
    payout could not be made (it is listed) or stays pending.
    """
    from datetime import date

    from paymux.app.runtime import create_runtime
    from paymux.app.schemas import PayoutOut
    from paymux.core.domain.payouts import Payout
    from paymux.currencies import Money, MoneyError

    settings = _settings()
    try:
        minimum = Money.parse(threshold, currency)
    except MoneyError as error:
        typer.echo(f"paymux: {error}", err=True)
        raise typer.Exit(2) from None
    batch = batch_id or f"payouts-{date.today().isoformat()}-{currency}"

    def progress(client: str, seller: str, payout: Payout | None, error: str | None) -> None:
        if payout is None:
            typer.echo(f"  {client}/{seller}: not paid: {error}")
        else:
            converted = "" if payout.payout_amount is None else f" as {payout.payout_amount}"
            typer.echo(
                f"  {client}/{seller}: {payout.amount}{converted} {payout.status.value} "
                f"({payout.id})"
            )

    async def run() -> int:
        runtime = create_runtime(settings)
        try:
            typer.echo(f"payout batch {batch}: sellers with at least {minimum}")
            summary = await runtime.payouts.run_batch(
                currency=currency,
                threshold=minimum,
                batch_id=batch,
                render=lambda payout: PayoutOut.of(payout).model_dump_json(),
                progress=progress,
            )
        finally:
            await runtime.aclose()
        typer.echo(
            f"paid {len(summary.paid)}, failed {len(summary.failed)} (reversed), "
            f"pending {len(summary.pending)}, not paid {len(summary.errors)}"
        )
        return 1 if summary.errors or summary.pending else 0

    raise typer.Exit(asyncio.run(run()))


@cli.command()
def relay(
    once: Annotated[
        bool, typer.Option("--once", help="Publish what is waiting, then exit")
    ] = False,
    batch: Annotated[
        int | None, typer.Option(min=1, help="Events per batch (PAYMUX_RELAY_BATCH_SIZE)")
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(min=0.01, help="Seconds between polls (PAYMUX_RELAY_INTERVAL_SECONDS)"),
    ] = None,
) -> None:
    """Publish the outbox's events to the publishers, in order, at least once.

    Runs until interrupted; several relays may run on PostgreSQL (one works at a time).
    With --once, exits 1 if a publisher failed (the events stay for the next run).
    """
    import signal

    from paymux.app.runtime import create_relay
    from paymux.core.outbox_relay import PublishError

    overrides: dict[str, object] = {}
    if batch is not None:
        overrides["relay_batch_size"] = batch
    if interval is not None:
        overrides["relay_interval_seconds"] = interval
    settings = _settings(**overrides)
    configure_logging(settings)
    try:
        outbox_relay = create_relay(settings)
    except (PluginError, ValueError) as error:
        typer.echo(f"paymux: invalid settings: {error}", err=True)
        raise typer.Exit(2) from None

    async def run() -> int:
        names = ", ".join(publisher.name for publisher in outbox_relay.publishers)
        try:
            if once:
                try:
                    published = await outbox_relay.drain()
                except PublishError as error:
                    typer.echo(f"paymux: {error}; the events stay unpublished", err=True)
                    return 1
                typer.echo(f"published {published} event(s) to {names}")
                return 0
            typer.echo(f"relaying events to {names} (Ctrl-C stops)")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await outbox_relay.run(
                interval=settings.relay_interval_seconds,
                max_backoff=settings.relay_max_backoff_seconds,
                stop=stop,
            )
            return 0
        finally:
            await outbox_relay.aclose()
            await outbox_relay.database.dispose()

    raise typer.Exit(asyncio.run(run()))


cli.command()(worker)
cli.command()(reconcile)
cli.add_typer(dlq_cli, name="dlq")
cli.add_typer(keys_cli, name="keys")

markets_cli = typer.Typer(help="The markets file: providers and routing.", no_args_is_help=True)
cli.add_typer(markets_cli, name="markets")


@markets_cli.command("check")
def markets_check(
    file: Annotated[Path, typer.Argument(help="The markets file (TOML)")],
    mode: Annotated[
        str, typer.Option(help="Check for this mode (sandbox or live)", envvar="PAYMUX_MODE")
    ] = "sandbox",
    structure_only: Annotated[
        bool,
        typer.Option(
            "--structure-only",
            help="Check only the file itself: not the environment variables it names, "
            "nor that plugins for its providers are installed",
        ),
    ] = False,
) -> None:
    """Check a markets file as `paymux serve` would, and print what it routes.

    Without ``--structure-only`` the enabled providers are built from their configs (as at
    start, nothing is sent to a PSP) and every chain is checked against the currencies
    their capabilities list. Exits 1 and lists every error (each with its path in the
    file) when it is invalid.
    """
    from paymux.app.markets_summary import summarize
    from paymux.core.markets_config import read_markets_file

    if mode not in ("sandbox", "live"):
        typer.echo(f"paymux: --mode must be sandbox or live, not {mode!r}", err=True)
        raise typer.Exit(2)
    settings = None
    if not structure_only:
        try:  # the environment's provider overrides, read as `paymux serve` reads them (in
            # sandbox mode: live mode's other needs, its secrets, are not this command's)
            settings = Settings(markets_file=file, mode="sandbox")
        except ValueError as error:
            typer.echo(f"paymux: invalid settings: {error}", err=True)
            raise typer.Exit(1) from None
    try:
        config = (
            read_markets_file(file, mode=mode)
            if settings is None
            else _check_with_providers(settings.model_copy(update={"mode": mode}))
        )
    except MarketsConfigError as error:
        typer.echo(f"paymux: invalid markets file {error}", err=True)
        raise typer.Exit(1) from None
    except (PluginError, ValueError) as error:  # pydantic's ValidationError is a ValueError
        typer.echo(f"paymux: invalid provider config: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{file}: valid for {mode} mode")
    for line in summarize(config):
        typer.echo(line)


def _check_with_providers(settings: Settings) -> MarketsConfig:
    """``settings.markets_file`` loaded as at start (with ``PAYMUX_PROVIDERS`` merged in),
    its enabled providers built and its chains checked against their currencies
    (:func:`check_chain_currencies`)."""
    from paymux.core.markets_config import check_chain_currencies
    from paymux.core.markets_setup import load_markets_setup
    from paymux.core.plugins import (
        build_provider_registry,
        collect_provider_specs,
        create_plugin_manager,
    )

    manager = create_plugin_manager()
    setup = load_markets_setup(settings, offered=collect_provider_specs(manager))
    providers = build_provider_registry(
        manager,
        enabled=setup.providers,
        mode=settings.mode,
        public_url="http://127.0.0.1",
        sandboxed=setup.sandboxed,
    )
    try:
        check_chain_currencies(
            setup.config,
            {name: providers.get(name).capabilities().currencies for name in providers.names()},
        )
    finally:
        asyncio.run(providers.aclose())
    return setup.config


def create_cli(*, plugin_manager: pluggy.PluginManager | None = None) -> typer.Typer:
    """The ``paymux`` command: paymux's own commands and those of the plugins.

    ``plugin_manager`` defaults to one that loads the installed plugins. Each plugin's
    ``paymux_cli_commands`` implementation is called once with the new ``typer.Typer``. A
    plugin that fails to load or to add its commands is reported on standard error and left
    out: paymux's own commands (and ``--help``) keep working.
    """
    from paymux.core.plugins import create_plugin_manager

    app = typer.Typer(help=HELP, no_args_is_help=True)
    app.add_typer(cli)  # no name: paymux's own commands join the top level
    if plugin_manager is None:
        try:
            plugin_manager = create_plugin_manager()
        except PluginError as error:
            typer.echo(f"paymux: plugin commands are unavailable: {error}", err=True)
            return app
    for implementation in plugin_manager.hook.paymux_cli_commands.get_hookimpls():
        try:
            implementation.function(cli=app)
        except Exception as error:  # a broken plugin must not take the command line down
            typer.echo(
                f"paymux: plugin {implementation.plugin_name!r} could not add its commands: "
                f"{type(error).__name__}: {error}",
                err=True,
            )
    return app


def main() -> None:
    """Entry point of the ``paymux`` script: assemble the command (plugins included), run it."""
    create_cli()()
