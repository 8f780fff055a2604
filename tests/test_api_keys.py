"""API keys: scopes on every route (403 that writes nothing), keys kept as digests in the
database, created, rotated and revoked with ``paymux keys``, and configured keys in clear,
as digests or with scopes."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paymux.app.auth import ApiKeys
from paymux.app.cli import cli
from paymux.app.factory import create_app
from paymux.app.problems import Problem
from paymux.app.runtime import create_runtime
from paymux.core.domain.api_keys import Scope, digest, granted, parse_scopes
from paymux.core.settings import DEVELOPMENT_API_KEY, Settings
from paymux.core.storage.api_key_repository import ApiKeyStore
from paymux.core.storage.database import Database
from paymux_security_support import SETTLEMENT, make_everything, quiet_snapshot, snapshot
from paymux_test_support import OTHER_API_KEY, auth, live_service, make_settings, payment_body

PROBLEM = "https://paymux.dev/problems/"
ONE_SCOPE_KEYS = {f"pmx_only_{scope.value}": scope for scope in Scope if scope != Scope.ADMIN}
"""A configured key of client "dev" per scope, each with that scope only."""
ONE_SCOPE_SETTINGS = {
    "api_keys": {
        "pmx_dev_sandbox_key": "dev",
        OTHER_API_KEY: "other",
        **{
            key: {"client": "dev", "scopes": [scope.value]} for key, scope in ONE_SCOPE_KEYS.items()
        },
    },
    "embedded_worker": "never",
}
PATH_IDS = {
    "payment_id": "payment",
    "order_id": "unshipped_order",
    "refund_id": "refund",
    "payout_id": "payout",
    "seller_id": "seller",
    "chargeback_id": "chargeback",
    "account_id": "account",
    "transaction_id": "transaction",
    "job_id": "job",
    "run_id": "run",
}
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_scope_names_and_what_they_imply() -> None:
    assert granted({Scope.ADMIN}) == set(Scope)
    assert granted({Scope.PAYMENTS_WRITE}) == {Scope.PAYMENTS_WRITE, Scope.PAYMENTS_READ}
    assert granted({Scope.PAYMENTS_READ}) == {Scope.PAYMENTS_READ}
    assert granted({Scope.REFUNDS, Scope.PAYOUTS}) == {Scope.REFUNDS, Scope.PAYOUTS}
    assert parse_scopes(["payments:read,refunds", "payouts"]) == {
        Scope.PAYMENTS_READ, Scope.REFUNDS, Scope.PAYOUTS
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown scope"):
        parse_scopes(["payments:delete"])


def _request(
    client: httpx.Client, method: str, path: str, ids: dict[str, str], key: str
) -> httpx.Response:
    """The operation ``method path`` with ``ids`` and a body the right key would get through."""
    url = re.sub(r"\{(\w+)\}", lambda m: ids[PATH_IDS[m.group(1)]], path)
    headers = {**auth(key), "Idempotency-Key": f"scope-{method}-{path}-{key}"}
    if path == "/v1/reconciliations" and method == "POST":
        return client.post(url, params={"provider": "sandbox"}, content=SETTLEMENT, headers=headers)
    bodies: dict[str, Any] = {
        "/v1/payments": payment_body(),
        "/v1/payouts": {"seller_id": "seller-a", "currency": "EUR"},
        "/v1/sellers/{seller_id}/payout-method": {"provider": "sandbox", "account": "x"},
    }
    params = {"country": "DE", "currency": "EUR"} if path == "/v1/routing/explain" else None
    body = bodies.get(path, {}) if method in ("POST", "PUT") else None
    return client.request(method, url, json=body, params=params, headers=headers)


def test_a_missing_scope_is_403_on_every_route_and_writes_nothing(database_url: str) -> None:
    with live_service(database_url, settings=ONE_SCOPE_SETTINGS) as service, service.client() as a:
        ids = make_everything(service.url, a, database_url)
        operations = [
            (method.upper(), path, operation["security"])
            for path, methods in service.app.openapi()["paths"].items()
            for method, operation in methods.items()
            if "security" in operation
        ]
        assert len(operations) >= 20
        unauthenticated = {
            (method.upper(), path)
            for path, methods in service.app.openapi()["paths"].items()
            for method, operation in methods.items()
            if "security" not in operation
        }
        # webhooks are signed by the provider; /metrics has its own token (PAYMUX_METRICS_TOKEN)
        assert unauthenticated == {
            ("POST", "/v1/webhooks/{provider}"),
            ("GET", "/healthz"),
            ("GET", "/metrics"),
        }
        before = quiet_snapshot(database_url)
        refused = 0
        for method, path, security in operations:
            [[scheme, [needed]]] = [next(iter(item.items())) for item in security]
            assert scheme == "HTTPBearer", (method, path)
            for key, scope in ONE_SCOPE_KEYS.items():
                if Scope(needed) in granted({scope}):
                    continue
                answer = _request(a, method, path, ids, key)
                assert answer.status_code == 403, (method, path, key, answer.text)
                problem = answer.json()
                assert problem["type"] == PROBLEM + "insufficient-scope"
                assert problem["required_scopes"] == [needed]
                assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
                refused += 1
        assert refused >= 60
        assert snapshot(database_url) == before, "a refused request wrote something"
        # the key with the scope gets through (payments:write implies payments:read)
        assert _request(
            a, "GET", "/v1/payments/{payment_id}", ids, "pmx_only_payments:write"
        ).is_success
        assert _request(a, "GET", "/v1/refunds/{refund_id}", ids, "pmx_only_refunds").is_success
        assert _request(a, "GET", "/v1/payouts/{payout_id}", ids, "pmx_only_payouts").is_success
        made = _request(a, "POST", "/v1/payments", ids, "pmx_only_payments:write")
        assert made.status_code == 201, made.text


def test_a_scope_is_checked_before_the_body(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, settings=ONE_SCOPE_SETTINGS)
    client = TestClient(create_app(settings))
    answer = client.post("/v1/payments", content=b"{not json", headers=auth("pmx_only_refunds"))
    assert answer.status_code == 403
    assert client.get("/v1/payments/x", headers=auth("pmx_wrong")).status_code == 401
    assert client.get("/v1/payments/x").status_code == 401


def _runner_env(database_url: str) -> dict[str, str]:
    return {"PAYMUX_DATABASE_URL": database_url}


def _create_key(database_url: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli, ["keys", "create", "--json", *args], env=_runner_env(database_url)
    )
    assert result.exit_code == 0, result.output
    created: dict[str, Any] = json.loads(result.output)
    return created


def test_keys_are_created_rotated_and_revoked_from_the_command_line(database_url: str) -> None:
    runner = CliRunner()
    env = _runner_env(database_url)
    old = _create_key(database_url, "--client", "shop", "--scope", "payments:read", "--label", "v1")
    assert old["key"].startswith("pmx_")
    assert len(old["key"]) >= 40
    assert old["key"].startswith(old["prefix"])
    assert len(old["prefix"]) == 12
    assert (old["client_id"], old["scopes"], old["status"]) == ("shop", ["payments:read"], "active")
    # only the digest is stored: the key appears nowhere in the database
    stored = repr(snapshot(database_url))
    assert old["key"] not in stored
    assert old["key"][12:] not in stored
    assert digest(old["key"]) in stored

    settings = {"api_key_cache_seconds": 0}
    with live_service(database_url, settings=settings) as service:

        def status(key: str) -> int:
            return httpx.get(f"{service.url}/v1/payments/pay_x", headers=auth(key)).status_code

        assert status(old["key"]) == 404  # authenticated; no such payment for "shop"
        assert httpx.post(f"{service.url}/v1/payments", headers=auth(old["key"])).status_code == 403
        new = _create_key(database_url, "--client", "shop", "--scope", "payments:read")
        assert (status(old["key"]), status(new["key"])) == (404, 404)  # both valid: rotation

        grace = runner.invoke(cli, ["keys", "revoke", old["id"], "--after", "1h"], env=env)
        assert grace.exit_code == 0, grace.output
        assert "works until" in grace.output
        assert (status(old["key"]), status(new["key"])) == (404, 404)
        listed = runner.invoke(cli, ["keys", "list", "--json", "--client", "shop"], env=env)
        states = {row["id"]: row["status"] for row in map(json.loads, listed.output.splitlines())}
        assert states == {old["id"]: "revoking", new["id"]: "active"}

        now = runner.invoke(cli, ["keys", "revoke", old["id"]], env=env)
        assert now.exit_code == 0
        assert "no longer works" in now.output
        assert (status(old["key"]), status(new["key"])) == (401, 404)
        table = runner.invoke(cli, ["keys", "list"], env=env)
        assert old["prefix"] in table.output
        assert "revoked" in table.output
        assert old["key"] not in table.output

    missing = runner.invoke(cli, ["keys", "revoke", "key_nobody"], env=env)
    assert missing.exit_code == 1
    bad_scope = runner.invoke(
        cli, ["keys", "create", "--client", "shop", "--scope", "payments:delete"], env=env
    )
    assert bad_scope.exit_code == 2
    assert "unknown scope" in bad_scope.output
    past = runner.invoke(
        cli,
        ["keys", "create", "--client", "shop", "--scope", "admin", "--expires", "2020-01-01"],
        env=env,
    )
    assert past.exit_code == 2
    assert "future" in past.output
    plain = runner.invoke(
        cli, ["keys", "create", "--client", "shop", "--scope", "refunds"], env=env
    )
    assert plain.exit_code == 0
    assert "shown only now" in plain.output


def test_expiry_grace_and_the_cache_of_database_keys(database_url: str) -> None:
    class Clock:
        now = T0
        tick = 0.0

    clock = Clock()

    async def scenario() -> None:
        database = Database(database_url)
        store = ApiKeyStore(database)
        keys = ApiKeys(
            {},
            store=store,
            cache_seconds=5.0,
            clock=lambda: clock.tick,
            now=lambda: clock.now,
        )
        try:
            expiring, expiring_token = await store.create(
                "shop", {Scope.REFUNDS}, now=T0, expires_at=T0 + timedelta(days=1)
            )
            rotated, rotated_token = await store.create("shop", {Scope.ADMIN}, now=T0)
            principal = await keys.authenticate(f"Bearer {expiring_token}")
            assert (principal.client_id, principal.scopes, principal.key_id) == (
                "shop",
                frozenset({Scope.REFUNDS}),
                expiring.id,
            )
            await keys.authenticate(f"bearer {rotated_token}")
            # revoked in the database: this process still trusts its cache for 5 s ...
            await store.revoke(rotated.id, at=T0)
            clock.tick = 4.0
            await keys.authenticate(f"Bearer {rotated_token}")
            clock.tick = 5.5  # ... and no longer
            with pytest.raises(Problem) as refused:
                await keys.authenticate(f"Bearer {rotated_token}")
            assert refused.value.status == 401
            # a revocation with a grace period, and the expiry, end keys on time, cached or not
            await store.revoke(expiring.id, at=T0 + timedelta(hours=1))
            await store.revoke(expiring.id, at=T0 + timedelta(hours=5))  # cannot extend it
            keys.forget()
            clock.now = T0 + timedelta(minutes=59)
            await keys.authenticate(f"Bearer {expiring_token}")
            clock.now = T0 + timedelta(hours=1)
            with pytest.raises(Problem):
                await keys.authenticate(f"Bearer {expiring_token}")
            late, late_token = await store.create(
                "shop", {Scope.PAYOUTS}, now=T0, expires_at=T0 + timedelta(hours=2)
            )
            await keys.authenticate(f"Bearer {late_token}")
            clock.now = T0 + timedelta(hours=2)
            with pytest.raises(Problem):
                await keys.authenticate(f"Bearer {late_token}")
            assert await store.clients(now=T0) == {"shop"}
            assert await store.clients(now=T0 + timedelta(hours=3)) == set()
            assert {k.id for k in await store.list("shop")} == {expiring.id, rotated.id, late.id}
            assert await store.list("nobody") == []
        finally:
            await database.dispose()

    asyncio.run(scenario())


def test_configured_keys_as_digests_and_with_scopes(sqlite_url: str) -> None:
    secret = "pmx_configured_secret_for_tests"
    settings = Settings(
        database_url=sqlite_url,
        api_keys={
            "sha256:" + digest(secret): {"client": "shop", "scopes": ["payments:read"]},
            "pmx_plain": "other",
        },
        embedded_worker="never",
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/payments/pay_x", headers=auth(secret)).status_code == 404
        written = client.post("/v1/payments", json=payment_body(), headers=auth(secret))
        assert written.status_code == 403
        assert (
            client.get("/v1/payments/pay_x", headers=auth("sha256:" + digest(secret))).status_code
            == 401
        )
        assert client.get("/v1/dead-letters", headers=auth("pmx_plain")).status_code == 200
    assert settings.configured_clients == {"shop", "other"}
    assert settings.reconciliation_client_id is None
    with pytest.raises(ValueError, match="64 lower-case hex"):
        Settings(api_keys={"sha256:abc": "shop"})
    with pytest.raises(ValueError, match=r"Input should be"):
        Settings(api_keys={"k": {"client": "shop", "scopes": ["everything"]}})
    with pytest.raises(ValueError, match="development API key"):
        Settings(
            mode="live",
            api_keys={"sha256:" + digest(DEVELOPMENT_API_KEY): "dev"},
            secret_key="a-real-secret",
            providers={},
        )
    assert Settings(api_keys={}).configured_clients == set()


def test_the_reconciliation_client_counts_database_keys(sqlite_url: str) -> None:
    async def scenario() -> tuple[str | None, str | None]:
        only_db = create_runtime(
            Settings(database_url=sqlite_url, api_keys={}, embedded_worker="never")
        )
        both = create_runtime(
            Settings(database_url=sqlite_url, api_keys={"k": "dev"}, embedded_worker="never")
        )
        try:
            await ApiKeyStore(only_db.database).create("shop", {Scope.ADMIN}, now=datetime.now(UTC))
            return (
                await only_db.reconciliation_client_id(),
                await both.reconciliation_client_id(),
            )
        finally:
            await only_db.aclose()
            await both.aclose()

    assert asyncio.run(scenario()) == ("shop", None)
