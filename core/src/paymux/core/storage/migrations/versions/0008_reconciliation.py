"""Reconciliation: runs, their normalized lines, discrepancies; when an order succeeded.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paymux.core.storage.tables import UtcDateTime

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("succeeded_at", UtcDateTime(), nullable=True))

    op.create_table(
        "reconciliation_run",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("lines_total", sa.BigInteger(), nullable=False),
        sa.Column("lines_matched", sa.BigInteger(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("new_discrepancies", sa.Integer(), nullable=False),
        sa.Column("resolved_discrepancies", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_run")),
    )
    op.create_index(
        "ix_reconciliation_run_client_created",
        "reconciliation_run",
        ["client_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reconciliation_run_file_sha256"),
        "reconciliation_run",
        ["file_sha256"],
        unique=False,
    )
    op.create_table(
        "reconciliation_run_lines",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("lines", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_run.id"],
            name=op.f("fk_reconciliation_run_lines_run_id_reconciliation_run"),
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_reconciliation_run_lines")),
    )
    op.create_table(
        "reconciliation_discrepancy",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("psp_reference", sa.String(length=255), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=True),
        sa.Column("line_type", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("expected_currency", sa.String(length=3), nullable=True),
        sa.Column("expected_minor", sa.BigInteger(), nullable=True),
        sa.Column("actual_minor", sa.BigInteger(), nullable=True),
        sa.Column("line_number", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("opened_run_id", sa.String(length=40), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("resolved_run_id", sa.String(length=40), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["opened_run_id"],
            ["reconciliation_run.id"],
            name=op.f("fk_reconciliation_discrepancy_opened_run_id_reconciliation_run"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_discrepancy")),
    )
    op.create_index(
        "uq_reconciliation_discrepancy_open",
        "reconciliation_discrepancy",
        ["client_id", "provider", "key"],
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
        sqlite_where=sa.text("resolved_at IS NULL"),
    )
    op.create_index(
        "ix_reconciliation_discrepancy_opened_run",
        "reconciliation_discrepancy",
        ["opened_run_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_reconciliation_discrepancy_opened_run", table_name="reconciliation_discrepancy"
    )
    op.drop_index("uq_reconciliation_discrepancy_open", table_name="reconciliation_discrepancy")
    op.drop_table("reconciliation_discrepancy")
    op.drop_table("reconciliation_run_lines")
    op.drop_index(op.f("ix_reconciliation_run_file_sha256"), table_name="reconciliation_run")
    op.drop_index("ix_reconciliation_run_client_created", table_name="reconciliation_run")
    op.drop_table("reconciliation_run")
    with op.batch_alter_table("payment_order", schema=None) as batch_op:
        batch_op.drop_column("succeeded_at")
