"""The bracket-form validator catches what Stripe would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from paymux_stripe.harness import find_specs_dir
from paymux_stripe.spec_validation import FormError, StripeSpec, as_lists, load_spec, parse_form

GOOD_SESSION = (
    "mode=payment&success_url=https://x/ok&line_items[0][quantity]=1"
    "&line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=2000"
    "&line_items[0][price_data][product_data][name]=Mug"
    "&payment_intent_data[transfer_group]=pay_1&metadata[a]=b"
)


@pytest.fixture(scope="module")
def spec() -> StripeSpec:
    folder = find_specs_dir(Path(__file__).parent)
    assert folder is not None
    return load_spec(folder / "spec3.yaml")


def test_brackets_become_nested_values() -> None:
    parsed = parse_form("a[b][0][c]=1&a[b][1][c]=2&a[d]=x%20y&e[]=p&e[]=q")
    assert as_lists(parsed) == {"a": {"b": [{"c": "1"}, {"c": "2"}], "d": "x y"}, "e": ["p", "q"]}
    with pytest.raises(FormError):
        parse_form("a=1&a[b]=2")
    with pytest.raises(FormError):
        parse_form("a]b=1")


def test_a_good_request_validates(spec: StripeSpec) -> None:
    assert spec.validate("POST", "/v1/checkout/sessions", "", GOOD_SESSION) == []
    assert spec.validate("GET", "/v1/checkout/sessions/cs_1", "expand[0]=payment_intent", "") == []


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "problem"),
    [
        ("POST", "/v1/nowhere", "", "", "no operation"),
        ("DELETE", "/v1/checkout/sessions", "", "", "no operation"),
        ("POST", "/v1/checkout/sessions", "", "mode=payment", "success_url: required"),
        ("POST", "/v1/checkout/sessions", "", GOOD_SESSION + "&colour=red", "colour: unknown"),
        (
            "POST",
            "/v1/checkout/sessions",
            "",
            GOOD_SESSION.replace("mode=payment", "mode=gift"),
            "not in",
        ),
        ("POST", "/v1/checkout/sessions", "", GOOD_SESSION.replace("=2000", "=20.5"), "integer"),
        (
            "POST",
            "/v1/checkout/sessions",
            "",
            GOOD_SESSION.replace("[0][quantity]", "[2][quantity]"),
            "indexes",
        ),
        (
            "POST",
            "/v1/checkout/sessions",
            "",
            GOOD_SESSION.replace("[product_data][name]", "[product_data][nom]"),
            "name: required",
        ),
        ("POST", "/v1/transfers", "", "amount=5&currency=eur", "destination: required"),
        ("GET", "/v1/checkout/sessions/cs_1", "colour=red", "", "unknown query parameter"),
        ("GET", "/v1/checkout/sessions/cs_1", "", "a=1", "unknown"),
    ],
)
def test_departures_from_the_spec_are_found(
    spec: StripeSpec, method: str, path: str, query: str, body: str, problem: str
) -> None:
    errors = spec.validate(method, path, query, body)
    assert any(problem in error for error in errors), errors


def test_literal_paths_win_over_templates(spec: StripeSpec) -> None:
    operation = spec.operation("POST", "/v1/checkout/sessions/cs_1/expire")
    assert operation is not None
    assert operation.template == "/v1/checkout/sessions/{session}/expire"
    assert operation.path_params == {"session": "cs_1"}
