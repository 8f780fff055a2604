"""Scripted faults of the sandbox PSP's settlement files.

A fault changes what a settlement file says about a booking, never the booking itself:

* ``drop``: the line is left out;
* ``change_amount``: ``delta_minor`` (default +1) is added to the line's gross and net
  (signed as the file's amounts are, so +1 on a refund of -10.00 makes it -9.99);
* ``duplicate``: the line is written twice, with the same ``line_id``;
* ``late``: the line is left out of its day's file and written in the next day's file,
  booked one day later.

A fault with a ``reference`` hits every line whose booking that reference names: the
checkout's token or ``sbxref_…`` reference, paymux's payment id, a refund's or payout's
id at the sandbox or in paymux, or the line's ``line_id`` (``type`` narrows it to lines of
one type). A fault without one waits for the next settlement file that has a line it can
hit (of ``type``, if given) and takes that file's first ``lines`` such lines (in booking
order) no other fault took; it then stays with them, so every later copy of the file, and
for ``late`` the next day's file, shows the same fault. :meth:`SettlementFaults.clear`
ends them all: files are written as they truly are again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from paymux_sandbox.bookings import Booking, BookingType

SettlementFault = Literal["drop", "change_amount", "duplicate", "late"]
"""What a settlement fault does to a line."""


class SettlementFaultIn(BaseModel):
    """One settlement fault: what it does, and to which line(s)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fault: SettlementFault
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="The payment, refund, payout or line it hits; None: the next file's",
    )
    type: BookingType | None = Field(default=None, description="Only lines of this type")
    delta_minor: int = Field(default=1, description="change_amount: added to gross and net")
    lines: int = Field(default=1, ge=1, description="Without a reference: how many lines")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.delta_minor == 0:
            raise ValueError("delta_minor must not be 0")
        if self.fault != "change_amount" and self.delta_minor != 1:
            raise ValueError("delta_minor is for change_amount only")
        if self.reference is not None and self.lines != 1:
            raise ValueError("lines is for faults without a reference only")
        return self


class SettlementFaultPlanIn(BaseModel):
    """``POST /_admin/settlement-faults``: faults to add."""

    model_config = ConfigDict(extra="forbid")

    faults: list[SettlementFaultIn] = Field(min_length=1)


@dataclass
class _Rule:
    fault: SettlementFaultIn
    line_ids: tuple[str, ...] | None = None
    """The lines a fault without a reference took; ``None`` while it waits."""

    def hits(self, booking: Booking) -> bool:
        if self.fault.type is not None and booking.type != self.fault.type:
            return False
        if self.fault.reference is not None:
            return self.fault.reference in booking.references()
        return self.line_ids is not None and booking.line_id in self.line_ids


class SettlementFaults:
    """The settlement faults in force, in the order they were added."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []

    def add(self, fault: SettlementFaultIn) -> None:
        """Add one fault."""
        self._rules.append(_Rule(fault))

    def apply(self, plan: SettlementFaultPlanIn) -> None:
        """Add ``plan``'s faults."""
        for fault in plan.faults:
            self.add(fault)

    def clear(self) -> None:
        """No more settlement faults, waiting or taken."""
        self._rules.clear()

    def bind(self, bookings: Sequence[Booking]) -> None:
        """Let each waiting fault without a reference take its lines among ``bookings``
        (the bookings of the day whose file is being written, in booking order)."""
        taken = {line for rule in self._rules for line in rule.line_ids or ()}
        for rule in self._rules:
            if rule.fault.reference is not None or rule.line_ids is not None:
                continue
            wanted = rule.fault.type
            free = [
                booking.line_id
                for booking in bookings
                if booking.line_id not in taken and (wanted is None or booking.type == wanted)
            ]
            if free:
                rule.line_ids = tuple(free[: rule.fault.lines])
                taken.update(rule.line_ids)

    def of(self, booking: Booking) -> list[SettlementFaultIn]:
        """The faults that hit ``booking``'s line, in the order they were added."""
        return [rule.fault for rule in self._rules if rule.hits(booking)]

    def describe(self) -> dict[str, object]:
        """The faults in force and the lines those without a reference took."""
        return {
            "faults": [
                {
                    **rule.fault.model_dump(),
                    "line_ids": None if rule.line_ids is None else list(rule.line_ids),
                }
                for rule in self._rules
            ]
        }
