"""Rate limits per API key, per client IP and per webhook sender, in memory and in Redis."""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from paymux.app.factory import create_app
from paymux.app.rate_limiting import (
    Bucket,
    Decision,
    Limiter,
    key_digest,
)
from paymux_broker_support import broker_url, closed_port
from paymux_test_support import API_KEY, OTHER_API_KEY, auth, make_settings

MISSING_PAYMENT = "/v1/payments/pay_missing"
"""A cheap route for a burst: a valid key gets 404 (served), never 429 unless limited."""


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test (or instance of the suite) uses."""
    return f"paymux-test-{uuid.uuid4().hex}"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.brokers)])
def storage_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs with the counters in memory and in Redis."""
    if request.param == "memory":
        return "memory://"
    return broker_url("PAYMUX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def limited_app(sqlite_url: str, **settings: Any) -> FastAPI:
    """The real app with two API clients and the given rate-limit settings."""
    return create_app(make_settings(sqlite_url, settings=settings))


@asynccontextmanager
async def client_of(app: FastAPI, ip: str = "203.0.113.7") -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client (as from ``ip``) that runs the app's lifespan around it."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://paymux.test") as client,
    ):
        yield client


def assert_rate_limited(response: httpx.Response) -> None:
    """A 429 problem with a Retry-After in whole seconds, and the RateLimit headers."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://paymux.dev/problems/rate-limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["ratelimit-remaining"] == "0"
    assert int(response.headers["ratelimit-limit"]) > 0


async def test_a_burst_of_1000_from_one_key_is_cut_to_the_limit(
    sqlite_url: str, storage_url: str, prefix: str
) -> None:
    app = limited_app(
        sqlite_url,
        rate_limit="100/second",
        rate_limit_storage_url=storage_url,
        rate_limit_key_prefix=prefix,
    )
    allowed_at = record_allowed_hits(app, kind="key")
    async with client_of(app) as client:
        started = time.monotonic()
        burst = await asyncio.gather(
            *(client.get(MISSING_PAYMENT, headers=auth(API_KEY)) for _ in range(1000))
        )
        elapsed = time.monotonic() - started
        other = await client.get("/v1/dead-letters", headers=auth(OTHER_API_KEY))

    accepted = [r for r in burst if r.status_code != 429]
    refused = [r for r in burst if r.status_code == 429]
    busiest = busiest_second(allowed_at[: len(accepted)])
    print(f"{len(accepted)} of 1000 accepted in {elapsed:.2f} s; busiest second: {busiest}")
    assert {r.status_code for r in accepted} == {404}
    # In any one second at most the limit passes, at most twice it as seen from outside
    # (a hit is timed when the storage has answered). A machine slower than 1,000
    # requests a second lets the limit through again in each further second.
    assert 100 <= busiest <= 200
    assert 100 <= len(accepted) <= 100 * (1 + math.ceil(elapsed))
    assert len(refused) == 1000 - len(accepted) >= 1000 - 100 * (1 + math.ceil(elapsed))
    for response in refused:
        assert_rate_limited(response)
    assert other.status_code == 200, other.text  # the second key is served normally


def record_allowed_hits(app: FastAPI, *, kind: str) -> list[float]:
    """When the app's limiter let a request of ``kind`` through (filled as it runs)."""
    limiters = [m.kwargs["limiter"] for m in app.user_middleware if "limiter" in m.kwargs]
    limiter = limiters[0]
    assert isinstance(limiter, Limiter)
    times: list[float] = []
    hit = limiter.hit

    async def recording_hit(bucket: Bucket) -> Decision:
        decision = await hit(bucket)
        if decision.allowed and bucket.kind == kind:
            times.append(time.monotonic())
        return decision

    limiter.hit = recording_hit  # type: ignore[method-assign]
    return times


def busiest_second(times: list[float]) -> int:
    """The most of ``times`` within any one second."""
    ordered = sorted(times)
    return max(bisect.bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered))


