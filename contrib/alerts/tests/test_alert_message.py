"""What every channel says: headline, exact amounts, counts, examples, escaping."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from paymux.core.reconciliation.alerts import DiscrepancySummary, ReconciliationAlert
from paymux_alerts.message import (
    amount_text,
    example_text,
    headline,
    html_body,
    subject,
    text_body,
)


def test_the_subject_names_count_provider_and_day(alert: ReconciliationAlert) -> None:
    assert subject(alert) == ("[paymux] 3 new reconciliation discrepancies for adyen (2026-11-23)")


def test_one_discrepancy_is_singular_and_a_longer_period_is_a_range(
    alert: ReconciliationAlert,
) -> None:
    one = replace(
        alert,
        new_discrepancies=1,
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 7),
    )
    assert headline(one) == (
        "1 new reconciliation discrepancy for adyen (2026-11-01 to 2026-11-07)"
    )


def test_without_a_period_the_file_name_stands_in(alert: ReconciliationAlert) -> None:
    undated = replace(alert, period_start=None, period_end=None, file_name="a\r\nBcc: x@y.z")
    assert subject(undated) == (
        "[paymux] 3 new reconciliation discrepancies for adyen (a Bcc: x@y.z)"
    )


def test_amounts_are_exact_with_the_currencys_decimal_places() -> None:
    assert amount_text(4250, "EUR") == "42.50 EUR"
    assert amount_text(-5, "EUR") == "-0.05 EUR"
    assert amount_text(1500, "JPY") == "1500 JPY"
    assert amount_text(1234, "KWD") == "1.234 KWD"
    assert amount_text(123456789012345678901, "EUR") == "1234567890123456789.01 EUR"
    assert amount_text(4250, "XYZ") == "4250 minor units of XYZ"
    assert amount_text(4250, None) == "4250 minor units"
    assert amount_text(None, "EUR") is None


def test_an_example_shows_what_is_known_and_the_difference(alert: ReconciliationAlert) -> None:
    mismatch, missing = alert.examples
    assert example_text(mismatch) == (
        "amount_mismatch: reference 8835511210681234, paymux pe_7, line 12, "
        "expected 42.50 EUR, actual 42.00 EUR, difference -0.50 EUR (dc_1)"
    )
    assert example_text(missing) == (
        "missing_in_ledger: reference 8835511210689999, line 14, actual 1500 JPY (dc_2)"
    )
    more = replace(mismatch, actual_minor=4300)
    assert example_text(more).endswith("difference +0.50 EUR (dc_1)")


def test_the_text_lists_facts_counts_and_examples(alert: ReconciliationAlert) -> None:
    assert text_body(alert) == (
        "paymux found 3 new reconciliation discrepancies for adyen (2026-11-23).\n"
        "\n"
        "Run: rr_01\n"
        "Provider: adyen\n"
        "Client: dev\n"
        "File: settlement_detail_report_batch_42.csv\n"
        "Period: 2026-11-23\n"
        "\n"
        "New discrepancies by class:\n"
        "  amount_mismatch: 2\n"
        "  missing_in_ledger: 1\n"
        "\n"
        "Examples:\n"
        "- amount_mismatch: reference 8835511210681234, paymux pe_7, line 12, "
        "expected 42.50 EUR, actual 42.00 EUR, difference -0.50 EUR (dc_1)\n"
        "- missing_in_ledger: reference 8835511210689999, line 14, actual 1500 JPY (dc_2)\n"
        "…and 1 more.\n"
        "\n"
        "Look them up with the run id rr_01.\n"
    )


def test_every_example_shown_means_no_more_line(alert: ReconciliationAlert) -> None:
    complete = replace(alert, new_discrepancies=2, by_kind={"amount_mismatch": 2})
    assert "more." not in text_body(complete)
    assert "more." not in html_body(complete)


def test_the_html_escapes_values_from_the_file(alert: ReconciliationAlert) -> None:
    hostile = DiscrepancySummary(
        id="dc_9",
        kind="amount_mismatch",
        psp_reference="<script>alert(1)</script>",
        subject_id='a&b"c',
        currency="EUR",
        expected_minor=100,
        actual_minor=90,
        line_number=3,
    )
    body = html_body(replace(alert, examples=[hostile], file_name="<b>x</b>.csv"))
    assert "<script>" not in body
    assert "<b>x</b>" not in body
    assert (
        "<tr><td>amount_mismatch</td><td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"
        "<td>a&amp;b&quot;c</td><td>3</td><td>1.00 EUR</td><td>0.90 EUR</td>"
        "<td>-0.10 EUR</td><td>dc_9</td></tr>"
    ) in body
    assert "<tr><th>File</th><td>&lt;b&gt;x&lt;/b&gt;.csv</td></tr>" in body
    assert '<tr><td>amount_mismatch</td><td style="text-align:right">2</td></tr>' in body
