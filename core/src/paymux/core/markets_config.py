"""The markets file (TOML): providers, and markets -> currencies -> methods -> provider chains.

:func:`parse_markets` checks a file's structure and builds a :class:`MarketsConfig`; every error
is collected with its path in the file (``markets.eu.currencies.EUR.methods.card[1]: unknown
provider 'strpe'``) and raised together as :class:`MarketsConfigError`. Environment references
(``{ env = "NAME" }``) are resolved separately by :func:`resolve_provider_configs`, and the
providers the installed plugins offer are checked by :func:`check_offered`, so a file's
structure can be checked on a machine without its plugins or secrets. :func:`load_markets`
does all three, as paymux does when it starts. The format is documented in ``docs/markets.md``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from paymux.core.markets_countries import ISO_COUNTRIES
from paymux.core.markets_fees import CommissionRule, MarketFees
from paymux.currencies import Money, MoneyError, get_active_currency, is_active_currency

FORMAT_VERSION = 1
PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MARKET_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
METHOD_NAME = re.compile(r"^[a-z_]{1,32}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PERCENT = re.compile(r"^(0|[1-9][0-9]{0,2})(\.[0-9]{1,6})?$")

_TOP_KEYS = {"version", "providers", "markets"}
_PROVIDER_KEYS = {"enabled", "sandbox", "config", "settlement_currency"}
_MARKET_KEYS = {"name", "countries", "currencies"}
_CURRENCY_KEYS = {"methods", "commission", "logistics_fee"}
_COMMISSION_KEYS = {"percent", "minimum", "maximum"}
_ENV_KEYS = {"env", "default"}


class MarketsConfigError(ValueError):
    """A markets file is invalid; ``errors`` holds every problem, each with its path."""

    def __init__(self, source: str, errors: Iterable[str]) -> None:
        self.source = source
        self.errors = list(errors)
        count = len(self.errors)
        lines = "\n".join(f"  - {error}" for error in self.errors)
        super().__init__(f"{source}: {count} error{'' if count == 1 else 's'}\n{lines}")


@dataclass(frozen=True, slots=True)
class EnvRef:
    """``{ env = "NAME" }`` in a provider's config: the value of that environment variable."""

    name: str
    default: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """A provider declared in the file (``[providers.<name>]``)."""

    name: str
    enabled: bool = True
    sandbox: bool = False
    """Run against the sandbox simulator or the plugin's fake PSP: no network."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """The provider's own settings; may hold :class:`EnvRef` values until resolved."""
    settlement_currency: str | None = None
    """The currency this provider account settles in (``None``: each payment's own);
    see ``docs/concepts/fx.md``."""


@dataclass(frozen=True, slots=True)
class CurrencyRoute:
    """A market's currency: its payment methods' provider chains and its fee rules."""

    currency: str
    methods: Mapping[str, tuple[str, ...]]
    """Method -> provider chain (first choice first)."""
    fees: MarketFees = field(default_factory=MarketFees)


@dataclass(frozen=True, slots=True)
class Market:
    """A group of countries sharing currencies, methods and provider chains."""

    id: str
    countries: tuple[str, ...]
    currencies: Mapping[str, CurrencyRoute]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class MarketsConfig:
    """A valid markets file."""

    source: str
    providers: Mapping[str, ProviderEntry]
    markets: Mapping[str, Market]

    def market_for(self, country: str) -> Market | None:
        """The market containing ``country`` (a country is in at most one)."""
        for market in self.markets.values():
            if country in market.countries:
                return market
        return None

    def enabled_providers(self) -> list[ProviderEntry]:
        """The enabled providers, in the file's order."""
        return [entry for entry in self.providers.values() if entry.enabled]


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}" if path else message)


