"""The ``paymux`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from paymux.app.cli import cli


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
