"""The markets file: structure, every class of error with its path, environment, plugins."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from babel import Locale

from paymux.core.markets_config import (
    EnvRef,
    MarketsConfigError,
    check_offered,
    example_markets_file,
    load_markets,
    parse_markets,
    read_markets_file,
    resolve_provider_configs,
)
from paymux.core.markets_countries import ISO_COUNTRIES
from paymux.core.markets_setup import load_markets_setup
from paymux.core.settings import Settings
from paymux.currencies import Money

VALID = """
[providers.adyen]
sandbox = true
config = { api_key = { env = "TEST_ADYEN_KEY" }, merchant = "M1" }
[providers.stripe]
enabled = false

[markets.eu]
countries = ["DE", "FR"]
[markets.eu.currencies.EUR]
methods.card = ["adyen", "stripe"]
commission = { percent = "12.5", minimum = "0.50" }
logistics_fee = "4.90"
"""


def _parse(text: str, *, mode: str = "sandbox") -> Any:
    return parse_markets(tomllib.loads(text), source="m.toml", mode=mode)


def _errors(text: str, *, mode: str = "sandbox") -> list[str]:
    with pytest.raises(MarketsConfigError) as raised:
        _parse(text, mode=mode)
    assert str(raised.value).startswith("m.toml: ")
    return raised.value.errors


def test_a_valid_file_is_parsed() -> None:
    config = _parse(VALID)
    adyen = config.providers["adyen"]
    assert adyen.sandbox
    assert adyen.enabled
    assert adyen.config == {"api_key": EnvRef("TEST_ADYEN_KEY"), "merchant": "M1"}
    assert not config.providers["stripe"].enabled
    assert [entry.name for entry in config.enabled_providers()] == ["adyen"]
    route = config.markets["eu"].currencies["EUR"]
    assert route.methods == {"card": ("adyen", "stripe")}
    assert route.fees.logistics_fee == Money(490, "EUR")
    assert route.fees.commission is not None
    assert route.fees.commission.minimum == Money(50, "EUR")
    assert config.market_for("FR") is config.markets["eu"]
    assert config.market_for("US") is None


BAD: list[tuple[str, str, str]] = [
    (
        "unknown provider in a chain",
        VALID.replace('["adyen", "stripe"]', '["adyen", "strpe"]'),
        "markets.eu.currencies.EUR.methods.card[1]: unknown provider 'strpe' "
        "(declared: adyen, stripe)",
    ),
    (
        "empty chain",
        VALID.replace('["adyen", "stripe"]', "[]"),
        "markets.eu.currencies.EUR.methods.card: the provider chain is empty",
    ),
    (
        "provider twice in a chain",
        VALID.replace('["adyen", "stripe"]', '["adyen", "adyen"]'),
        "markets.eu.currencies.EUR.methods.card[1]: provider 'adyen' is twice in the chain",
    ),
    (
        "unknown top-level key",
        "colour = 1\n" + VALID,
        "colour: unknown key (allowed: markets, providers, version)",
    ),
    (
        "unknown provider key",
        VALID.replace("sandbox = true", "sandbx = true"),
        "providers.adyen.sandbx: unknown key "
        "(allowed: config, enabled, sandbox, settlement_currency)",
    ),
    (
        "unknown market key",
        VALID.replace('countries = ["DE", "FR"]', 'countries = ["DE", "FR"]\nregion = "x"'),
        "markets.eu.region: unknown key",
    ),
    (
        "unknown currency key",
        VALID.replace('logistics_fee = "4.90"', 'shipping = "4.90"'),
        "markets.eu.currencies.EUR.shipping: unknown key",
    ),
    (
        "lower-case country",
        VALID.replace('"FR"]', '"fr"]'),
        "markets.eu.countries[1]: 'fr' is not an upper-case ISO 3166-1 alpha-2 country code "
        "(did you mean 'FR'?)",
    ),
    (
        "unassigned country",
        VALID.replace('"FR"]', '"XK"]'),
        "markets.eu.countries[1]: 'XK' is not an upper-case ISO 3166-1 alpha-2 country code",
    ),
    (
        "no countries",
        VALID.replace('["DE", "FR"]', "[]"),
        "markets.eu.countries: must list at least one country",
    ),
    (
        "country in two markets",
        VALID + '[markets.fr]\ncountries = ["FR"]\n[markets.fr.currencies.EUR]\n'
        'methods.card = ["adyen"]\n',
        "markets.fr.countries[0]: FR is already in market 'eu'",
    ),
    (
        "lower-case currency",
        VALID.replace("currencies.EUR]", "currencies.eur]"),
        "markets.eu.currencies.eur: 'eur' is not an active, upper-case ISO 4217 currency code",
    ),
    (
        "withdrawn currency",
        VALID.replace("currencies.EUR]", "currencies.HRK]").replace('"0.50"', '"1"'),
        "markets.eu.currencies.HRK: 'HRK' is not an active",
    ),
    (
        "percent as a float",
        VALID.replace('percent = "12.5"', "percent = 12.5"),
        'markets.eu.currencies.EUR.commission.percent: must be a decimal string such as "12.5", '
        "not a float",
    ),
    (
        "percent above 100",
        VALID.replace('percent = "12.5"', 'percent = "101"'),
        "markets.eu.currencies.EUR.commission.percent: 101 is not between 0 and 100",
    ),
    (
        "percent not a number",
        VALID.replace('percent = "12.5"', 'percent = "12,5"'),
        "markets.eu.currencies.EUR.commission.percent: '12,5' is not a percentage",
    ),
    (
        "too many decimals for the currency",
        VALID.replace('logistics_fee = "4.90"', 'logistics_fee = "4.905"'),
        "markets.eu.currencies.EUR.logistics_fee: '4.905' has 3 decimal places",
    ),
    (
        "amount as a number",
        VALID.replace('logistics_fee = "4.90"', "logistics_fee = 4"),
        "markets.eu.currencies.EUR.logistics_fee: must be a decimal string",
    ),
    (
        "minimum above maximum",
        VALID.replace('minimum = "0.50"', 'minimum = "5", maximum = "1"'),
        "markets.eu.currencies.EUR.commission: minimum 5.00 is above maximum 1.00",
    ),
    (
        "enabled not a boolean",
        VALID.replace("enabled = false", 'enabled = "no"'),
        "providers.stripe.enabled: must be true or false, not a string",
    ),
    (
        "bad provider name",
        VALID + "[providers.Stripe2]\n",
        "providers.Stripe2: a provider name is lower-case",
    ),
    (
        "bad environment reference",
        VALID.replace('{ env = "TEST_ADYEN_KEY" }', '{ env = "TEST-KEY" }'),
        "providers.adyen.config.api_key.env: must be the name of an environment variable",
    ),
    (
        "no markets",
        VALID.split("[markets.eu]")[0],
        "markets: missing",
    ),
    (
        "no methods",
        VALID.replace('methods.card = ["adyen", "stripe"]', ""),
        "markets.eu.currencies.EUR.methods: missing",
    ),
    (
        "bad method name",
        VALID.replace("methods.card", 'methods."Card!"'),
        "markets.eu.currencies.EUR.methods.Card!: a method name is lower-case letters",
    ),
    ("wrong version", "version = 2\n" + VALID, "version: must be 1"),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD, ids=[case for case, *_ in BAD])
def test_each_error_names_its_path(case: str, text: str, expected: str) -> None:
    errors = _errors(text)
    assert any(error.startswith(expected) for error in errors), errors


def test_every_error_is_reported_at_once() -> None:
    text = VALID.replace('"FR"]', '"fr"]').replace('["adyen", "stripe"]', '["strpe"]')
    assert len(_errors(text)) == 2


def test_live_mode_refuses_sandbox_providers_and_env_defaults() -> None:
    text = VALID.replace('{ env = "TEST_ADYEN_KEY" }', '{ env = "TEST_ADYEN_KEY", default = "k" }')
    text += "[providers.sandbox]\n"
    errors = _errors(text, mode="live")
    assert "providers.adyen.sandbox: live mode refuses sandbox providers" in errors
    assert "providers.sandbox: live mode cannot enable the sandbox provider" in errors
    assert any(e.startswith("providers.adyen.config.api_key.default: live mode") for e in errors)
    # a disabled provider may keep its sandbox settings
    _parse(VALID.replace("sandbox = true", "sandbox = false"), mode="live")


def test_environment_references_are_resolved_with_their_path() -> None:
    config = _parse(VALID)
    assert resolve_provider_configs(config, {"TEST_ADYEN_KEY": "key-1"}) == {
        "adyen": {"api_key": "key-1", "merchant": "M1"}
    }
    with pytest.raises(MarketsConfigError) as raised:
        resolve_provider_configs(config, {"TEST_ADYEN_KEY": ""})
    assert raised.value.errors == [
        "providers.adyen.config.api_key: environment variable TEST_ADYEN_KEY is not set"
    ]
    defaulted = _parse(VALID.replace('"TEST_ADYEN_KEY" }', '"TEST_ADYEN_KEY", default = "d" }'))
    assert resolve_provider_configs(defaulted, {})["adyen"]["api_key"] == "d"


def test_only_enabled_providers_need_a_plugin() -> None:
    config = _parse(VALID)
    check_offered(config, {"adyen"})  # stripe is disabled: its plugin may be absent
    with pytest.raises(MarketsConfigError) as raised:
        check_offered(config, {"sandbox"})
    assert raised.value.errors == [
        "providers.adyen: no installed plugin offers provider 'adyen' (installed: sandbox)"
    ]


def test_files_that_cannot_be_read_or_parsed(tmp_path: Path) -> None:
    with pytest.raises(MarketsConfigError, match="cannot read the file"):
        read_markets_file(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[providers\n")
    with pytest.raises(MarketsConfigError, match="not valid TOML"):
        read_markets_file(broken)


def test_load_collects_environment_and_plugin_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(VALID)
    with pytest.raises(MarketsConfigError) as raised:
        load_markets(path, environ={}, offered={"sandbox"})
    assert len(raised.value.errors) == 2
    loaded = load_markets(path, environ={"TEST_ADYEN_KEY": "k"}, offered={"adyen"})
    assert loaded.provider_configs == {"adyen": {"api_key": "k", "merchant": "M1"}}


def test_environment_settings_overlay_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(VALID)
    environ = {"TEST_ADYEN_KEY": "k"}
    plain = load_markets_setup(Settings(markets_file=path), environ=environ)
    assert plain.providers == {"adyen": {"api_key": "k", "merchant": "M1"}}  # default ignored
    assert plain.sandboxed == frozenset({"adyen"})
    overlaid = load_markets_setup(
        Settings(markets_file=path, providers={"adyen": {"merchant": "M2"}}), environ=environ
    )
    assert overlaid.providers == {"adyen": {"api_key": "k", "merchant": "M2"}}
    with pytest.raises(MarketsConfigError, match="does not declare"):
        load_markets_setup(Settings(markets_file=path, providers={"square": {}}), environ=environ)


def test_the_shipped_example_is_valid_and_covers_the_required_markets() -> None:
    config = read_markets_file(example_markets_file())
    eu = config.market_for("DE")
    assert eu is not None
    assert config.market_for("FR") is eu
    assert eu.currencies["EUR"].methods["card"][0] == "adyen"
    assert len(eu.currencies["EUR"].methods["card"]) > 1
    assert eu.currencies["EUR"].methods["bank_transfer"] == ("bank_transfer",)
    for country, currency, first in (("US", "USD", "stripe"), ("GB", "GBP", "stripe"),
                                     ("JP", "JPY", "square")):  # fmt: skip
        market = config.market_for(country)
        assert market is not None
        chain = market.currencies[currency].methods["card"]
        assert chain[0] == first
        assert len(chain) > 1
    assert all(entry.sandbox for entry in config.providers.values())
    with pytest.raises(MarketsConfigError, match="live mode"):
        read_markets_file(example_markets_file(), mode="live")
    assert resolve_provider_configs(config, {})  # every secret has a sandbox default


def test_the_country_table_matches_cldr_territories() -> None:
    assert len(ISO_COUNTRIES) == 249
    territories = Locale("en").territories
    assert all(code in territories for code in ISO_COUNTRIES)
