"""The Stripe plugin's harness for paymux's conformance suite.

``StripeHarness.start()`` serves a fresh :class:`~paymux_stripe.fake_stripe.FakeStripe` on
127.0.0.1 and builds the real :class:`~paymux_stripe.provider.StripeProvider` against it.
Stripe's spec and example objects are read from ``PAYMUX_STRIPE_SPECS`` or the first
``shared/psp-specs/stripe`` folder found from the working directory upwards; with a spec,
every request is validated and :meth:`StripeHarness.close` fails on any violation.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import CheckoutRegistration, PaymentProvider, PayoutDestination
from paymux.currencies import Money
from paymux.testing.harness import Fault
from paymux_stripe.amounts import decode_amount
from paymux_stripe.config import StripeConfig
from paymux_stripe.fake_stripe import FakeStripe, FakeStripeServer, JsonObject, load_fixtures
from paymux_stripe.provider import StripeProvider
from paymux_stripe.spec_validation import load_spec

SPECS_ENV = "PAYMUX_STRIPE_SPECS"
_SPECS_RELATIVE = Path("shared") / "psp-specs" / "stripe"


def find_specs_dir(start: Path | None = None) -> Path | None:
    """The folder holding ``spec3.yaml`` and ``fixtures3.json``, or ``None``."""
    configured = os.environ.get(SPECS_ENV)
    if configured:
        return Path(configured)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / _SPECS_RELATIVE
        if (candidate / "spec3.yaml").is_file():
            return candidate
    return None


class StripeHarness:
    """A :class:`paymux.testing.harness.ProviderHarness` for the Stripe plugin."""

    def __init__(
        self,
        server: FakeStripeServer,
        provider: StripeProvider,
        config: StripeConfig,
        *,
        validated: bool,
    ) -> None:
        self._server = server
        self._provider = provider
        self.config = config
        self.validated = validated

    @classmethod
    def start(
        cls,
        *,
        specs_dir: Path | None = None,
        require_spec: bool = False,
        request_timeout_seconds: float = 2.0,
        stall_seconds: float = 3.0,
        webhook_tolerance_seconds: int = 300,
    ) -> StripeHarness:
        """A fresh fake Stripe, served, and a provider wired to it (SDK retries off).

        ``require_spec`` makes a missing spec an error instead of skipping validation.
        """
        folder = specs_dir or find_specs_dir()
        spec_file = folder / "spec3.yaml" if folder else None
        if spec_file is None or not spec_file.is_file():
            if require_spec:
                raise FileNotFoundError(
                    f"Stripe's spec3.yaml not found (set {SPECS_ENV} to its folder)"
                )
            spec_file = None
        fixtures_file = folder / "fixtures3.json" if folder else None
        fake = FakeStripe(
            spec=load_spec(spec_file) if spec_file else None,
            fixtures=load_fixtures(fixtures_file)
            if fixtures_file and fixtures_file.is_file()
            else None,
            stall_seconds=stall_seconds,
        )
        server = FakeStripeServer(fake).start()
        config = StripeConfig(
            api_key=fake.api_key,
            webhook_secret=fake.webhook_secret,
            api_base=server.url,
            request_timeout_seconds=request_timeout_seconds,
            webhook_tolerance_seconds=webhook_tolerance_seconds,
        )
        return cls(server, StripeProvider(config), config, validated=spec_file is not None)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def fake(self) -> FakeStripe:
        """The fake Stripe's state (requests, sessions, refunds, transfers, events)."""
        return self._server.fake

    @property
    def url(self) -> str:
        """The fake Stripe's base URL."""
        return self._server.url

    async def aclose(self) -> None:
        """Close the provider, then the server; fails if a request broke the spec."""
        await self._provider.aclose()
        self.close()

    def close(self) -> None:
        """Stop the server; raise ``AssertionError`` if any request broke Stripe's spec."""
        self._server.stop()
        errors = self.fake.validation_errors()
        if errors:
            raise AssertionError("requests that break Stripe's spec:\n" + "\n".join(errors))

    async def __aenter__(self) -> StripeHarness:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- ProviderHarness ----------------------------------------------------------------

    @property
    def provider(self) -> PaymentProvider:
        """The Stripe provider, talking to the fake."""
        return self._provider

    async def complete_checkout(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> None:
        """Pay (``succeeded``) or fail (asynchronous payment failure) the session."""
        self.fake.complete(registration.token, outcome)

    def signed_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        """The ``checkout.session.*`` event Stripe sends for ``outcome``, signed now."""
        return self.fake.signed(self._session_event(registration, outcome))

    def stale_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes] | None:
        """The same, signed with a timestamp past the provider's tolerance."""
        stale = int(time.time()) - self.config.webhook_tolerance_seconds - 60
        return self.fake.signed(self._session_event(registration, outcome), timestamp=stale)

    def charged_amount(self, registration: CheckoutRegistration) -> Money:
        """The session's ``amount_total``, decoded by Stripe's currency rules."""
        session = self.fake.sessions[registration.token]
        return decode_amount(int(session["amount_total"]), str(session["currency"]))

    def registrations(self) -> int:
        """How many Checkout Sessions the fake holds."""
        return len(self.fake.sessions)

    def fail_next(self, fault: Fault) -> None:
        """Make the next API answer fail (the protocol's faults and Stripe's own ones)."""
        self.fake.fail_next(fault)

    def payout_destination(self, seller_id: str) -> PayoutDestination:
        """A connected account id derived from the seller id (``acct_...``)."""
        digest = hashlib.sha256(seller_id.encode()).hexdigest()[:16]
        return PayoutDestination(account=f"acct_{digest}")

    def _session_event(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> JsonObject:
        session = dict(self.fake.sessions[registration.token])
        kinds = {
            PaymentStatus.SUCCEEDED: ("checkout.session.completed", "complete", "paid"),
            PaymentStatus.PENDING: ("checkout.session.completed", "complete", "unpaid"),
            PaymentStatus.FAILED: ("checkout.session.async_payment_failed", "complete", "unpaid"),
            PaymentStatus.EXPIRED: ("checkout.session.expired", "expired", "unpaid"),
        }
        if outcome not in kinds:
            raise ValueError(f"Stripe sends no checkout session event for {outcome}")
        kind, status, paid = kinds[outcome]
        session.update({"status": status, "payment_status": paid, "url": None})
        return self.fake.event(kind, session)
