"""Rate limits with the ``limits`` library: per API key, per client IP, per webhook sender.

Which counter a request counts against (:func:`bucket_for`):

* ``/v1/webhooks/{provider}``: the provider and the client IP (``rate_limit_webhooks``); every
  name that is not an enabled provider shares one ``unknown`` provider, so made-up names do
  not each get a fresh budget;
* any other ``/v1/...`` request with ``Authorization: Bearer <key>``: a SHA-256 digest of the
  key (``rate_limit``). The key itself is never stored; the limit does not depend on how
  keys are checked. Requests answered 401 (a wrong key) also count against their client
  IP (``rate_limit_anonymous``), and an IP over that budget is refused before its key is
  looked at: made-up keys do not each get a fresh budget;
* ``/v1/...`` without a key and the buyer status pages (``/checkout/...``): the client IP
  (``rate_limit_anonymous``);
* everything else (``/healthz``, ``/docs``, ``/openapi.json``, plugins' mounted apps): no
  limit from paymux.

The counters live in memory (one process) or in Redis, shared by every instance. When the
storage cannot be reached, ``rate_limit_on_storage_error`` says what happens: ``open``
counts in this process's memory until the storage answers again (checked every
:data:`STORAGE_RETRY_SECONDS`), ``closed`` answers 503 ``rate-limit-unavailable``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Container
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import redis.asyncio
from fastapi import FastAPI
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.errors import StorageError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paymux.app.problems import Problem, problem_response
from paymux.core.card_numbers import redact_card_numbers
from paymux.core.settings import Settings

log = logging.getLogger(__name__)

STORAGE_RETRY_SECONDS = 5.0
"""How long paymux keeps away from a storage that failed before it tries again."""

STORAGE_TIMEOUT_SECONDS = 0.5
"""How long one call to Redis may take before it counts as failed."""

_STRATEGIES: dict[str, Callable[[Storage], RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}

_REDIS_SCHEMES = ("redis://", "rediss://", "async+redis://", "async+rediss://")


@dataclass(frozen=True, slots=True)
class Bucket:
    """One counter: what kind of caller (``key``, ``anonymous``, ``webhook``) and who."""

    kind: str
    identity: str
    limits: tuple[RateLimitItem, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may pass; for a refused one, the limit it hit and when it resets."""

    allowed: bool
    limit: RateLimitItem | None = None
    retry_after_seconds: int = 0


class RateLimitUnavailableError(Exception):
    """The shared storage failed and ``rate_limit_on_storage_error`` is ``closed``."""


def parse_limits(value: str, setting: str) -> tuple[RateLimitItem, ...]:
    """The limits of a setting (``100/second;2000/minute``); ``()`` when it is empty."""
    if not value.strip():
        return ()
    try:
        return tuple(parse_many(value))
    except ValueError as error:
        raise ValueError(f"{setting}: not a rate limit ({error}); e.g. '100/second'") from None


