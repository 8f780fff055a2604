"""The ECB's reference-rate XML (``eurofxref-daily.xml``, ``eurofxref-hist-90d.xml``).

The file is a ``gesmes:Envelope`` whose ``Cube`` holds one ``Cube time="YYYY-MM-DD"`` per
business day, each with ``Cube currency="USD" rate="1.0812"`` children: ``1 EUR = rate``.
Rates are read as decimal text, never through a float.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from paymux.currencies import is_active_currency

log = logging.getLogger(__name__)

EUROFXREF = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
_CUBE = f"{{{EUROFXREF}}}Cube"


class ReferenceRatesError(ValueError):
    """The document is not the ECB's reference-rate XML, or a value in it is wrong."""


@dataclass(frozen=True, slots=True)
class ReferenceDay:
    """The rates published for one day: ``1 EUR = rates[currency]``."""

    day: date
    rates: dict[str, Decimal]


def parse_reference_rates(document: bytes) -> list[ReferenceDay]:
    """Every day in ``document``, newest first (at least one, each with at least one rate).

    A currency that is not an active ISO 4217 code (the history files hold CYP, HRK, BGN
    ...) is skipped with a log line; a day left with no rate is an error.
    """
    if b"<!DOCTYPE" in document[:4096].upper():
        raise ReferenceRatesError("a document type declaration: not the ECB's reference rates")
    try:
        root = ElementTree.fromstring(document)  # noqa: S314 - no DTD (refused above)
    except ElementTree.ParseError as error:
        raise ReferenceRatesError(f"not XML: {error}") from None
    if not root.tag.endswith("}Envelope"):
        raise ReferenceRatesError(f"not the ECB's reference rates: root element {root.tag!r}")
    outer = root.find(_CUBE)
    if outer is None:
        raise ReferenceRatesError("no Cube element: not the ECB's reference rates")
    days = [_day(cube) for cube in outer.findall(_CUBE)]
    if not days:
        raise ReferenceRatesError("the document holds no day of rates")
    return sorted(days, key=lambda day: day.day, reverse=True)


def _day(cube: ElementTree.Element) -> ReferenceDay:
    text = cube.get("time", "")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ReferenceRatesError(f"a day's Cube has time={text!r}, not a date") from None
    rates: dict[str, Decimal] = {}
    for entry in cube.findall(_CUBE):
        currency, rate = entry.get("currency", ""), entry.get("rate", "")
        if not is_active_currency(currency):
            log.info(
                "ECB rates of %s: %r is not an active ISO 4217 currency, skipped", day, currency
            )
            continue
        try:
            value = Decimal(rate)
        except InvalidOperation:
            raise ReferenceRatesError(f"{day} {currency}: rate {rate!r} is not a number") from None
        if not value.is_finite() or value <= 0:
            raise ReferenceRatesError(f"{day} {currency}: rate {rate!r} is not positive")
        if currency in rates:
            raise ReferenceRatesError(f"{day}: {currency} appears twice")
        rates[currency] = value
    if not rates:
        raise ReferenceRatesError(f"{day}: no rates")
    return ReferenceDay(day, rates)
