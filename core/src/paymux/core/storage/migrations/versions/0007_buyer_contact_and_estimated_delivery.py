"""Buyer contact (e-mail, locale) on payments and an estimated delivery on orders.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 12:49:48.974458
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("buyer_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("buyer_locale", sa.String(length=35), nullable=True))

    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_earliest", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("delivery_latest", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.drop_column("delivery_latest")
        batch_op.drop_column("delivery_earliest")

    with op.batch_alter_table("payment_event", schema=None) as batch_op:
        batch_op.drop_column("buyer_locale")
        batch_op.drop_column("buyer_email")
