"""Alembic migrations go up and down on SQLite and PostgreSQL and match the models."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect

from paymux.core.storage.database import sync_url
from paymux.core.storage.migrate import alembic_config, downgrade, upgrade


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_match_the_models_and_go_down_and_up(database_url: str) -> None:
    command.check(alembic_config(database_url))  # no difference between models and schema
    assert "payment_event" in _tables(database_url)
    downgrade(database_url, "base")
    assert _tables(database_url) == set()
    upgrade(database_url)
    assert {"payment_event", "payment_order", "idempotency_key"} <= _tables(database_url)
