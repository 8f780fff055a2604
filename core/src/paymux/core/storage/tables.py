"""SQLModel tables. Amounts are integers in minor units beside their ISO 4217 code."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import cast

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps no zone: we add it back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_TZ = UtcDateTime()


class PaymentEventRow(SQLModel, table=True):
    """A checkout."""

    __tablename__ = "payment_event"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(index=True, max_length=64)
    buyer_id: str = Field(max_length=128)
    currency: str = Field(max_length=3)
    country: str = Field(max_length=2)
    payment_method: str = Field(max_length=32)
    return_url: str = Field(max_length=2048)
    provider: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=_TZ)
    buyer_email: str | None = Field(default=None, max_length=254)
    """Personal data: for the buyer's confirmation only."""
    buyer_locale: str | None = Field(default=None, max_length=35)
    settlement_currency: str | None = Field(default=None, max_length=3)
    """The currency the provider settles in (``NULL`` on payments older than 0012: the
    payment's own currency)."""
    fx_quote: str | None = Field(default=None, sa_type=sa.Text)
    """The locked quote (JSON of ``Quote.as_dict``) when the payment converts."""


class PaymentOrderRow(SQLModel, table=True):
    """One seller's part of a checkout."""

    __tablename__ = "payment_order"
    __table_args__ = (sa.UniqueConstraint("payment_event_id", "reference"),)

    id: str = Field(primary_key=True, max_length=40)
    payment_event_id: str = Field(foreign_key="payment_event.id", index=True, max_length=40)
    position: int
    seller_id: str = Field(index=True, max_length=128)
    currency: str = Field(max_length=3)
    amount_minor: int = Field(sa_type=sa.BigInteger)
    commission_minor: int = Field(sa_type=sa.BigInteger)
    logistics_fee_minor: int = Field(sa_type=sa.BigInteger)
    reference: str = Field(max_length=128)
    status: str = Field(max_length=16, index=True)
    failure_code: str | None = Field(default=None, max_length=64)
    shipped_at: datetime | None = Field(default=None, sa_type=_TZ)
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)
    delivery_earliest: date | None = None
    """The estimated delivery's first day (``None``: no estimate)."""
    delivery_latest: date | None = None
    """The estimated delivery's last day (the same as the first for one day)."""
    succeeded_at: datetime | None = Field(default=None, sa_type=_TZ)
    """When the order succeeded (reconciliation's settlement delay counts from here)."""
    settlement_minor: int | None = Field(default=None, sa_type=sa.BigInteger)
    """The order's share of the payment's settlement amount, in the payment's settlement
    currency, when the payment converts."""


class PspRegistrationRow(SQLModel, table=True):
    """The payment as registered with its provider."""

    __tablename__ = "psp_registration"
    __table_args__ = (sa.UniqueConstraint("provider", "token"),)

    payment_event_id: str = Field(primary_key=True, foreign_key="payment_event.id", max_length=40)
    provider: str = Field(max_length=32)
    psp_idempotency_key: str = Field(unique=True, max_length=64)
    token: str | None = Field(default=None, max_length=255)
    psp_reference: str | None = Field(default=None, max_length=255)
    redirect_url: str | None = Field(default=None, max_length=2048)
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)
    psp_payment_id: str | None = Field(default=None, max_length=255, index=True)
    """The PSP's own id of the payment when it is not the token (reported later)."""


class IdempotencyKeyRow(SQLModel, table=True):
    """A client's idempotency key, its request fingerprint and its stored response."""

    __tablename__ = "idempotency_key"
    __table_args__ = (sa.UniqueConstraint("client_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    resource_id: str | None = Field(default=None, max_length=40)
    locked_at: datetime | None = Field(default=None, sa_type=_TZ)
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=_TZ)


class ProcessedWebhookEventRow(SQLModel, table=True):
    """A provider event already applied; its id is never applied twice."""

    __tablename__ = "processed_webhook_event"
    __table_args__ = (sa.UniqueConstraint("provider", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    event_id: str = Field(max_length=255)
    received_at: datetime = Field(sa_type=_TZ)


class OutboxEventRow(SQLModel, table=True):
    """An event waiting to be published to the broker (transactional outbox)."""

    __tablename__ = "outbox_event"

    id: str = Field(primary_key=True, max_length=40)
    topic: str = Field(max_length=64, index=True)
    key: str = Field(max_length=64)
    payload: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=_TZ)
    published_at: datetime | None = Field(default=None, sa_type=_TZ, index=True)


class LedgerAccountRow(SQLModel, table=True):
    """An account. ``balance_minor`` is the debit-positive sum of its postings, kept in the
    same transaction as they are written; ``NULL`` for hot accounts, whose balance is summed."""

    __tablename__ = "ledger_account"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "owner_kind", "owner_id", "purpose", "currency"),
    )

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(max_length=64)
    owner_kind: str = Field(max_length=16)
    owner_id: str = Field(max_length=128, index=True)
    purpose: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    type: str = Field(max_length=16)
    balance_minor: int | None = Field(default=None, sa_type=sa.BigInteger)
    created_at: datetime = Field(sa_type=_TZ)


