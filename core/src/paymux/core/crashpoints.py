"""Crash points: a testing aid that kills this process with SIGKILL at a named point.

paymux's crash tests prove that nothing is lost or done twice when a process dies at the worst
moment. The code paths that matter call :func:`reached` with one of the names below; when the
environment variable ``PAYMUX_CRASH_AT`` names that point, the process kills itself at once
with ``SIGKILL`` (no cleanup, no ``finally``, no rollback message to the database: as if the
machine had lost power). ``PAYMUX_CRASH_AT=<point>:<n>`` kills it the ``n``-th time this
process reaches the point (``<point>`` alone: the first time).

Unset (always, outside tests) a call costs one environment lookup. The variable is read at
every call, so only a process started with it set can die.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENVIRONMENT_VARIABLE = "PAYMUX_CRASH_AT"

PAYMENT_COMMITTED = "payment.committed"
"""The API committed a new payment with its outbox event and its held registration job."""

BEFORE_PSP_CALL = "registration.before_psp_call"
"""The API (inline) or a worker (the registration job) is about to register a payment at
its provider."""

PSP_ANSWERED = "registration.psp_answered"
"""The provider accepted a registration; its answer is not stored yet."""

STATUS_COMMITTED = "status.committed"
"""A transaction that changed payment order statuses (with their ledger postings and outbox
events) committed; nothing after it ran yet (no response, no relay)."""

RELAY_PUBLISHED = "relay.published"
"""The outbox relay handed a batch to every publisher; the batch is not marked published."""

REPORT_RECONCILED = "report.reconciled"
"""A worker committed the run of an announced settlement report; its job has not
answered the worker yet."""

POINTS = frozenset(
    {
        PAYMENT_COMMITTED,
        BEFORE_PSP_CALL,
        PSP_ANSWERED,
        STATUS_COMMITTED,
        RELAY_PUBLISHED,
        REPORT_RECONCILED,
    }
)
"""Every crash point."""

_hits: Counter[str] = Counter()
"""How often this process reached each point named by ``PAYMUX_CRASH_AT`` (the variable is
per process, and so is this count)."""


def reached(point: str) -> None:
    """Kill this process with ``SIGKILL`` if ``PAYMUX_CRASH_AT`` says so for ``point``.

    Raises :class:`ValueError` for a point not in :data:`POINTS`, or when the variable names
    ``point`` with a count that is not a positive integer.
    """
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}")
    wanted = os.environ.get(ENVIRONMENT_VARIABLE)
    if not wanted:
        return
    name, _, count = wanted.partition(":")
    if name != point:
        return
    if count and (not count.isdigit() or int(count) < 1):
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={wanted}: the count must be a positive integer")
    _hits[point] += 1
    if _hits[point] < (int(count) if count else 1):
        return
    os.write(2, f"paymux: crash point {point} reached (hit {_hits[point]}); SIGKILL\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)
