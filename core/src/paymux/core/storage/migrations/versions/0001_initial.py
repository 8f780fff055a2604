"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 07:40:52.319683
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=40), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_key")),
        sa.UniqueConstraint("client_id", "key", name=op.f("uq_idempotency_key_client_id")),
    )
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_event_published_at"), ["published_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_event_topic"), ["topic"], unique=False)

    op.create_table(
        "payment_event",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("buyer_id", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("payment_method", sa.String(length=32), nullable=False),
        sa.Column("return_url", sa.String(length=2048), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_event")),
    )
    with op.batch_alter_table("payment_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_event_client_id"), ["client_id"], unique=False)

    op.create_table(
        "processed_webhook_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_webhook_event")),
        sa.UniqueConstraint(
            "provider", "event_id", name=op.f("uq_processed_webhook_event_provider")
        ),
    )
    op.create_table(
        "payment_order",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_event_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("commission_minor", sa.BigInteger(), nullable=False),
        sa.Column("logistics_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_event_id"],
            ["payment_event.id"],
            name=op.f("fk_payment_order_payment_event_id_payment_event"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_order")),
        sa.UniqueConstraint(
            "payment_event_id", "reference", name=op.f("uq_payment_order_payment_event_id")
        ),
    )
    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_order_payment_event_id"), ["payment_event_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payment_order_seller_id"), ["seller_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_order_status"), ["status"], unique=False)

    op.create_table(
        "psp_registration",
        sa.Column("payment_event_id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("psp_idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=255), nullable=True),
        sa.Column("psp_reference", sa.String(length=255), nullable=True),
        sa.Column("redirect_url", sa.String(length=2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_event_id"],
            ["payment_event.id"],
            name=op.f("fk_psp_registration_payment_event_id_payment_event"),
        ),
        sa.PrimaryKeyConstraint("payment_event_id", name=op.f("pk_psp_registration")),
        sa.UniqueConstraint("provider", "token", name=op.f("uq_psp_registration_provider")),
        sa.UniqueConstraint(
            "psp_idempotency_key", name=op.f("uq_psp_registration_psp_idempotency_key")
        ),
    )


def downgrade() -> None:

    op.drop_table("psp_registration")
    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_order_status"))
        batch_op.drop_index(batch_op.f("ix_payment_order_seller_id"))
        batch_op.drop_index(batch_op.f("ix_payment_order_payment_event_id"))

    op.drop_table("payment_order")
    op.drop_table("processed_webhook_event")
    with op.batch_alter_table("payment_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_event_client_id"))

    op.drop_table("payment_event")
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_event_topic"))
        batch_op.drop_index(batch_op.f("ix_outbox_event_published_at"))

    op.drop_table("outbox_event")
    op.drop_table("idempotency_key")
