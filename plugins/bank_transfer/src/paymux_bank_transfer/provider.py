"""The bank-transfer provider: pay-in by SEPA credit transfer, payouts as pain.001 batches.

Nothing is remote: the "PSP" is the platform's own bank account. A pay-in is a reference the
buyer quotes on their transfer; it settles when a statement line with that reference and the
exact amount is seen. Payouts collect in an open batch until an operator exports the batch
as a pain.001 file for the bank; statement lines then report them paid (or returned).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.identifiers import utc_now
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    PayoutRequest,
    PayoutResult,
    ProviderCapabilities,
    ProviderError,
    ProviderPaymentState,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RefundRequest,
    RefundResult,
    WebhookEvent,
    WebhookVerificationError,
)
from paymux.currencies import Money
from paymux_bank_transfer.config import BankTransferConfig
from paymux_bank_transfer.matching import (
    TRANSFER_RETURNED,
    LineOutcome,
    Match,
    keys_of,
    match_without_store,
    payment_event,
    payout_event,
    payout_failure_code,
    screen,
)
from paymux_bank_transfer.pain001 import Debtor, Transfer, build_batch, schema
from paymux_bank_transfer.references import ALPHABET, Identifiers, compact
from paymux_bank_transfer.sepa import SEPA_COUNTRIES, InvalidAccountError, normalize_bic
from paymux_bank_transfer.sepa import normalize_iban as _normalize_iban
from paymux_bank_transfer.signature import SIGNATURE_HEADER, verify
from paymux_bank_transfer.statements import Direction, StatementLine, parse_statement
from paymux_bank_transfer.store import (
    Store,
    batches,
    payouts,
    references,
    statement_lines,
    utc,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")

CURRENCY = "EUR"
MAX_AMOUNT_MINOR = 99_999_999_999
"""SEPA credit transfers carry at most 999 999 999.99 EUR."""


@dataclass(frozen=True, slots=True)
class Instruction:
    """What the buyer needs to make the transfer: the instruction page's content."""

    reference: str
    amount: Money
    beneficiary: str
    iban: str
    bic: str
    status: PaymentStatus
    expires_at: datetime
    return_url: str


@dataclass(frozen=True, slots=True)
class PayoutBatch:
    """An exported pain.001.001.09 file and what it holds."""

    batch_id: str
    message_id: str
    created_at: datetime
    transfer_count: int
    total: Money
    document: bytes