@pytest.mark.brokers
async def test_two_instances_sharing_redis_share_the_limit(sqlite_url: str, prefix: str) -> None:
    url = broker_url("PAYMUX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = {
        "rate_limit": "50/minute",
        "rate_limit_storage_url": url,
        "rate_limit_key_prefix": prefix,
    }
    first, second = limited_app(sqlite_url, **settings), limited_app(sqlite_url, **settings)
    async with client_of(first) as one, client_of(second) as two:
        answers = []
        for _ in range(40):
            answers.append(await one.get(MISSING_PAYMENT, headers=auth()))
            answers.append(await two.get(MISSING_PAYMENT, headers=auth()))
    codes = [answer.status_code for answer in answers]
    assert codes.count(404) == 50
    assert codes.count(429) == 30
    assert codes[50:] == [429] * 30  # the first 50, whichever instance answered them

    redis = Redis.from_url(url)
    try:
        keys = [key.decode() async for key in redis.scan_iter(match=f"*{prefix}*")]
        await asyncio.gather(*(redis.delete(key) for key in keys))
    finally:
        await redis.aclose()
    assert keys, "the counters live in Redis"
    assert all(API_KEY not in key for key in keys)  # the key itself is never stored
    assert any(key_digest(API_KEY) in key for key in keys)


async def test_separate_memory_instances_count_separately(sqlite_url: str, prefix: str) -> None:
    settings = {"rate_limit": "5/minute", "rate_limit_key_prefix": prefix}
    first, second = limited_app(sqlite_url, **settings), limited_app(sqlite_url, **settings)
    async with client_of(first) as one, client_of(second) as two:
        codes = [(await c.get(MISSING_PAYMENT, headers=auth())).status_code for c in [one] * 6]
        codes += [(await c.get(MISSING_PAYMENT, headers=auth())).status_code for c in [two] * 6]
    assert codes == [404] * 5 + [429] + [404] * 5 + [429]


async def test_requests_without_a_key_are_limited_per_client_ip(
    sqlite_url: str, storage_url: str, prefix: str
) -> None:
    app = limited_app(
        sqlite_url,
        rate_limit_anonymous="3/minute",
        rate_limit_storage_url=storage_url,
        rate_limit_key_prefix=prefix,
    )
    async with client_of(app, ip="198.51.100.1") as first, client_of(app, "198.51.100.2") as other:
        codes = [(await first.get(MISSING_PAYMENT)).status_code for _ in range(4)]
        status_page = await first.get("/checkout/pay_missing")
        other_ip = await other.get(MISSING_PAYMENT)
        with_key = await first.get(MISSING_PAYMENT, headers=auth())
        health = [(await first.get("/healthz")).status_code for _ in range(10)]
    assert codes == [401, 401, 401, 429]
    assert_rate_limited(status_page)  # buyer pages count against the same per-IP budget
    assert other_ip.status_code == 401
    assert with_key.status_code == 404  # a key has its own budget
    assert health == [200] * 10  # never limited


async def test_webhooks_are_limited_per_provider_and_sender(
    sqlite_url: str, storage_url: str, prefix: str
) -> None:
    app = limited_app(
        sqlite_url,
        rate_limit_webhooks="2/minute",
        rate_limit_storage_url=storage_url,
        rate_limit_key_prefix=prefix,
    )
    async with client_of(app, ip="192.0.2.10") as psp, client_of(app, ip="192.0.2.11") as other:
        forged = [(await psp.post("/v1/webhooks/sandbox", content=b"{}")).status_code]
        forged += [(await psp.post("/v1/webhooks/sandbox", content=b"{}")).status_code]
        third = await psp.post("/v1/webhooks/sandbox", content=b"{}")
        other_provider = await psp.post("/v1/webhooks/stripe", content=b"{}")
        other_sender = await other.post("/v1/webhooks/sandbox", content=b"{}")
        api = await psp.get(MISSING_PAYMENT, headers=auth())
    assert forged == [400, 400]
    assert_rate_limited(third)
    assert other_provider.status_code == 404  # not enabled, but not limited either
    assert other_sender.status_code == 400
    assert api.status_code == 404


async def test_made_up_provider_names_share_one_webhook_budget(
    sqlite_url: str, storage_url: str, prefix: str
) -> None:
    app = limited_app(
        sqlite_url,
        rate_limit_webhooks="2/minute",
        rate_limit_storage_url=storage_url,
        rate_limit_key_prefix=prefix,
    )
    async with client_of(app, ip="192.0.2.20") as sender:
        made_up = [
            await sender.post(f"/v1/webhooks/nosuchpsp{number}", content=b"{}")
            for number in range(3)
        ]
        sandbox = await sender.post("/v1/webhooks/sandbox", content=b"{}")
    assert [response.status_code for response in made_up[:2]] == [404, 404]
    assert_rate_limited(made_up[2])  # a new name is no new budget
    assert sandbox.status_code == 400  # an enabled provider keeps its own


