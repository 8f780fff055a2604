"""Chargebacks, their parts per order, sellers' payout methods, payout destinations, the
PSP's own payment id, and lookups by PSP reference.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:17:39.892867
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seller_payout_method",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("seller_id", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("holder_name", sa.String(length=140), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "seller_id", name=op.f("pk_seller_payout_method")),
    )
    op.create_table(
        "chargeback",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_event_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("dispute_id", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("unallocated_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_event_id"],
            ["payment_event.id"],
            name=op.f("fk_chargeback_payment_event_id_payment_event"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chargeback")),
        sa.UniqueConstraint("provider", "dispute_id", name=op.f("uq_chargeback_provider")),
    )
    with op.batch_alter_table("chargeback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chargeback_payment_event_id"), ["payment_event_id"], unique=False
        )

    op.create_table(
        "chargeback_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chargeback_id", sa.String(length=40), nullable=False),
        sa.Column("payment_order_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chargeback_id"],
            ["chargeback.id"],
            name=op.f("fk_chargeback_part_chargeback_id_chargeback"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_order_id"],
            ["payment_order.id"],
            name=op.f("fk_chargeback_part_payment_order_id_payment_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chargeback_part")),
        sa.UniqueConstraint(
            "chargeback_id", "payment_order_id", name=op.f("uq_chargeback_part_chargeback_id")
        ),
    )
    with op.batch_alter_table("chargeback_part", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chargeback_part_chargeback_id"), ["chargeback_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chargeback_part_payment_order_id"), ["payment_order_id"], unique=False
        )

    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.add_column(sa.Column("destination", sa.Text(), nullable=True))
    with op.batch_alter_table("psp_registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("psp_payment_id", sa.String(length=255), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_psp_registration_psp_payment_id"), ["psp_payment_id"], unique=False
        )
    for table in ("refund", "payout"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f(f"ix_{table}_psp_reference"), ["psp_reference"], unique=False
            )


def downgrade() -> None:
    for table in ("payout", "refund"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_psp_reference"))
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.drop_column("destination")
    with op.batch_alter_table("psp_registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_psp_registration_psp_payment_id"))
        batch_op.drop_column("psp_payment_id")
    with op.batch_alter_table("chargeback_part", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chargeback_part_payment_order_id"))
        batch_op.drop_index(batch_op.f("ix_chargeback_part_chargeback_id"))

    op.drop_table("chargeback_part")
    with op.batch_alter_table("chargeback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chargeback_payment_event_id"))

    op.drop_table("chargeback")
    op.drop_table("seller_payout_method")
