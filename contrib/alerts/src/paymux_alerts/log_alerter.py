"""The log alerter: one WARNING record per alert, with the facts as structured fields."""

from __future__ import annotations

import logging

from paymux.core.reconciliation.alerts import ReconciliationAlert
from paymux_alerts.message import headline

LOGGER_NAME = "paymux.reconciliation.alerts"

logger = logging.getLogger(LOGGER_NAME)


class LogAlerter:
    """Logs each alert as a warning on ``paymux.reconciliation.alerts``.

    The record's ``extra`` fields (``run_id``, ``client_id``, ``provider``, ``file_name``,
    ``new_discrepancies``, ``by_kind``) let a JSON log formatter or a log pipeline alert on
    them; the message reads
    ``3 new reconciliation discrepancies for adyen (2026-11-23), run rr_1``.
    """

    name = "log"

    async def alert(self, alert: ReconciliationAlert) -> None:
        """Log the alert (never raises for a well-formed alert)."""
        logger.warning(
            "%s, run %s",
            headline(alert),
            alert.run_id,
            extra={
                "run_id": alert.run_id,
                "client_id": alert.client_id,
                "provider": alert.provider,
                "file_name": alert.file_name,
                "new_discrepancies": alert.new_discrepancies,
                "by_kind": dict(alert.by_kind),
            },
        )

    async def aclose(self) -> None:
        """Nothing to close."""
