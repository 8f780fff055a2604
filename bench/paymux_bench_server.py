"""The paymux server of ``bench_payments_e2e.py``: one uvicorn process on an inherited socket.

The load generator binds a listening socket on 127.0.0.1, passes its file descriptor here
(``--fd``) and sets ``PAYMUX_*`` in the environment, so the port is never raced and this
process owns one event loop of its own. One worker only: the sandbox PSP keeps its checkouts
in this process's memory. ``--profile PATH`` writes a cProfile of the whole process at exit.

The app is ``create_app()`` unchanged, plus one bench-only route, ``GET /_bench/sql``: the
SQL work of the app's engine so far, counted with SQLAlchemy events (cheap counters).

    python bench/paymux_bench_server.py --fd 3 [--profile server.pstats]
"""

from __future__ import annotations

import argparse
import cProfile
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from paymux.app.factory import create_app


@dataclass
class SqlCounters:
    """What the app asked of PostgreSQL."""

    transactions: int = 0
    """``BEGIN ... COMMIT/ROLLBACK`` blocks (one per unit of work)."""
    statements: int = 0
    """Statements sent, each row of an ``executemany`` counted."""
    checkouts: int = 0
    """Pool checkouts; with ``pool_pre_ping`` each costs one more round trip (``;``)."""
    connects: int = 0
    """New connections (a new PostgreSQL backend each)."""


def count_sql(engine: AsyncEngine) -> SqlCounters:
    """Counters kept up to date by events on ``engine``."""
    counters = SqlCounters()
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "begin")
    def _begin(_connection: Any) -> None:
        counters.transactions += 1

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _statement(
        _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        counters.statements += len(parameters) if many and parameters else 1

    @event.listens_for(sync_engine.pool, "checkout")
    def _checkout(_dbapi: Any, _record: Any, _proxy: Any) -> None:
        counters.checkouts += 1

    @event.listens_for(sync_engine.pool, "connect")
    def _connect(_dbapi: Any, _record: Any) -> None:
        counters.connects += 1

    return counters


def bench_app() -> FastAPI:
    """paymux from the environment's settings, with ``GET /_bench/sql``."""
    app = create_app()
    counters = count_sql(app.state.paymux.database.engine)

    async def sql() -> dict[str, int]:
        return asdict(counters)

    app.add_api_route("/_bench/sql", sql, methods=["GET"], include_in_schema=False)
    return app


def main() -> None:
    """Serve the app until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description="paymux server for the e2e benchmark")
    parser.add_argument("--fd", type=int, required=True, help="a listening TCP socket's fd")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile here")
    args = parser.parse_args()

    sock = socket.socket(fileno=args.fd)
    config = uvicorn.Config(
        bench_app(), log_level="warning", access_log=False, lifespan="on", workers=1
    )
    server = uvicorn.Server(config)
    profiler = cProfile.Profile() if args.profile is not None else None
    if profiler is not None:
        profiler.enable()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it shut down on
        pass
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
