"""The :class:`~paymux.testing.harness.ProviderHarness` of the bank-transfer provider.

The "PSP" is the platform's bank account, so the harness plays the bank: it books
transfers on camt.053 statements (:mod:`paymux_bank_transfer.fake_bank`) and imports them,
or signs them as uploads for paymux's webhook endpoint. The provider makes no remote calls;
the faults of :meth:`BankTransferHarness.fail_next` are faults of its store instead (the
state the provider cannot work without), with the same meaning: ``timeout`` and ``reset``
do the work and lose the answer, ``unavailable`` and ``rejected`` do nothing.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from paymux.core.domain.status import PaymentStatus
from paymux.core.identifiers import utc_now
from paymux.core.ports.provider import (
    CheckoutRegistration,
    PayoutDestination,
    ProviderRejectedError,
)
from paymux.currencies import Money, parse_amount
from paymux.testing.harness import Fault
from paymux_bank_transfer import fake_bank
from paymux_bank_transfer.config import BankTransferConfig
from paymux_bank_transfer.page import render_instruction
from paymux_bank_transfer.provider import BankTransferProvider, Instruction
from paymux_bank_transfer.references import compact
from paymux_bank_transfer.signature import SIGNATURE_HEADER, sign
from paymux_bank_transfer.store import Store, references

_T = TypeVar("_T")

PLATFORM_IBAN = "DE89370400440532013000"
"""The test platform account (Commerzbank's documented example IBAN)."""
SELLER_IBAN = "NL91ABNA0417164300"
SELLER_BIC = "ABNANL2A"
PAGE_BASE = "http://paymux.test/bank-transfer"


class ScriptedStore(Store):
    """A store whose next unit of work can be made to fail."""

    def __init__(self, url: str, *, answer_timeout: float) -> None:
        super().__init__(url)
        self.answer_timeout = answer_timeout
        self.next_fault: Fault | None = None

    def run(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work``, unless a fault was scripted for it."""
        fault, self.next_fault = self.next_fault, None
        if fault == "unavailable":
            raise OperationalError("scripted", {}, ConnectionRefusedError("store unavailable"))
        if fault == "rejected":
            raise ProviderRejectedError("scripted refusal", code="bank-transfer-refused")
        result = super().run(work)
        if fault == "timeout":
            time.sleep(self.answer_timeout + 0.3)  # done, but the answer comes too late
        elif fault == "reset":
            raise OperationalError("scripted", {}, ConnectionResetError("connection reset"))
        return result


class BankTransferHarness:
    """A fresh store (an SQLite file in a temporary directory) and the provider on it."""

    def __init__(self, *, expiry_days: int = 14, store_timeout_seconds: float = 2.0) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="paymux-bank-")
        self.url = f"sqlite:///{Path(self._directory.name) / 'bank.db'}"
        self.config = BankTransferConfig(
            iban=PLATFORM_IBAN,
            beneficiary_name="Paymux Demo GmbH",
            database_url=self.url,
            expiry_days=expiry_days,
            store_timeout_seconds=store_timeout_seconds,
        )
        self.now = utc_now()
        self.store = ScriptedStore(self.url, answer_timeout=store_timeout_seconds)
        self._reader = Store(self.url)
        self._provider = BankTransferProvider(
            self.config, page_base_url=PAGE_BASE, store=self.store, clock=self.clock
        )

    def clock(self) -> datetime:
        """The provider's clock (moved by :meth:`advance`)."""
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the provider's clock forward."""
        self.now += delta

    @property
    def provider(self) -> BankTransferProvider:
        """The provider, on this harness's store."""
        return self._provider

    # -- the bank's side -----------------------------------------------------------------

    def expected_amount(self, registration: CheckoutRegistration) -> Money:
        """The amount the reference was issued for (from the store)."""
        reference = compact(registration.token)
        row = self._reader.run(
            lambda c: (
                c.execute(select(references).where(references.c.reference == reference))
                .mappings()
                .first()
            )
        )
        if row is None:
            raise KeyError(registration.token)
        return Money(int(row["amount_minor"]), str(row["currency"]))

    def statement_for(
        self,
        registration: CheckoutRegistration,
        outcome: PaymentStatus,
        *,
        amount: Money | None = None,
    ) -> bytes:
        """A statement with the buyer's transfer (``succeeded``) or its return (``failed``)."""
        paid = amount or self.expected_amount(registration)
        if outcome is PaymentStatus.SUCCEEDED:
            line = fake_bank.credit(paid, registration.token)
        elif outcome is PaymentStatus.FAILED:
            line = fake_bank.returned_payment(paid, registration.token)
        else:
            raise ValueError(f"a statement makes a payment succeeded or failed, not {outcome}")
        return fake_bank.statement(PLATFORM_IBAN, [replace(line, booked_on=self.now.date())])

    def sign(self, document: bytes) -> dict[str, str]:
        """The upload headers of a statement."""
        return {SIGNATURE_HEADER: sign(document, secret=self.config.statement_secret)}

    async def complete_checkout(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> None:
        """Book the transfer (or its return) on a statement and import it."""
        await self._provider.import_statement(self.statement_for(registration, outcome))

    def signed_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        """A signed statement upload with the line for ``outcome`` (a fresh entry each time)."""
        document = self.statement_for(registration, outcome)
        return self.sign(document), document

    def stale_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes] | None:
        """``None``: the upload signature has no timestamp (event ids stop replays)."""
        return None

    def charged_amount(self, registration: CheckoutRegistration) -> Money:
        """The amount the instruction page asks the buyer to transfer, read from the page."""
        instruction = self._instruction(registration)
        html = render_instruction(instruction, sandbox=False)
        found = re.search(r'data-amount="([^"]+)" data-currency="([A-Z]{3})"', html)
        if found is None:
            raise AssertionError("the instruction page shows no amount")
        return Money(parse_amount(found.group(1), found.group(2)), found.group(2))

    def _instruction(self, registration: CheckoutRegistration) -> Instruction:
        amount = self.expected_amount(registration)
        return Instruction(
            reference=compact(registration.token),
            amount=amount,
            beneficiary=self.config.beneficiary_name,
            iban=self.config.iban,
            bic=self.config.account_bic,
            status=PaymentStatus.PENDING,
            expires_at=self.now + timedelta(days=self.config.expiry_days),
            return_url="https://shop.test/back",
        )

    def registrations(self) -> int:
        """How many references the store holds."""
        return int(
            self._reader.run(
                lambda c: c.execute(select(func.count()).select_from(references)).scalar_one()
            )
        )

    def fail_next(self, fault: Fault) -> None:
        """Make the store's next unit of work fail with ``fault``."""
        self.store.next_fault = fault

    def payout_destination(self, seller_id: str) -> PayoutDestination:
        """A valid Dutch IBAN with its BIC and a holder name for ``seller_id``."""
        return PayoutDestination(
            account=SELLER_IBAN, holder_name=f"Seller {seller_id}", details={"bic": SELLER_BIC}
        )

    async def aclose(self) -> None:
        """Close the provider and remove the temporary store."""
        await self._provider.aclose()
        self._reader.dispose()
        self._directory.cleanup()
