"""The FX differences of converted captures, refunds and chargebacks (:func:`settle_fx`),
on frames."""

from __future__ import annotations

from typing import Any

import polars as pl

from paymux.core.reconciliation.fx import (
    CHARGEBACK_POSTED_SCHEMA,
    CHARGEBACK_SCHEMA,
    CONVERTED_SCHEMA,
    REFUND_POSTED_SCHEMA,
    FxDifference,
    converted_refunds,
    disputed_payments,
    settle_fx,
)
from paymux.core.reconciliation.matching import MatchResult

CONVERTED = pl.DataFrame([("pay_1", "USD", 2200)], schema=CONVERTED_SCHEMA, orient="row")


def line(type_: str, *, refund_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "payment_id": "pay_1",
        "refund_id": refund_id,
        "type": type_,
        "kind": None,
        "currency": "JPY",
        "settlement_currency": "USD",
        "gross_minor": {"capture": 3333, "chargeback": -3333, "chargeback_reversal": 3333}.get(
            type_, -500
        ),
        "fee_minor": 55 if type_ == "capture" else 0,
        "net_minor": 2123 if type_ == "capture" else -327,
        "line_reference": f"ln_{type_}_{refund_id}",
        "modification_reference": None,
        "psp_reference": "psp_1",
        "line_number": 2,
        "expected_currency": "JPY",
        "expected_minor": 3333,
        "actual_minor": 3333,
        "matched": True,
    }
    return {**base, **overrides}


def result(*lines: dict[str, Any]) -> MatchResult:
    frame = pl.DataFrame(
        list(lines),
        schema={
            "payment_id": pl.String(), "refund_id": pl.String(), "type": pl.String(),
            "kind": pl.String(), "currency": pl.String(), "settlement_currency": pl.String(),
            "gross_minor": pl.Int64(), "fee_minor": pl.Int64(), "net_minor": pl.Int64(),
            "line_reference": pl.String(),
            "modification_reference": pl.String(), "psp_reference": pl.String(),
            "line_number": pl.Int64(), "expected_currency": pl.String(),
            "expected_minor": pl.Int64(), "actual_minor": pl.Int64(), "matched": pl.Boolean(),
        },
    )  # fmt: skip
    return MatchResult(frame, pl.DataFrame())


def posted(*rows: tuple[str, str, int]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=REFUND_POSTED_SCHEMA, orient="row")


def test_a_refund_line_differs_from_what_the_refund_posted() -> None:
    matched = result(line("capture"), line("refund", refund_id="re_1"))
    assert converted_refunds(matched, CONVERTED) == ["re_1"]
    _, differences = settle_fx(matched, CONVERTED, posted(("re_1", "USD", -330)))
    assert differences == [
        FxDifference("pay_1", "USD", -22, 2178, 2200, "ln_capture_None"),
        FxDifference("pay_1", "USD", 3, -327, -330, "ln_refund_re_1", refund_id="re_1"),
    ]


def test_a_refund_paymux_posted_nothing_for_in_the_settlement_currency_gets_none() -> None:
    matched = result(line("refund", refund_id="re_1"))
    _, none_posted = settle_fx(matched, CONVERTED, posted())
    _, other_currency = settle_fx(matched, CONVERTED, posted(("re_1", "JPY", -500)))
    assert none_posted == other_currency == []


def test_a_refund_line_settled_in_another_currency_is_a_currency_mismatch() -> None:
    matched = result(line("refund", refund_id="re_1", settlement_currency="EUR"))
    marked, differences = settle_fx(matched, CONVERTED, posted(("re_1", "USD", -330)))
    assert differences == []
    row = marked.lines.row(0, named=True)
    assert (row["kind"], row["expected_currency"], row["matched"]) == (
        "currency_mismatch",
        "USD",
        False,
    )
    # what the provider settled (a refund's positive), in the currency it settled in
    assert (row["actual_currency"], row["actual_minor"], row["expected_minor"]) == (
        "EUR",
        327,
        None,
    )


