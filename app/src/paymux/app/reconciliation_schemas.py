"""Response bodies of the reconciliation endpoints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import Field

from paymux.app.localization import Localizable
from paymux.core.storage.reconciliation_repository import StoredDiscrepancy, StoredRun


class ReconciliationOut(Localizable):
    """A reconciliation run: one settlement file matched against paymux."""

    id: str
    provider: str
    format: str = Field(description="The settlement format the file was read as")
    source: str = Field(
        description="upload (API), cli, nightly (the worker) or webhook (a report the "
        "provider announced)"
    )
    file_name: str
    file_sha256: str
    period_start: date | None = Field(description="The file's first booking date")
    period_end: date | None = Field(description="The file's last booking date")
    lines_total: int
    lines_matched: int = Field(description="Lines that agree with paymux")
    new_discrepancies: int = Field(description="Discrepancies this run opened (reported once)")
    resolved_discrepancies: int = Field(description="Open discrepancies this run closed")
    summary: dict[str, Any] = Field(
        description="Lines per type, totals per currency (minor units), new discrepancies "
        "per class, and the fees and payouts booked per batch and currency"
    )
    created_at: datetime
    finished_at: datetime

    @classmethod
    def of(cls, run: StoredRun) -> ReconciliationOut:
        """Render a run."""
        return cls(
            id=run.id,
            provider=run.provider,
            format=run.format,
            source=run.source,
            file_name=run.file_name,
            file_sha256=run.file_sha256,
            period_start=run.period_start,
            period_end=run.period_end,
            lines_total=run.lines_total,
            lines_matched=run.lines_matched,
            new_discrepancies=run.new_discrepancies,
            resolved_discrepancies=run.resolved_discrepancies,
            summary=run.summary,
            created_at=run.created_at,
            finished_at=run.finished_at,
        )


class ReconciliationListOut(Localizable):
    """The latest runs, newest first."""

    reconciliations: list[ReconciliationOut]


class DiscrepancyOut(Localizable):
    """A disagreement between the provider's settlement and paymux."""

    display_minor_amounts: ClassVar[dict[str, tuple[str, ...]]] = {
        "expected_minor": ("expected_currency", "currency"),
        "actual_minor": ("currency", "expected_currency"),
    }

    id: str
    kind: str = Field(
        description="missing_in_ledger, missing_in_settlement, amount_mismatch, "
        "currency_mismatch, status_mismatch, duplicate_line or unknown_reference"
    )
    provider: str
    psp_reference: str
    subject_id: str | None = Field(description="paymux's payment, refund or payout id")
    line_type: str | None
    line_number: int | None = Field(description="Where in the file (1 is the header)")
    currency: str | None = Field(description="The currency in the provider's file")
    expected_currency: str | None = Field(description="The currency paymux has")
    expected_minor: int | None = Field(description="What paymux has, in minor units")
    actual_minor: int | None = Field(description="What the provider's file says")
    details: str
    opened_run_id: str
    opened_at: datetime
    resolved_run_id: str | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, found: StoredDiscrepancy) -> DiscrepancyOut:
        """Render a discrepancy."""
        return cls(
            id=found.id,
            kind=found.kind,
            provider=found.provider,
            psp_reference=found.psp_reference,
            subject_id=found.subject_id,
            line_type=found.line_type,
            line_number=found.line_number,
            currency=found.currency,
            expected_currency=found.expected_currency,
            expected_minor=found.expected_minor,
            actual_minor=found.actual_minor,
            details=found.details,
            opened_run_id=found.opened_run_id,
            opened_at=found.opened_at,
            resolved_run_id=found.resolved_run_id,
            resolved_at=found.resolved_at,
        )


class DiscrepancyListOut(Localizable):
    """A page of discrepancies; pass ``next_after`` as ``after`` for the next page."""

    discrepancies: list[DiscrepancyOut]
    next_after: str | None
