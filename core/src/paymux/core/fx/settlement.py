"""What a converted payment settles: its total converted once, shared out to its orders.

A payment whose provider settles in another currency is priced with one locked quote. Its
total is converted **once** (:func:`~paymux.core.fx.quotes.convert`, the one rounding step)
and the result is allocated to the orders in proportion to their amounts, so the orders'
settlement amounts always sum to the converted total. Refunds and chargebacks of part of an
order move :func:`settlement_share` of the order's settlement amount.
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


def settlement_share(amount: Money, order_amount: Money, order_settlement: Money) -> Money:
    """The part of an order's settlement amount that ``amount`` of the order moves.

    The whole order (``amount == order_amount``) moves exactly its settlement amount;
    a part moves ``order_settlement * amount / order_amount``, rounded once to the
    settlement currency's minor unit, half to even. Both legs of a transaction balance
    on their own (each in its currency); what several partial moves of one order leave
    over by rounding (a minor unit at most per move) stays in the platform's FX position.
    """
    if amount.currency != order_amount.currency:
        raise ValueError(f"{amount.currency} is not the order's currency {order_amount.currency}")
    if amount == order_amount:
        return order_settlement
    if order_amount.is_zero:
        return Money.zero(order_settlement.currency)
    with localcontext() as context:
        context.prec = 100
        exact = (
            Decimal(order_settlement.minor) * Decimal(amount.minor) / Decimal(order_amount.minor)
        )
        minor = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    return Money(minor, order_settlement.currency)
