"""Alembic environment. The URL comes from the caller (``-x url=...``) or from paymux's settings."""

from __future__ import annotations

import warnings
from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.exc import SAWarning
from sqlmodel import SQLModel

from paymux.core.settings import Settings
from paymux.core.storage import tables
from paymux.core.storage.database import sync_url

target_metadata = SQLModel.metadata
assert tables.PaymentEventRow.__tablename__ in target_metadata.tables


_DATABASE_ONLY = {
    ("column", "written_xid"),
    ("index", "ix_reconciliation_payment_written"),
}
"""What a migration keeps on PostgreSQL only, outside the models (and their comparison):
``reconciliation_payment.written_xid`` (an ``xid8`` set by the database) and its index."""


warnings.filterwarnings("ignore", "Did not recognize type 'xid8'", SAWarning)  # written_xid


def _include_object(
    _object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return not (reflected and compare_to is None and (type_, name) in _DATABASE_ONLY)


def _url() -> str:
    configured = context.config.get_main_option("sqlalchemy.url")
    given = context.get_x_argument(as_dictionary=True).get("url")
    return sync_url(given or configured or Settings().database_url)


def run_migrations_offline() -> None:
    """Emit SQL instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on a live connection."""
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
            include_object=_include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
