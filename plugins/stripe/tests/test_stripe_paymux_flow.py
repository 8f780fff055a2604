"""paymux itself, with only the Stripe plugin, against the fake Stripe: pay, webhook, refresh."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from paymux.app import create_app
from paymux.core.domain.status import PaymentStatus
from paymux.core.plugins import create_plugin_manager
from paymux.core.ports.provider import CheckoutRegistration
from paymux.core.settings import DEVELOPMENT_API_KEY, Settings
from paymux_stripe import plugin
from paymux_stripe.harness import StripeHarness, find_specs_dir

SPECS = find_specs_dir(Path(__file__).parent)
AUTH = {"Authorization": f"Bearer {DEVELOPMENT_API_KEY}"}


def test_a_payment_through_stripe_succeeds_by_webhook(sqlite_url: str) -> None:
    harness = StripeHarness.start(specs_dir=SPECS, require_spec=True)
    try:
        settings = Settings(
            database_url=sqlite_url,
            public_url="http://127.0.0.1:9",
            api_keys={DEVELOPMENT_API_KEY: "dev"},
            providers={"stripe": harness.config.model_dump()},
        )
        app = create_app(settings, plugin_manager=create_plugin_manager(plugins=[plugin]))
        with TestClient(app) as client:
            created = client.post(
                "/v1/payments",
                headers={**AUTH, "Idempotency-Key": "checkout-1"},
                json={
                    "buyer_id": "buyer-1",
                    "currency": "JPY",
                    "country": "JP",
                    "payment_method": "card",
                    "return_url": "https://shop.example/thanks",
                    "orders": [
                        {"seller_id": "seller-a", "amount": "3000", "reference": "order-1"},
                        {"seller_id": "seller-b", "amount": "1200", "reference": "order-2"},
                    ],
                },
            )
            assert created.status_code == 201, created.text
            payment = created.json()
            assert payment["status"] == "pending"
            (token,) = harness.fake.sessions
            session = harness.fake.sessions[token]
            assert (session["amount_total"], session["currency"]) == (4200, "jpy")
            registration = CheckoutRegistration(token=token, redirect_url=str(session["url"]))

            headers, body = harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
            answer = client.post("/v1/webhooks/stripe", headers=dict(headers), content=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["applied"] == 1
            again = client.post("/v1/webhooks/stripe", headers=dict(headers), content=body)
            assert again.json()["duplicates"] == 1

            forged = client.post(
                "/v1/webhooks/stripe",
                headers={"stripe-signature": "t=1,v1=00"},
                content=body,
            )
            assert forged.status_code == 400
            read = client.get(f"/v1/payments/{payment['id']}", headers=AUTH)
            assert read.json()["status"] == "succeeded"
    finally:
        harness.close()