class LedgerTransactionRow(SQLModel, table=True):
    """A journal transaction; its ``reference`` names the business fact it records, once."""

    __tablename__ = "ledger_transaction"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(max_length=64, index=True)
    reference: str = Field(unique=True, max_length=128)
    kind: str = Field(max_length=32)
    details: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=_TZ)


class LedgerPostingRow(SQLModel, table=True):
    """One posting: a signed amount (debit positive) on one account. Never updated."""

    __tablename__ = "ledger_posting"

    id: int | None = Field(default=None, primary_key=True)
    transaction_id: str = Field(foreign_key="ledger_transaction.id", index=True, max_length=40)
    account_id: str = Field(foreign_key="ledger_account.id", index=True, max_length=40)
    amount_minor: int = Field(sa_type=sa.BigInteger)
    currency: str = Field(max_length=3)
    created_at: datetime = Field(sa_type=_TZ)


class RefundRow(SQLModel, table=True):
    """A refund of a payment."""

    __tablename__ = "refund"

    id: str = Field(primary_key=True, max_length=40)
    payment_event_id: str = Field(foreign_key="payment_event.id", index=True, max_length=40)
    client_id: str = Field(max_length=64)
    currency: str = Field(max_length=3)
    amount_minor: int = Field(sa_type=sa.BigInteger)
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=255)
    failure_code: str | None = Field(default=None, max_length=64)
    psp_idempotency_key: str = Field(unique=True, max_length=64)
    psp_reference: str | None = Field(default=None, max_length=255, index=True)
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)


class RefundPartRow(SQLModel, table=True):
    """The share of a refund taken from one payment order."""

    __tablename__ = "refund_part"
    __table_args__ = (sa.UniqueConstraint("refund_id", "payment_order_id"),)

    id: int | None = Field(default=None, primary_key=True)
    refund_id: str = Field(foreign_key="refund.id", index=True, max_length=40)
    payment_order_id: str = Field(foreign_key="payment_order.id", index=True, max_length=40)
    amount_minor: int = Field(sa_type=sa.BigInteger)


class PayoutRow(SQLModel, table=True):
    """A payout to a seller."""

    __tablename__ = "payout"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(max_length=64)
    seller_id: str = Field(max_length=128, index=True)
    provider: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    amount_minor: int = Field(sa_type=sa.BigInteger)
    status: str = Field(max_length=16)
    failure_code: str | None = Field(default=None, max_length=64)
    psp_idempotency_key: str = Field(unique=True, max_length=64)
    psp_reference: str | None = Field(default=None, max_length=255, index=True)
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)
    destination: str | None = Field(default=None, sa_type=sa.Text)
    """JSON: the seller's payout destination when the payout was opened."""
    payout_currency: str | None = Field(default=None, max_length=3)
    """The currency the seller is paid in, when the payout converts (else ``currency``)."""
    payout_amount_minor: int | None = Field(default=None, sa_type=sa.BigInteger)
    """What the seller is paid in ``payout_currency``, when the payout converts."""
    fx_quote: str | None = Field(default=None, sa_type=sa.Text)
    """JSON (``Quote.as_dict``): the quote the payout converts at, when it converts."""


class ChargebackRow(SQLModel, table=True):
    """A chargeback (dispute) on a payment, as its provider reported it."""

    __tablename__ = "chargeback"
    __table_args__ = (sa.UniqueConstraint("provider", "dispute_id"),)

    id: str = Field(primary_key=True, max_length=40)
    payment_event_id: str = Field(foreign_key="payment_event.id", index=True, max_length=40)
    client_id: str = Field(max_length=64)
    provider: str = Field(max_length=32)
    dispute_id: str = Field(max_length=255)
    currency: str = Field(max_length=3)
    amount_minor: int = Field(sa_type=sa.BigInteger)
    unallocated_minor: int = Field(sa_type=sa.BigInteger)
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)


