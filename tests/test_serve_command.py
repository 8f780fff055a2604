"""``paymux serve`` as a user runs it: a real process on SQLite with the sandbox PSP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from paymux_test_support import (
    DECLINE_CARD,
    SUCCESS_CARD,
    auth,
    free_socket,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

PAYMUX = str(Path(sys.executable).with_name("paymux"))


@contextmanager
def paymux_serve(database: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``paymux serve`` on a free port; yield its URL once ``/healthz`` answers."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "PAYMUX_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    env.pop("PAYMUX_PUBLIC_URL", None)
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [PAYMUX, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "paymux serve exited"
            assert time.monotonic() < deadline, "paymux serve did not come up in 30 s"
            time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_serve_migrates_sqlite_and_runs_the_flow(tmp_path: Path) -> None:
    with (
        paymux_serve(tmp_path / "serve.db") as (url, process),
        httpx.Client(base_url=url, headers=auth(), timeout=10) as client,
    ):
        assert process.stdout is not None
        banner = "".join(process.stdout.readline() for _ in range(4))
        assert url in banner
        assert "pmx_dev_sandbox_key" in banner
        for key, card, status in (
            ("serve-ok", SUCCESS_CARD, "succeeded"),
            ("serve-no", DECLINE_CARD, "failed"),
        ):
            created = client.post(
                "/v1/payments", json=payment_body(), headers=auth(idempotency_key=key)
            )
            assert created.status_code == 201, created.text
            payment = created.json()
            assert len(payment["orders"]) == 2
            pay_on_hosted_page(payment["redirect_url"], card)
            settled = wait_for_status(client, payment["id"], status, timeout=2.0)
            assert [o["status"] for o in settled["orders"]] == [status, status]
