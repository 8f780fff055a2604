"""The plugin inside paymux: entry point, instruction page mount, statement uploads."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from paymux.app import create_app
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import CheckoutRequest
from paymux.core.providers import ProviderContext
from paymux.core.settings import Settings
from paymux.currencies import Money
from paymux_bank_transfer import fake_bank
from paymux_bank_transfer.config import BankTransferConfig
from paymux_bank_transfer.harness import PLATFORM_IBAN
from paymux_bank_transfer.page import instruction_app, render_instruction
from paymux_bank_transfer.plugin import build_provider, paymux_asgi_mounts
from paymux_bank_transfer.provider import BankTransferProvider, Instruction
from paymux_bank_transfer.references import format_reference
from paymux_bank_transfer.signature import sign
from paymux_test_support import auth

SECRET = "statement-secret-for-tests"


def bank_config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "iban": "DE89 3704 0044 0532 0130 00",
        "beneficiary_name": "Paymux Demo GmbH",
        "statement_secret": SECRET,
        "database_url": f"sqlite:///{tmp_path / 'bank.db'}",
        **extra,
    }


def payment(amount: str = "42.50") -> dict[str, Any]:
    return {
        "buyer_id": "buyer-1",
        "currency": "EUR",
        "country": "DE",
        "payment_method": "bank_transfer",
        "return_url": "https://shop.example/thanks",
        "orders": [{"seller_id": "seller-a", "amount": amount, "reference": "order-1"}],
    }


def test_the_entry_point_is_registered() -> None:
    [entry] = [e for e in entry_points(group="paymux") if e.name == "bank_transfer"]
    assert entry.value == "paymux_bank_transfer.plugin"


def test_config_validates_the_platform_account(tmp_path: Path) -> None:
    config = BankTransferConfig.model_validate(bank_config(tmp_path))
    assert (config.iban, config.account_bic) == (PLATFORM_IBAN, "COBADEFFXXX")
    for bad in [{"iban": "DE89370400440532013001"}, {"bic": "COBAXXFF"}, {"iban": "US12"}]:
        with pytest.raises(ValueError, match=r"IBAN|BIC"):
            BankTransferConfig.model_validate(bank_config(tmp_path, **bad))


def test_live_mode_refuses_development_secrets(tmp_path: Path) -> None:
    config = bank_config(tmp_path)
    del config["statement_secret"]
    context = ProviderContext("bank_transfer", "live", "https://pay.example", "https://x", config)
    with pytest.raises(ValueError, match="STATEMENT_SECRET"):
        build_provider(context)


def test_instruction_page_shows_everything_escaped() -> None:
    instruction = Instruction(
        reference="RF18539007547034",
        amount=Money(4250, "EUR"),
        beneficiary="<script>alert(1)</script> & Co",
        iban=PLATFORM_IBAN,
        bic="COBADEFFXXX",
        status=PaymentStatus.PENDING,
        expires_at=datetime(2030, 1, 2, tzinfo=UTC),
        return_url='https://shop.example/?a=1&b="2"',
    )
    html = render_instruction(instruction, sandbox=False)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "DE89 3704 0044 0532 0130 00" in html
    assert "RF18 5390 0754 7034" in html
    assert "€42.50" in html
    assert 'data-amount="42.50"' in html
    assert "COBADEFFXXX" in html
    assert "2030-01-02" in html
    assert 'href="https://shop.example/?a=1&amp;b=&quot;2&quot;"' in html
    assert "<form" not in html  # the simulation form is for sandbox mode only
    assert "<form" in render_instruction(instruction, sandbox=True)


async def test_sandbox_page_simulates_the_transfer(tmp_path: Path) -> None:
    config = BankTransferConfig.model_validate(bank_config(tmp_path))
    provider = BankTransferProvider(config, page_base_url="http://bank.test")
    app = instruction_app(provider, sandbox=True, webhook_url=None)
    try:
        registration = await provider.register_checkout(
            CheckoutRequest(
                "pay_1", Money(4250, "EUR"), "DE", "bank_transfer", "b", ("o",), "https://r"
            ),
            idempotency_key="k",
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bank.test"
        ) as browser:
            page = await browser.get(f"/pay/{registration.token}")
            assert page.status_code == 200
            assert format_reference(registration.token) in page.text
            assert (await browser.get("/pay/RF18539007547034")).status_code == 404
            wrong = await browser.post(
                f"/pay/{registration.token}/simulate", data={"amount": "4.25"}
            )
            assert wrong.status_code == 303
            assert (await provider.fetch_status(registration.token)).status is PaymentStatus.PENDING
            right = await browser.post(
                f"/pay/{registration.token}/simulate", data={"amount": "42.50"}
            )
            assert right.status_code == 303
            assert (
                await provider.fetch_status(registration.token)
            ).status is PaymentStatus.SUCCEEDED
            done = await browser.get(f"/pay/{registration.token}")
            assert "has arrived" in done.text
            assert "<form" not in done.text
    finally:
        await provider.aclose()


def test_mounts_only_when_enabled(tmp_path: Path) -> None:
    assert paymux_asgi_mounts(Settings()) == []
    settings = Settings(providers={"bank_transfer": bank_config(tmp_path)})
    [mount] = paymux_asgi_mounts(settings)
    assert mount.path == "/bank-transfer"


def test_a_settlement_currency_is_paymuxs_and_never_reaches_the_config(
    sqlite_url: str, tmp_path: Path
) -> None:
    config = bank_config(tmp_path, settlement_currency="USD")
    with pytest.raises(ValueError, match="extra"):
        BankTransferConfig.model_validate(config)  # the plugin's model forbids unknown keys
    settings = Settings(
        database_url=sqlite_url,
        public_url="http://testserver",
        providers={"bank_transfer": config},
    )
    [mount] = paymux_asgi_mounts(settings)
    assert mount.path == "/bank-transfer"
    with TestClient(create_app(settings)) as client:  # the provider is built without it
        runtime = client.app.state.paymux  # type: ignore[attr-defined]
        assert runtime.payments._settlement_currencies == {"bank_transfer": "USD"}


def test_statement_upload_settles_a_payment_in_paymux(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=sqlite_url,
        public_url="http://testserver",
        providers={"bank_transfer": bank_config(tmp_path)},
    )
    with TestClient(create_app(settings)) as client:
        created = client.post("/v1/payments", json=payment(), headers=auth(idempotency_key="p1"))
        assert created.status_code == 201, created.text
        body = created.json()
        redirect = str(body["redirect_url"])
        assert redirect.startswith("http://testserver/bank-transfer/pay/RF")
        reference = redirect.rsplit("/", 1)[1]
        page = client.get(redirect.replace("http://testserver", ""))
        assert page.status_code == 200
        assert "€42.50" in page.text
        assert format_reference(reference) in page.text

        def upload(amount: int, secret: str = SECRET) -> httpx.Response:
            document = fake_bank.statement(
                PLATFORM_IBAN, [fake_bank.credit(Money(amount, "EUR"), reference)]
            )
            response: httpx.Response = client.post(
                "/v1/webhooks/bank_transfer",
                content=document,
                headers={"Bank-Statement-Signature": sign(document, secret=secret)},
            )
            return response

        def status() -> str:
            got = client.get(f"/v1/payments/{body['id']}", headers=auth())
            return str(got.json()["orders"][0]["status"])

        assert upload(4250, secret="forged-secret-xxxxxxxx").status_code == 400
        wrong = upload(4200)
        assert wrong.status_code == 200
        assert wrong.json()["received"] == 0
        assert status() == "pending"
        right = upload(4250)
        assert right.status_code == 200
        assert right.json()["applied"] == 1
        assert status() == "succeeded"


def test_a_seller_paid_by_sepa_transfer_is_paid_when_the_statement_shows_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=sqlite_url,
        public_url="http://testserver",
        providers={"bank_transfer": bank_config(tmp_path)},
    )
    with TestClient(create_app(settings)) as client:
        created = client.post("/v1/payments", json=payment(), headers=auth(idempotency_key="p1"))
        body = created.json()
        reference = str(body["redirect_url"]).rsplit("/", 1)[1]

        def upload(*lines: fake_bank.Line) -> httpx.Response:
            document = fake_bank.statement(PLATFORM_IBAN, list(lines))
            response: httpx.Response = client.post(
                "/v1/webhooks/bank_transfer",
                content=document,
                headers={"Bank-Statement-Signature": sign(document, secret=SECRET)},
            )
            return response

        assert upload(fake_bank.credit(Money(4250, "EUR"), reference)).json()["applied"] == 1
        order_id = body["orders"][0]["id"]
        shipped = client.post(
            f"/v1/payment-orders/{order_id}/shipment", headers=auth(idempotency_key="s1")
        )
        assert shipped.status_code == 201, shipped.text
        method = {"provider": "bank_transfer", "account": "NL91 ABNA 0417 1643 00",
                  "holder_name": "Jan de Vries", "details": {"bic": "ABNANL2A"}}  # fmt: skip
        put = client.put("/v1/sellers/seller-a/payout-method", json=method, headers=auth())
        assert put.status_code == 200, put.text
        paid_out = client.post(
            "/v1/payouts",
            json={"seller_id": "seller-a", "currency": "EUR"},
            headers=auth(idempotency_key="out-1"),
        )
        assert paid_out.status_code == 201, paid_out.text
        assert (paid_out.json()["status"], paid_out.json()["amount"]) == ("pending", "42.50")

        provider = client.app.state.paymux.providers.get("bank_transfer")  # type: ignore[attr-defined]
        assert isinstance(provider, BankTransferProvider)
        batch = client.portal.call(provider.export_payout_batch)  # type: ignore[union-attr]
        assert batch is not None
        document = batch.document.decode()
        assert "NL91ABNA0417164300" in document
        end_to_end_id = document.split("<EndToEndId>")[1].split("</EndToEndId>")[0]

        answer = upload(fake_bank.payout_debit(Money(4250, "EUR"), end_to_end_id))
        assert answer.json()["applied"] == 1, answer.text
        payout = client.get(f"/v1/payouts/{paid_out.json()['id']}", headers=auth()).json()
        assert payout["status"] == "paid"
        wallet = client.get("/v1/wallets/seller-a", headers=auth()).json()["balances"][0]
        assert (wallet["available"], wallet["paid_out"]) == ("0.00", "42.50")
