"""Request bodies are bounded (413, also without Content-Length) and page sizes clamped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
from fastapi import FastAPI

from paymux.app.body_limits import webhook_body_limit
from paymux.app.factory import create_app
from paymux.app.routes.paging import page_limit
from paymux.core.providers import ProviderRegistry
from paymux_test_support import auth, count_rows, make_settings, payment_body

PROBLEM = "https://paymux.dev/problems/"


def small_limits_app(sqlite_url: str) -> FastAPI:
    return create_app(
        make_settings(
            sqlite_url,
            settings={
                "embedded_worker": "never",
                "max_body_bytes": 4096,
                "webhook_max_body_bytes": 2048,
                "reconciliation_max_upload_bytes": 64 * 1024,
            },
        )
    )


class Chunks:
    """A request body sent in chunks without Content-Length; counts what was taken."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk = chunk
        self.count = count
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.taken += 1
            yield self.chunk


def assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == PROBLEM + "payload-too-large"
    assert str(limit) in problem["detail"]


async def test_bodies_over_the_limit_get_413_and_write_nothing(sqlite_url: str) -> None:
    app = small_limits_app(sqlite_url)
    big = {**payment_body(), "padding": "x" * 5000}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://paymux.test") as client:
        declared = await client.post(
            "/v1/payments", json=big, headers=auth(idempotency_key="too-big-1")
        )
        chunks = Chunks(b" " * 512, 10_000)  # 5 MB if it were all read
        streamed = await client.post(
            "/v1/payments",
            content=chunks,
            headers={**auth(idempotency_key="too-big-2"), "content-type": "application/json"},
        )
        fitting = await client.post(  # small enough: on to validation
            "/v1/payments", json={"padding": "x" * 3000}, headers=auth(idempotency_key="fits")
        )
    assert_too_large(declared, 4096)
    assert_too_large(streamed, 4096)
    assert "content-length" not in {name.lower() for name in streamed.request.headers}
    assert chunks.taken <= 4096 // 512 + 2  # refused while reading, not after buffering
    assert fitting.status_code == 422, fitting.text
    assert fitting.json()["type"] == PROBLEM + "validation-error"
    rows = count_rows(sqlite_url)
    assert rows["idempotency_key"] == rows["payment_order"] == 0


async def test_webhooks_have_their_own_limit(sqlite_url: str) -> None:
    app = small_limits_app(sqlite_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://paymux.test") as client:
        declared = await client.post("/v1/webhooks/sandbox", content=b"{" + b" " * 3000 + b"}")
        streamed = await client.post("/v1/webhooks/sandbox", content=Chunks(b" " * 256, 100))
        small = await client.post("/v1/webhooks/sandbox", content=b"{" + b" " * 1500 + b"}")
    assert_too_large(declared, 2048)
    assert_too_large(streamed, 2048)
    assert small.status_code == 400  # within the limit: on to the signature check
    assert small.json()["type"] == PROBLEM + "webhook-signature-invalid"


async def test_the_reconciliation_upload_keeps_its_own_larger_limit(sqlite_url: str) -> None:
    app = small_limits_app(sqlite_url)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://paymux.test") as client,
    ):
        fits = await client.post(
            "/v1/reconciliations",
            params={"provider": "sandbox"},
            content=b"a,b\n" + b"1,2\n" * 4000,  # 16 kB: over max_body_bytes, under its own
            headers=auth(idempotency_key="recon-fits"),
        )
        over = await client.post(
            "/v1/reconciliations",
            params={"provider": "sandbox"},
            content=Chunks(b"1,2\n" * 1024, 100),
            headers=auth(idempotency_key="recon-over"),
        )
    assert fits.status_code == 422, fits.text  # read whole, then refused for what it is
    assert fits.json()["type"] == PROBLEM + "settlement-file-refused"
    assert_too_large(over, 64 * 1024)


def test_a_provider_plugin_may_ask_for_larger_webhooks(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, settings={"webhook_max_body_bytes": 1000})

    def provider(name: str, **extra: Any) -> Any:
        return SimpleNamespace(name=name, **extra)

    providers = ProviderRegistry(
        [provider("bank"), provider("statements", max_webhook_body_bytes=20_000), provider("x")]
    )
    assert webhook_body_limit(settings, providers, "bank") == 1000
    assert webhook_body_limit(settings, providers, "statements") == 20_000
    assert webhook_body_limit(settings, providers, "unknown") == 1000


async def test_page_sizes_above_the_maximum_are_clamped(sqlite_url: str) -> None:
    app = small_limits_app(sqlite_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://paymux.test") as client:
        listed = await client.get("/v1/dead-letters?limit=1000000", headers=auth())
        runs = await client.get("/v1/reconciliations?limit=501", headers=auth())
        zero = await client.get("/v1/dead-letters?limit=0", headers=auth())
        schema = (await client.get("/openapi.json")).json()
    assert listed.status_code == 200, listed.text
    assert runs.status_code == 200, runs.text
    assert zero.status_code == 422
    parameters = schema["paths"]["/v1/dead-letters"]["get"]["parameters"]
    limit = next(p for p in parameters if p["name"] == "limit")
    assert "maximum" not in limit["schema"]
    assert "at most 500" in limit["description"]


async def test_a_clamped_page_has_the_maximum_and_a_correct_cursor() -> None:
    items = list(range(1, 11))
    app = FastAPI()

    @app.get("/items")
    async def listing(limit: Annotated[int, page_limit(2, 4)], after: int = 0) -> dict[str, Any]:
        page = [item for item in items if item > after][:limit]
        return {"items": page, "next_after": page[-1] if len(page) == limit else None}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        seen: list[int] = []
        after = 0
        pages = 0
        while True:
            body = json.loads((await client.get(f"/items?limit=1000&after={after}")).text)
            seen += body["items"]
            pages += 1
            assert len(body["items"]) <= 4
            if body["next_after"] is None:
                break
            after = body["next_after"]
        default = (await client.get("/items")).json()
    assert seen == items
    assert pages == 3
    assert default["items"] == [1, 2]


async def test_the_413_problem_never_echoes_a_card_number_in_the_path(sqlite_url: str) -> None:
    app = small_limits_app(sqlite_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://paymux.test") as client:
        declared = await client.post(
            "/v1/payments/4242424242424242/refunds",
            content=b"{" + b" " * 5000 + b"}",
            headers={**auth(), "content-type": "application/json"},
        )
        streamed = await client.post(
            "/v1/webhooks/4242424242424242", content=Chunks(b" " * 512, 100)
        )
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert "4242424242424242" not in response.text
        assert "card number ending 4242" in response.json()["instance"]  # masked
