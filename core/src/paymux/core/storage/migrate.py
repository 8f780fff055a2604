"""Run Alembic migrations programmatically (``paymux migrate``, ``paymux serve`` on SQLite)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config

from paymux.core.storage.database import sync_url


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration pointing at paymux's migrations and ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(files("paymux.core.storage") / "migrations"))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` to ``revision`` (the newest by default)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the database back to ``revision`` (``"base"`` removes every table)."""
    command.downgrade(alembic_config(database_url), revision)
