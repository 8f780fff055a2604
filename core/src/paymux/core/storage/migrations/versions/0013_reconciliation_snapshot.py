"""Reconciliation reads a stored snapshot of the payments and only the rows written since.

On PostgreSQL every row of ``reconciliation_payment`` records the top-level transaction that
last wrote it (``written_xid``, set by its default on insert and by a trigger on update,
whoever writes it); ``reconciliation_snapshot`` keeps one Parquet document of each
provider's payments with the ``pg_snapshot`` it was read under. SQLite gets the (unused)
table only, so the models match the schema on both.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paymux.core.storage.tables import UtcDateTime

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WRITTEN_XID = [
    # A constant default first: no rewrite of a big table. The rows already there predate
    # every snapshot ('2' is the frozen transaction id, visible to all).
    "ALTER TABLE reconciliation_payment ADD COLUMN written_xid xid8 NOT NULL DEFAULT '2'",
    "ALTER TABLE reconciliation_payment ALTER COLUMN written_xid SET DEFAULT pg_current_xact_id()",
    "CREATE FUNCTION reconciliation_payment_written() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN NEW.written_xid := pg_current_xact_id(); RETURN NEW; END $$",
    "CREATE TRIGGER reconciliation_payment_written BEFORE UPDATE ON reconciliation_payment"
    " FOR EACH ROW EXECUTE FUNCTION reconciliation_payment_written()",
    # Parquet is compressed already: kept out of line as it is.
    "ALTER TABLE reconciliation_snapshot ALTER COLUMN data SET STORAGE EXTERNAL",
]

_WRITTEN_XID_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_reconciliation_payment_written"
    " ON reconciliation_payment (client_id, provider, written_xid)"
)
"""Built after the statements above committed, without locking out the payment writes
(about a second per million payments); the statements above hold their lock briefly."""


def upgrade() -> None:
    op.create_table(
        "reconciliation_snapshot",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("covers_since", UtcDateTime(), nullable=False),
        sa.Column("payments", sa.BigInteger(), nullable=False),
        sa.Column("built_at", UtcDateTime(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "provider", name=op.f("pk_reconciliation_snapshot")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _WRITTEN_XID:
            op.execute(statement)
        with op.get_context().autocommit_block():
            op.execute(_WRITTEN_XID_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_reconciliation_payment_written")
        op.execute("DROP TRIGGER reconciliation_payment_written ON reconciliation_payment")
        op.execute("DROP FUNCTION reconciliation_payment_written()")
        op.execute("ALTER TABLE reconciliation_payment DROP COLUMN written_xid")
    op.drop_table("reconciliation_snapshot")