def test_unmatched_refund_lines_and_other_payments_refunds_are_left_alone() -> None:
    matched = result(
        line("refund", refund_id=None),
        line("refund", refund_id="re_2", kind="amount_mismatch"),
        line("refund", refund_id="re_3", payment_id="pay_other"),
    )
    assert converted_refunds(matched, CONVERTED) == []
    every = posted(("re_2", "USD", -330), ("re_3", "USD", -330))
    marked, differences = settle_fx(matched, CONVERTED, every)
    assert differences == []
    assert marked.lines.equals(matched.lines)


def chargebacks(*rows: tuple[str, str, str]) -> pl.DataFrame:
    """``(payment, chargeback, dispute)``: cb_1 disputes the whole 3333 JPY, others 1000."""
    return pl.DataFrame(
        [(*row, "JPY", 3333 if row[1] == "cb_1" else 1000) for row in rows],
        schema=CHARGEBACK_SCHEMA,
        orient="row",
    )


def chargebacks_posted(*rows: tuple[str, str, str, int]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=CHARGEBACK_POSTED_SCHEMA, orient="row")


def dispute(type_: str, dispute_id: str | None, **overrides: Any) -> dict[str, Any]:
    """A chargeback (reversal) line naming ``dispute_id`` as its modification reference."""
    net = -2178 if type_ == "chargeback" else 2178
    values = {"net_minor": net, "line_reference": f"ln_{type_}", **overrides}
    return line(type_, modification_reference=dispute_id, **values)


POSTED = chargebacks_posted(
    ("cb_1", "chargeback", "USD", -2200),
    ("cb_1", "chargeback_reversal", "USD", 2200),
    ("cb_2", "chargeback", "USD", -660),
)


def test_chargeback_lines_differ_from_what_the_chargeback_posted_when_opened_and_won() -> None:
    matched = result(dispute("chargeback", "dp_1"), dispute("chargeback_reversal", "dp_1"))
    assert disputed_payments(matched, CONVERTED) == ["pay_1"]
    known = chargebacks(("pay_1", "cb_1", "dp_1"), ("pay_1", "cb_2", "dp_2"))
    _, differences = settle_fx(matched, CONVERTED, chargebacks=known, chargebacks_posted=POSTED)
    assert differences == [
        FxDifference("pay_1", "USD", 22, -2178, -2200, "ln_chargeback", chargeback_id="cb_1"),
        FxDifference(
            "pay_1",
            "USD",
            -22,
            2178,
            2200,
            "ln_chargeback_reversal",
            chargeback_id="cb_1",
            reversal=True,
        ),
    ]
    assert [(d.line_type, d.subject) for d in differences] == [
        ("chargeback", "chargeback:cb_1"),
        ("chargeback_reversal", "chargeback_reversal:cb_1"),
    ]


def test_a_line_naming_no_dispute_settles_the_payments_only_chargeback() -> None:
    only = chargebacks(("pay_1", "cb_2", "dp_2"))
    matched = result(dispute("chargeback", None, gross_minor=-1000))
    _, differences = settle_fx(matched, CONVERTED, chargebacks=only, chargebacks_posted=POSTED)
    assert [(d.chargeback_id, d.difference_minor) for d in differences] == [("cb_2", -2178 + 660)]
    # a line naming a dispute paymux does not hold (its report not in yet) is not charged
    # to the one it holds
    elsewhere = result(dispute("chargeback", "dp_elsewhere", gross_minor=-1000))
    marked, differences = settle_fx(
        elsewhere, CONVERTED, chargebacks=only, chargebacks_posted=POSTED
    )
    assert differences == []
    assert marked.lines.equals(elsewhere.lines)


