"""Accept-Language negotiation and the localized ``display`` of response models."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from paymux.app import schemas
from paymux.app.localization import (
    Display,
    DisplayLocale,
    LanguageRange,
    Localizable,
    lookup_locale,
    negotiate_locale,
    parse_accept_language,
)
from paymux.app.schemas import (
    FxQuoteOut,
    OrderOut,
    PayoutOut,
    RefundOut,
    RefundPartOut,
    WalletBalanceOut,
    WalletOut,
)
from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.currencies.display import format_day_range, format_instant

NBSP = "\u00a0"
NNBSP = "\u202f"
RLM = "\u200f"
AT = datetime(2026, 11, 24, 21, 0, 0, tzinfo=UTC)


def _tags(header: str | None) -> list[tuple[str, float]]:
    return [(r.tag, r.q) for r in parse_accept_language(header)]


def _locale(header: str | None) -> str | None:
    found = negotiate_locale(header)
    return None if found is None else found.tag


# --- Accept-Language ---------------------------------------------------------------------


def test_ranges_are_ordered_by_q_keeping_the_order_of_equals() -> None:
    assert _tags("da, en-GB;q=0.8, en;q=0.7") == [("da", 1.0), ("en-GB", 0.8), ("en", 0.7)]
    assert _tags("fr;q=0.5, de-CH, ja;q=0.5, *;q=0.1") == [
        ("de-CH", 1.0),
        ("fr", 0.5),
        ("ja", 0.5),
        ("*", 0.1),
    ]
    assert _tags(" de ; Q=0.9 ,\ten\t") == [("en", 1.0), ("de", 0.9)]
    assert _tags("de_DE") == [("de-DE", 1.0)]


@pytest.mark.parametrize(
    "element",
    [
        "de;q=1.5",  # q above 1
        "de;q=0.1234",  # four decimals
        "de;q=",
        "de;q=abc",
        "de;q=0.5;q=0.4",  # q twice
        "de;level=1",  # not a q
        "de--DE",
        "toolonglanguage",
        "d€",
        "",
        "-de",
    ],
)
def test_a_malformed_element_is_skipped_not_fatal(element: str) -> None:
    assert _tags(f"{element}, fr;q=0.3") == [("fr", 0.3)]
    assert _tags(element) == []
    assert negotiate_locale(element) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE", "de-DE"),
        ("ja-JP,ja;q=0.9,en;q=0.8", "ja-JP"),
        ("ar-KW", "ar-KW"),
        ("fr-CH, fr;q=0.9", "fr-CH"),
        ("de-XX", "de"),  # no such region: the language
        ("de-CH-x-shop", "de-CH"),  # private use dropped, with its singleton
        ("xx-YY, de;q=0.4", "de"),  # an unknown language: the next range
        ("x-klingon, i-default, fr;q=0.1", "fr"),  # not languages CLDR has
        ("zh-TW", "zh-Hant-TW"),  # CLDR's likely script
        ("DE-de", "de-DE"),  # case does not matter
        ("*", "en"),  # anything: English
        ("*;q=0.5, ja;q=0.9", "ja"),
        ("en;q=0, *", None),  # anything but English: nothing to show it in
        ("de;q=0, de-AT, fr;q=0.5", "fr"),  # de-AT is German, which is refused
        ("de;q=0", None),
        ("", None),
        (None, None),
        ("xx, yy-ZZ", None),
        (";;;,,,", None),
    ],
)
def test_negotiation(header: str | None, expected: str | None) -> None:
    assert _locale(header) == expected


def test_lookup_falls_back_to_shorter_tags() -> None:
    assert lookup_locale("de-CH") == DisplayLocale(tag="de-CH", babel="de_CH")
    assert lookup_locale("de-XX") == DisplayLocale(tag="de", babel="de")
    assert lookup_locale("en-US-x-a-b") == DisplayLocale(tag="en-US", babel="en_US")
    assert lookup_locale("zz-ZZ") is None
    assert lookup_locale("") is None
    assert lookup_locale("*") is None
    assert lookup_locale("en-" + "-".join(["abcdefgh"] * 2000)) is None  # ignored, not slow


def test_only_the_first_elements_of_a_huge_header_are_read() -> None:
    header = ", ".join(["xx"] * 40 + ["de"])
    assert negotiate_locale(header) is None
    assert _locale(", ".join(["xx"] * 10 + ["de"])) == "de"


LANGUAGE_RANGE = st.from_regex(r"\A(\*|[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8}){0,3})\Z")
Q = st.from_regex(r"\A(0(\.[0-9]{0,3})?|1(\.0{0,3})?)\Z")
ELEMENT = st.builds(
    lambda tag, q, junk: f"{tag}{'' if q is None else ';q=' + q}{junk}",
    LANGUAGE_RANGE,
    st.none() | Q,
    st.sampled_from(["", " ", ";", ";x=1", "=", "\t"]),
)


@given(st.lists(ELEMENT, max_size=8).map(", ".join) | st.text(max_size=200))
def test_negotiation_never_raises(header: str) -> None:
    found = negotiate_locale(header)
    for parsed in parse_accept_language(header):
        assert 0.0 <= parsed.q <= 1.0
    if found is not None:
        # whatever was chosen can show money and dates
        assert format_instant(AT, found.babel)
        assert found.tag.replace("-", "_") == found.babel


@given(st.lists(st.tuples(LANGUAGE_RANGE, st.none() | Q), min_size=1, max_size=6))
def test_well_formed_headers_parse_completely(elements: list[tuple[str, str | None]]) -> None:
    header = ", ".join(tag if q is None else f"{tag};q={q}" for tag, q in elements)
    parsed = parse_accept_language(header)
    expected = [LanguageRange(tag, 1.0 if q is None else float(q)) for tag, q in elements]
    assert sorted(parsed, key=repr) == sorted(expected, key=repr)
    assert [r.q for r in parsed] == sorted((r.q for r in parsed), reverse=True)


# --- localized models ----------------------------------------------------------------------


def _refund(currency: str, amount: str, parts: list[str]) -> RefundOut:
    return RefundOut(
        id="re_1",
        payment_id="pay_1",
        status=RefundStatus.SUCCEEDED,
        currency=currency,
        amount=amount,
        reason=None,
        failure_code=None,
        parts=[RefundPartOut(payment_order_id=f"po_{i}", amount=a) for i, a in enumerate(parts)],
        created_at=AT,
    )


def _payout(
    currency: str, amount: str, paid_in: str | None = None, paid: str | None = None
) -> PayoutOut:
    quote = (
        None
        if paid_in is None
        else FxQuoteOut(
            base=currency,
            quote=paid_in,
            rate="0.0061",
            source="ecb",
            rate_date="2026-11-23",
            created_at=AT,
            expires_at=AT.replace(minute=15),
        )
    )
    return PayoutOut(
        id="po_1",
        seller_id="s",
        status=PayoutStatus.PAID,
        currency=currency,
        amount=amount,
        payout_currency=paid_in or currency,
        payout_amount=paid or amount,
        fx_quote=quote,
        provider="sandbox",
        failure_code=None,
        created_at=AT,
    )


def _display(model: Localizable, tag: str) -> dict[str, Any]:
    shown = model.__class__.model_validate_json(_localize(model, tag).model_dump_json()).model_dump(
        mode="json"
    )
    return shown


def _localize(model: Localizable, tag: str) -> Localizable:
    from paymux.app.localization import localize

    return localize(model, lookup_locale(tag))


@pytest.mark.parametrize(
    ("tag", "currency", "amount", "parts", "texts", "created"),
    [
        (
            "de-DE",
            "EUR",
            "1234.56",
            ["1000.00", "234.56"],
            [f"1.234,56{NBSP}€", f"1.000,00{NBSP}€", f"234,56{NBSP}€"],
            "24.11.2026, 21:00:00 UTC",
        ),
        (
            "ja-JP",
            "JPY",
            "10000",
            ["9999", "1"],
            ["￥10,000", "￥9,999", "￥1"],
            "2026/11/24 21:00:00 UTC",
        ),
        (
            # CLDR shows KWD with three decimals too; ISO 4217 says so either way
            "ar-KW",
            "KWD",
            "1234.567",
            ["1234.000", "0.567"],
            [
                f"{RLM}1,234.567{NBSP}د.ك.{RLM}",
                f"{RLM}1,234.000{NBSP}د.ك.{RLM}",
                f"{RLM}0.567{NBSP}د.ك.{RLM}",
            ],
            f"24{RLM}/11{RLM}/2026، 9:00:00 م UTC",
        ),
        (
            "en-US",
            "KWD",
            "1.5",
            ["1.5", "0"],
            ["KWD1.500", "KWD1.500", "KWD0.000"],
            f"Nov 24, 2026, 9:00:00{NNBSP}PM UTC",
        ),
        (
            "fr-CH",
            "CHF",
            "1234.5",
            ["1234.5", "0"],
            [f"1{NNBSP}234,50{NBSP}CHF", f"1{NNBSP}234,50{NBSP}CHF", f"0,00{NBSP}CHF"],
            "24 nov. 2026, 21:00:00 TU",
        ),
        (
            # CLDR shows IQD without decimals: its ISO exponent (3) wins
            "en-US",
            "IQD",
            "1.005",
            ["1", "0.005"],
            ["IQD1.005", "IQD1.000", "IQD0.005"],
            f"Nov 24, 2026, 9:00:00{NNBSP}PM UTC",
        ),
    ],
)
def test_refunds_are_localized_with_iso_decimals(
    tag: str,
    currency: str,
    amount: str,
    parts: list[str],
    texts: list[str],
    created: str,
) -> None:
    refund = _refund(currency, amount, parts)
    shown = _display(refund, tag)
    assert shown["display"] == {"locale": tag, "amount": texts[0], "created_at": created}
    assert [p["display"] for p in shown["parts"]] == [
        {"locale": tag, "amount": text} for text in texts[1:]
    ]
    # the machine fields are the same with and without a display
    assert _without_display(shown) == json.loads(refund.model_dump_json())


def test_payouts_are_localized() -> None:
    shown = _display(_payout("JPY", "150000"), "ja-JP")
    assert shown["display"] == {
        "locale": "ja-JP",
        "amount": "￥150,000",
        "payout_amount": "￥150,000",
        "created_at": "2026/11/24 21:00:00 UTC",
    }
    assert _display(_payout("EUR", "1234.56"), "de-DE")["display"]["amount"] == f"1.234,56{NBSP}€"


def test_converted_payouts_show_each_amount_in_its_own_currency_and_the_quote() -> None:
    shown = _display(_payout("JPY", "150000", "EUR", "915.00"), "de-DE")
    assert shown["display"] == {
        "locale": "de-DE",
        "amount": f"150.000{NBSP}¥",
        "payout_amount": f"915,00{NBSP}€",
        "created_at": "24.11.2026, 21:00:00 UTC",
    }
    assert shown["fx_quote"]["display"] == {
        "locale": "de-DE",
        "rate_date": "23. Nov. 2026",
        "created_at": "24.11.2026, 21:00:00 UTC",
        "expires_at": "24.11.2026, 21:15:00 UTC",
    }
    assert shown["fx_quote"]["rate"] == "0.0061"  # a rate is not money: machine form only


def test_wallets_are_localized_per_currency() -> None:
    wallet = WalletOut(
        seller_id="s",
        balances=[
            WalletBalanceOut(
                currency=currency,
                pending=amount,
                available=amount,
                in_transit=amount,
                paid_out=amount,
                disputed=amount,
                receivable=amount,
            )
            for currency, amount in (("EUR", "1234.56"), ("JPY", "500"), ("KWD", "0.001"))
        ],
    )
    shown = _display(wallet, "de-DE")
    assert shown["display"] == {"locale": "de-DE"}  # the wallet itself has no values
    fields = ("pending", "available", "in_transit", "paid_out", "disputed", "receivable")
    assert [b["display"] for b in shown["balances"]] == [
        {"locale": "de-DE", **dict.fromkeys(fields, text)}
        for text in (f"1.234,56{NBSP}€", f"500{NBSP}¥", f"0,001{NBSP}KWD")
    ]


def test_order_amounts_take_the_payments_currency_and_delivery_days_are_shown() -> None:
    order = OrderOut(
        id="po_1",
        seller_id="s",
        reference="r",
        amount="30.00",
        commission="3.00",
        logistics_fee="4.50",
        status=PaymentStatus.PENDING,
        failure_code=None,
        estimated_delivery="2026-12-01/2026-12-03",
    )
    # no currency around the order: amounts cannot be shown, the days still can
    alone = _display(order, "de-DE")["display"]
    assert alone == {"locale": "de-DE", "estimated_delivery": "1.–3. Dez. 2026"}
    assert format_day_range(date(2026, 12, 1), date(2026, 12, 1), "de_DE") == "1. Dez. 2026"


def test_a_value_that_cannot_be_shown_is_left_out() -> None:
    refund = _refund("XXX", "1.00", ["1.00"])  # no such currency: only the date is shown
    shown = _display(refund, "de-DE")
    assert shown["display"] == {"locale": "de-DE", "created_at": "24.11.2026, 21:00:00 UTC"}
    assert "display" not in shown["parts"][0]  # a nested object with nothing shown has none


def test_without_a_locale_nothing_changes() -> None:
    refund = _refund("EUR", "1.00", ["1.00"])
    from paymux.app.localization import localize

    assert localize(refund, None) is refund
    assert "display" not in json.loads(refund.model_dump_json())


def test_naive_datetimes_are_taken_as_utc() -> None:
    assert format_instant(datetime(2026, 11, 24, 21), "de_DE") == "24.11.2026, 21:00:00 UTC"


def _without_display(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_display(v) for k, v in node.items() if k != "display"}
    if isinstance(node, list):
        return [_without_display(item) for item in node]
    return node


# --- coverage: a new amount or date field cannot slip past the display ---------------------

LOCALIZED_ANSWERS = (
    "PaymentOut",
    "RefundOut",
    "ShipmentOut",
    "PayoutOut",
    "WalletOut",
    "AccountOut",
    "EntriesPage",
    "LedgerTransactionOut",
)
_TEXT = (str, str | None)
"""An amount field's annotation (an optional one too: a converted payment's settlement)."""
AMOUNT_NAME = re.compile(
    r"(^|_)(amount|commission|fee|balance|released|pending|available|in_transit|paid_out"
    r"|disputed|receivable)$"
)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _has_datetime(annotation: Any) -> bool:
    if annotation in (datetime, date):
        return True
    return any(_has_datetime(arg) for arg in get_args(annotation))


def _tree(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen or model is Display:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for inner in _models_in(field.annotation):
            _tree(inner, seen)


@pytest.mark.parametrize("name", LOCALIZED_ANSWERS)
def test_every_amount_and_date_of_a_localized_answer_is_shown(name: str) -> None:
    models: set[type[BaseModel]] = set()
    _tree(getattr(schemas, name), models)
    for model in models:
        fields = model.model_fields
        dated = [n for n, f in fields.items() if _has_datetime(f.annotation)]
        amounts = [n for n, f in fields.items() if f.annotation in _TEXT and AMOUNT_NAME.search(n)]
        if dated or amounts or model.__name__ == name:
            assert issubclass(model, Localizable), f"{model.__name__} cannot carry a display"
        if issubclass(model, Localizable):
            assert sorted(model.display_amounts) == sorted(amounts), model.__name__
            for currency_field in model.display_amounts.values():
                assert any(currency_field in m.model_fields for m in models), model.__name__
