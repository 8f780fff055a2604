"""Fixtures of paymux-alerts' tests: a sample alert and a real SMTP server on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from paymux.core.reconciliation.alerts import DiscrepancySummary, ReconciliationAlert
from paymux_smtp_server import LocalSmtp
from paymux_test_support import free_socket


@pytest.fixture
def alert() -> ReconciliationAlert:
    """Three new discrepancies of an Adyen file for one day, two of them shown."""
    return ReconciliationAlert(
        run_id="rr_01",
        client_id="dev",
        provider="adyen",
        file_name="settlement_detail_report_batch_42.csv",
        period_start=date(2026, 11, 23),
        period_end=date(2026, 11, 23),
        new_discrepancies=3,
        by_kind={"missing_in_ledger": 1, "amount_mismatch": 2},
        examples=[
            DiscrepancySummary(
                id="dc_1",
                kind="amount_mismatch",
                psp_reference="8835511210681234",
                subject_id="pe_7",
                currency="EUR",
                expected_minor=4250,
                actual_minor=4200,
                line_number=12,
            ),
            DiscrepancySummary(
                id="dc_2",
                kind="missing_in_ledger",
                psp_reference="8835511210689999",
                subject_id=None,
                currency="JPY",
                expected_minor=None,
                actual_minor=1500,
                line_number=14,
            ),
        ],
    )


@pytest.fixture
def local_smtp() -> Iterator[LocalSmtp]:
    """An SMTP server on a free port, not started yet (connections are refused)."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    server = LocalSmtp(port)
    yield server
    server.stop()


@pytest.fixture
def smtp_server(local_smtp: LocalSmtp) -> LocalSmtp:
    """An SMTP server listening on a free port."""
    local_smtp.start()
    return local_smtp
