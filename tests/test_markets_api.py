"""Markets through the API: the explain endpoint on the shipped example, 422 listings,
payments routed by markets with the market's fees, and the ``paymux markets`` command.

Stand-in fake providers play adyen, stripe, square and bank_transfer (with the capabilities
of the real ones), so the example file runs without those plugins and without network.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paymux.app import create_app
from paymux.app.cli import cli
from paymux.core.hookspecs import hookimpl
from paymux.core.markets_config import (
    MarketsConfigError,
    example_markets_file,
    read_markets_file,
)
from paymux.core.plugins import create_plugin_manager
from paymux.core.ports.provider import PaymentProvider, ProviderCapabilities
from paymux.core.providers import ProviderContext, ProviderSpec
from paymux.core.settings import Settings
from paymux.currencies import active_currencies
from paymux_fakes import FakeProvider
from paymux_test_support import API_KEY, auth, count_rows, payment_body

PROBLEM = "https://paymux.dev/problems/"
EVERY = frozenset(currency.code for currency in active_currencies())
EXAMPLE = example_markets_file()


@dataclass
class StandIn(FakeProvider):
    """A fake provider with a real provider's capabilities."""

    serves: ProviderCapabilities = field(
        default_factory=lambda: ProviderCapabilities(methods=frozenset({"card"}), currencies=EVERY)
    )

    def capabilities(self) -> ProviderCapabilities:
        return self.serves


def _caps(methods: set[str], currencies: set[str] | None = None) -> ProviderCapabilities:
    return ProviderCapabilities(
        methods=frozenset(methods),
        currencies=EVERY if currencies is None else frozenset(currencies),
    )


CAPABILITIES = {
    "adyen": _caps({"card"}),
    "stripe": _caps({"card"}),
    "square": _caps({"card"}, {"USD", "CAD", "GBP", "AUD", "EUR", "JPY"}),
    "bank_transfer": _caps({"bank_transfer"}, {"EUR"}),
}


class StandInPlugin:
    """Offers the stand-ins under the real providers' names and records their contexts."""

    def __init__(self, capabilities: dict[str, ProviderCapabilities]) -> None:
        self.capabilities = capabilities
        self.contexts: dict[str, ProviderContext] = {}

    @hookimpl
    def paymux_add_providers(self) -> Sequence[ProviderSpec]:
        return [ProviderSpec(name, self._build) for name in self.capabilities]

    def _build(self, context: ProviderContext) -> PaymentProvider:
        self.contexts[context.name] = context
        return StandIn(provider_name=context.name, serves=self.capabilities[context.name])


def _settings(database_url: str, markets_file: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        api_keys={API_KEY: "dev"},
        markets_file=markets_file,
        **overrides,
    )


@dataclass
class Markets:
    client: TestClient
    plugin: StandInPlugin
    database_url: str


@pytest.fixture
def markets(database_url: str) -> Iterator[Markets]:
    plugin = StandInPlugin(CAPABILITIES)
    manager = create_plugin_manager(autoload=False, plugins=[plugin])
    app = create_app(_settings(database_url, EXAMPLE), plugin_manager=manager)
    with TestClient(app) as client:
        client.headers.update(auth())
        yield Markets(client, plugin, database_url)


def _every_route() -> list[tuple[str, str, str, str]]:
    config = read_markets_file(EXAMPLE)
    return [
        (country, currency, method, chain[0])
        for market in config.markets.values()
        for country in market.countries
        for currency, route in market.currencies.items()
        for method, chain in route.methods.items()
    ]


