"""The FX differences of converted captures and refunds (:func:`settle_fx`), on frames."""

from __future__ import annotations

from typing import Any

import polars as pl

from paymux.core.reconciliation.fx import (
    CONVERTED_SCHEMA,
    REFUND_POSTED_SCHEMA,
    FxDifference,
    converted_refunds,
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
        "fee_minor": 55 if type_ == "capture" else 0,
        "net_minor": 2123 if type_ == "capture" else -327,
        "line_reference": f"ln_{type_}_{refund_id}",
        "psp_reference": "psp_1",
        "line_number": 2,
        "expected_currency": "JPY",
        "matched": True,
    }
    return {**base, **overrides}


def result(*lines: dict[str, Any]) -> MatchResult:
    frame = pl.DataFrame(
        list(lines),
        schema={
            "payment_id": pl.String(), "refund_id": pl.String(), "type": pl.String(),
            "kind": pl.String(), "currency": pl.String(), "settlement_currency": pl.String(),
            "fee_minor": pl.Int64(), "net_minor": pl.Int64(), "line_reference": pl.String(),
            "psp_reference": pl.String(), "line_number": pl.Int64(),
            "expected_currency": pl.String(), "matched": pl.Boolean(),
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
