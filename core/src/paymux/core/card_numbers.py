"""Card numbers (PANs) in text: digit runs of 13 to 19 digits that pass the Luhn check.

Two uses with two strictnesses (``docs/security/pci.md``):

- :func:`redact_card_numbers` (logs) masks every Luhn-valid run of 13 to 19 digits, wherever it
  stands: a false positive only masks a number in a log line.
- :func:`find_card_numbers` with ``strict=True`` (requests paymux refuses) counts only what a
  person would type as a card number: the run stands alone (no letter, ``_`` or ``+`` next to
  it, so IBANs, prefixed ids, hex digests and phone numbers do not count), it starts with 2 to 6
  (the major industry identifiers of the card networks) and it is not part of a decimal
  number. A false positive refuses a request, so it must be rare.

A run may have single spaces or dashes between groups of digits (``4242 4242 4242 4242``,
``3782-822463-10005``; in URLs also ``+`` and ``%20``). For logs, every span of whole groups
with 13 to 19 digits is a candidate; strictly, only the whole run, one group, or groups as
cards are printed (fours; 4-6-5) are, so a card number next to another number
(``4242424242424242 12``, ``12 4242 4242 4242 4242``) is still found, but not the first groups
of a UUID made of digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from stdnum import luhn

MIN_DIGITS = 13
MAX_DIGITS = 19

_SEPARATOR = r"(?:[ +-]|%20|%2[dD])"
"""Between groups of digits: a space or a dash, also as a URL has them (``+``, ``%20``)."""
_RUN = re.compile(rf"(?<!%)(?<!%2)[0-9]+(?:{_SEPARATOR}[0-9]+)*")
_TOKEN = re.compile(rf"(?P<digits>[0-9]+)|{_SEPARATOR}")
_MAYBE = re.compile(rf"[0-9](?:{_SEPARATOR}?[0-9]){{12}}")
"""A quick test: no 13 digits in a row (separators allowed), no card number."""

_ISSUER_DIGITS = frozenset("23456")


@dataclass(frozen=True, slots=True)
class CardNumberMatch:
    """Where a card number stands in a text: ``text[start:end]``, and its digits."""

    start: int
    end: int
    digits: str


def _joined_to_word(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    for char in (before, after):
        if char and (char.isalnum() or char in "_+"):
            return True
    # a decimal number: "0.4242..." or "4242....50"
    if before in (".", ",") and start > 1 and text[start - 2].isdigit():
        return True
    return after in (".", ",") and end + 1 < len(text) and text[end + 1].isdigit()


def find_card_numbers(text: str, *, strict: bool = False) -> Iterator[CardNumberMatch]:
    """Every card number in ``text`` (overlapping candidates included), in order of start."""
    if not _MAYBE.search(text):
        return
    for run in _RUN.finditer(text):
        if strict and _joined_to_word(text, run.start(), run.end()):
            continue
        groups = [
            (run.start() + token.start(), run.start() + token.end())
            for token in _TOKEN.finditer(run.group())
            if token.group("digits")
        ]
        for first, (start, _) in enumerate(groups):
            digits = ""
            sizes: list[int] = []
            for last, (group_start, end) in enumerate(groups[first:], start=first):
                digits += text[group_start:end]
                sizes.append(end - group_start)
                if len(digits) > MAX_DIGITS:
                    break
                if len(digits) < MIN_DIGITS:
                    continue
                if strict and not (
                    digits[0] in _ISSUER_DIGITS
                    and (
                        (first == 0 and last == len(groups) - 1)  # the whole run
                        or len(sizes) == 1
                        or _printed_like_a_card(sizes)
                    )
                ):
                    continue
                if luhn.is_valid(digits):
                    yield CardNumberMatch(start, end, digits)


def _printed_like_a_card(sizes: list[int]) -> bool:
    """Groups as cards print them: fours (``4242 4242 4242 4242``, a short last group for 19
    digits), or 4-6-5 and 4-6-4 (American Express, Diners)."""
    if sizes in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(size == 4 for size in sizes[:-1]) and 1 <= sizes[-1] <= 4


def contains_card_number(text: str, *, strict: bool = False) -> bool:
    """Whether ``text`` holds a card number (see :func:`find_card_numbers`)."""
    return next(find_card_numbers(text, strict=strict), None) is not None


def redact_card_numbers(text: str) -> str:
    """``text`` with every card number masked as ``[card number ending 4242]``.

    Overlapping candidates are masked as one. The last four digits stay (PCI DSS allows
    them), so a masked false positive (a long numeric id) can still be told apart.
    """
    spans: list[tuple[int, int]] = []
    for match in find_card_numbers(text):
        if spans and match.start < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], match.end))
        else:
            spans.append((match.start, match.end))
    if not spans:
        return text
    parts: list[str] = []
    position = 0
    for start, end in spans:
        digits = "".join(token.group("digits") or "" for token in _TOKEN.finditer(text[start:end]))
        parts.append(text[position:start])
        parts.append(f"[card number ending {digits[-4:]}]")
        position = end
    parts.append(text[position:])
    return "".join(parts)
