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
with 13 to 19 digits is a candidate (in runs of up to 32 groups). Strictly, and in longer
runs, only the whole run, one group, or groups as cards are printed (fours; 4-6-5) are: a
card number next to another number (``4242424242424242 12``, ``12 4242 4242 4242 4242``) is
still found, but not the first groups of a UUID made of digits. Either way the work is linear
in the length of the text.
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
        sizes = [group_end - group_start for group_start, group_end in groups]
        for first, last in _spans(sizes, strict=strict):
            digits = "".join(text[begin:end] for begin, end in groups[first : last + 1])
            if strict and digits[0] not in _ISSUER_DIGITS:
                continue
            if luhn.is_valid(digits):
                yield CardNumberMatch(groups[first][0], groups[last][1], digits)


_MAX_GROUPS_FOR_EVERY_SPAN = 32
"""A longer run (a table of numbers, or an attack on the log filter) is looked at in linear
time: each group, the whole run, and groups as cards are printed."""


def _spans(sizes: list[int], *, strict: bool) -> Iterator[tuple[int, int]]:
    """The (first, last) groups of every candidate with 13 to 19 digits, by first group."""
    count = len(sizes)
    if strict or count > _MAX_GROUPS_FOR_EVERY_SPAN:
        yield from _card_like_spans(sizes)
        return
    for first in range(count):
        total = 0
        for last in range(first, count):
            total += sizes[last]
            if total > MAX_DIGITS:
                break
            if total >= MIN_DIGITS:
                yield first, last


def _card_like_spans(sizes: list[int]) -> Iterator[tuple[int, int]]:
    count = len(sizes)
    if MIN_DIGITS <= sum(sizes) <= MAX_DIGITS:
        yield 0, count - 1
    for first, size in enumerate(sizes):
        if count > 1 and MIN_DIGITS <= size <= MAX_DIGITS:
            yield first, first
        if size != 4:
            continue  # cards are printed starting with four digits
        for last in range(first + 2, min(count, first + 5)):
            window = sizes[first : last + 1]
            if (
                (first, last) != (0, count - 1)
                and MIN_DIGITS <= sum(window) <= MAX_DIGITS
                and _printed_like_a_card(window)
            ):
                yield first, last


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
