"""What a provider plugin implements to have its settlement files reconciled.

A plugin returns :class:`SettlementParser` objects from the
``paymux_add_settlement_parsers`` hook. paymux picks, among the parsers of the provider a
file was given for, the first whose :meth:`~SettlementParser.accepts` says the file is
its format, parses the whole file (checking every batch with :func:`check_batch`) before
anything is written, then matches the lines.

A provider that can download its own report implements :class:`SettlementReportFetcher`
on its provider object; the worker then reconciles it every night. A provider that
announces its reports by webhook (Adyen's ``REPORT_AVAILABLE``) returns a
:class:`~paymux.core.ports.provider.SettlementReportAvailable` event from
``parse_webhook`` and implements :class:`SettlementReportDownloader`; the worker then
downloads and reconciles each announced report.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

import polars as pl

from paymux.core.ports.provider import SettlementReportAvailable
from paymux.core.reconciliation.amounts import check_currencies
from paymux.core.reconciliation.errors import MalformedSettlementError, WrongFormatError
from paymux.core.reconciliation.lines import LINE_SCHEMA, LINE_TYPES

HEAD_BYTES = 65536
"""How much of a file :meth:`SettlementParser.accepts` is shown."""


class SettlementParser(Protocol):
    """Reads one settlement format of one provider into normalized lines."""

    @property
    def provider(self) -> str:
        """The name of the provider whose files this reads (``"adyen"``)."""
        ...

    @property
    def format(self) -> str:
        """A short name of the format, shown in runs (``"adyen_settlement_detail"``)."""
        ...

    @property
    def settlement_delay(self) -> timedelta:
        """How long after a payment succeeded its capture may still be missing from the
        provider's files before paymux reports it missing in the settlement."""
        ...

    def accepts(self, head: bytes) -> bool:
        """Whether the file starting with ``head`` (its first :data:`HEAD_BYTES`) is this
        format. Look at the header, not the data; never raise."""
        ...

    def parse(self, path: Path) -> Iterator[pl.DataFrame]:
        """The file's lines as batches of :data:`~paymux.core.reconciliation.lines.LINE_SCHEMA`.

        Find columns by header name, never by position. Raise
        :class:`~paymux.core.reconciliation.errors.MalformedSettlementError` with the line
        number for a malformed line or header. Stream large files in batches.
        """
        ...


@runtime_checkable
class SettlementReportFetcher(Protocol):
    """A provider object that can download its own settlement report for a day."""

    async def fetch_settlement_report(self, day: date) -> bytes | None:
        """The report of ``day`` (as the file its parser reads), or ``None`` if there is
        none (yet). Raise a ``ProviderError`` when the provider cannot be reached."""
        ...


@runtime_checkable
class SettlementReportDownloader(Protocol):
    """A provider object that downloads the settlement reports its webhooks announce."""

    async def download_settlement_report(
        self, report: SettlementReportAvailable, destination: Path
    ) -> None:
        """Write the announced report (as the file its parser reads) to ``destination``.

        Called by a worker, outside any database transaction, possibly again for the same
        report (a retry, a replayed dead letter): stream large files, overwrite
        ``destination``. Raise a retryable ``ProviderError`` when the provider cannot be
        reached (the job is retried), a ``ProviderRejectedError`` when it refuses for good
        (wrong credentials, no such report: the job is dead-lettered).
        """
        ...


def choose_parser(parsers: list[SettlementParser], provider: str, path: Path) -> SettlementParser:
    """The parser of ``provider`` that accepts the file; :class:`WrongFormatError` if none."""
    mine = [parser for parser in parsers if parser.provider == provider]
    if not mine:
        raise WrongFormatError(f"no settlement format is known for provider {provider!r}")
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
    for parser in mine:
        if parser.accepts(head):
            return parser
    formats = ", ".join(parser.format for parser in mine)
    raise WrongFormatError(f"the file is not a {provider} settlement file (expected: {formats})")


def check_batch(frame: pl.DataFrame, provider: str) -> pl.DataFrame:
    """``frame`` if it is a valid batch of ``provider``'s lines; otherwise raise.

    Checks the columns and their types, the line types, the currencies, that every line
    names a PSP reference, and that ``net = gross - fee`` where no conversion happened.
    """
    if dict(frame.schema) != LINE_SCHEMA:
        raise TypeError(
            f"a settlement parser returned columns {dict(frame.schema)}, expected {LINE_SCHEMA}"
        )
    if frame.height == 0:
        return frame
    checks: list[tuple[pl.Expr, str]] = [
        (pl.col("provider") != provider, f"the line is not {provider}'s"),
        (~pl.col("type").is_in(sorted(LINE_TYPES)), "unknown line type"),
        (
            pl.col("psp_reference").is_null() | (pl.col("psp_reference") == ""),
            "no PSP reference",
        ),
        (pl.col("booking_date").is_null(), "no booking date"),
        (
            (
                pl.col("settlement_currency").is_null()
                | (pl.col("settlement_currency") == pl.col("currency"))
            )
            & (pl.col("net_minor") != pl.col("gross_minor") - pl.col("fee_minor")),
            "net is not gross minus fee",
        ),
    ]
    for condition, message in checks:
        bad = frame.filter(condition.fill_null(True))
        if bad.height:
            raise MalformedSettlementError(bad["line_number"][0], message)
    check_currencies(frame, "currency")
    check_currencies(
        frame.filter(pl.col("settlement_currency").is_not_null()), "settlement_currency"
    )
    return frame
