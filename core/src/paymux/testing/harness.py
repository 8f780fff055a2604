"""The harness a provider plugin hands to paymux's conformance suite.

The suite drives the plugin's real :class:`~paymux.core.ports.provider.PaymentProvider`
against the plugin's own fake PSP (an HTTP server in the test process), and uses the harness
to do what only the PSP's side can: act as the buyer on the hosted page, sign webhooks
exactly as the PSP signs them, script faults, and say what the PSP understood.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol, runtime_checkable

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import CheckoutRegistration, PaymentProvider, PayoutDestination
from paymux.currencies import Money

Fault = Literal["timeout", "unavailable", "rejected", "reset"]
"""A scripted failure of the fake PSP's next answer: no answer in time, a 5xx, a final 4xx,
or the connection dropped after the request was received."""

Forgery = Literal["body_tampered", "signature_tampered", "signature_missing"]
"""A kind of forged webhook: the body changed after signing, the signature changed, or no
signature at all."""


class ProviderHarness(Protocol):
    """One fresh fake PSP and the provider wired to it; built per test by the plugin."""

    @property
    def provider(self) -> PaymentProvider:
        """The plugin's provider, configured to talk to the fake PSP (SDK retries off)."""
        ...

    async def complete_checkout(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> None:
        """Act as the buyer (or the PSP) so the payment reaches ``outcome`` at the fake PSP.

        ``outcome`` is ``succeeded`` or ``failed``; afterwards ``fetch_status`` reports it.
        """
        ...

    def signed_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        """Headers (lower-case names) and body of the webhook the PSP sends for ``outcome``,
        signed exactly as the PSP signs it, with a fresh event id."""
        ...

    def stale_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes] | None:
        """A correctly signed webhook whose timestamp is outside the tolerance, or ``None``
        when the PSP's scheme signs no timestamp (replays are then stopped by event ids)."""
        ...

    def charged_amount(self, registration: CheckoutRegistration) -> Money:
        """What the fake PSP will charge for this registration, decoded from the PSP's own
        wire format by the PSP's rules (so the suite can check the plugin's encoding)."""
        ...

    def registrations(self) -> int:
        """How many distinct checkouts the fake PSP holds (idempotent retries add none)."""
        ...

    def fail_next(self, fault: Fault) -> None:
        """Make the fake PSP's next answer fail with ``fault``."""
        ...

    def payout_destination(self, seller_id: str) -> PayoutDestination:
        """A destination the fake PSP accepts for payouts to ``seller_id``."""
        ...


@runtime_checkable
class WebhookForger(Protocol):
    """Optional: a harness that also forges webhooks the way an attacker would.

    The conformance suite forges webhooks itself by editing what
    :meth:`ProviderHarness.signed_webhook` returns: it changes the registration's token in
    the body, changes every long token in the non-standard headers (the signature), or drops
    those headers. That fits schemes that sign the raw body into a header. A PSP that signs
    elsewhere (Adyen puts an HMAC of some fields inside the body) implements this method too.
    """

    def forged_webhook(
        self, registration: CheckoutRegistration, outcome: PaymentStatus, forgery: Forgery
    ) -> tuple[Mapping[str, str], bytes] | None:
        """Headers and body of a ``forgery`` of the webhook for ``outcome``, or ``None`` to
        let the suite forge it its own way."""
        ...
