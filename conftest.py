"""Fixtures for every test folder: databases (SQLite and PostgreSQL) and artifacts.

PostgreSQL tests use ``PAYMUX_TEST_POSTGRES_URL`` (default: the ``test`` database on
127.0.0.1:5432 as ``postgres``). Each run creates a database of its own and drops it at the
end, so runs never collide. Where no server answers, PostgreSQL tests are skipped, unless
``PAYMUX_REQUIRE_POSTGRES=1`` (set by CI) turns that into a failure.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from paymux.core.storage import tables as _tables  # noqa: F401 - registers the models
from paymux.core.storage.migrate import upgrade

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TABLES = tuple(table.name for table in SQLModel.metadata.sorted_tables)
"""Every paymux table (from the models, so a new table is emptied between tests too)."""


def _postgres_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The PostgreSQL server's URL, or a skip (a failure under PAYMUX_REQUIRE_POSTGRES=1)."""
    url = os.environ.get("PAYMUX_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        with psycopg.connect(_postgres_dsn(url), connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        if os.environ.get("PAYMUX_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but unreachable at {url}: {error}")
        pytest.skip(f"PostgreSQL unreachable at {url}")
    return url


@pytest.fixture(scope="session")
def postgres_run_database(postgres_server_url: str) -> Iterator[str]:
    """A database of this test run, migrated, dropped at the end."""
    name = f"paymux_test_{uuid.uuid4().hex[:12]}"
    admin = _postgres_dsn(postgres_server_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database."""
    path = tmp_path / "paymux.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def postgres_url(postgres_run_database: str) -> str:
    """The run's PostgreSQL database, emptied for this test."""
    with psycopg.connect(_postgres_dsn(postgres_run_database), autocommit=True) as connection:
        connection.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    return (
        make_url(postgres_run_database)
        .set(drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database: every test using it runs on SQLite and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep screenshots and reports (``test-artifacts/``)."""
    path = Path(os.environ.get("PAYMUX_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """The root logger as it was before the test: a command that configured paymux's
    logging (``paymux worker``, ``reconcile``...) leaves no handler behind to write into a
    later test's output, nor its redaction filter on pytest's capturing handlers."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    filters = {handler: list(handler.filters) for handler in handlers}
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        if getattr(handler, "_paymux_handler", False):  # paymux.app.logging_setup's mark
            root.removeHandler(handler)
            handler.close()
    for handler, kept in filters.items():  # configure_logging filters the others' records
        handler.filters[:] = kept
    root.setLevel(level)