def test_explain_answers_for_every_route_of_the_example(markets: Markets) -> None:
    routes = _every_route()
    assert len(routes) == 27 * 2 + 3
    for country, currency, method, first in routes:
        response = markets.client.get(
            "/v1/routing/explain",
            params={"country": country, "currency": currency, "method": method},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["provider"] == first
        assert body["candidates"][0] == {
            "provider": first,
            "outcome": "chosen",
            "reason": "enabled, serves the checkout, available",
        }


def test_explain_shows_the_chain_and_the_fees(markets: Markets) -> None:
    response = markets.client.get(
        "/v1/routing/explain", params={"country": "JP", "currency": "JPY", "method": "card"}
    )
    assert response.json() == {
        "country": "JP",
        "currency": "JPY",
        "method": "card",
        "provider": "square",
        "reason": "square is the first provider of markets.jp.currencies.JPY.methods.card "
        "that is enabled, serves the checkout and is available",
        "market": "jp",
        "chain": ["square", "stripe"],
        "candidates": [
            {
                "provider": "square",
                "outcome": "chosen",
                "reason": "enabled, serves the checkout, available",
            },
            {"provider": "stripe", "outcome": "not_tried", "reason": "square was chosen before"},
        ],
        "fees": {
            "commission": {"percent": "10", "minimum": "50", "maximum": None},
            "logistics_fee": "700",
        },
    }


def test_a_provider_that_does_not_serve_falls_back(database_url: str, tmp_path: Path) -> None:
    # Square's stand-in does not take JPY here: Stripe, the fallback, takes Japan.
    plugin = StandInPlugin({**CAPABILITIES, "square": _caps({"card"}, {"USD"})})
    manager = create_plugin_manager(autoload=False, plugins=[plugin])
    app = create_app(_settings(database_url, EXAMPLE), plugin_manager=manager)
    with TestClient(app) as client:
        body = client.get(
            "/v1/routing/explain",
            params={"country": "JP", "currency": "JPY"},
            headers=auth(),
        ).json()
    assert body["provider"] == "stripe"
    assert body["candidates"][0] == {
        "provider": "square",
        "outcome": "skipped",
        "reason": "capabilities do not serve currency JPY",
    }


def test_a_disabled_provider_falls_back(database_url: str, tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace(
        "[providers.adyen]\n", "[providers.adyen]\nenabled = false\n"
    )
    path = tmp_path / "markets.toml"
    path.write_text(text)
    plugin = StandInPlugin({k: v for k, v in CAPABILITIES.items() if k != "adyen"})
    manager = create_plugin_manager(autoload=False, plugins=[plugin])  # no adyen plugin at all
    app = create_app(_settings(database_url, path), plugin_manager=manager)
    with TestClient(app) as client:
        body = client.get(
            "/v1/routing/explain", params={"country": "FR", "currency": "EUR"}, headers=auth()
        ).json()
    assert body["provider"] == "stripe"
    assert body["candidates"][0] == {
        "provider": "adyen",
        "outcome": "skipped",
        "reason": "not enabled",
    }


def test_an_unsupported_combination_is_422_with_what_is_supported(markets: Markets) -> None:
    response = markets.client.get(
        "/v1/routing/explain", params={"country": "JP", "currency": "EUR", "method": "card"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEM + "no-route"
    assert body["detail"] == "market jp does not take EUR (it takes JPY)"
    assert body["supported"] == [
        {"market": "jp", "countries": ["JP"], "currencies": {"JPY": ["card"]}}
    ]
    assert body["explanation"]["market"] == "jp"

    anywhere = markets.client.get(
        "/v1/routing/explain", params={"country": "BR", "currency": "BRL"}
    ).json()
    assert anywhere["detail"] == "country BR is in no market"
    assert [m["market"] for m in anywhere["supported"]] == ["eu", "us", "gb", "jp"]
    assert anywhere["supported"][0]["currencies"] == {"EUR": ["bank_transfer", "card"]}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"country": "de", "currency": "EUR"}, "validation-error"),
        ({"country": "DE", "currency": "XYZ"}, "unknown-currency"),
        ({"currency": "EUR"}, "validation-error"),
    ],
)
def test_explain_checks_its_parameters(markets: Markets, params: dict[str, str], code: str) -> None:
    response = markets.client.get("/v1/routing/explain", params=params)
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM + code