class ChargebackPartRow(SQLModel, table=True):
    """The share of a chargeback taken from one payment order."""

    __tablename__ = "chargeback_part"
    __table_args__ = (sa.UniqueConstraint("chargeback_id", "payment_order_id"),)

    id: int | None = Field(default=None, primary_key=True)
    chargeback_id: str = Field(foreign_key="chargeback.id", index=True, max_length=40)
    payment_order_id: str = Field(foreign_key="payment_order.id", index=True, max_length=40)
    amount_minor: int = Field(sa_type=sa.BigInteger)
    released: bool


class SellerPayoutMethodRow(SQLModel, table=True):
    """Where and through which provider a seller is paid."""

    __tablename__ = "seller_payout_method"

    client_id: str = Field(primary_key=True, max_length=64)
    seller_id: str = Field(primary_key=True, max_length=128)
    provider: str = Field(max_length=32)
    account: str = Field(max_length=255)
    holder_name: str | None = Field(default=None, max_length=140)
    details: str = Field(sa_type=sa.Text)
    """JSON object of strings."""
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)
    currency: str | None = Field(default=None, max_length=3)
    """The currency the seller is paid in (``None``: the currency of the money paid out)."""


class JobRow(SQLModel, table=True):
    """A durable job (see :mod:`paymux.core.domain.jobs`); ``dead`` rows are the dead letters."""

    __tablename__ = "job"
    __table_args__ = (sa.Index("ix_job_state_next_run_at", "state", "next_run_at"),)

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=64)
    key: str = Field(unique=True, max_length=255)
    client_id: str | None = Field(default=None, max_length=64, index=True)
    provider: str | None = Field(default=None, max_length=32)
    payload: str = Field(sa_type=sa.Text)
    state: str = Field(max_length=16)
    attempts: int
    runs: int
    next_run_at: datetime = Field(sa_type=_TZ)
    locked_by: str | None = Field(default=None, max_length=128)
    locked_until: datetime | None = Field(default=None, sa_type=_TZ)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    replays: int
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)
    finished_at: datetime | None = Field(default=None, sa_type=_TZ)


class ReconciliationPaymentRow(SQLModel, table=True):
    """One payment as reconciliation reads it: a narrow copy of its event, orders,
    registration and chargebacks, written with each of their changes in the same
    transaction, so a run reads a provider's payments in one scan of one table."""

    __tablename__ = "reconciliation_payment"
    __table_args__ = (
        sa.Index(
            "ix_reconciliation_payment_client_provider_created",
            "client_id",
            "provider",
            "created_at",
        ),
        sa.Index(
            "ix_reconciliation_payment_converted",
            "client_id",
            "provider",
            "created_at",
            postgresql_where=sa.text("settlement_currency IS NOT NULL"),
            sqlite_where=sa.text("settlement_currency IS NOT NULL"),
        ),
    )

    payment_event_id: str = Field(primary_key=True, foreign_key="payment_event.id", max_length=40)
    client_id: str = Field(max_length=64)
    provider: str = Field(max_length=32)
    """The registration's provider (the payment's when it has no registration)."""
    currency: str = Field(max_length=3)
    amount_minor: int = Field(sa_type=sa.BigInteger)
    """The sum of the orders' amounts."""
    status: str = Field(max_length=16)
    """The least of the orders' statuses (as text)."""
    succeeded_at: datetime | None = Field(default=None, sa_type=_TZ)
    """The first of the orders' ``succeeded_at``."""
    token: str | None = Field(default=None, max_length=255)
    psp_reference: str | None = Field(default=None, max_length=255)
    psp_payment_id: str | None = Field(default=None, max_length=255)
    has_chargeback: bool = False
    created_at: datetime = Field(sa_type=_TZ)
    settlement_currency: str | None = Field(default=None, max_length=3)
    """Set only when the payment converts: the currency the provider settles it in."""
    settlement_minor: int | None = Field(default=None, sa_type=sa.BigInteger)
    """Set only when the payment converts: its settlement amount (at the locked quote)."""


class ReconciliationSnapshotRow(SQLModel, table=True):
    """The matching columns of a provider's payments as one PostgreSQL snapshot saw them
    (one Parquet document), so a run reads only the rows written since
    (:mod:`paymux.core.storage.reconciliation_snapshot`). Used on PostgreSQL only: there,
    ``reconciliation_payment.written_xid`` (not a model column) records each row's writer."""

    __tablename__ = "reconciliation_snapshot"

    client_id: str = Field(primary_key=True, max_length=64)
    provider: str = Field(primary_key=True, max_length=32)
    snapshot: str = Field(sa_type=sa.Text)
    """The PostgreSQL snapshot (``pg_snapshot`` as text) the payments were read under."""
    covers_since: datetime = Field(sa_type=_TZ)
    """The document holds the payments created at or after this instant (the run's lookback)."""
    payments: int = Field(sa_type=sa.BigInteger)
    """How many payments the document holds."""
    built_at: datetime = Field(sa_type=_TZ)
    data: bytes = Field(sa_type=sa.LargeBinary)
    """Parquet (lz4): the ``PAYMENT_INDEX_SCHEMA`` columns and ``created_at``."""


