"""A host FastAPI application mounts paymux under a prefix and runs the whole flow."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from paymux.app import create_app
from paymux_test_support import (
    SUCCESS_CARD,
    auth,
    free_socket,
    make_settings,
    pay_on_hosted_page,
    payment_body,
    serve_in_thread,
    wait_for_status,
)


def test_host_app_mounts_paymux_at_payments(sqlite_url: str) -> None:
    sock = free_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    host = FastAPI()

    @host.get("/shop")
    async def shop() -> dict[str, str]:
        return {"shop": "open"}

    host.mount("/payments", create_app(make_settings(sqlite_url, f"{base}/payments")))
    with serve_in_thread(host, sock), httpx.Client(base_url=base, headers=auth()) as client:
        assert client.get("/shop").json() == {"shop": "open"}
        created = client.post(
            "/payments/v1/payments", json=payment_body(), headers=auth(idempotency_key="m1")
        )
        assert created.status_code == 201, created.text
        payment = created.json()
        assert payment["redirect_url"].startswith(f"{base}/payments/sandbox-psp/pay/")
        assert payment["status_page_url"].startswith(f"{base}/payments/checkout/")
        landed = pay_on_hosted_page(payment["redirect_url"], SUCCESS_CARD)
        assert str(landed.url).startswith(f"{base}/payments/checkout/{payment['id']}")
        client.base_url = httpx.URL(f"{base}/payments")
        settled = wait_for_status(client, payment["id"], "succeeded")
        assert [o["status"] for o in settled["orders"]] == ["succeeded", "succeeded"]
        problem = client.get("/v1/payments/nope")
        assert problem.status_code == 404
        assert problem.headers["content-type"] == "application/problem+json"


def test_create_router_in_a_host_app_answers_problems_itself(sqlite_url: str) -> None:
    from fastapi.testclient import TestClient

    from paymux.app import create_router, create_runtime

    runtime = create_runtime(make_settings(sqlite_url))
    host = FastAPI()
    host.include_router(create_router(runtime), prefix="/pay")
    with TestClient(host) as client:
        bad = client.post(
            "/pay/v1/payments",
            json=payment_body(currency="XYZ"),
            headers=auth(idempotency_key="r1"),
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["type"].endswith("/unknown-currency")
        missing = client.get("/pay/v1/payments/pay_nope", headers=auth())
        assert missing.status_code == 404
        assert missing.json()["type"].endswith("/payment-not-found")
        assert client.get("/pay/v1/payments/pay_nope").status_code == 401
        client.portal.call(runtime.aclose)  # type: ignore[union-attr]