def test_two_lines_settling_one_chargeback_book_nothing() -> None:
    known = chargebacks(("pay_1", "cb_1", "dp_1"))
    matched = result(
        dispute("chargeback", "dp_1"),
        dispute("chargeback", "dp_1", line_reference="ln_second"),
        dispute("chargeback_reversal", "dp_1"),
    )
    _, differences = settle_fx(matched, CONVERTED, chargebacks=known, chargebacks_posted=POSTED)
    assert [(d.line_type, d.chargeback_id) for d in differences] == [
        ("chargeback_reversal", "cb_1")
    ]


def test_a_chargeback_line_of_another_amount_is_an_amount_mismatch_not_an_fx_difference() -> None:
    known = chargebacks(("pay_1", "cb_2", "dp_2"))  # paymux holds a 1000 JPY dispute
    matched = result(dispute("chargeback", "dp_2"))  # the provider took 3333 JPY
    marked, differences = settle_fx(
        matched, CONVERTED, chargebacks=known, chargebacks_posted=POSTED
    )
    assert differences == []
    row = marked.lines.row(0, named=True)
    assert (row["kind"], row["expected_currency"], row["expected_minor"], row["matched"]) == (
        "amount_mismatch",
        "JPY",
        -1000,
        False,
    )


def test_a_line_of_a_payment_with_several_chargebacks_none_named_books_nothing() -> None:
    known = chargebacks(("pay_1", "cb_1", "dp_1"), ("pay_1", "cb_2", "dp_2"))
    matched = result(dispute("chargeback", None), dispute("chargeback", "dp_elsewhere"))
    marked, differences = settle_fx(
        matched, CONVERTED, chargebacks=known, chargebacks_posted=POSTED
    )
    assert differences == []
    assert marked.lines.equals(matched.lines)
    # the same lines naming one of them by their line id settle that one
    named = result(dispute("chargeback", None, line_reference="dp_2", gross_minor=-1000))
    _, differences = settle_fx(named, CONVERTED, chargebacks=known, chargebacks_posted=POSTED)
    assert [(d.chargeback_id, d.difference_minor) for d in differences] == [("cb_2", -1518)]


def test_a_reversal_of_a_chargeback_not_won_yet_books_nothing() -> None:
    matched = result(dispute("chargeback_reversal", "dp_2", gross_minor=1000))
    _, differences = settle_fx(
        matched,
        CONVERTED,
        chargebacks=chargebacks(("pay_1", "cb_2", "dp_2")),
        chargebacks_posted=POSTED,  # cb_2 was opened, never won
    )
    assert differences == []


def test_a_chargeback_line_settled_in_another_currency_is_a_currency_mismatch() -> None:
    matched = result(
        dispute("chargeback", "dp_1", settlement_currency="EUR"),
        dispute("chargeback_reversal", "dp_1"),
    )
    known = chargebacks(("pay_1", "cb_1", "dp_1"))
    marked, differences = settle_fx(
        matched, CONVERTED, chargebacks=known, chargebacks_posted=POSTED
    )
    assert [(d.line_type, d.difference_minor) for d in differences] == [
        ("chargeback_reversal", -22)
    ]
    rows = marked.lines.select("kind", "expected_currency", "matched").rows()
    assert rows == [("currency_mismatch", "USD", False), (None, "JPY", True)]


def test_chargeback_lines_with_a_discrepancy_or_of_other_payments_are_left_alone() -> None:
    matched = result(
        dispute("chargeback", "dp_1", kind="status_mismatch"),
        dispute("chargeback", "dp_3", payment_id="pay_other"),
    )
    assert disputed_payments(matched, CONVERTED) == []
    known = chargebacks(("pay_1", "cb_1", "dp_1"), ("pay_other", "cb_3", "dp_3"))
    marked, differences = settle_fx(
        matched, CONVERTED, chargebacks=known, chargebacks_posted=POSTED
    )
    assert differences == []
    assert marked.lines.equals(matched.lines)
