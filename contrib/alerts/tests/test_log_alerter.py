"""The log alerter: one warning with structured fields."""

from __future__ import annotations

import logging

import pytest

from paymux.core.reconciliation.alerts import ReconciliationAlert
from paymux_alerts.log_alerter import LogAlerter


async def test_one_warning_per_alert_with_the_facts_as_fields(
    alert: ReconciliationAlert, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alerter = LogAlerter()
    await alerter.alert(alert)
    await alerter.aclose()

    [record] = [r for r in caplog.records if r.name == "paymux.reconciliation.alerts"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "3 new reconciliation discrepancies for adyen (2026-11-23), run rr_01"
    )
    assert record.__dict__["run_id"] == "rr_01"
    assert record.__dict__["provider"] == "adyen"
    assert record.__dict__["client_id"] == "dev"
    assert record.__dict__["file_name"] == "settlement_detail_report_batch_42.csv"
    assert record.__dict__["new_discrepancies"] == 3
    assert record.__dict__["by_kind"] == {"amount_mismatch": 2, "missing_in_ledger": 1}
    assert record.__dict__["by_kind"] is not alert.by_kind
