"""Alerts: how operators hear that a reconciliation run found new discrepancies.

Plugins return :class:`ReconciliationAlerter` objects from the
``paymux_add_reconciliation_alerters`` hook. After a run that opened at least one new
discrepancy, paymux queues one ``send_reconciliation_alert`` job that calls every
alerter; one that raises is retried with back-off, one that delivered is not called again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DiscrepancySummary:
    """One new discrepancy, as an alert shows it."""

    id: str
    kind: str
    """The discrepancy class (``amount_mismatch``, ``missing_in_ledger``, …)."""
    psp_reference: str
    subject_id: str | None
    """paymux's payment, refund or payout id, when the line matched one."""
    currency: str | None
    expected_minor: int | None
    """What paymux has (minor units), when it has something to compare."""
    actual_minor: int | None
    """What the provider's file says (minor units)."""
    line_number: int | None


@dataclass(frozen=True, slots=True)
class ReconciliationAlert:
    """A run that opened new discrepancies."""

    run_id: str
    client_id: str
    provider: str
    file_name: str
    period_start: date | None
    period_end: date | None
    new_discrepancies: int
    by_kind: dict[str, int]
    """New discrepancies per class."""
    examples: list[DiscrepancySummary] = field(default_factory=list)
    """The first new discrepancies (at most 20), for the message."""


class ReconciliationAlerter(Protocol):
    """Delivers reconciliation alerts to one channel (e-mail, chat, log, pager)."""

    @property
    def name(self) -> str:
        """A unique name (``"email"``, ``"slack"``)."""
        ...

    async def alert(self, alert: ReconciliationAlert) -> None:
        """Deliver ``alert`` or raise (the job retries later)."""
        ...

    async def aclose(self) -> None:
        """Release connections; called when the application stops."""
        ...
