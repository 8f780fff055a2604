"""Payouts in the seller's currency: a payout's payout currency, amount and locked quote; a
payout method's currency.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payout") as batch:
        batch.add_column(sa.Column("payout_currency", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("payout_amount_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("fx_quote", sa.Text(), nullable=True))
    with op.batch_alter_table("seller_payout_method") as batch:
        batch.add_column(sa.Column("currency", sa.String(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seller_payout_method") as batch:
        batch.drop_column("currency")
    with op.batch_alter_table("payout") as batch:
        batch.drop_column("fx_quote")
        batch.drop_column("payout_amount_minor")
        batch.drop_column("payout_currency")
