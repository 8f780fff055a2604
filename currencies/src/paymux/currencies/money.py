"""The :class:`Money` value type: an integer count of minor units plus a currency."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Self

from paymux.currencies.errors import CurrencyMismatchError, InvalidAmountError
from paymux.currencies.iso4217 import get_currency
from paymux.currencies.parsing import MAX_AMOUNT_LENGTH, format_amount, parse_amount

__all__ = ["Money"]


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of money: ``minor`` units of an ISO 4217 ``currency``.

    ``Money(1230, "EUR")`` is 12.30 EUR, ``Money(1500, "JPY")`` is 1500 JPY and
    ``Money(1234, "KWD")`` is 1.234 KWD: the number of decimal places is the
    currency's ISO 4217 exponent. Money is never a float: ``minor`` must be an
    ``int`` and the class has no ``__float__`` and no division.

    The constructor accepts withdrawn currencies (``HRK``) so that history can
    be represented; :meth:`parse` refuses them for new input.

    Raises:
        TypeError: ``minor`` is not an ``int``, or is a ``bool``.
        UnknownCurrencyError: ``currency`` is not an exact, known ISO 4217
            code with a minor unit.
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        minor: object = self.minor
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise TypeError(
                f"Money.minor must be an int count of minor units, not {type(minor).__name__}; "
                "use Money.parse() for decimal strings or Money.from_decimal() for Decimals"
            )
        get_currency(self.currency)

    # -- construction -------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Self:
        """Return zero in ``currency``."""
        return cls(0, currency)

    @classmethod
    def of_minor(cls, minor: int, currency: str) -> Self:
        """Return ``minor`` units of ``currency`` (same as the constructor)."""
        return cls(minor, currency)

    @classmethod
    def parse(cls, text: object, currency: str) -> Self:
        """Parse a strict decimal string such as ``"10.50"`` (see :func:`parse_amount`).

        Raises:
            InvalidAmountError: ``text`` is not a valid amount string for
                ``currency`` (including non-strings such as JSON numbers).
            UnknownCurrencyError: ``currency`` is unknown.
            WithdrawnCurrencyError: ``currency`` has been withdrawn.
        """
        return cls(parse_amount(text, currency), currency)

    @classmethod
    def from_decimal(cls, value: Decimal, currency: str) -> Self:
        """Convert a :class:`~decimal.Decimal` exactly, never rounding.

        ``Money.from_decimal(Decimal("12.3"), "EUR") == Money(1230, "EUR")``.
        Trailing zeros don't count: ``Decimal("12.300")`` is exactly 12.30 EUR.
        Withdrawn currencies are accepted, as for the constructor.

        Raises:
            TypeError: ``value`` is not a ``Decimal`` (floats are refused).
            InvalidAmountError: ``value`` is NaN or infinite, has more
                significant decimal places than the currency's exponent, or
                more than :data:`~paymux.currencies.parsing.MAX_AMOUNT_LENGTH`
                integer digits.
            UnknownCurrencyError: ``currency`` is unknown.
        """
        if not isinstance(value, Decimal):
            raise TypeError(
                f"Money.from_decimal() needs a decimal.Decimal, not {type(value).__name__}"
            )
        if value.is_nan():
            raise InvalidAmountError("NaN is not an amount")
        if value.is_infinite():
            raise InvalidAmountError("Infinity is not an amount")
        exponent = get_currency(currency).exponent
        if value.is_zero():
            return cls(0, currency)
        if value.adjusted() >= MAX_AMOUNT_LENGTH:
            raise InvalidAmountError(
                f"Decimal amount is too large: more than {MAX_AMOUNT_LENGTH} integer digits"
            )
        sign, digits, exp = value.as_tuple()
        if not isinstance(exp, int):  # pragma: no cover - NaN/Infinity refused above
            raise InvalidAmountError(f"{value} is not an amount")
        coefficient = "".join(map(str, digits)).rstrip("0")
        exp += len(digits) - len(coefficient)  # drop trailing zeros: 12.300 -> 12.3
        places = max(0, -exp)
        if places > exponent:
            allowed = "no decimal places" if exponent == 0 else f"at most {exponent}"
            raise InvalidAmountError(
                f"Decimal({str(value)!r}) has {places} decimal place"
                f"{'' if places == 1 else 's'} but {currency} allows {allowed}"
            )
        minor = int(coefficient) * 10 ** (exp + exponent)
        return cls(-minor if sign else minor, currency)

    # -- views --------------------------------------------------------------

    @property
    def exponent(self) -> int:
        """The currency's ISO 4217 exponent (number of decimal places)."""
        return get_currency(self.currency).exponent

    def to_decimal(self) -> Decimal:
        """Return the exact amount as a Decimal with exactly ``exponent`` places.

        ``Money(1230, "EUR").to_decimal() == Decimal("12.30")`` (and its string
        form is ``"12.30"``).
        """
        digits = tuple(int(d) for d in str(abs(self.minor)))
        return Decimal((1 if self.minor < 0 else 0, digits, -self.exponent))

    @property
    def amount_str(self) -> str:
        """The canonical decimal string: ``"12.30"``, ``"1500"``, ``"1.234"``, ``"-0.05"``."""
        return format_amount(self.minor, self.currency)

    def __str__(self) -> str:
        return f"{self.amount_str} {self.currency}"

    @property
    def is_zero(self) -> bool:
        """``True`` if the amount is zero."""
        return self.minor == 0

    @property
    def is_positive(self) -> bool:
        """``True`` if the amount is greater than zero."""
        return self.minor > 0

    @property
    def is_negative(self) -> bool:
        """``True`` if the amount is less than zero."""
        return self.minor < 0

    # -- arithmetic ---------------------------------------------------------

    def _same_currency(self, other: Money, verb: str) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot {verb} {self.currency} and {other.currency}: currencies differ"
            )

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError(
                f"Money can only be multiplied by an int, not {type(factor).__name__}; "
                "for rates and percentages, compute in Decimal and round explicitly"
            )
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    # -- ordering (equality is the dataclass's: same minor and same currency) --

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.minor >= other.minor

    @classmethod
    def sum(cls, items: Iterable[Money], currency: str) -> Money:
        """Add up ``items``, all in ``currency``; an empty iterable gives zero.

        Raises:
            CurrencyMismatchError: an item is in another currency.
            TypeError: an item is not a :class:`Money`.
            UnknownCurrencyError: ``currency`` is unknown.
        """
        total = 0
        get_currency(currency)
        for item in items:
            if not isinstance(item, Money):
                raise TypeError(f"Money.sum() needs Money items, not {type(item).__name__}")
            if item.currency != currency:
                raise CurrencyMismatchError(
                    f"cannot sum {item.currency} into a {currency} total: currencies differ"
                )
            total += item.minor
        return Money(total, currency)
