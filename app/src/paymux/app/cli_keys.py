"""``paymux keys create|list|revoke``: API keys kept in the database, as digests."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import typer
from sqlalchemy.engine import make_url

from paymux.core.domain.api_keys import ApiKey, Scope, parse_scopes
from paymux.core.identifiers import utc_now
from paymux.core.settings import Settings
from paymux.core.storage.api_key_repository import ApiKeyStore
from paymux.core.storage.database import Database

keys_cli = typer.Typer(
    help="API keys in the database: create (shown once), list, revoke.", no_args_is_help=True
)

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_CLIENT = re.compile(r"^[\x21-\x7e]{1,64}$")
SCOPES = ", ".join(scope.value for scope in Scope)

T = TypeVar("T")


def parse_when(value: str, now: datetime) -> datetime:
    """A moment from a duration after ``now`` (``90d``, ``12h``, ``30m``, ``0s``) or an ISO
    8601 date or time (UTC when it names no zone); ``ValueError`` otherwise."""
    duration = _DURATION.match(value.strip())
    try:
        if duration:
            return now + timedelta(**{_UNITS[duration.group(2)]: int(duration.group(1))})
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is neither a duration (90d, 12h, 30m) nor an ISO 8601 date or time"
            ) from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # 99999999d: past the year 9999, the last a datetime holds
        raise ValueError(f"{value!r} is out of range (years 1 to 9999)") from None


def _with_store(settings: Settings, work: Callable[[ApiKeyStore], Awaitable[T]]) -> T:
    from paymux.core.storage.migrate import upgrade

    if make_url(settings.database_url).get_backend_name() == "sqlite":
        upgrade(settings.database_url)  # as `paymux serve` does: the table exists

    async def run() -> T:
        database = Database(settings.database_url)
        try:
            return await work(ApiKeyStore(database))
        finally:
            await database.dispose()

    return asyncio.run(run())


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as error:
        typer.echo(f"paymux: invalid settings: {error}", err=True)
        raise typer.Exit(2) from None


def _fail(message: str) -> typer.Exit:
    typer.echo(f"paymux: {message}", err=True)
    return typer.Exit(2)


def key_summary(key: ApiKey, now: datetime) -> dict[str, object]:
    """A key as plain JSON values (never the key itself: paymux does not have it)."""
    return {
        "id": key.id,
        "client_id": key.client_id,
        "prefix": key.prefix,
        "scopes": sorted(key.scopes),
        "label": key.label,
        "status": key.status_at(now),
        "created_at": key.created_at.isoformat(),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@keys_cli.command("create")
def keys_create(
    client: Annotated[str, typer.Option("--client", help="The client (marketplace) it serves")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help=f"A scope (repeat, or comma-separate): {SCOPES}"),
    ],
    expires: Annotated[
        str | None,
        typer.Option(help="When it stops working: 90d, 12h, or an ISO 8601 date or time"),
    ] = None,
    label: Annotated[str | None, typer.Option(help="A note to recognise it (who uses it)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Create an API key and print it, once: paymux keeps only its SHA-256 digest.

    The client's other keys stay valid: to rotate, create the new key, move the clients to
    it, then revoke the old one (`paymux keys revoke OLD_ID --after 24h` for a grace period).
    """
    now = utc_now()
    try:
        scopes = parse_scopes(scope)
        expires_at = parse_when(expires, now) if expires is not None else None
    except ValueError as error:
        raise _fail(str(error)) from None
    if not scopes:
        raise _fail(f"give at least one --scope ({SCOPES})")
    if not _CLIENT.match(client):
        raise _fail("--client is 1 to 64 printable characters without spaces")
    if expires_at is not None and expires_at <= now:
        raise _fail("--expires must be in the future")
    if label is not None and len(label) > 255:
        raise _fail("--label is at most 255 characters")
    settings = _settings()
    key, token = _with_store(
        settings,
        lambda store: store.create(client, scopes, now=now, expires_at=expires_at, label=label),
    )
    if as_json:
        typer.echo(json.dumps({**key_summary(key, now), "key": token}, sort_keys=True))
        return
    typer.echo(f"created {key.id} for client {key.client_id}: {' '.join(sorted(key.scopes))}")
    if key.expires_at:
        typer.echo(f"expires {key.expires_at.isoformat()}")
    typer.echo("the key (shown only now; paymux keeps only its digest):")
    typer.echo(token)


@keys_cli.command("list")
def keys_list(
    client: Annotated[str | None, typer.Option(help="Only this client's keys")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """List the keys in the database (their prefixes, never the keys), oldest first."""
    settings = _settings()
    keys = _with_store(settings, lambda store: store.list(client))
    now = utc_now()
    if as_json:
        for key in keys:
            typer.echo(json.dumps(key_summary(key, now), sort_keys=True))
        return
    if not keys:
        typer.echo("no API keys in the database")
        return
    typer.echo(f"{'ID':<29} {'CLIENT':<16} {'PREFIX':<13} {'STATUS':<9} {'ENDS':<20} SCOPES")
    for key in keys:
        ends = min((t for t in (key.revoked_at, key.expires_at) if t is not None), default=None)
        shown = ends.strftime("%Y-%m-%d %H:%M:%S") if ends else "-"
        typer.echo(
            f"{key.id:<29} {key.client_id:<16} {key.prefix:<13} {key.status_at(now):<9} "
            f"{shown:<20} {' '.join(sorted(key.scopes))}"
            + (f"  ({key.label})" if key.label else "")
        )


@keys_cli.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `paymux keys list`)")],
    after: Annotated[
        str | None,
        typer.Option(help="A grace period (24h) or a time: the key works until then"),
    ] = None,
) -> None:
    """Revoke a key: at once, or after a grace period while clients move to a new key.

    Running servers stop accepting it within PAYMUX_API_KEY_CACHE_SECONDS (5 s by default).
    """
    now = utc_now()
    try:
        at = parse_when(after, now) if after is not None else now
    except ValueError as error:
        raise _fail(str(error)) from None
    settings = _settings()
    key = _with_store(settings, lambda store: store.revoke(key_id, at=max(at, now)))
    if key is None:
        typer.echo(f"paymux: no API key {key_id}", err=True)
        raise typer.Exit(1)
    assert key.revoked_at is not None
    typer.echo(
        f"revoked {key.id} ({key.client_id}, {key.prefix}...): "
        + ("it no longer works" if key.revoked_at <= now else f"works until {key.revoked_at}")
    )
