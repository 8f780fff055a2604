"""``paymux bank-transfer export|show|import`` against a SQLite database."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paymux.app import create_app
from paymux.app.cli import create_cli
from paymux.core.plugins import create_plugin_manager
from paymux.core.settings import Settings
from paymux.currencies import Money
from paymux_bank_transfer import fake_bank, plugin
from paymux_bank_transfer.harness import PLATFORM_IBAN
from paymux_test_support import auth

SECRET = "statement-secret-for-tests"


def bank_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "iban": "DE89 3704 0044 0532 0130 00",
        "beneficiary_name": "Paymux Demo GmbH",
        "statement_secret": SECRET,
        "database_url": f"sqlite:///{tmp_path / 'bank.db'}",
    }


@pytest.fixture
def paymux(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The environment of a paymux with the bank_transfer provider enabled, cwd in tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYMUX_PUBLIC_URL", "http://testserver")
    monkeypatch.setenv("PAYMUX_PROVIDERS", json.dumps({"bank_transfer": bank_config(tmp_path)}))
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> Any:
    manager = create_plugin_manager(autoload=False, plugins=[plugin])
    return runner.invoke(create_cli(plugin_manager=manager), list(args))


def pay_in_and_request_a_payout(reference_holder: dict[str, str]) -> None:
    """Through the API: a paid, shipped order and a pending SEPA payout to its seller."""
    with TestClient(create_app(Settings())) as client:
        created = client.post(
            "/v1/payments",
            json={
                "buyer_id": "buyer-1",
                "currency": "EUR",
                "country": "DE",
                "payment_method": "bank_transfer",
                "return_url": "https://shop.example/thanks",
                "orders": [{"seller_id": "seller-a", "amount": "42.50", "reference": "order-1"}],
            },
            headers=auth(idempotency_key="p1"),
        )
        assert created.status_code == 201, created.text
        body = created.json()
        reference = str(body["redirect_url"]).rsplit("/", 1)[1]
        statement = fake_bank.statement(
            PLATFORM_IBAN, [fake_bank.credit(Money(4250, "EUR"), reference)]
        )
        provider = client.app.state.paymux.providers.get("bank_transfer")  # type: ignore[attr-defined]
        events = client.portal.call(provider.import_statement, statement)  # type: ignore[union-attr]
        runtime = client.app.state.paymux  # type: ignore[attr-defined]
        assert client.portal.call(runtime.webhooks.apply, "bank_transfer", events).applied == 1  # type: ignore[union-attr]
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
        assert paid_out.json()["status"] == "pending"
        reference_holder["payout_id"] = str(paid_out.json()["id"])


def payout_status(payout_id: str) -> str:
    with TestClient(create_app(Settings())) as client:
        got = client.get(f"/v1/payouts/{payout_id}", headers=auth())
        assert got.status_code == 200, got.text
        return str(got.json()["status"])


def test_export_import_and_export_again(
    paymux: CliRunner, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMUX_DATABASE_URL", sqlite_url)
    ids: dict[str, str] = {}
    pay_in_and_request_a_payout(ids)

    exported = invoke(paymux, "bank-transfer", "export", "--execution-date", "2030-01-15")
    assert exported.exit_code == 0, exported.output
    batch_id = exported.output.split()[1]
    assert batch_id.startswith("bt-batch-")
    assert "transfers: 1" in exported.output
    assert "€42.50" in exported.output or "42.50" in exported.output
    written = tmp_path / f"{batch_id}.xml"
    document = written.read_bytes()
    xmlschema.XMLSchema(str(files("sepaxml") / "schemas" / "pain.001.001.09.xsd")).validate(
        document.decode()
    )
    text = document.decode()
    assert "NL91ABNA0417164300" in text
    assert "2030-01-15" in text
    end_to_end_id = text.split("<EndToEndId>")[1].split("</EndToEndId>")[0]

    shown = invoke(paymux, "bank-transfer", "show", batch_id, "--output", "again.xml")
    assert shown.exit_code == 0, shown.output
    assert (tmp_path / "again.xml").read_bytes() == document
    missing = invoke(paymux, "bank-transfer", "show", "bt-batch-nope")
    assert missing.exit_code == 1
    assert "no payout batch" in missing.output

    assert payout_status(ids["payout_id"]) == "pending"
    statement = tmp_path / "statement.xml"
    statement.write_bytes(
        fake_bank.statement(
            PLATFORM_IBAN, [fake_bank.payout_debit(Money(4250, "EUR"), end_to_end_id)]
        )
    )
    imported = invoke(paymux, "bank-transfer", "import", str(statement))
    assert imported.exit_code == 0, imported.output
    assert f"payout {end_to_end_id}: paid" in imported.output
    assert "applied 1" in imported.output
    assert payout_status(ids["payout_id"]) == "paid"
    again = invoke(paymux, "bank-transfer", "import", str(statement))
    assert again.exit_code == 0, again.output
    assert "applied 0" in again.output

    nothing = invoke(paymux, "bank-transfer", "export")
    assert nothing.exit_code == 0, nothing.output
    assert "nothing to export" in nothing.output


def test_import_of_an_unreadable_file_exits_2(
    paymux: CliRunner, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMUX_DATABASE_URL", sqlite_url)
    junk = tmp_path / "junk.xml"
    junk.write_text("<not-a-statement/>")
    result = invoke(paymux, "bank-transfer", "import", str(junk))
    assert result.exit_code == 2
    assert "not a usable camt.053 statement" in result.output
    result = invoke(paymux, "bank-transfer", "import", str(tmp_path / "absent.xml"))
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_bad_execution_date_exits_2(paymux: CliRunner) -> None:
    result = invoke(paymux, "bank-transfer", "export", "--execution-date", "15.01.2030")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


@pytest.mark.parametrize("command", [["export"], ["show", "bt-batch-x"], ["import", "f.xml"]])
def test_not_enabled_exits_2(
    command: list[str], sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.xml").write_text("<x/>")
    monkeypatch.setenv("PAYMUX_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PAYMUX_PROVIDERS", json.dumps({"sandbox": {}}))
    result = invoke(CliRunner(), "bank-transfer", *command)
    assert result.exit_code == 2, result.output
    assert "bank_transfer provider is not enabled" in result.output


def test_the_installed_paymux_command_has_the_group() -> None:
    result = CliRunner().invoke(create_cli(), ["bank-transfer", "--help"])
    assert result.exit_code == 0, result.output
    for command in ("export", "show", "import"):
        assert command in result.output
