"""Localized display text in API responses, on request (``Accept-Language``).

A response model that carries money or dates derives from :class:`Localizable`. Without an
``Accept-Language`` header nothing changes: the machine fields (amounts as decimal strings in
major units, date-times in ISO 8601) are all there is. With one that names a locale CLDR
knows, :func:`localize` adds a ``display`` object to each such object of the response, with
the same field names and text for people::

    {"amount": "10000", "currency": "JPY", "created_at": "2026-11-24T21:00:00Z", ...,
     "display": {"locale": "ja-JP", "amount": "￥10,000", "created_at": "2026/11/24 21:00:00 UTC"}}

What is localized, per object:

- every ``datetime`` field (found by its value: a field added later is covered too), and
  every ``date`` field;
- the amount fields a model lists in :attr:`Localizable.display_amounts`, each with the field
  naming its currency, looked up in the object itself, then in the objects around it (an
  order's amounts are in its payment's ``currency``);
- the fields in :attr:`Localizable.display_days` (an ISO date or a range of two);
- the integer amounts in minor units a model lists in
  :attr:`Localizable.display_minor_amounts` (a discrepancy's ``expected_minor``), each with
  the fields that may name its currency.

Amounts keep the ISO 4217 exponent (KWD three decimals, JPY none) whatever CLDR's customary
digits say (:func:`paymux.currencies.format_money`). A value that cannot be shown (an unknown
currency, say) is left out of ``display``; localization never fails a request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from fastapi import Header
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from paymux.currencies import Money, MoneyError
from paymux.currencies.display import (
    find_locale,
    format_day_range,
    format_instant,
    format_money,
)

HEADER = "Accept-Language"

MAX_RANGES = 32
"""Only the first this many elements of an ``Accept-Language`` header are read."""

DEFAULT_TAG = "en"
"""The locale a wildcard (``*``) stands for: English, the API's own language."""

_RANGE = re.compile(r"^(?:\*|[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*)$")
_QVALUE = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")
_PRIMARY = re.compile(r"^[A-Za-z]{2,3}$")


@dataclass(frozen=True)
class LanguageRange:
    """One element of ``Accept-Language``: a language range (``de-CH``, ``*``) and its q."""

    tag: str
    q: float


def parse_accept_language(header: str | None) -> list[LanguageRange]:
    """The ranges of an ``Accept-Language`` header, most wanted first (RFC 9110, 12.5.4).

    Elements with the same ``q`` keep their order. A malformed element (a bad range, a bad
    or repeated ``q``) is skipped, not an error; ``q=0`` ranges ("not this one") are kept.
    Never raises.
    """
    if not header:
        return []
    ranges: list[LanguageRange] = []
    for element in header.split(",")[:MAX_RANGES]:
        parsed = _parse_element(element)
        if parsed is not None:
            ranges.append(parsed)
    return sorted(ranges, key=lambda item: -item.q)


def _parse_element(element: str) -> LanguageRange | None:
    tag, *parameters = (part.strip(" \t") for part in element.split(";"))
    if not _RANGE.match(tag):
        return None
    q = 1.0
    seen_q = False
    for parameter in parameters:
        name, equals, value = parameter.partition("=")
        if not equals or name.strip(" \t").lower() != "q" or seen_q:
            return None
        value = value.strip(" \t")
        if not _QVALUE.match(value):
            return None
        q = float(value)
        seen_q = True
    return LanguageRange(tag.replace("_", "-"), q)


MAX_TAG_LENGTH = 64
"""Longer language tags are ignored (each dropped subtag is a new lookup: a huge tag would
cost time on every request)."""


@dataclass(frozen=True)
class DisplayLocale:
    """A locale to show values in: ``tag`` for people and HTTP (``de-DE``), ``babel`` for
    Babel (``de_DE``)."""

    tag: str
    babel: str

    @classmethod
    def of(cls, babel_identifier: str) -> DisplayLocale:
        """The locale of a Babel identifier (``zh_Hant_TW`` -> tag ``zh-Hant-TW``)."""
        return cls(tag=babel_identifier.replace("_", "-"), babel=babel_identifier)


def lookup_locale(tag: str) -> DisplayLocale | None:
    """The locale for language tag ``tag``, falling back by dropping subtags from the end
    (RFC 4647 lookup): ``de-CH-x-shop`` -> ``de-CH``, ``de-XX`` -> ``de``; ``None`` when
    not even the language is known to CLDR."""
    if len(tag) > MAX_TAG_LENGTH:
        return None
    subtags = [part for part in re.split(r"[-_]", tag) if part]
    if not subtags or not _PRIMARY.match(subtags[0]):
        return None
    while subtags:
        found = find_locale("_".join(subtags))
        if found is not None:
            return DisplayLocale.of(found)
        subtags.pop()
        while subtags and len(subtags[-1]) == 1:  # no dangling singleton (x-, u-)
            subtags.pop()
    return None


