"""Bounded request bodies: 413 ``payload-too-large`` past a limit, without buffering more.

The limit of a request (:func:`body_limit_for`): ``webhook_max_body_bytes`` on
``/v1/webhooks/{provider}`` (or more, when the provider plugin asks for it through a
``max_webhook_body_bytes`` attribute), ``reconciliation_max_upload_bytes`` on
``POST /v1/reconciliations``, ``max_body_bytes`` everywhere else.

A ``Content-Length`` above the limit is refused before the body is read. A body sent
without one (chunked) is counted while the application reads it: the chunk that crosses
the limit raises :class:`BodyTooLargeError` (a 413 ``HTTPException``, which every paymux
route answers as problem+json), and whatever the application answers instead, the client
gets the 413.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paymux.app.problems import Problem, problem_response
from paymux.core.card_numbers import redact_card_numbers
from paymux.core.providers import ProviderRegistry
from paymux.core.settings import Settings

WEBHOOKS_PREFIX = "/v1/webhooks/"


class BodyTooLargeError(HTTPException):
    """The body grew past its limit while it was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.limit = limit


def too_large(limit: int) -> Problem:
    """The 413 problem of a body over ``limit`` bytes."""
    return Problem("payload-too-large", f"the request body is larger than {limit} bytes")


def webhook_body_limit(settings: Settings, providers: ProviderRegistry, provider: str) -> int:
    """The largest webhook body of ``provider``: the setting, or more if the plugin asks."""
    limit = settings.webhook_max_body_bytes
    if provider in providers:
        asked = getattr(providers.get(provider), "max_webhook_body_bytes", None)
        if isinstance(asked, int) and asked > limit:
            return asked
    return limit


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body of ``request``; :class:`BodyTooLargeError` past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def body_limit_for(settings: Settings, providers: ProviderRegistry) -> Callable[[Scope], int]:
    """The function that gives a request's body limit (see the module's docstring)."""

    def limit_for(scope: Scope) -> int:
        path = str(scope.get("path", ""))
        root = str(scope.get("root_path", ""))
        if root and path.startswith(root):
            path = path[len(root) :]
        if path.startswith(WEBHOOKS_PREFIX):
            provider = path.removeprefix(WEBHOOKS_PREFIX).split("/", 1)[0]
            return webhook_body_limit(settings, providers, provider)
        if path.rstrip("/") == "/v1/reconciliations" and scope.get("method") == "POST":
            return settings.reconciliation_max_upload_bytes
        return settings.max_body_bytes

    return limit_for


class BodyLimitMiddleware:
    """ASGI middleware that refuses bodies over their limit with 413 problem+json."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check ``Content-Length``, then count the body's chunks as the app reads them."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        instance = redact_card_numbers(str(scope.get("path", "")))  # echoed in the problem
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await problem_response(too_large(limit), instance=instance)(scope, receive, send)
                return
        received = 0
        exceeded = False
        started = False
        replaced = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLargeError(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the 413 replaced the app's own answer
            if exceeded and not started and message["type"] == "http.response.start":
                started = replaced = True
                await problem_response(too_large(limit), instance=instance)(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLargeError:
            if replaced:
                return
            if started:
                raise
            await problem_response(too_large(limit), instance=instance)(scope, receive, send)


def add_body_limits(app: FastAPI, settings: Settings, providers: ProviderRegistry) -> None:
    """Bound every request body of ``app`` as ``settings`` say."""
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit_for(settings, providers))
