"""Refunds and their parts per payment order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 08:18:07.969673
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "refund",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_event_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("psp_idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("psp_reference", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_event_id"],
            ["payment_event.id"],
            name=op.f("fk_refund_payment_event_id_payment_event"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund")),
        sa.UniqueConstraint("psp_idempotency_key", name=op.f("uq_refund_psp_idempotency_key")),
    )
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refund_payment_event_id"), ["payment_event_id"], unique=False
        )

    op.create_table(
        "refund_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.String(length=40), nullable=False),
        sa.Column("payment_order_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_order_id"],
            ["payment_order.id"],
            name=op.f("fk_refund_part_payment_order_id_payment_order"),
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refund.id"], name=op.f("fk_refund_part_refund_id_refund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_part")),
        sa.UniqueConstraint("refund_id", "payment_order_id", name=op.f("uq_refund_part_refund_id")),
    )
    with op.batch_alter_table("refund_part", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refund_part_payment_order_id"), ["payment_order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_refund_part_refund_id"), ["refund_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("refund_part", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_part_refund_id"))
        batch_op.drop_index(batch_op.f("ix_refund_part_payment_order_id"))

    op.drop_table("refund_part")
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_payment_event_id"))

    op.drop_table("refund")
