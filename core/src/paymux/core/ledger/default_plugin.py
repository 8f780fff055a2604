"""paymux's default posting rules as a plugin, answering ``paymux_ledger_entry`` last."""

from __future__ import annotations

from paymux.core.hookspecs import hookimpl
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import LedgerEvent, default_entry


@hookimpl(trylast=True)
def paymux_ledger_entry(event: LedgerEvent) -> JournalEntry | None:
    """The default rules of :mod:`paymux.core.ledger.rules`."""
    return default_entry(event)