def negotiate_locale(header: str | None) -> DisplayLocale | None:
    """The locale an ``Accept-Language`` header asks for, or ``None`` (no localization).

    The ranges are tried most wanted first, each with :func:`lookup_locale`'s fallback; ``*``
    stands for English (:data:`DEFAULT_TAG`); a locale whose language range has ``q=0`` is
    never chosen. An empty, unknown or malformed header gives ``None``. Never raises.
    """
    ranges = parse_accept_language(header)
    refused = [r.tag.lower() for r in ranges if r.q == 0]
    for wanted in ranges:
        if wanted.q == 0:
            continue
        found = lookup_locale(DEFAULT_TAG if wanted.tag == "*" else wanted.tag)
        if found is not None and not _is_refused(found.tag, refused):
            return found
    return None


def _is_refused(tag: str, refused: Iterable[str]) -> bool:
    lowered = tag.lower()
    return any(lowered == no or lowered.startswith(no + "-") for no in refused)


def requested_locale(
    accept_language: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Add a `display` object with amounts and dates for people in this "
            "language (e.g. `de-DE`, `ja;q=0.9, en;q=0.5`); see the API docs' localization "
            "page. Without it, or with no locale paymux knows, the answer has no `display`.",
        ),
    ] = None,
) -> DisplayLocale | None:
    """FastAPI dependency: the locale the request asks for, or ``None``."""
    return negotiate_locale(accept_language)


class Display(BaseModel):
    """Text for people: the locale, then the object's localized fields by the same names."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, str] = Field(init=False)

    locale: str = Field(description="The BCP 47 tag of the texts", examples=["de-DE"])


class Localizable(BaseModel):
    """A response object that may carry a :class:`Display` (see the module's docstring)."""

    display_amounts: ClassVar[Mapping[str, str]] = {}
    """Amount fields (decimal strings in major units) and the field naming each one's
    currency, in this object or an enclosing one."""

    display_days: ClassVar[tuple[str, ...]] = ()
    """Fields holding an ISO date or a range of two (``2026-12-01/2026-12-03``)."""

    display_minor_amounts: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Amount fields in minor units (integers) and the fields that may name their currency,
    first to last (the first that is set, in this object or an enclosing one)."""

    display: Display | SkipJsonSchema[None] = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Only when the request has an `Accept-Language` header naming a known "
        "locale: this object's amounts and dates as text for people in that locale, under "
        "the same field names (amounts with the currency's ISO 4217 decimals, date-times in "
        "UTC). For display only; never parse it.",
    )


L = TypeVar("L", bound=Localizable)


def localize(model: L, locale: DisplayLocale | None) -> L:
    """``model`` with a ``display`` in each of its :class:`Localizable` objects that has
    something to show (the outermost one always: it names the locale); ``model`` itself
    when ``locale`` is ``None``."""
    if locale is None:
        return model
    return _localized(model, locale, (), outermost=True)


def _localized(
    model: L, locale: DisplayLocale, outer: tuple[BaseModel, ...], *, outermost: bool
) -> L:
    enclosing: tuple[BaseModel, ...] = (model, *outer)
    texts: dict[str, str] = {}
    updates: dict[str, Any] = {}
    for name in type(model).model_fields:
        if name in {"display", "locale"}:
            continue
        value = getattr(model, name)
        text = _text(model, name, value, locale, enclosing)
        if text is not None:
            texts[name] = text
        elif isinstance(value, Localizable):
            updates[name] = _localized(value, locale, enclosing, outermost=False)
        elif isinstance(value, list) and any(isinstance(item, Localizable) for item in value):
            updates[name] = [
                _localized(item, locale, enclosing, outermost=False)
                if isinstance(item, Localizable)
                else item
                for item in value
            ]
    if texts or outermost:
        updates["display"] = Display(locale=locale.tag, **texts)
    return model.model_copy(update=updates) if updates else model


def _text(
    model: BaseModel,
    name: str,
    value: Any,
    locale: DisplayLocale,
    enclosing: tuple[BaseModel, ...],
) -> str | None:
    try:
        if isinstance(value, datetime):
            return format_instant(value, locale.babel)
        if isinstance(value, date):
            return format_day_range(value, value, locale.babel)
        kind = type(model)
        if not issubclass(kind, Localizable):
            return None
        if name in kind.display_minor_amounts:
            if not isinstance(value, int) or isinstance(value, bool):
                return None
            for field in kind.display_minor_amounts[name]:
                currency = _nearest(field, enclosing)
                if isinstance(currency, str):
                    return format_money(Money(value, currency), locale.babel)
            return None
        if not isinstance(value, str):
            return None
        if name in kind.display_amounts:
            currency = _nearest(kind.display_amounts[name], enclosing)
            if not isinstance(currency, str):
                return None
            return format_money(Money.parse(value, currency), locale.babel)
        if name in kind.display_days:
            first, _, last = value.partition("/")
            start = date.fromisoformat(first)
            return format_day_range(
                start, date.fromisoformat(last) if last else start, locale.babel
            )
    except (MoneyError, ValueError, OverflowError):
        return None
    return None


def _nearest(field: str, enclosing: tuple[BaseModel, ...]) -> Any:
    for model in enclosing:
        if field in type(model).model_fields:
            return getattr(model, field)
    return None


def display_headers(locale: DisplayLocale | None) -> dict[str, str]:
    """The headers of an answer that depends on ``Accept-Language``: ``Vary`` always,
    ``Content-Language`` when it was localized."""
    headers = {"Vary": HEADER}
    if locale is not None:
        headers["Content-Language"] = locale.tag
    return headers