class BankTransferProvider:
    """A :class:`~paymux.core.ports.provider.PaymentProvider` over a SEPA bank account."""

    def __init__(
        self,
        config: BankTransferConfig,
        *,
        page_base_url: str,
        store: Store | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._page_base = page_base_url.rstrip("/")
        self._store = store or Store(config.database_url, busy_timeout=config.store_timeout_seconds)
        self._clock = clock
        self._ids = Identifiers.from_secret(config.reference_secret)

    @property
    def name(self) -> str:
        """Always ``"bank_transfer"``."""
        return "bank_transfer"

    @property
    def config(self) -> BankTransferConfig:
        """The validated settings."""
        return self._config

    def capabilities(self) -> ProviderCapabilities:
        """``bank_transfer`` in EUR from SEPA countries; hosted page, status, payouts, webhooks."""
        return ProviderCapabilities(
            methods=frozenset({"bank_transfer"}),
            countries=SEPA_COUNTRIES,
            currencies=frozenset({CURRENCY}),
            features=frozenset({"hosted_checkout", "status", "payouts", "webhooks"}),
        )

    # -- pay-in --------------------------------------------------------------------------

    async def register_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutRegistration:
        """Issue the payment's RF reference (once per key and per payment) and its page URL."""
        _check_amount(request.amount)

        def work(connection: Connection) -> str:
            known = _one(connection, references.c.idempotency_key == idempotency_key)
            if known is None:
                known = _one(connection, references.c.payment_id == request.payment_id)
            if known is not None:
                if (known["payment_id"], known["amount_minor"], known["currency"]) != (
                    request.payment_id,
                    request.amount.minor,
                    request.amount.currency,
                ):
                    raise ProviderRejectedError(
                        "this idempotency key or payment was registered with other details",
                        code="idempotency-key-reused",
                    )
                return str(known["reference"])
            reference = self._free_reference(connection, request)
            connection.execute(
                insert(references).values(
                    reference=reference,
                    idempotency_key=idempotency_key,
                    payment_id=request.payment_id,
                    amount_minor=request.amount.minor,
                    currency=request.amount.currency,
                    return_url=request.return_url,
                    created_at=self._clock(),
                    status="pending",
                )
            )
            return reference

        reference = await self._call(work)
        return CheckoutRegistration(
            token=reference,
            redirect_url=f"{self._page_base}/pay/{reference}",
            psp_reference=reference,
        )

    def _free_reference(self, connection: Connection, request: CheckoutRequest) -> str:
        for attempt in range(16):  # a 40-bit nonce: a collision is rare, 16 in a row impossible
            reference = self._ids.payment_reference(
                request.payment_id, attempt, request.amount.minor, request.amount.currency
            )
            if _one(connection, references.c.reference == reference) is None:
                return reference
        raise ProviderUnavailableError("no free reference found; try again")

    async def fetch_status(self, token: str) -> ProviderPaymentState:
        """From the store: matched, returned, expired (older than ``expiry_days``) or pending."""
        reference = compact(token)
        row = await self._call(lambda c: _one(c, references.c.reference == reference))
        if row is None:
            raise ProviderRejectedError(f"no reference {token!r}", code="unknown-reference")
        status, occurred_at = self._payment_status(row)
        return ProviderPaymentState(
            token=reference,
            status=status,
            failure_code=row["failure_code"] if status is PaymentStatus.FAILED else None,
            occurred_at=occurred_at,
        )

    def _payment_status(self, row: RowMapping) -> tuple[PaymentStatus, datetime | None]:
        stored = str(row["status"])
        if stored == "succeeded":
            return PaymentStatus.SUCCEEDED, utc(row["settled_at"])
        if stored == "failed":
            return PaymentStatus.FAILED, utc(row["settled_at"])
        expires_at = self._expires_at(row)
        if self._clock() >= expires_at:
            return PaymentStatus.EXPIRED, expires_at
        return PaymentStatus.PENDING, utc(row["created_at"])

    def _expires_at(self, row: RowMapping) -> datetime:
        created = utc(row["created_at"])
        assert created is not None
        return created + timedelta(days=self._config.expiry_days)

    async def instruction(self, token: str) -> Instruction | None:
        """The instruction page's content for a reference, ``None`` if unknown."""
        reference = compact(token)
        row = await self._call(lambda c: _one(c, references.c.reference == reference))
        if row is None:
            return None
        return Instruction(
            reference=reference,
            amount=Money(int(row["amount_minor"]), str(row["currency"])),
            beneficiary=self._config.beneficiary_name,
            iban=self._config.iban,
            bic=self._config.account_bic,
            status=self._payment_status(row)[0],
            expires_at=self._expires_at(row),
            return_url=str(row["return_url"]),
        )

    async def refund(self, request: RefundRequest, *, idempotency_key: str) -> RefundResult:
        """Not offered: refunds would need the buyer's IBAN (capabilities list no refunds)."""
        raise ProviderRejectedError(
            "bank_transfer does not refund; return the money by hand", code="refunds-not-supported"
        )

    # -- payouts -------------------------------------------------------------------------

    async def payout(self, request: PayoutRequest, *, idempotency_key: str) -> PayoutResult:
        """Add a SEPA credit transfer to the open batch (once per key and per payout): pending."""
        _check_amount(request.amount)
        destination = request.destination
        if destination is None or not (destination.holder_name or "").strip():
            raise ProviderRejectedError(
                "a bank payout needs the seller's IBAN and account holder name",
                code="payout-destination-missing",
            )
        try:
            iban = _normalize_iban(destination.account)
            bic = destination.details.get("bic")
            bic = normalize_bic(bic) if bic else None
        except InvalidAccountError as error:
            raise ProviderRejectedError(str(error), code=error.code) from None
        holder = (destination.holder_name or "").strip()

        def work(connection: Connection) -> RowMapping:
            known = _one_payout(connection, payouts.c.idempotency_key == idempotency_key)
            if known is None:
                known = _one_payout(connection, payouts.c.payout_id == request.payout_id)
            if known is not None:
                if (known["payout_id"], known["amount_minor"], known["iban"]) != (
                    request.payout_id,
                    request.amount.minor,
                    iban,
                ):
                    raise ProviderRejectedError(
                        "this idempotency key or payout was sent with other details",
                        code="idempotency-key-reused",
                    )
                return known
            nonce = "".join(secrets.choice(ALPHABET) for _ in range(self._ids.payouts.nonce_length))
            end_to_end_id = self._ids.payout_end_to_end_id(
                nonce, request.amount.minor, request.amount.currency
            )
            connection.execute(
                insert(payouts).values(
                    end_to_end_id=end_to_end_id,
                    idempotency_key=idempotency_key,
                    payout_id=request.payout_id,
                    seller_id=request.seller_id,
                    amount_minor=request.amount.minor,
                    currency=request.amount.currency,
                    iban=iban,
                    bic=bic,
                    holder_name=holder,
                    created_at=self._clock(),
                    status="pending",
                )
            )
            row = _one_payout(connection, payouts.c.end_to_end_id == end_to_end_id)
            assert row is not None
            return row

        row = await self._call(work)
        return PayoutResult(
            status=PayoutStatus(str(row["status"])),
            psp_reference=str(row["end_to_end_id"]),
            failure_code=row["failure_code"],
        )

    async def export_payout_batch(self, execution_date: date | None = None) -> PayoutBatch | None:
        """Close the open batch into an XSD-valid pain.001.001.09 file (``None``: nothing open).

        Atomic: the transfers move into the batch and the file is stored in one transaction;
        a payout registered meanwhile goes into the next batch. Hand ``document`` to the bank.
        """
        await asyncio.to_thread(schema)  # parse the XSD outside the store's time limit
        day = execution_date or self._clock().date()
        debtor = Debtor(self._config.beneficiary_name, self._config.iban, self._config.account_bic)

        def work(connection: Connection) -> PayoutBatch | None:
            batch_id = f"bt-batch-{uuid.uuid4().hex}"
            moved = connection.execute(
                update(payouts)
                .where(payouts.c.batch_id.is_(None), payouts.c.status == "pending")
                .values(batch_id=batch_id)
            )
            if not moved.rowcount:
                return None
            rows = connection.execute(
                select(payouts).where(payouts.c.batch_id == batch_id).order_by(payouts.c.created_at)
            ).mappings()
            transfers = [
                Transfer(
                    end_to_end_id=str(row["end_to_end_id"]),
                    amount_minor=int(row["amount_minor"]),
                    iban=str(row["iban"]),
                    bic=row["bic"],
                    holder_name=str(row["holder_name"]),
                    remittance=f"Payout {row['payout_id']}",
                )
                for row in rows
            ]
            message_id, document = build_batch(debtor, transfers, execution_date=day)
            batch = PayoutBatch(
                batch_id=batch_id,
                message_id=message_id,
                created_at=self._clock(),
                transfer_count=len(transfers),
                total=Money(sum(t.amount_minor for t in transfers), CURRENCY),
                document=document,
            )
            connection.execute(
                insert(batches).values(
                    batch_id=batch_id,
                    message_id=message_id,
                    created_at=batch.created_at,
                    transfer_count=batch.transfer_count,
                    control_sum_minor=batch.total.minor,
                    currency=CURRENCY,
                    document=document,
                )
            )
            return batch

        return await self._call(work)

    async def payout_batch(self, batch_id: str) -> PayoutBatch | None:
        """An exported batch again (to download its file a second time)."""

        def work(connection: Connection) -> PayoutBatch | None:
            row = (
                connection.execute(select(batches).where(batches.c.batch_id == batch_id))
                .mappings()
                .first()
            )
            if row is None:
                return None
            created = utc(row["created_at"])
            assert created is not None
            return PayoutBatch(
                batch_id=str(row["batch_id"]),
                message_id=str(row["message_id"]),
                created_at=created,
                transfer_count=int(row["transfer_count"]),
                total=Money(int(row["control_sum_minor"]), str(row["currency"])),
                document=bytes(row["document"]),
            )

        return await self._call(work)

    # -- statements ----------------------------------------------------------------------

    @property
    def max_webhook_body_bytes(self) -> int:
        """Statement uploads may be larger than paymux's webhook limit: ``max_statement_bytes``."""
        return self._config.max_statement_bytes

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """A camt.053 upload signed with ``Bank-Statement-Signature``, judged without I/O.

        A line counts when the tags in its reference (or end-to-end id) prove that this
        plugin issued it for exactly the line's amount; see :mod:`paymux_bank_transfer.matching`.
        """
        if len(body) > self._config.max_statement_bytes:
            raise WebhookVerificationError("the statement is larger than max_statement_bytes")
        verify(
            headers.get(SIGNATURE_HEADER),
            body,
            secret=self._config.statement_secret,
            previous_secret=self._config.previous_statement_secret,
        )
        try:
            lines = parse_statement(body)
        except ValueError as error:
            raise WebhookVerificationError(str(error)) from None
        matches = [match_without_store(line, self._ids, self._config.iban) for line in lines]
        return [match.event for match in matches if match.event is not None]

    async def import_statement(self, xml: bytes) -> list[WebhookEvent]:
        """Match a camt.053 statement against the store, record it, and return the events.

        Pay-ins match by reference *and* exact amount and currency, payouts by end-to-end
        id. The store is updated (so :meth:`fetch_status` reports it) and every line is kept
        with its outcome. The events have the same ids as :meth:`parse_webhook` gives for
        the same lines; apply them with ``runtime.webhooks.apply("bank_transfer", events)``.
        Importing a statement twice changes nothing more. Raises
        :class:`~paymux_bank_transfer.statements.StatementError` for an unreadable document.
        """
        if len(xml) > self._config.max_statement_bytes:
            raise ValueError("the statement is larger than max_statement_bytes")
        lines = await asyncio.to_thread(parse_statement, xml)

        def work(connection: Connection) -> list[Match]:
            matches = [self._match_stored(connection, line) for line in lines]
            for match in matches:
                _record_line(connection, match, self._clock())
            return matches

        matches = await self._call(work)
        for match in matches:
            if match.outcome in (
                LineOutcome.PAYMENT_AMOUNT_MISMATCH,
                LineOutcome.PAYOUT_AMOUNT_MISMATCH,
                LineOutcome.UNKNOWN_REFERENCE,
            ):
                log.warning("statement line %s: %s", match.key, match.outcome)
        return [match.event for match in matches if match.event is not None]

    def _match_stored(self, connection: Connection, line: StatementLine) -> Match:
        screened = screen(line, self._config.iban)
        if screened is not None:
            return Match(line, screened)
        assert line.amount is not None
        keys = keys_of(line)
        settled_at = line.occurred_at or self._clock()
        if not keys.references and not keys.payout_ids:
            return Match(line, LineOutcome.UNRELATED)
        for end_to_end_id in keys.payout_ids:
            row = _one_payout(connection, payouts.c.end_to_end_id == end_to_end_id)
            if row is None:
                continue
            if line.direction is Direction.CREDIT:
                code = payout_failure_code(line.return_reason)
                _settle_payout(connection, end_to_end_id, "failed", code, settled_at)
                reported = payout_event(
                    line, end_to_end_id, PayoutStatus.FAILED, str(row["payout_id"])
                )
                return Match(line, LineOutcome.PAYOUT_RETURNED, end_to_end_id, reported)
            if line.reversal:
                return Match(line, LineOutcome.UNRELATED, end_to_end_id)
            if Money(int(row["amount_minor"]), str(row["currency"])) != line.amount:
                return Match(line, LineOutcome.PAYOUT_AMOUNT_MISMATCH, end_to_end_id)
            _settle_payout(connection, end_to_end_id, "paid", None, settled_at, only_pending=True)
            reported = payout_event(line, end_to_end_id, PayoutStatus.PAID, str(row["payout_id"]))
            return Match(line, LineOutcome.PAYOUT_PAID, end_to_end_id, reported)
        for reference in keys.references:
            row = _one(connection, references.c.reference == reference)
            if row is None:
                continue
            if line.direction is Direction.DEBIT:
                _settle_payment(connection, reference, "failed", TRANSFER_RETURNED, settled_at)
                event = payment_event(line, reference, PaymentStatus.FAILED)
                return Match(line, LineOutcome.PAYMENT_RETURNED, reference, event)
            if line.reversal:
                return Match(line, LineOutcome.UNRELATED, reference)
            if Money(int(row["amount_minor"]), str(row["currency"])) != line.amount:
                return Match(line, LineOutcome.PAYMENT_AMOUNT_MISMATCH, reference)
            if row["status"] == "pending" and settled_at >= self._expires_at(row):
                log.warning("reference %s paid after it expired: refund it by hand", reference)
            _settle_payment(connection, reference, "succeeded", None, settled_at)
            event = payment_event(line, reference, PaymentStatus.SUCCEEDED)
            return Match(line, LineOutcome.PAYMENT_SUCCEEDED, reference, event)
        key = (keys.references or keys.payout_ids)[0]
        return Match(line, LineOutcome.UNKNOWN_REFERENCE, key)

    async def unmatched_lines(self) -> list[dict[str, Any]]:
        """Imported lines that concern us but settled nothing (wrong amount, unknown id)."""
        outcomes = [
            LineOutcome.PAYMENT_AMOUNT_MISMATCH,
            LineOutcome.PAYOUT_AMOUNT_MISMATCH,
            LineOutcome.UNKNOWN_REFERENCE,
        ]

        def work(connection: Connection) -> list[dict[str, Any]]:
            rows = connection.execute(
                select(statement_lines)
                .where(statement_lines.c.outcome.in_([str(o) for o in outcomes]))
                .order_by(statement_lines.c.imported_at)
            ).mappings()
            return [dict(row) for row in rows]

        return await self._call(work)

    async def registrations(self) -> int:
        """How many references were issued."""
        return await self._call(
            lambda c: int(c.execute(select(func.count()).select_from(references)).scalar_one())
        )

    async def aclose(self) -> None:
        """Close the store's connection pool."""
        await asyncio.to_thread(self._store.dispose)

    # -- the store, with a time limit and classified errors ----------------------------------

    async def _call(self, work: Callable[[Connection], _T]) -> _T:
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(self._config.store_timeout_seconds):
                    return await asyncio.to_thread(self._store.run, work)
            except ProviderError:
                raise
            except TimeoutError as error:
                raise ProviderTimeoutError(
                    "the bank-transfer store did not answer in time"
                ) from error
            except IntegrityError as error:
                if attempt == 2:  # a concurrent writer took the same key: read its answer
                    raise ProviderUnavailableError(f"store conflict: {error}") from error
            except SQLAlchemyError as error:
                raise ProviderUnavailableError(
                    f"the bank-transfer store failed: {error!r}"
                ) from error
        raise AssertionError("unreachable")  # pragma: no cover


def _check_amount(amount: Money) -> None:
    if amount.currency != CURRENCY:
        raise ProviderRejectedError(
            f"bank_transfer takes {CURRENCY} only, not {amount.currency}",
            code="currency-not-supported",
        )
    if not 0 < amount.minor <= MAX_AMOUNT_MINOR:
        raise ProviderRejectedError(f"amount out of range: {amount}", code="invalid-amount")


def _one(connection: Connection, condition: Any) -> RowMapping | None:
    return connection.execute(select(references).where(condition)).mappings().first()


def _one_payout(connection: Connection, condition: Any) -> RowMapping | None:
    return connection.execute(select(payouts).where(condition)).mappings().first()


def _settle_payment(
    connection: Connection, reference: str, status: str, code: str | None, at: datetime
) -> None:
    """Settle a pending reference (the first settling line wins, like paymux's own machine)."""
    connection.execute(
        update(references)
        .where(references.c.reference == reference, references.c.status == "pending")
        .values(status=status, failure_code=code, settled_at=at)
    )


def _settle_payout(
    connection: Connection,
    end_to_end_id: str,
    status: str,
    code: str | None,
    at: datetime,
    *,
    only_pending: bool = False,
) -> None:
    """Mark a payout paid (only while pending) or failed (a return after paid, too)."""
    allowed = ["pending"] if only_pending else ["pending", "paid"]
    connection.execute(
        update(payouts)
        .where(payouts.c.end_to_end_id == end_to_end_id, payouts.c.status.in_(allowed))
        .values(status=status, failure_code=code, settled_at=at)
    )


def _record_line(connection: Connection, match: Match, now: datetime) -> None:
    line = match.line
    line_id = line.event_id("line", "|".join(line.texts) + (line.end_to_end_id or ""))
    exists = connection.execute(
        select(statement_lines.c.line_id).where(statement_lines.c.line_id == line_id)
    ).first()
    if exists is not None:
        return
    connection.execute(
        insert(statement_lines).values(
            line_id=line_id,
            outcome=str(match.outcome),
            key=match.key,
            direction=str(line.direction) if line.direction else None,
            amount_minor=line.amount.minor if line.amount else None,
            currency=line.amount.currency if line.amount else None,
            booked_on=line.booked_on.isoformat() if line.booked_on else None,
            texts="\n".join(line.texts),
            imported_at=now,
        )
    )