def key_digest(token: str) -> str:
    """The identity of an API key in the counters: never the key itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class BucketRules:
    """Which bucket a request counts against (see the module's docstring); ``providers``: the
    names of the enabled providers, each with webhook buckets of its own."""

    def __init__(self, settings: Settings, providers: Container[str]) -> None:
        self.providers = providers
        self.per_key = parse_limits(settings.rate_limit, "rate_limit")
        self.anonymous = parse_limits(settings.rate_limit_anonymous, "rate_limit_anonymous")
        self.webhooks = parse_limits(settings.rate_limit_webhooks, "rate_limit_webhooks")

    def refused_keys_bucket(self, scope: Scope) -> Bucket | None:
        """The client IP's bucket of requests whose key was refused (401)."""
        client = scope.get("client")
        return _bucket("refused-key", str(client[0]) if client else "unknown", self.anonymous)

    def bucket_for(self, scope: Scope) -> Bucket | None:
        """The bucket of an HTTP request; ``None`` for a path paymux does not limit."""
        path = _app_path(scope)
        client = scope.get("client")
        ip = str(client[0]) if client else "unknown"
        if path.startswith("/v1/webhooks/"):
            provider = path.removeprefix("/v1/webhooks/").split("/", 1)[0]
            if provider not in self.providers:
                provider = "unknown"  # made-up names share one budget
            return _bucket("webhook", f"{provider}:{ip}", self.webhooks)
        if path.startswith("/v1/") or path == "/v1":
            token = _bearer_token(scope)
            if token is not None:
                return _bucket("key", key_digest(token), self.per_key)
            return _bucket("anonymous", ip, self.anonymous)
        if path.startswith("/checkout/"):
            return _bucket("anonymous", ip, self.anonymous)
        return None


def _bucket(kind: str, identity: str, limits: tuple[RateLimitItem, ...]) -> Bucket | None:
    return Bucket(kind, identity, limits) if limits else None


def _app_path(scope: Scope) -> str:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = bytes(value).decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class Limiter:
    """Counts requests in the configured storage, falling back as configured when it fails."""

    def __init__(self, settings: Settings) -> None:
        strategy = _STRATEGIES[settings.rate_limit_strategy]
        self._prefix = settings.rate_limit_key_prefix
        self._fail_closed = settings.rate_limit_on_storage_error == "closed"
        self._local = strategy(MemoryStorage())
        self._pool: redis.asyncio.ConnectionPool | None = None
        self._shared: RateLimiter | None = None
        self._down_until = 0.0
        url = settings.rate_limit_storage_url
        if url.startswith(_REDIS_SCHEMES):
            plain = url.removeprefix("async+")
            self._pool = redis.asyncio.ConnectionPool.from_url(
                plain,
                socket_connect_timeout=STORAGE_TIMEOUT_SECONDS,
                socket_timeout=STORAGE_TIMEOUT_SECONDS,
            )
            storage = RedisStorage(
                "async+" + plain,
                wrap_exceptions=True,
                implementation="redispy",
                connection_pool=self._pool,  # type: ignore[arg-type]  # passed to redis-py
            )
            self._shared = strategy(storage)
        elif url not in ("memory://", "async+memory://"):
            raise ValueError(f"rate_limit_storage_url {url!r}: use memory:// or redis://host:port")

    @property
    def shared(self) -> bool:
        """Whether the counters are shared between instances (Redis)."""
        return self._shared is not None

    async def hit(self, bucket: Bucket) -> Decision:
        """Count one request against every limit of ``bucket``."""
        return await self._decide(bucket, count=True)

    async def test(self, bucket: Bucket) -> Decision:
        """Whether ``bucket`` has room for one more request, without counting it."""
        return await self._decide(bucket, count=False)

    async def _decide(self, bucket: Bucket, *, count: bool) -> Decision:
        limiter = self._shared if self._shared is not None else self._local
        if limiter is self._shared and time.monotonic() < self._down_until:
            limiter = self._unavailable()
        try:
            return await self._hit(limiter, bucket, count=count)
        except (StorageError, OSError, redis.RedisError) as error:
            self._down_until = time.monotonic() + STORAGE_RETRY_SECONDS
            log.warning(
                "rate-limit storage failed (%s); %s for %.0f s",
                error,
                "refusing requests" if self._fail_closed else "counting in this process",
                STORAGE_RETRY_SECONDS,
            )
            return await self._hit(self._unavailable(), bucket, count=count)

    def _unavailable(self) -> RateLimiter:
        if self._fail_closed:
            raise RateLimitUnavailableError
        return self._local

    async def _hit(self, limiter: RateLimiter, bucket: Bucket, *, count: bool) -> Decision:
        ids = (self._prefix, bucket.kind, bucket.identity)
        for item in bucket.limits:
            allowed = await (limiter.hit if count else limiter.test)(item, *ids)
            if not allowed:
                stats = await limiter.get_window_stats(item, *ids)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                return Decision(False, item, wait)
        return Decision(True)

    async def aclose(self) -> None:
        """Close the connections to Redis."""
        if self._pool is not None:
            await self._pool.aclose()


class RateLimitMiddleware:
    """ASGI middleware: 429 ``rate-limited`` (with ``Retry-After``) past a limit."""

    def __init__(self, app: ASGIApp, *, rules: BucketRules, limiter: Limiter) -> None:
        self.app = app
        self.rules = rules
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count an HTTP request, then pass it on or refuse it."""
        bucket = self.rules.bucket_for(scope) if scope["type"] == "http" else None
        if bucket is None:
            await self.app(scope, receive, send)
            return
        path = redact_card_numbers(str(scope.get("path", "")))  # echoed in the problem
        refused_keys = self.rules.refused_keys_bucket(scope) if bucket.kind == "key" else None
        what = "requests"
        try:
            decision = Decision(True)
            if refused_keys is not None:
                decision = await self.limiter.test(refused_keys)
                what = "requests with a refused API key from this address"
            if decision.allowed:
                what = "requests"
                decision = await self.limiter.hit(bucket)
        except RateLimitUnavailableError:
            problem = Problem(
                "rate-limit-unavailable",
                "the rate-limit storage cannot be reached; try again shortly",
                headers={"Retry-After": str(math.ceil(STORAGE_RETRY_SECONDS))},
            )
            await problem_response(problem, instance=path)(scope, receive, send)
            return
        if decision.allowed and refused_keys is None:
            await self.app(scope, receive, send)
            return
        if decision.allowed and refused_keys is not None:
            await self._pass_counting_refused_keys(scope, receive, send, refused_keys)
            return
        assert decision.limit is not None
        limit = decision.limit
        window = limit.get_expiry()
        problem = Problem(
            "rate-limited",
            f"more than {limit.amount} {what} per {limit.multiples} {limit.GRANULARITY.name}"
            f"{'' if limit.multiples == 1 else 's'}; retry in {decision.retry_after_seconds} s",
            headers={
                "Retry-After": str(decision.retry_after_seconds),
                "RateLimit-Limit": str(limit.amount),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(decision.retry_after_seconds),
                "RateLimit-Policy": f"{limit.amount};w={window}",
            },
            limit=str(limit),
        )
        await problem_response(problem, instance=path)(scope, receive, send)

    async def _pass_counting_refused_keys(
        self, scope: Scope, receive: Receive, send: Send, refused_keys: Bucket
    ) -> None:
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if status == HTTPStatus.UNAUTHORIZED:
            with contextlib.suppress(RateLimitUnavailableError):
                await self.limiter.hit(refused_keys)


def add_rate_limits(app: FastAPI, settings: Settings, providers: Container[str]) -> Limiter:
    """Limit ``app``'s requests as ``settings`` say (webhooks per enabled provider of
    ``providers``); the app's lifespan closes the storage."""
    rules = BucketRules(settings, providers)
    limiter = Limiter(settings)
    app.add_middleware(RateLimitMiddleware, rules=rules, limiter=limiter)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(lifespan_app: Any) -> AsyncIterator[Any]:
        async with inner(lifespan_app) as state:
            try:
                yield state
            finally:
                await limiter.aclose()

    app.router.lifespan_context = lifespan
    return limiter
