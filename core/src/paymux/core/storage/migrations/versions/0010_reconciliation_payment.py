"""Reconciliation reads payments from one narrow table, kept with every change.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paymux.core.storage.tables import UtcDateTime

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = """
INSERT INTO reconciliation_payment (
    payment_event_id, client_id, provider, currency, amount_minor, status, succeeded_at,
    token, psp_reference, psp_payment_id, has_chargeback, created_at
)
SELECT e.id, e.client_id, COALESCE(r.provider, e.provider), e.currency,
       o.amount_minor, o.status, o.succeeded_at,
       r.token, r.psp_reference, r.psp_payment_id,
       EXISTS (SELECT 1 FROM chargeback c WHERE c.payment_event_id = e.id),
       e.created_at
FROM payment_event e
JOIN (SELECT payment_event_id, SUM(amount_minor) AS amount_minor, MIN(status) AS status,
             MIN(succeeded_at) AS succeeded_at
      FROM payment_order GROUP BY payment_event_id) o ON o.payment_event_id = e.id
LEFT JOIN psp_registration r ON r.payment_event_id = e.id
"""


def upgrade() -> None:
    op.create_table(
        "reconciliation_payment",
        sa.Column("payment_event_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("succeeded_at", UtcDateTime(), nullable=True),
        sa.Column("token", sa.String(length=255), nullable=True),
        sa.Column("psp_reference", sa.String(length=255), nullable=True),
        sa.Column("psp_payment_id", sa.String(length=255), nullable=True),
        sa.Column("has_chargeback", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_event_id"],
            ["payment_event.id"],
            name=op.f("fk_reconciliation_payment_payment_event_id_payment_event"),
        ),
        sa.PrimaryKeyConstraint("payment_event_id", name=op.f("pk_reconciliation_payment")),
    )
    op.create_index(
        "ix_reconciliation_payment_client_provider_created",
        "reconciliation_payment",
        ["client_id", "provider", "created_at"],
        unique=False,
    )
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.drop_index(
        "ix_reconciliation_payment_client_provider_created", table_name="reconciliation_payment"
    )
    op.drop_table("reconciliation_payment")
