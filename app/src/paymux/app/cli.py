"""The ``paymux`` command: ``serve`` and ``migrate``."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from paymux.core.plugins import PluginError
from paymux.core.settings import DEVELOPMENT_API_KEY, Settings
from paymux.core.storage.migrate import upgrade

cli = typer.Typer(help="paymux: payments for marketplaces.", no_args_is_help=True)


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
) -> None:
    """Run the API. On SQLite the database is migrated first; on PostgreSQL run `migrate`."""
    import os

    import uvicorn

    from paymux.app.factory import create_app

    overrides: dict[str, object] = {}
    if "PAYMUX_PUBLIC_URL" not in os.environ:
        overrides["public_url"] = f"http://{host}:{port}"
    settings = _settings(**overrides)
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        upgrade(settings.database_url)
    try:
        app = create_app(settings)
    except (PluginError, ValueError) as error:  # pydantic's ValidationError is a ValueError
        typer.echo(f"paymux: invalid settings: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"paymux {settings.mode} mode on {settings.public_url}")
    typer.echo(f"  API docs:  {settings.public_url}/docs")
    typer.echo(f"  database:  {make_url(settings.database_url).render_as_string()}")
    if DEVELOPMENT_API_KEY in settings.api_keys:
        typer.echo(f"  API key:   {DEVELOPMENT_API_KEY}  (development only)")
    uvicorn.run(app, host=host, port=port, log_level="info")


@cli.command()
def migrate() -> None:
    """Bring the database of PAYMUX_DATABASE_URL to the newest schema."""
    settings = _settings()
    upgrade(settings.database_url)
    typer.echo("database is up to date")


def main() -> None:
    """Entry point of the ``paymux`` script."""
    cli()