def test_explain_needs_an_api_key(markets: Markets) -> None:
    response = markets.client.get(
        "/v1/routing/explain",
        params={"country": "DE", "currency": "EUR"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert response.status_code == 401


def test_payments_are_routed_by_markets_with_the_market_fees(markets: Markets) -> None:
    body = payment_body(
        orders=[
            {"seller_id": "a", "amount": "30.00", "reference": "o1"},  # market rules
            {"seller_id": "b", "amount": "3.00", "logistics_fee": "0", "reference": "o2"},
            {
                "seller_id": "c",
                "amount": "10.00",
                "commission": "0",
                "logistics_fee": "1.00",
                "reference": "o3",
            },  # the client's own values
        ]
    )
    response = markets.client.post("/v1/payments", json=body, headers={"Idempotency-Key": "m-1"})
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["provider"] == "adyen"
    fees = [(o["commission"], o["logistics_fee"]) for o in payment["orders"]]
    assert fees == [("3.75", "4.90"), ("0.50", "0.00"), ("0.00", "1.00")]  # o2: the minimum

    transfer = payment_body(payment_method="bank_transfer", country="FR")
    response = markets.client.post(
        "/v1/payments", json=transfer, headers={"Idempotency-Key": "m-2"}
    )
    assert response.json()["provider"] == "bank_transfer"

    yen = payment_body(
        currency="JPY",
        country="JP",
        orders=[{"seller_id": "a", "amount": "1235", "reference": "o1"}],
    )
    response = markets.client.post("/v1/payments", json=yen, headers={"Idempotency-Key": "m-3"})
    assert response.json()["provider"] == "square"
    assert response.json()["orders"][0]["commission"] == "124"  # 123.5 rounds half up


def test_a_market_fee_above_the_order_is_refused(markets: Markets) -> None:
    body = payment_body(orders=[{"seller_id": "a", "amount": "5.00", "reference": "o1"}])
    response = markets.client.post("/v1/payments", json=body, headers={"Idempotency-Key": "m-4"})
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM + "invalid-checkout"


def test_an_unsupported_payment_is_422_and_writes_nothing(markets: Markets) -> None:
    body = payment_body(currency="USD", country="DE")
    response = markets.client.post("/v1/payments", json=body, headers={"Idempotency-Key": "m-5"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == PROBLEM + "no-route"
    assert problem["supported"][0]["market"] == "eu"
    assert set(count_rows(markets.database_url).values()) == {0}


def test_providers_get_their_sandbox_flag_and_resolved_config(markets: Markets) -> None:
    contexts = markets.plugin.contexts
    assert list(contexts) == ["adyen", "stripe", "square", "bank_transfer"]
    assert all(context.sandbox for context in contexts.values())
    assert contexts["stripe"].config["api_key"] == "sk_test_sandbox"
    assert contexts["stripe"].webhook_url.endswith("/v1/webhooks/stripe")


def test_environment_variables_fill_the_secrets(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_from_env")
    plugin = StandInPlugin(CAPABILITIES)
    manager = create_plugin_manager(autoload=False, plugins=[plugin])
    create_app(_settings(database_url, EXAMPLE), plugin_manager=manager)
    assert plugin.contexts["stripe"].config["api_key"] == "sk_test_from_env"


def test_without_a_markets_file_explain_follows_capabilities(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, api_keys={API_KEY: "dev"}))
    with TestClient(app) as client:
        client.headers.update(auth())
        body = client.get("/v1/routing/explain", params={"country": "DE", "currency": "EUR"}).json()
        assert body["provider"] == "sandbox"
        assert body["market"] is None
        missing = client.get(
            "/v1/routing/explain",
            params={"country": "DE", "currency": "EUR", "method": "sepa_debit"},
        )
        assert missing.status_code == 422
        assert missing.json()["type"] == PROBLEM + "no-provider"


# -- the command ----------------------------------------------------------------------


def test_markets_check_prints_a_summary() -> None:
    result = CliRunner().invoke(cli, ["markets", "check", str(EXAMPLE), "--structure-only"])
    assert result.exit_code == 0, result.output
    assert "valid for sandbox mode" in result.output
    assert "EUR card: adyen -> stripe" in result.output
    assert "JPY fees: commission 10% (min 50); logistics fee 700" in result.output


def test_markets_check_lists_every_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        EXAMPLE.read_text()
        .replace('["adyen", "stripe"]', '["adyen", "strpe"]')
        .replace('"US"]', '"us"]')
    )
    result = CliRunner().invoke(cli, ["markets", "check", str(path), "--structure-only"])
    assert result.exit_code == 1
    assert "2 errors" in result.output
    assert "markets.eu.currencies.EUR.methods.card[1]: unknown provider 'strpe'" in result.output
    assert "markets.us.countries[0]: 'us' is not an upper-case" in result.output


def test_markets_check_checks_plugins_and_live_mode() -> None:
    result = CliRunner().invoke(cli, ["markets", "check", str(EXAMPLE), "--mode", "live"])
    assert result.exit_code == 1
    assert "providers.adyen.sandbox: live mode refuses sandbox providers" in result.output


def test_markets_check_refuses_a_chain_no_provider_supports(tmp_path: Path) -> None:
    """Without --structure-only the providers are built and each chain's currency checked."""
    path = tmp_path / "kwd.toml"
    path.write_text(
        EXAMPLE.read_text()
        + '\n[markets.kw]\nname = "Kuwait"\ncountries = ["KW"]\n'
        + '[markets.kw.currencies.KWD]\nmethods.card = ["square"]\n'
    )
    structure = CliRunner().invoke(cli, ["markets", "check", str(path), "--structure-only"])
    assert structure.exit_code == 0, structure.output
    result = CliRunner().invoke(cli, ["markets", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert "1 error" in result.output
    assert (
        "markets.kw.currencies.KWD.methods.card: no provider of the chain supports KWD "
        "(the capabilities of square do not list it)" in result.output
    )
    fixed = path.read_text().replace('methods.card = ["square"]\n', 'methods.card = ["adyen"]\n')
    path.write_text(fixed)
    result = CliRunner().invoke(cli, ["markets", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "KWD card: adyen" in result.output


def test_markets_check_validates_provider_configs(tmp_path: Path) -> None:
    path = tmp_path / "bad-config.toml"
    path.write_text(
        EXAMPLE.read_text().replace(
            "[providers.stripe.config]\n", '[providers.stripe.config]\nwebhook_secrt = "x"\n'
        )
    )
    result = CliRunner().invoke(cli, ["markets", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert "paymux: invalid provider config: providers.stripe.config:" in result.output
    assert "webhook_secrt" in result.output


def test_markets_check_merges_the_environments_provider_configs_as_serve_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "no-key.toml"
    path.write_text(
        EXAMPLE.read_text().replace(
            'api_key = { env = "STRIPE_API_KEY", default = "sk_test_sandbox" }\n', ""
        )
    )
    missing = CliRunner().invoke(cli, ["markets", "check", str(path)])
    assert missing.exit_code == 1, missing.output
    assert "api_key" in missing.output
    monkeypatch.setenv("PAYMUX_PROVIDERS", '{"stripe": {"api_key": "sk_test_from_env"}}')
    merged = CliRunner().invoke(cli, ["markets", "check", str(path)])
    assert merged.exit_code == 0, merged.output
    monkeypatch.setenv("PAYMUX_PROVIDERS", '{"strype": {"api_key": "sk_test_from_env"}}')
    undeclared = CliRunner().invoke(cli, ["markets", "check", str(path)])
    assert undeclared.exit_code == 1, undeclared.output
    assert "PAYMUX_PROVIDERS sets provider 'strype'" in undeclared.output


def test_serve_fails_fast_on_an_invalid_markets_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(EXAMPLE.read_text().replace('["square", "stripe"]', "[]"))
    monkeypatch.setenv("PAYMUX_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    monkeypatch.setenv("PAYMUX_MARKETS_FILE", str(path))
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "invalid markets file" in result.output
    assert "markets.jp.currencies.JPY.methods.card: the provider chain is empty" in result.output
    assert not (tmp_path / "s.db").exists()  # nothing migrated before the check


def test_the_example_builds_every_real_provider(database_url: str, tmp_path: Path) -> None:
    """The shipped example's provider settings are what the installed plugins expect."""
    bank = {"database_url": f"sqlite:///{tmp_path / 'bank.db'}"}
    app = create_app(_settings(database_url, EXAMPLE, providers={"bank_transfer": bank}))
    with TestClient(app) as client:
        client.headers.update(auth())
        runtime = app.state.paymux
        assert runtime.providers.names() == ["adyen", "stripe", "square", "bank_transfer"]
        for country, currency, method, provider in [
            ("DE", "EUR", "card", "adyen"),
            ("FR", "EUR", "bank_transfer", "bank_transfer"),
            ("US", "USD", "card", "stripe"),
            ("GB", "GBP", "card", "stripe"),
            ("JP", "JPY", "card", "square"),
        ]:
            params = {"country": country, "currency": currency, "method": method}
            body = client.get("/v1/routing/explain", params=params).json()
            assert body["provider"] == provider, body


def test_a_chain_no_provider_of_which_takes_its_currency_is_refused_at_start(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "markets.toml"
    path.write_text(
        EXAMPLE.read_text()
        + '\n[markets.kw]\ncountries = ["KW"]\n[markets.kw.currencies.KWD]\n'
        + 'methods.card = ["square"]\nmethods.bank_transfer = ["bank_transfer"]\n'
    )
    manager = create_plugin_manager(autoload=False, plugins=[StandInPlugin(CAPABILITIES)])
    with pytest.raises(MarketsConfigError) as raised:
        create_app(_settings(database_url, path), plugin_manager=manager)
    assert raised.value.source == str(path)
    assert raised.value.errors == [
        "markets.kw.currencies.KWD.methods.card: no provider of the chain supports KWD (the "
        "capabilities of square do not list it): market kw could never take card payments "
        "in KWD",
        "markets.kw.currencies.KWD.methods.bank_transfer: no provider of the chain supports "
        "KWD (the capabilities of bank_transfer do not list it): market kw could never take "
        "bank_transfer payments in KWD",
    ]
    assert str(path) in str(raised.value)

    # One provider of the chain that takes KWD is enough; so is a chain of disabled ones.
    path.write_text(
        path.read_text().replace('methods.card = ["square"]', 'methods.card = ["square", "stripe"]')
    )
    path.write_text(path.read_text().replace('methods.bank_transfer = ["bank_transfer"]\n', ""))
    manager = create_plugin_manager(autoload=False, plugins=[StandInPlugin(CAPABILITIES)])
    with TestClient(create_app(_settings(database_url, path), plugin_manager=manager)) as client:
        explained = client.get(
            "/v1/routing/explain", params={"country": "KW", "currency": "KWD"}, headers=auth()
        ).json()
        assert explained["provider"] == "stripe"
        assert explained["candidates"][0]["reason"] == "capabilities do not serve currency KWD"
        refused = client.post(
            "/v1/payments",
            json=payment_body(country="KW", currency="EUR"),
            headers=auth(idempotency_key="kw-eur"),
        )
        assert refused.status_code == 422
        assert refused.json()["type"] == PROBLEM + "no-route"
        assert refused.json()["detail"] == "market kw does not take EUR (it takes KWD)"
    assert set(count_rows(database_url).values()) == {0}