def _describe(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _table(value: object, path: str, errors: _Errors) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        errors.add(path, f"must be a table, not {_describe(value)}")
        return None
    return value


def _unknown_keys(
    table: Mapping[str, Any], allowed: Collection[str], path: str, errors: _Errors
) -> None:
    for key in table:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            errors.add(_join(path, key), f"unknown key (allowed: {known})")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _bool(table: Mapping[str, Any], key: str, default: bool, path: str, errors: _Errors) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        errors.add(_join(path, key), f"must be true or false, not {_describe(value)}")
        return default
    return value


def parse_markets(
    data: Mapping[str, Any], *, source: str = "markets file", mode: str = "sandbox"
) -> MarketsConfig:
    """Check a parsed markets file and build its :class:`MarketsConfig`.

    ``mode`` is paymux's mode: ``live`` refuses enabled sandbox providers, the ``sandbox``
    provider and environment references with a ``default``. Raises :class:`MarketsConfigError`
    listing every problem.
    """
    errors = _Errors()
    _unknown_keys(data, _TOP_KEYS, "", errors)
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION or isinstance(version, bool):
        errors.add("version", f"must be {FORMAT_VERSION}")
    providers = _parse_providers(data.get("providers"), mode, errors)
    markets = _parse_markets(data.get("markets"), providers, errors)
    if errors.items:
        raise MarketsConfigError(source, errors.items)
    return MarketsConfig(source=source, providers=providers, markets=markets)


def _parse_providers(value: object, mode: str, errors: _Errors) -> dict[str, ProviderEntry]:
    providers: dict[str, ProviderEntry] = {}
    if value is None:
        errors.add("providers", "missing: declare at least one provider ([providers.<name>])")
        return providers
    table = _table(value, "providers", errors)
    if table is None:
        return providers
    if not table:
        errors.add("providers", "declare at least one provider")
    for name, raw in table.items():
        path = f"providers.{name}"
        if not PROVIDER_NAME.match(name):
            errors.add(
                path,
                "a provider name is lower-case letters, digits and '_', starting with a letter",
            )
            continue
        entry = _table(raw, path, errors)
        if entry is None:
            continue
        _unknown_keys(entry, _PROVIDER_KEYS, path, errors)
        enabled = _bool(entry, "enabled", True, path, errors)
        sandbox = _bool(entry, "sandbox", False, path, errors)
        settlement_currency = _settlement_currency(entry, path, errors)
        config_value = entry.get("config", {})
        config = _table(config_value, f"{path}.config", errors) or {}
        parsed = {
            key: _config_value(item, f"{path}.config.{key}", errors) for key, item in config.items()
        }
        if mode == "live" and enabled:
            if sandbox:
                errors.add(f"{path}.sandbox", "live mode refuses sandbox providers")
            if name == "sandbox":
                errors.add(path, "live mode cannot enable the sandbox provider")
            for ref_path in _env_defaults(parsed, f"{path}.config"):
                errors.add(
                    ref_path, "live mode takes secrets from the environment only: remove `default`"
                )
        providers[name] = ProviderEntry(
            name=name,
            enabled=enabled,
            sandbox=sandbox,
            config=parsed,
            settlement_currency=settlement_currency,
        )
    return providers


def _settlement_currency(entry: Mapping[str, Any], path: str, errors: _Errors) -> str | None:
    value = entry.get("settlement_currency")
    if value is None:
        return None
    where = f"{path}.settlement_currency"
    if not isinstance(value, str):
        errors.add(where, f"must be a currency code, not {_describe(value)}")
        return None
    try:
        get_active_currency(value)
    except MoneyError as error:
        errors.add(where, str(error))
        return None
    return value


def _config_value(value: object, path: str, errors: _Errors) -> Any:
    if isinstance(value, dict):
        if "env" in value:
            return _env_ref(value, path, errors)
        return {key: _config_value(item, f"{path}.{key}", errors) for key, item in value.items()}
    if isinstance(value, list):
        return [_config_value(item, f"{path}[{index}]", errors) for index, item in enumerate(value)]
    return value


def _env_ref(value: Mapping[str, Any], path: str, errors: _Errors) -> EnvRef | None:
    _unknown_keys(value, _ENV_KEYS, path, errors)
    name = value.get("env")
    default = value.get("default")
    if not isinstance(name, str) or not ENV_NAME.match(name):
        errors.add(
            f"{path}.env", "must be the name of an environment variable (letters, digits, '_')"
        )
        return None
    if default is not None and not isinstance(default, str):
        errors.add(f"{path}.default", f"must be a string, not {_describe(default)}")
        return None
    return EnvRef(name, default)


def _env_defaults(value: object, path: str) -> Iterable[str]:
    if isinstance(value, EnvRef):
        if value.default is not None:
            yield f"{path}.default"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _env_defaults(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _env_defaults(item, f"{path}[{index}]")


def _parse_markets(
    value: object, providers: Mapping[str, ProviderEntry], errors: _Errors
) -> dict[str, Market]:
    markets: dict[str, Market] = {}
    if value is None:
        errors.add("markets", "missing: declare at least one market ([markets.<id>])")
        return markets
    table = _table(value, "markets", errors)
    if table is None:
        return markets
    if not table:
        errors.add("markets", "declare at least one market")
    owner: dict[str, str] = {}
    for market_id, raw in table.items():
        path = f"markets.{market_id}"
        if not MARKET_ID.match(market_id):
            errors.add(
                path,
                "a market id is lower-case letters, digits, '_' and '-', starting with a letter",
            )
            continue
        entry = _table(raw, path, errors)
        if entry is None:
            continue
        _unknown_keys(entry, _MARKET_KEYS, path, errors)
        name = entry.get("name")
        if name is not None and not isinstance(name, str):
            errors.add(f"{path}.name", f"must be a string, not {_describe(name)}")
            name = None
        countries = _parse_countries(entry.get("countries"), f"{path}.countries", errors)
        for index, country in enumerate(countries):
            if country in owner:
                errors.add(
                    f"{path}.countries[{index}]",
                    f"{country} is already in market {owner[country]!r} "
                    "(a country belongs to one market)",
                )
            else:
                owner[country] = market_id
        currencies = _parse_currencies(
            entry.get("currencies"), f"{path}.currencies", providers, errors
        )
        markets[market_id] = Market(market_id, tuple(countries), currencies, name)
    return markets


def _parse_countries(value: object, path: str, errors: _Errors) -> list[str]:
    if value is None:
        errors.add(path, "missing: list the market's countries (ISO 3166-1 alpha-2)")
        return []
    if not isinstance(value, list):
        errors.add(path, f"must be an array of country codes, not {_describe(value)}")
        return []
    if not value:
        errors.add(path, "must list at least one country")
    countries: list[str] = []
    for index, country in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(country, str):
            errors.add(where, f"must be a string, not {_describe(country)}")
        elif country not in ISO_COUNTRIES:
            hint = (
                f" (did you mean {country.upper()!r}?)" if country.upper() in ISO_COUNTRIES else ""
            )
            errors.add(
                where, f"{country!r} is not an upper-case ISO 3166-1 alpha-2 country code{hint}"
            )
        elif country in countries:
            errors.add(where, f"{country} is listed twice")
        else:
            countries.append(country)
    return countries


def _parse_currencies(
    value: object, path: str, providers: Mapping[str, ProviderEntry], errors: _Errors
) -> dict[str, CurrencyRoute]:
    routes: dict[str, CurrencyRoute] = {}
    if value is None:
        errors.add(path, "missing: declare at least one currency ([...currencies.<CODE>])")
        return routes
    table = _table(value, path, errors)
    if table is None:
        return routes
    if not table:
        errors.add(path, "declare at least one currency")
    for code, raw in table.items():
        where = f"{path}.{code}"
        if not is_active_currency(code):
            errors.add(where, f"{code!r} is not an active, upper-case ISO 4217 currency code")
            continue
        entry = _table(raw, where, errors)
        if entry is None:
            continue
        _unknown_keys(entry, _CURRENCY_KEYS, where, errors)
        methods = _parse_methods(entry.get("methods"), f"{where}.methods", providers, errors)
        commission = _parse_commission(entry.get("commission"), code, f"{where}.commission", errors)
        logistics = entry.get("logistics_fee")
        logistics_fee = (
            None
            if logistics is None
            else _amount(logistics, code, f"{where}.logistics_fee", errors)
        )
        routes[code] = CurrencyRoute(code, methods, MarketFees(commission, logistics_fee))
    return routes


def _parse_methods(
    value: object, path: str, providers: Mapping[str, ProviderEntry], errors: _Errors
) -> dict[str, tuple[str, ...]]:
    methods: dict[str, tuple[str, ...]] = {}
    if value is None:
        errors.add(path, "missing: map each payment method to its provider chain")
        return methods
    table = _table(value, path, errors)
    if table is None:
        return methods
    if not table:
        errors.add(path, "declare at least one payment method")
    for method, chain in table.items():
        where = f"{path}.{method}"
        if not METHOD_NAME.match(method):
            errors.add(where, "a method name is lower-case letters and '_' (at most 32)")
            continue
        if not isinstance(chain, list):
            errors.add(where, f"must be an array of provider names, not {_describe(chain)}")
            continue
        if not chain:
            errors.add(where, "the provider chain is empty: name at least one provider")
            continue
        names: list[str] = []
        for index, name in enumerate(chain):
            item = f"{where}[{index}]"
            if not isinstance(name, str):
                errors.add(item, f"must be a provider name, not {_describe(name)}")
            elif name not in providers:
                declared = ", ".join(providers) or "none"
                errors.add(item, f"unknown provider {name!r} (declared: {declared})")
            elif name in names:
                errors.add(item, f"provider {name!r} is twice in the chain")
            else:
                names.append(name)
        methods[method] = tuple(names)
    return methods


def _parse_commission(
    value: object, currency: str, path: str, errors: _Errors
) -> CommissionRule | None:
    if value is None:
        return None
    table = _table(value, path, errors)
    if table is None:
        return None
    _unknown_keys(table, _COMMISSION_KEYS, path, errors)
    percent = table.get("percent")
    rate: Fraction | None = None
    if percent is None:
        errors.add(f"{path}.percent", 'missing: the commission in percent, as a string ("12.5")')
    elif not isinstance(percent, str):
        errors.add(
            f"{path}.percent", f'must be a decimal string such as "12.5", not {_describe(percent)}'
        )
    elif not PERCENT.match(percent):
        errors.add(
            f"{path}.percent",
            f'{percent!r} is not a percentage such as "12.5" (0 to 100, at most 6 decimals)',
        )
    else:
        try:
            exact = Decimal(percent)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            exact = Decimal(-1)
        if not Decimal(0) <= exact <= Decimal(100):
            errors.add(f"{path}.percent", f"{percent} is not between 0 and 100")
        else:
            rate = Fraction(exact) / 100
    minimum = (
        None
        if "minimum" not in table
        else _amount(table["minimum"], currency, f"{path}.minimum", errors)
    )
    maximum = (
        None
        if "maximum" not in table
        else _amount(table["maximum"], currency, f"{path}.maximum", errors)
    )
    if minimum is not None and maximum is not None and minimum > maximum:
        errors.add(path, f"minimum {minimum.amount_str} is above maximum {maximum.amount_str}")
    if rate is None or not isinstance(percent, str):
        return None
    return CommissionRule(percent=percent, rate=rate, minimum=minimum, maximum=maximum)


def _amount(value: object, currency: str, path: str, errors: _Errors) -> Money | None:
    if not isinstance(value, str):
        errors.add(path, f'must be a decimal string such as "4.90", not {_describe(value)}')
        return None
    try:
        money = Money.parse(value, currency)
    except MoneyError as error:
        errors.add(path, str(error))
        return None
    if money.is_negative:
        errors.add(path, "must not be negative")
        return None
    return money


def example_markets_file() -> Path:
    """The example markets file shipped with paymux (EU, US, GB and JP, with fallbacks)."""
    return Path(__file__).parent / "data" / "markets.example.toml"


# -- environment and plugins ---------------------------------------------------------------


def resolve_provider_configs(
    config: MarketsConfig, environ: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """The enabled providers' configs with every ``{ env = ... }`` replaced by its value.

    A variable that is unset or empty (and has no ``default``) is an error naming the key's
    path; raises :class:`MarketsConfigError` with every one.
    """
    env = os.environ if environ is None else environ
    errors = _Errors()
    resolved = {
        entry.name: _resolve(entry.config, f"providers.{entry.name}.config", env, errors)
        | (
            {}
            if entry.settlement_currency is None
            else {"settlement_currency": entry.settlement_currency}
        )
        for entry in config.enabled_providers()
    }
    if errors.items:
        raise MarketsConfigError(config.source, errors.items)
    return resolved


def _resolve(value: Any, path: str, env: Mapping[str, str], errors: _Errors) -> Any:
    if isinstance(value, EnvRef):
        found = env.get(value.name) or value.default
        if not found:
            errors.add(path, f"environment variable {value.name} is not set")
        return found
    if isinstance(value, Mapping):
        return {key: _resolve(item, f"{path}.{key}", env, errors) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, f"{path}[{index}]", env, errors) for index, item in enumerate(value)]
    return value


def check_offered(config: MarketsConfig, offered: Collection[str]) -> None:
    """Refuse enabled providers that no installed plugin offers (disabled ones may be absent)."""
    known = ", ".join(sorted(offered)) or "none"
    errors = [
        f"providers.{entry.name}: no installed plugin offers provider {entry.name!r} "
        f"(installed: {known})"
        for entry in config.enabled_providers()
        if entry.name not in offered
    ]
    if errors:
        raise MarketsConfigError(config.source, errors)


def check_chain_currencies(
    config: MarketsConfig, claimed: Mapping[str, Collection[str] | None]
) -> None:
    """Refuse a provider chain in which no enabled provider claims the route's currency.

    ``claimed`` maps each enabled provider to the currencies its capabilities list
    (``None``: every one). A chain naming only providers that are not enabled is left alone
    (their capabilities are unknown until they are enabled); a chain whose enabled
    providers all lack the currency could never take a payment in it, so the file is
    refused, each such chain named by its path. Raises :class:`MarketsConfigError`.
    """
    errors: list[str] = []
    for market in config.markets.values():
        for currency, route in market.currencies.items():
            for method, chain in route.methods.items():
                enabled = [name for name in chain if name in claimed]
                if not enabled:
                    continue
                if any(_claims(claimed[name], currency) for name in enabled):
                    continue
                names = ", ".join(enabled)
                errors.append(
                    f"markets.{market.id}.currencies.{currency}.methods.{method}: no provider "
                    f"of the chain supports {currency} (the capabilities of {names} do not "
                    f"list it): market {market.id} could never take {method} payments in "
                    f"{currency}"
                )
    if errors:
        raise MarketsConfigError(config.source, errors)


def _claims(currencies: Collection[str] | None, currency: str) -> bool:
    return currencies is None or currency in currencies


def read_markets_file(path: Path, *, mode: str = "sandbox") -> MarketsConfig:
    """Read and check a markets file's structure (see :func:`parse_markets`)."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MarketsConfigError(
            source, [f"cannot read the file: {error.strerror or error}"]
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MarketsConfigError(source, [f"not valid TOML: {error}"]) from None
    return parse_markets(data, source=source, mode=mode)


@dataclass(frozen=True, slots=True)
class LoadedMarkets:
    """A checked markets file with its enabled providers' resolved configs."""

    config: MarketsConfig
    provider_configs: dict[str, dict[str, Any]]
    """Enabled provider -> config with environment references resolved, in the file's order."""


def load_markets(
    path: Path,
    *,
    mode: str = "sandbox",
    environ: Mapping[str, str] | None = None,
    offered: Collection[str] | None = None,
) -> LoadedMarkets:
    """Everything paymux checks at start: structure, environment references and, when
    ``offered`` is given, that an installed plugin offers every enabled provider."""
    config = read_markets_file(path, mode=mode)
    errors: list[str] = []
    configs: dict[str, dict[str, Any]] = {}
    try:
        configs = resolve_provider_configs(config, environ)
    except MarketsConfigError as error:
        errors.extend(error.errors)
    if offered is not None:
        try:
            check_offered(config, offered)
        except MarketsConfigError as error:
            errors.extend(error.errors)
    if errors:
        raise MarketsConfigError(config.source, errors)
    return LoadedMarkets(config, configs)