class ReconciliationRunRow(SQLModel, table=True):
    """One reconciliation of one settlement file (stored only when the file was read)."""

    __tablename__ = "reconciliation_run"
    __table_args__ = (sa.Index("ix_reconciliation_run_client_created", "client_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(max_length=64)
    provider: str = Field(max_length=32)
    format: str = Field(max_length=64)
    source: str = Field(max_length=16)
    """``upload`` (API), ``cli``, ``nightly`` (the worker) or ``webhook`` (a report the provider
    announced, fetched by the worker)."""
    file_name: str = Field(max_length=255)
    file_sha256: str = Field(max_length=64, index=True)
    period_start: date | None = None
    period_end: date | None = None
    lines_total: int = Field(sa_type=sa.BigInteger)
    lines_matched: int = Field(sa_type=sa.BigInteger)
    summary: str = Field(sa_type=sa.Text)
    """JSON: lines per type, totals per currency, discrepancies per class, bookings."""
    new_discrepancies: int
    resolved_discrepancies: int
    created_at: datetime = Field(sa_type=_TZ)
    finished_at: datetime = Field(sa_type=_TZ)


class ReconciliationRunLinesRow(SQLModel, table=True):
    """The normalized lines of a run, kept as one Parquet document (appended, never updated):
    later runs read the references their predecessors saw."""

    __tablename__ = "reconciliation_run_lines"

    run_id: str = Field(primary_key=True, foreign_key="reconciliation_run.id", max_length=40)
    client_id: str = Field(max_length=64)
    provider: str = Field(max_length=32)
    file_sha256: str = Field(max_length=64)
    period_end: date | None = None
    lines: bytes = Field(sa_type=sa.LargeBinary)


class ReconciliationDiscrepancyRow(SQLModel, table=True):
    """A disagreement between a provider's settlement and paymux, open until a run resolves it.

    At most one open discrepancy per ``(client_id, provider, key)``: reported once.
    """

    __tablename__ = "reconciliation_discrepancy"
    __table_args__ = (
        sa.Index(
            "uq_reconciliation_discrepancy_open",
            "client_id",
            "provider",
            "key",
            unique=True,
            postgresql_where=sa.text("resolved_at IS NULL"),
            sqlite_where=sa.text("resolved_at IS NULL"),
        ),
        sa.Index("ix_reconciliation_discrepancy_opened_run", "opened_run_id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(max_length=64)
    provider: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    key: str = Field(max_length=255)
    psp_reference: str = Field(max_length=255)
    subject_id: str | None = Field(default=None, max_length=40)
    line_type: str | None = Field(default=None, max_length=32)
    currency: str | None = Field(default=None, max_length=3)
    expected_currency: str | None = Field(default=None, max_length=3)
    expected_minor: int | None = Field(default=None, sa_type=sa.BigInteger)
    actual_minor: int | None = Field(default=None, sa_type=sa.BigInteger)
    line_number: int | None = Field(default=None, sa_type=sa.BigInteger)
    details: str = Field(sa_type=sa.Text)
    opened_run_id: str = Field(foreign_key="reconciliation_run.id", max_length=40)
    opened_at: datetime = Field(sa_type=_TZ)
    resolved_run_id: str | None = Field(default=None, max_length=40)
    resolved_at: datetime | None = Field(default=None, sa_type=_TZ)


class ApiKeyRow(SQLModel, table=True):
    """An API key of a client: its SHA-256 digest and scopes, never the key itself."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(index=True, max_length=64)
    key_digest: str = Field(unique=True, max_length=64)
    prefix: str = Field(max_length=16)
    scopes: str = Field(max_length=255)
    """Space-separated scope names."""
    label: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_type=_TZ)
    expires_at: datetime | None = Field(default=None, sa_type=_TZ)
    revoked_at: datetime | None = Field(default=None, sa_type=_TZ)


def table_of(model: type[SQLModel]) -> sa.Table:
    """The SQLAlchemy ``Table`` behind a table model."""
    return cast(sa.Table, model.__table__)  # type: ignore[attr-defined]
