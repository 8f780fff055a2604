"""The stored text of each kind of discrepancy (``details``), made for a whole run at once."""

from __future__ import annotations

import polars as pl
import pytest

from paymux.core.reconciliation.details import details_text

SCHEMA = {
    "kind": pl.String, "line_type": pl.String, "psp_reference": pl.String,
    "subject_id": pl.String, "currency": pl.String, "expected_currency": pl.String,
    "expected_minor": pl.Int64, "actual_minor": pl.Int64, "line_number": pl.Int64,
}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "line_type", "line_number", "text"),
    [
        ("missing_in_ledger", "capture", 4,
         "line 4: the provider settled capture ref1; paymux has not booked it"),
        ("missing_in_settlement", "capture", None,
         "payment pe_1 succeeded; the provider has not settled it"),
        ("missing_in_settlement", "refund", None,
         "refund pe_1 succeeded; the provider has not settled it"),
        ("amount_mismatch", "capture", 5,
         "line 5: capture ref1: paymux has 1000, the provider 999 (minor units)"),
        ("currency_mismatch", "refund", 6,
         "line 6: refund ref1: paymux has USD, the provider EUR"),
        ("status_mismatch", "chargeback", 7,
         "line 7: the provider reports a chargeback of ref1 paymux does not have"),
        ("duplicate_line", "fee", 8, "line 8: fee ref1 appears more than once"),
        ("unknown_reference", "capture", 9,
         "line 9: no payment, refund or payout of paymux has reference ref1"),
        ("a_new_kind", "capture", None, "a_new_kind"),
    ],
)  # fmt: skip
def test_each_kind_reads_as_a_sentence(
    kind: str, line_type: str, line_number: int | None, text: str
) -> None:
    row = {
        "kind": kind, "line_type": line_type, "psp_reference": "ref1", "subject_id": "pe_1",
        "currency": "EUR", "expected_currency": "USD", "expected_minor": 1000,
        "actual_minor": 999, "line_number": line_number,
    }  # fmt: skip
    frame = pl.DataFrame([row], schema=SCHEMA)
    assert frame.select(details_text()).item() == text


def test_a_missing_value_reads_as_none_and_every_row_gets_its_own_text() -> None:
    rows = [
        {"kind": "amount_mismatch", "line_type": "capture", "psp_reference": "a",
         "expected_minor": None, "actual_minor": 5, "line_number": 2},
        {"kind": "duplicate_line", "line_type": "capture", "psp_reference": "b",
         "line_number": 3},
    ]  # fmt: skip
    frame = pl.DataFrame(rows, schema=SCHEMA)
    assert frame.select(details_text()).to_series().to_list() == [
        "line 2: capture a: paymux has None, the provider 5 (minor units)",
        "line 3: capture b appears more than once",
    ]
