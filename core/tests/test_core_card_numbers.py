"""Finding and masking card numbers: what counts in logs, what a request is refused for."""

from __future__ import annotations

import random

import pytest
from stdnum import luhn

from paymux.core.card_numbers import contains_card_number, find_card_numbers, redact_card_numbers

TEST_CARDS = ("4242424242424242", "4000056655665556", "5555555555554444", "378282246310005")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("4242424242424242", ["4242424242424242"]),
        ("card 4242 4242 4242 4242.", ["4242424242424242"]),
        ("4000-0566-5566-5556", ["4000056655665556"]),
        ("3782 822463 10005", ["378282246310005"]),
        ("4242+4242+4242+4242", ["4242424242424242"]),
        ("4242%204242%204242%204242", ["4242424242424242"]),
        ("12 4242 4242 4242 4242", ["4242424242424242"]),
        ("4242424242424242 5555555555554444", ["4242424242424242", "5555555555554444"]),
        ("4242424242424241", []),  # Luhn fails
        ("424242424242", []),  # 12 digits
        ("42424242424242424242", []),  # 20 digits: not a card, and no card inside
    ],
)
def test_strict_finds_card_numbers_as_people_type_them(text: str, found: list[str]) -> None:
    assert [match.digits for match in find_card_numbers(text, strict=True)] == found


@pytest.mark.parametrize(
    "text",
    [
        "BE68 5390 0754 7034",  # IBANs: letters before the digits
        "DE89 3704 0044 0532 0130 00",
        "FR1420041010050500013M02606",
        "+49 4242 4242 4242 4242",  # a phone number
        "ord_4242424242424242",  # a prefixed id
        "4242424242424242ab",  # hex
        "0.4242424242424242",  # a decimal number
        "1732471217000",  # milliseconds since 1970: not a card network's first digit
        "9999999999999995",
        "42424242-4242-4242-4242-424242424242",  # a UUID of digits
        "2026-11-24 18:00:17",
    ],
)
def test_strict_leaves_ids_ibans_phone_numbers_and_decimals(text: str) -> None:
    assert not contains_card_number(text, strict=True)


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("paid with 4242424242424242", "paid with [card number ending 4242]"),
        ("4242 4242 4242 4242 and 3782-822463-10005", None),
        (
            "GET /v1/x?q=5555+5555+5555+4444 HTTP/1.1",
            "GET /v1/x?q=[card number ending 4444] HTTP/1.1",
        ),
        ("evt_4000056655665556", "evt_[card number ending 5556]"),
        ("amount 12.50 EUR, id 123", "amount 12.50 EUR, id 123"),
    ],
)
def test_logs_mask_every_luhn_valid_run(text: str, redacted: str | None) -> None:
    result = redact_card_numbers(text)
    if redacted is not None:
        assert result == redacted
    for number in TEST_CARDS:
        assert number not in result.replace(" ", "").replace("-", "")


def test_any_luhn_valid_number_of_13_to_19_digits_is_masked_in_any_text() -> None:
    rng = random.Random(7)
    for _ in range(500):
        length = rng.randint(13, 19)
        body = "".join(rng.choice("0123456789") for _ in range(length - 1))
        number = body + luhn.calc_check_digit(body)
        text = f"{rng.choice(['', 'x ', 'id=', 'card_'])}{number}{rng.choice(['', ' y', '.'])}"
        assert number not in redact_card_numbers(text), text


@pytest.mark.parametrize("soup", ["1 " * 32_768, "4 " * 32_768, "4242 " * 13_107, "1-" * 32_768])
def test_digit_soup_takes_linear_time(soup: str) -> None:
    import time

    started = time.perf_counter()
    redact_card_numbers(soup)
    contains_card_number(soup, strict=True)
    assert time.perf_counter() - started < 1.0  # 64 KiB; about 0.05 s on an idle machine
