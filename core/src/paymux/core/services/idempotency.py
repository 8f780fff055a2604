"""Idempotency for use cases: replay a completed request, refuse a reused key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from paymux.core.domain.errors import IdempotencyKeyInUseError, IdempotencyKeyReusedError
from paymux.core.domain.models import IdempotencyRecord
from paymux.core.storage.unit_of_work import PaymentStore, UnitOfWork

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """Who sent a mutating request, with which idempotency key and which content."""

    client_id: str
    key: str
    fingerprint: str
    """A digest of the request (method, path, body): the same key with another one is refused."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response as first sent; ``replayed`` is true when it comes from the idempotency store."""

    status: int
    body: str
    replayed: bool = False


def replay_if_done(record: IdempotencyRecord, request: IdempotentRequest) -> StoredResponse | None:
    """The stored response for ``record``, or ``None`` while its request is unfinished.

    Raises :class:`IdempotencyKeyReusedError` when the key came with another request.
    """
    if record.fingerprint != request.fingerprint:
        raise IdempotencyKeyReusedError(
            "this idempotency key was already used with a different request"
        )
    if record.response_status is None or record.response_body is None:
        return None
    return StoredResponse(record.response_status, record.response_body, replayed=True)


async def run_once(
    store: PaymentStore,
    request: IdempotentRequest,
    *,
    resource_id: str,
    now: datetime,
    work: Callable[[UnitOfWork], Awaitable[tuple[int, str]]],
) -> StoredResponse:
    """Run ``work`` and store its response under the key, all in one database transaction.

    For use cases without a network call. If ``work`` raises, nothing is stored (not even the
    key), so the request can be sent again. A concurrent request with the same key waits for
    this one's commit (the key's unique index) and then replays its response.
    """
    async with store.begin() as uow:
        record_id = await uow.insert_idempotency_key(
            client_id=request.client_id,
            key=request.key,
            fingerprint=request.fingerprint,
            resource_id=resource_id,
            now=now,
        )
        if record_id is not None:
            status, body = await work(uow)
            await uow.complete_idempotency_key(record_id, status=status, body=body)
            return StoredResponse(status, body)
    async with store.begin() as uow:
        record = await uow.find_idempotency_key(request.client_id, request.key)
    if record is None:  # pragma: no cover - the row we collided with cannot vanish
        raise IdempotencyKeyInUseError("the idempotency key is being used right now")
    replay = replay_if_done(record, request)
    if replay is None:
        raise IdempotencyKeyInUseError("a request with this idempotency key is still running")
    return replay


@dataclass(frozen=True, slots=True)
class Claimed(Generic[T]):
    """This request holds the key: ``resource`` is to be executed, then ``record_id`` completed."""

    resource: T
    record_id: int


async def claim_or_resume(
    store: PaymentStore,
    request: IdempotentRequest,
    *,
    resource_id: str,
    now: datetime,
    lock: timedelta,
    open_resource: Callable[[UnitOfWork], Awaitable[T]],
    load_resource: Callable[[UnitOfWork, str], Awaitable[T | None]],
) -> Claimed[T] | StoredResponse:
    """The first half of a use case that calls a provider: claim the key, or resume/replay.

    A new key is claimed in the same database transaction as ``open_resource`` writes the
    resource (if that raises, nothing is written, not even the key). A key used before with
    the same request replays its stored response, or, when its request never finished and
    its lock was released or went stale, hands back the stored resource to execute again
    (the provider then gets the same idempotency key). Raises
    :class:`IdempotencyKeyReusedError` or :class:`IdempotencyKeyInUseError`.
    """
    async with store.begin() as uow:
        record_id = await uow.insert_idempotency_key(
            client_id=request.client_id,
            key=request.key,
            fingerprint=request.fingerprint,
            resource_id=resource_id,
            now=now,
        )
        if record_id is not None:
            return Claimed(await open_resource(uow), record_id)
    async with store.begin() as uow:
        record = await uow.find_idempotency_key(request.client_id, request.key)
    if record is None:  # pragma: no cover - the row we collided with cannot vanish
        raise IdempotencyKeyInUseError("the idempotency key is being used right now")
    replay = replay_if_done(record, request)
    if replay is not None:
        return replay
    async with store.begin() as uow:
        acquired = await uow.lock_idempotency_key(record.id, now=now, stale_before=now - lock)
        existing = await load_resource(uow, record.resource_id or "")
    if not acquired or existing is None:
        raise IdempotencyKeyInUseError("a request with this idempotency key is still running")
    return Claimed(existing, record.id)
