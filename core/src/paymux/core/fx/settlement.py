"""What a converted payment settles: its total converted once, shared out to its orders.

A payment whose provider settles in another currency is priced with one locked quote. Its
total is converted **once** (:func:`~paymux.core.fx.quotes.convert`, the one rounding step)
and the result is allocated to the orders in proportion to their amounts, so the orders'
settlement amounts always sum to the converted total. Refunds and chargebacks of part of an
order move :func:`settlement_share` of the order's settlement amount; refunds allocate it
cumulatively (what earlier refunds of the order moved is taken into account), so an order
refunded in several parts gives back exactly its settlement amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from paymux.core.fx.quotes import Quote, convert
from paymux.currencies import Money, allocate


def settlement_amounts(amounts: Sequence[Money], quote: Quote) -> tuple[Money, tuple[Money, ...]]:
    """The converted total of ``amounts`` (one currency, the quote's base) and each one's
    share of it, in the quote currency (the shares sum to the total)."""
    if not amounts:
        raise ValueError("a payment has at least one order")
    total = convert(Money.sum(amounts, quote.base), quote)
    if total.is_zero:
        return total, tuple(Money.zero(quote.quote) for _ in amounts)
    return total, tuple(allocate(total, [amount.minor for amount in amounts]))


def settlement_share(
    amount: Money, order_amount: Money, order_settlement: Money, *, prior: Money | None = None
) -> Money:
    """The part of an order's settlement amount that ``amount`` of the order moves.

    Allocated cumulatively: with ``prior`` of the order already moved (by earlier refunds),
    the share is ``round(S * (prior + amount) / A) - round(S * prior / A)`` (``S`` the
    order's settlement amount, ``A`` its amount, each rounded to the settlement currency's
    minor unit, half to even). So the whole order moved at once is exactly ``S``, and a
    sequence of parts that adds up to the order always sums to exactly ``S``: nothing is
    left over by rounding. Both legs of a transaction balance on their own (each in its
    currency).
    """
    if amount.currency != order_amount.currency:
        raise ValueError(f"{amount.currency} is not the order's currency {order_amount.currency}")
    before = prior if prior is not None else Money.zero(order_amount.currency)
    if before.currency != order_amount.currency:
        raise ValueError(f"{before.currency} is not the order's currency {order_amount.currency}")
    if order_amount.is_zero:
        return Money.zero(order_settlement.currency)
    upto = _rounded_share(before.minor + amount.minor, order_amount, order_settlement)
    return Money(upto - _rounded_share(before.minor, order_amount, order_settlement),
                 order_settlement.currency)  # fmt: skip


def _rounded_share(minor: int, order_amount: Money, order_settlement: Money) -> int:
    """``round(S * minor / A)`` in the settlement currency's minor units, half to even."""
    if minor == order_amount.minor:
        return order_settlement.minor
    with localcontext() as context:
        context.prec = 100
        exact = Decimal(order_settlement.minor) * Decimal(minor) / Decimal(order_amount.minor)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
