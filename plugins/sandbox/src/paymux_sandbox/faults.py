"""The sandbox PSP's scripted faults: API answers that fail and webhooks that misbehave.

Two kinds, each either queued (the next matching request or hosted-page submission takes
the first one) or drawn at random at a given rate (seeded, for runs that can be repeated):

* API faults hit the simulator's ``/v1/...`` answers: ``timeout`` (the PSP acts, then answers
  after ``stall_seconds``), ``unavailable`` (503, nothing done), ``rate_limited`` (429 with
  ``Retry-After``, nothing done), ``rejected`` (400 ``sandbox_rejected``, nothing done) and
  ``reset`` (the PSP acts, then the connection drops). A fault may be aimed at one
  :data:`Operation` (``register``, ``status``, ``refund``, ``payout``).
* Webhook faults change what the PSP sends after a buyer submits the hosted page:
  ``duplicate`` (every event twice, same id), ``reorder`` (the later status first, then an
  earlier one) and ``drop`` (nothing: the checkout's status changes, no webhook says so).

Test code in the same process calls :class:`FaultPlan`'s methods; tests of a running service
use the simulator's ``/_admin/faults`` endpoint with a :class:`FaultPlanIn` body.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Fault = Literal["timeout", "unavailable", "rejected", "reset", "rate_limited"]
"""A scripted failure of one API answer."""

WebhookFault = Literal["duplicate", "reorder", "drop"]
"""A scripted misbehaviour of the webhooks of one hosted-page submission."""

Operation = Literal["register", "status", "refund", "payout"]
"""Which API call a fault is aimed at."""


def operation_of(method: str, path: str) -> Operation | None:
    """The operation of an API request (``path`` relative to the simulator's root)."""
    if path == "/v1/checkouts" and method == "POST":
        return "register"
    if path.startswith("/v1/checkouts/") and method == "GET":
        return "status"
    if path == "/v1/refunds" and method == "POST":
        return "refund"
    if path == "/v1/payouts" and method == "POST":
        return "payout"
    return None


class QueuedFaultIn(BaseModel):
    """One queued API fault, optionally aimed at one operation."""

    model_config = ConfigDict(extra="forbid")

    fault: Fault
    operation: Operation | None = Field(default=None, description="None: any API request")


class RandomApiFaultsIn(BaseModel):
    """Faults drawn at random: each matching API request fails with probability ``rate``,
    with a fault drawn from ``faults`` (list one twice to make it twice as likely)."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(ge=0, le=1)
    faults: list[Fault] = Field(min_length=1)
    operations: list[Operation] | None = Field(default=None, description="None: every one")


class RandomWebhookFaultsIn(BaseModel):
    """Each hosted-page submission's webhooks misbehave with probability ``rate``."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(ge=0, le=1)
    faults: list[WebhookFault] = Field(min_length=1)


class FaultPlanIn(BaseModel):
    """``POST /_admin/faults``: queue faults and (re)place the random ones.

    ``api`` and ``webhooks`` are appended to the queues. ``random_api`` and
    ``random_webhooks``, when given, replace the random rules (an empty list or a rate of 0
    turns them off). ``seed`` re-seeds the random draws.
    """

    model_config = ConfigDict(extra="forbid")

    api: list[Fault | QueuedFaultIn] = Field(default_factory=list)
    webhooks: list[WebhookFault] = Field(default_factory=list)
    random_api: list[RandomApiFaultsIn] | None = None
    random_webhooks: RandomWebhookFaultsIn | None = None
    seed: int | None = None


class FaultPlan:
    """The faults to inject, and how many were injected (by kind)."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._api: deque[QueuedFaultIn] = deque()
        self._webhooks: deque[WebhookFault] = deque()
        self._random_api: list[RandomApiFaultsIn] = []
        self._random_webhooks: RandomWebhookFaultsIn | None = None
        self._rng = random.Random(seed)  # noqa: S311 - test faults, not secrets
        self.injected: Counter[str] = Counter()
        """API faults injected, by fault."""
        self.webhook_faults: Counter[str] = Counter()
        """Webhook faults applied, by fault."""

    # -- scripting -------------------------------------------------------------------------

    def queue_api(self, fault: Fault, operation: Operation | None = None) -> None:
        """The next API request (of ``operation``, if given) fails with ``fault``."""
        self._api.append(QueuedFaultIn(fault=fault, operation=operation))

    def queue_webhooks(self, fault: WebhookFault) -> None:
        """The webhooks of the next hosted-page submission misbehave with ``fault``."""
        self._webhooks.append(fault)

    def apply(self, plan: FaultPlanIn) -> None:
        """Queue ``plan``'s faults and replace the random rules it gives."""
        if plan.seed is not None:
            self._rng.seed(plan.seed)
        for queued in plan.api:
            if isinstance(queued, QueuedFaultIn):
                self._api.append(queued)
            else:
                self.queue_api(queued)
        self._webhooks.extend(plan.webhooks)
        if plan.random_api is not None:
            self._random_api = list(plan.random_api)
        if plan.random_webhooks is not None:
            self._random_webhooks = plan.random_webhooks

    def clear(self) -> None:
        """No more faults (the counts stay)."""
        self._api.clear()
        self._webhooks.clear()
        self._random_api = []
        self._random_webhooks = None

    # -- drawing ---------------------------------------------------------------------------

    def take_api(self, operation: Operation | None) -> Fault | None:
        """The fault of an API request of ``operation`` (``None``: not a known operation)."""
        fault = self._take_queued(operation) or self._draw(operation)
        if fault is not None:
            self.injected[fault] += 1
        return fault

    def _take_queued(self, operation: Operation | None) -> Fault | None:
        for queued in self._api:
            if queued.operation is None or queued.operation == operation:
                self._api.remove(queued)
                return queued.fault
        return None

    def _draw(self, operation: Operation | None) -> Fault | None:
        for rule in self._random_api:
            if rule.operations is not None and operation not in rule.operations:
                continue
            if self._rng.random() < rule.rate:
                return self._rng.choice(rule.faults)
            return None  # the first matching rule decides
        return None

    def take_webhooks(self) -> WebhookFault | None:
        """The fault of the webhooks of one hosted-page submission."""
        fault: WebhookFault | None = self._webhooks.popleft() if self._webhooks else None
        rule = self._random_webhooks
        if fault is None and rule is not None and self._rng.random() < rule.rate:
            fault = self._rng.choice(rule.faults)
        if fault is not None:
            self.webhook_faults[fault] += 1
        return fault

    def describe(self) -> dict[str, object]:
        """What is scripted now and what was injected (``GET /_admin/faults``)."""
        return {
            "api": [queued.model_dump() for queued in self._api],
            "webhooks": list(self._webhooks),
            "random_api": [rule.model_dump() for rule in self._random_api],
            "random_webhooks": (
                None if self._random_webhooks is None else self._random_webhooks.model_dump()
            ),
            "injected": dict(self.injected),
            "webhook_faults": dict(self.webhook_faults),
        }
