"""Reconciliation over HTTP and from the shell: uploads, refusals with the line number,
runs and discrepancies per client, and ``paymux reconcile`` with its summary."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paymux.app.cli import cli
from paymux.app.factory import create_app
from paymux_test_support import OTHER_API_KEY, auth, make_settings

PROBLEM = "https://paymux.dev/problems/"
HEADER = (
    "line_id,type,payment_reference,modification_reference,merchant_reference,currency,"
    "gross,fee,net,booked_at,batch"
)


def sandbox_file(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


UNKNOWN = sandbox_file(
    "sbxln_1,capture,sbxref_nobody,,,EUR,10.00,0.39,9.61,2026-11-23T09:00:00Z,sandbox-20261123",
    "sbxln_2,payout,sbx_payout_20261123_EUR,,,EUR,-9.61,0.00,-9.61,2026-11-23T23:59:59Z,"
    "sandbox-20261123",
)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url).model_copy(
        update={"embedded_worker": "never", "reconciliation_max_upload_bytes": 4096}
    )
    with TestClient(create_app(settings), headers=auth()) as test_client:
        yield test_client


KEYS = iter(range(1_000_000))


def upload(
    client: TestClient, body: bytes, provider: str = "sandbox", key: str | None = None
) -> dict[str, Any]:
    response = client.post(
        "/v1/reconciliations",
        params={"provider": provider},
        content=body,
        headers={"Idempotency-Key": key or f"k{next(KEYS)}"},
    )
    return {
        "status": response.status_code,
        "replayed": response.headers.get("Idempotent-Replayed") == "true",
        **response.json(),
    }


def test_an_upload_is_a_run_whose_discrepancies_only_its_client_sees(client: TestClient) -> None:
    run = upload(client, UNKNOWN)
    assert run["status"] == 201, run
    assert (run["lines_total"], run["lines_matched"], run["new_discrepancies"]) == (2, 1, 1)
    assert (run["period_start"], run["period_end"]) == ("2026-11-23", "2026-11-23")
    assert run["file_sha256"] == hashlib.sha256(UNKNOWN).hexdigest()  # hashed as received
    assert run["summary"]["totals"]["EUR"] == {
        "lines": 2, "gross_minor": 39, "fee_minor": 39, "net_minor": 0,
    }  # fmt: skip
    assert run["summary"]["bookings"] == [
        {"kind": "fee", "batch": "sandbox-20261123", "currency": "EUR", "amount_minor": 39},
        {"kind": "payout", "batch": "sandbox-20261123", "currency": "EUR", "amount_minor": 961},
    ]
    found = client.get(f"/v1/reconciliations/{run['id']}/discrepancies").json()
    [discrepancy] = found["discrepancies"]
    assert (discrepancy["kind"], discrepancy["psp_reference"], discrepancy["line_number"]) == (
        "unknown_reference",
        "sbxref_nobody",
        2,
    )
    assert found["next_after"] is None
    assert client.get(f"/v1/reconciliations/{run['id']}").json()["id"] == run["id"]
    listed = client.get("/v1/reconciliations").json()["reconciliations"]
    assert [r["id"] for r in listed] == [run["id"]]
    other = auth(OTHER_API_KEY)
    assert client.get(f"/v1/reconciliations/{run['id']}", headers=other).status_code == 404
    missing = client.get(f"/v1/reconciliations/{run['id']}/discrepancies", headers=other)
    assert (missing.status_code, missing.json()["type"]) == (
        404,
        PROBLEM + "reconciliation-not-found",
    )
    assert client.get("/v1/reconciliations", headers=other).json()["reconciliations"] == []


def test_an_upload_is_idempotent_per_key(client: TestClient) -> None:
    first = upload(client, UNKNOWN, key="night-1")
    again = upload(client, UNKNOWN, key="night-1")
    assert (again["status"], again["id"], again["replayed"]) == (201, first["id"], True)
    other_file = upload(client, UNKNOWN + b"\n", key="night-1")
    assert (other_file["status"], other_file["type"]) == (422, PROBLEM + "idempotency-key-reused")
    new_key = upload(client, UNKNOWN, key="night-2")  # a new run, nothing new in it
    assert (new_key["status"], new_key["new_discrepancies"]) == (201, 0)
    assert new_key["id"] != first["id"]
    missing = client.post("/v1/reconciliations", params={"provider": "sandbox"}, content=UNKNOWN)
    assert (missing.status_code, missing.json()["type"]) == (
        400,
        PROBLEM + "idempotency-key-missing",
    )
    assert len(client.get("/v1/reconciliations").json()["reconciliations"]) == 2


def test_refused_files_name_the_problem_and_write_nothing(client: TestClient) -> None:
    wrong = upload(client, b"a,b\n1,2\n")
    assert (wrong["status"], wrong["type"]) == (422, PROBLEM + "settlement-file-refused")
    no_parser = upload(client, UNKNOWN, provider="nobody")
    assert (no_parser["status"], no_parser["type"]) == (422, PROBLEM + "settlement-file-refused")
    bad = sandbox_file(
        "sbxln_1,capture,sbxref_a,,,EUR,10.00,0.39,9.61,2026-11-23T09:00:00Z,b",
        "sbxln_2,capture,sbxref_b,,,EUR,10.001,0.39,9.611,2026-11-23T09:00:00Z,b",
    )
    malformed = upload(client, bad)
    assert (malformed["status"], malformed["type"], malformed["line_number"]) == (
        422,
        PROBLEM + "settlement-file-malformed",
        3,
    )
    assert "line 3" in malformed["detail"]
    too_big = upload(client, UNKNOWN + b"x" * 5000)
    assert (too_big["status"], too_big["type"]) == (413, PROBLEM + "payload-too-large")
    control = client.post(  # a NUL in the name: PostgreSQL would refuse the text (was a 500)
        "/v1/reconciliations",
        params={"provider": "sandbox", "file_name": "day\x001.csv"},
        content=UNKNOWN,
        headers={"Idempotency-Key": "nul-name"},
    )
    assert (control.status_code, control.json()["type"]) == (422, PROBLEM + "validation-error")
    assert client.get("/v1/reconciliations").json()["reconciliations"] == []


def test_paymux_reconcile_prints_a_summary_and_exits_by_what_it_found(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paymux.core.storage.migrate import upgrade

    upgrade(database_url)
    monkeypatch.setenv("PAYMUX_DATABASE_URL", database_url)
    path = tmp_path / "sandbox-2026-11-23.csv"
    path.write_bytes(UNKNOWN)
    runner = CliRunner()
    first = runner.invoke(cli, ["reconcile", str(path), "--provider", "sandbox"])
    assert first.exit_code == 1, first.output  # it opened a discrepancy
    assert "unknown_reference" in first.output
    assert "2 lines, 1 matched; 1 new discrepancies" in first.output
    again = runner.invoke(cli, ["reconcile", str(path), "--provider", "sandbox", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["new_discrepancies"] == 0
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n")
    refused = runner.invoke(cli, ["reconcile", str(wrong), "--provider", "sandbox"])
    assert refused.exit_code == 2
    assert "nothing written" in refused.output
