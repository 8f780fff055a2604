"""The ``paymux`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from paymux.app.cli import cli, create_cli
from paymux.core.hookspecs import hookimpl
from paymux.core.plugins import PluginError, create_plugin_manager


def test_migrate_creates_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "cli.db"
    monkeypatch.setenv("PAYMUX_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    engine = create_engine(f"sqlite:///{database}")
    assert "payment_event" in inspect(engine).get_table_names()
    engine.dispose()


def test_bad_settings_are_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_MODE", "live")
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 2
    assert "live mode refuses the development API key" in result.output


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output
    assert "migrate" in result.output


def test_serve_reports_bad_provider_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    monkeypatch.setenv("PAYMUX_PROVIDERS", '{"sandbox": {"no_such_field": 1}}')
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "invalid settings" in result.output
    assert "no_such_field" in result.output
    monkeypatch.setenv("PAYMUX_PROVIDERS", '{"nosuchpsp": {}}')
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "no plugin offers it" in result.output


class GreetingPlugin:
    """Adds ``paymux hello``."""

    @hookimpl
    def paymux_cli_commands(self, cli: object) -> None:
        assert isinstance(cli, typer.Typer)

        @cli.command("hello")
        def hello() -> None:
            """Say hello."""
            typer.echo("hello from a plugin")


class BrokenPlugin:
    """Fails to add its commands."""

    @hookimpl
    def paymux_cli_commands(self, cli: object) -> None:
        raise RuntimeError("boom")


def test_plugins_add_commands_and_a_broken_one_is_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    manager = create_plugin_manager(autoload=False, plugins=[BrokenPlugin(), GreetingPlugin()])
    app = create_cli(plugin_manager=manager)
    assert "could not add its commands: RuntimeError: boom" in capsys.readouterr().err
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("serve", "migrate", "payouts", "markets", "hello"):
        assert command in result.output
    assert CliRunner().invoke(app, ["hello"]).output.endswith("hello from a plugin\n")


def test_a_plugin_that_fails_to_load_leaves_the_core_commands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(**_: object) -> object:
        raise PluginError("loading the 'paymux' entry points failed: ImportError: nope")

    monkeypatch.setattr("paymux.core.plugins.create_plugin_manager", failing)
    app = create_cli()
    error = capsys.readouterr().err
    assert "plugin commands are unavailable" in error
    assert "ImportError: nope" in error
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "migrate" in result.output


@pytest.mark.parametrize(
    "option",
    [
        ["create", "--client", "shop", "--scope", "admin", "--expires"],
        ["revoke", "key_x", "--after"],
    ],
)
@pytest.mark.parametrize(
    "when", ["99999999d", "9999999999999h", "999999999999999999999s", "9999-12-31T23:59:59-01:00"]
)
def test_a_moment_past_the_year_9999_is_reported_not_raised(option: list[str], when: str) -> None:
    result = CliRunner().invoke(cli, ["keys", *option, when])
    assert result.exit_code == 2, result.output
    assert "out of range" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
