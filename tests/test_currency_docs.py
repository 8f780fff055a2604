"""docs/providers/currencies.md lists exactly the currencies each first-party provider
claims: the page and the plugins cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from paymux.app import create_app
from paymux.core.markets_config import example_markets_file
from paymux.core.settings import Settings
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.provider import SandboxProvider
from paymux_test_support import API_KEY

PAGE = Path(__file__).parents[1] / "docs" / "providers" / "currencies.md"
_LIST = re.compile(r"<!-- currencies: (\w+) -->\n((?:[A-Z]{3}[ \n])+)")


def documented() -> dict[str, set[str]]:
    return {name: set(codes.split()) for name, codes in _LIST.findall(PAGE.read_text())}


def test_the_page_lists_what_every_provider_claims(database_url: str, tmp_path: Path) -> None:
    lists = documented()
    assert set(lists) == {"sandbox", "stripe", "adyen", "square", "bank_transfer"}
    claimed: dict[str, set[str]] = {}
    sandbox = SandboxProvider(SandboxConfig(), base_url="http://sandbox.test", webhook_url="x")
    claimed["sandbox"] = set(sandbox.capabilities().currencies or ())
    bank = {"database_url": f"sqlite:///{tmp_path / 'bank.db'}"}
    settings = Settings(
        database_url=database_url,
        api_keys={API_KEY: "dev"},
        markets_file=example_markets_file(),
        providers={"bank_transfer": bank},
    )
    app = create_app(settings)
    with TestClient(app):
        providers = app.state.paymux.providers
        for name in providers.names():
            claimed[name] = set(providers.get(name).capabilities().currencies or ())
    assert claimed == lists