async def test_the_429_problem_never_echoes_a_card_number_in_the_path(
    sqlite_url: str, prefix: str
) -> None:
    app = limited_app(
        sqlite_url,
        rate_limit_anonymous="1/minute",
        rate_limit_webhooks="1/minute",
        rate_limit_key_prefix=prefix,
    )
    async with client_of(app, ip="192.0.2.30") as client:
        await client.get("/checkout/pay_missing")
        await client.post("/v1/webhooks/sandbox", content=b"{}")
        status_page = await client.get("/checkout/4242424242424242")
        webhook = await client.post("/v1/webhooks/sandbox/4242424242424242", content=b"{}")
    for response in (status_page, webhook):
        assert_rate_limited(response)
        assert "4242424242424242" not in response.text
        assert "card number ending 4242" in response.json()["instance"]  # masked


async def test_redis_down_fails_open_to_a_limit_in_this_process(
    sqlite_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = limited_app(
        sqlite_url,
        rate_limit="5/minute",
        rate_limit_storage_url=f"redis://127.0.0.1:{closed_port()}/0",
        rate_limit_key_prefix=prefix,
    )
    with caplog.at_level(logging.WARNING, logger="paymux.app.rate_limiting"):
        async with client_of(app) as client:
            codes = [(await client.get(MISSING_PAYMENT, headers=auth())).status_code]
            codes += [(await client.get(MISSING_PAYMENT, headers=auth())).status_code]
            codes += [
                (await client.get(MISSING_PAYMENT, headers=auth())).status_code for _ in range(4)
            ]
            other = await client.get(MISSING_PAYMENT, headers=auth(OTHER_API_KEY))
    assert codes == [404] * 5 + [429]
    assert other.status_code == 404
    warnings = [r for r in caplog.records if "rate-limit storage failed" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per request
    assert "counting in this process" in warnings[0].getMessage()


async def test_redis_down_can_fail_closed(sqlite_url: str, prefix: str) -> None:
    app = limited_app(
        sqlite_url,
        rate_limit_storage_url=f"redis://127.0.0.1:{closed_port()}/0",
        rate_limit_on_storage_error="closed",
        rate_limit_key_prefix=prefix,
    )
    async with client_of(app) as client:
        answers = [await client.get(MISSING_PAYMENT, headers=auth()) for _ in range(3)]
        health = await client.get("/healthz")
    for answer in answers:
        assert answer.status_code == 503
        assert answer.json()["type"] == "https://paymux.dev/problems/rate-limit-unavailable"
        assert int(answer.headers["retry-after"]) >= 1
    assert health.status_code == 200


def test_a_bad_rate_limit_setting_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="rate_limit: not a rate limit"):
        limited_app(sqlite_url, rate_limit="lots")
    with pytest.raises(ValueError, match="rate_limit_storage_url"):
        limited_app(sqlite_url, rate_limit_storage_url="memcached://127.0.0.1:11211")


def test_an_empty_limit_turns_it_off(sqlite_url: str) -> None:
    app = limited_app(sqlite_url, rate_limit="", rate_limit_anonymous="1/minute")

    def codes() -> Iterator[int]:
        from fastapi.testclient import TestClient

        with TestClient(app) as client:
            for _ in range(5):
                yield client.get(MISSING_PAYMENT, headers=auth()).status_code

    assert list(codes()) == [404] * 5


async def test_made_up_keys_do_not_each_get_a_fresh_budget(
    sqlite_url: str, storage_url: str, prefix: str
) -> None:
    app = limited_app(
        sqlite_url,
        rate_limit_anonymous="3/minute",
        rate_limit_storage_url=storage_url,
        rate_limit_key_prefix=prefix,
    )
    async with (
        client_of(app, ip="198.51.100.5") as guesser,
        client_of(app, "198.51.100.6") as other,
    ):
        guesses = [
            await guesser.get(MISSING_PAYMENT, headers=auth(f"pmx_guess_{n}")) for n in range(4)
        ]
        valid_from_there = await guesser.get(MISSING_PAYMENT, headers=auth())
        valid_elsewhere = await other.get(MISSING_PAYMENT, headers=auth())
    assert [r.status_code for r in guesses] == [401, 401, 401, 429]
    assert "refused API key" in guesses[-1].json()["detail"]
    assert_rate_limited(valid_from_there)  # the address is refused until its window passes
    assert valid_elsewhere.status_code == 404
