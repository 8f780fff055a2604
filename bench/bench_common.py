"""Helpers both benchmarks use: a throwaway database and percentiles."""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import URL


def libpq_dsn(url: URL) -> str:
    """``url`` as a libpq connection string (for psycopg and pgbench)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def bench_database(admin: URL) -> Iterator[URL]:
    """A new, empty database on the server of ``admin``; dropped at the end, whatever happens."""
    name = f"paymux_bench_{secrets.token_hex(6)}"
    with psycopg.connect(libpq_dsn(admin), autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name)
    finally:
        with psycopg.connect(libpq_dsn(admin), autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
