"""Test cards and the outcomes they trigger (documented in docs/providers/sandbox.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scenario(StrEnum):
    """What the simulator does after the hosted page is submitted."""

    SUCCESS = "success"
    DECLINE = "decline"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    PENDING_THEN_SUCCESS = "pending_then_success"
    WEBHOOK_TWICE = "webhook_twice"
    WEBHOOKS_OUT_OF_ORDER = "webhooks_out_of_order"


@dataclass(frozen=True, slots=True)
class TestCard:
    """A card number and what paying with it does."""

    number: str
    scenario: Scenario
    description: str


TEST_CARDS: tuple[TestCard, ...] = (
    TestCard("4242424242424242", Scenario.SUCCESS, "succeeds"),
    TestCard("4000000000000002", Scenario.DECLINE, "declined (card_declined)"),
    TestCard("4000000000009995", Scenario.INSUFFICIENT_FUNDS, "declined (insufficient_funds)"),
    TestCard("4000000000003220", Scenario.PENDING_THEN_SUCCESS, "pending, then succeeds"),
    TestCard("4000000000000077", Scenario.WEBHOOK_TWICE, "succeeds; webhook sent twice"),
    TestCard(
        "4000000000000085",
        Scenario.WEBHOOKS_OUT_OF_ORDER,
        "pending then succeeded, delivered in reverse order",
    ),
)

TIMEOUT_BUYER_ID = "sandbox-timeout"
"""A payment of this buyer: the first registration attempt per idempotency key stalls."""

_BY_NUMBER = {card.number: card.scenario for card in TEST_CARDS}


class InvalidCardError(ValueError):
    """The card number is not a plausible card number."""


def normalize_card_number(raw: str) -> str:
    """Digits only; spaces and dashes are allowed in the input."""
    digits = raw.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise InvalidCardError("enter 12 to 19 digits")
    if not luhn_valid(digits):
        raise InvalidCardError("the card number is not valid")
    return digits


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a digit string."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def scenario_for(card_number: str) -> Scenario:
    """The scenario of a (normalized) card: a listed test card, or success for any other."""
    return _BY_NUMBER.get(card_number, Scenario.SUCCESS)
