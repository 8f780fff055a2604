"""``paymux relay``: publishes the outbox through the plugins' publishers or the log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paymux.app.cli import cli
from paymux.app.runtime import create_relay
from paymux.core.domain.models import OutboxMessage
from paymux.core.events import CloudEvent
from paymux.core.hookspecs import hookimpl
from paymux.core.plugins import create_plugin_manager
from paymux.core.settings import Settings
from paymux.core.storage.database import Database
from paymux.core.storage.migrate import upgrade
from paymux.core.storage.outbox_repository import OutboxRepository
from paymux.core.storage.unit_of_work import PaymentStore


async def _write_events(url: str, count: int) -> None:
    database = Database(url)
    async with PaymentStore(database).begin() as uow:
        await uow.add_outbox(
            [OutboxMessage("payment.created", f"pay_{i}", {"i": i}) for i in range(count)],
            now=datetime(2026, 1, 1, tzinfo=UTC),
        )
    await database.dispose()


async def _pending(url: str) -> int:
    database = Database(url)
    try:
        return await OutboxRepository(database).pending_count()
    finally:
        await database.dispose()


def test_relay_once_logs_and_marks_the_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    upgrade(url)
    asyncio.run(_write_events(url, 3))
    monkeypatch.setenv("PAYMUX_DATABASE_URL", url)
    caplog.set_level(logging.INFO, logger="paymux.events")
    result = CliRunner().invoke(cli, ["relay", "--once", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "published 3 event(s) to log" in result.output
    lines = [r.getMessage() for r in caplog.records if r.name == "paymux.events"]
    assert len(lines) == 3
    assert all('"type":"paymux.payment.created.v1"' in line for line in lines)
    assert asyncio.run(_pending(url)) == 0


class BrokenBroker:
    """A publisher plugin whose broker is down."""

    name = "broken"

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        raise ConnectionError("no route to broker")

    async def aclose(self) -> None:
        pass


class BrokenBrokerPlugin:
    @hookimpl
    def paymux_add_publishers(self, settings: Settings) -> list[BrokenBroker]:
        return [BrokenBroker()]


def test_create_relay_uses_the_plugins_publishers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    asyncio.run(_write_events(url, 2))
    manager = create_plugin_manager(plugins=[BrokenBrokerPlugin()], autoload=False)
    settings = Settings(database_url=url)
    relay = create_relay(settings, plugin_manager=manager)
    assert [p.name for p in relay.publishers] == ["broken"]
    always = create_relay(
        settings.model_copy(update={"log_publisher": "always"}), plugin_manager=manager
    )
    assert [p.name for p in always.publishers] == ["broken", "log"]

    async def run() -> None:
        from paymux.core.outbox_relay import PublishError

        with pytest.raises(PublishError, match="no route to broker"):
            await relay.drain()
        await relay.database.dispose()
        await always.database.dispose()

    asyncio.run(run())
    assert asyncio.run(_pending(url)) == 2
