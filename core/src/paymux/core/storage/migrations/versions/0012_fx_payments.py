"""Payments settled in another currency: settlement currency, locked quote, settlement amounts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 21:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL on older payments: they settle in their own currency, without a quote.
    with op.batch_alter_table("payment_event") as batch:
        batch.add_column(sa.Column("settlement_currency", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("fx_quote", sa.Text(), nullable=True))
    with op.batch_alter_table("payment_order") as batch:
        batch.add_column(sa.Column("settlement_minor", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("reconciliation_payment") as batch:
        batch.add_column(sa.Column("settlement_currency", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("settlement_minor", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_reconciliation_payment_converted",
        "reconciliation_payment",
        ["client_id", "provider", "created_at"],
        unique=False,
        postgresql_where=sa.text("settlement_currency IS NOT NULL"),
        sqlite_where=sa.text("settlement_currency IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_reconciliation_payment_converted", table_name="reconciliation_payment")
    with op.batch_alter_table("reconciliation_payment") as batch:
        batch.drop_column("settlement_minor")
        batch.drop_column("settlement_currency")
    with op.batch_alter_table("payment_order") as batch:
        batch.drop_column("settlement_minor")
    with op.batch_alter_table("payment_event") as batch:
        batch.drop_column("fx_quote")
        batch.drop_column("settlement_currency")
