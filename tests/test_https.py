"""HTTPS: ``paymux serve`` with a certificate, HSTS, and proxy headers only when trusted."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from paymux.app.factory import create_app
from paymux.app.https import uvicorn_options
from paymux_test_support import auth, free_socket, make_settings

PAYMUX = str(Path(sys.executable).with_name("paymux"))
HSTS = "strict-transport-security"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def trusting(cert: Path) -> ssl.SSLContext:
    """A client context that trusts only ``cert``."""
    return ssl.create_default_context(cafile=str(cert))


@contextmanager
def paymux_serve(
    database: Path, *args: str, env: dict[str, str] | None = None, verify: Path | None = None
) -> Iterator[str]:
    """``paymux serve`` on a free port (HTTPS when ``verify`` is given); its URL once up."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    environment = {**os.environ, "PAYMUX_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    for name in ("PAYMUX_PUBLIC_URL", "PAYMUX_TRUSTED_PROXIES", "PAYMUX_HSTS_ALWAYS"):
        environment.pop(name, None)
    environment.update(env or {})
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [PAYMUX, "serve", "--port", str(port), *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"{'https' if verify else 'http'}://127.0.0.1:{port}"
    trust = trusting(verify) if verify else True
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", verify=trust).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"paymux serve exited: {output}")
            assert time.monotonic() < deadline, "paymux serve did not come up in 30 s"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_serve_over_https_sends_hsts(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    args = ("--ssl-certfile", str(cert), "--ssl-keyfile", str(key))
    small = {"PAYMUX_MAX_BODY_BYTES": "4096"}
    with paymux_serve(tmp_path / "tls.db", *args, env=small, verify=cert) as url:
        assert url.startswith("https://")
        health = httpx.get(f"{url}/healthz", verify=trusting(cert))
        missing = httpx.get(f"{url}/v1/payments/pay_missing", verify=trusting(cert))
        chunked = httpx.post(  # no Content-Length: counted while read, refused at 4 KiB
            f"{url}/v1/payments",
            content=(b" " * 1024 for _ in range(64)),
            headers={**auth(idempotency_key="big"), "Content-Type": "application/json"},
            verify=trusting(cert),
        )
        with pytest.raises(httpx.TransportError):
            httpx.get(url.replace("https://", "http://") + "/healthz")  # no plain HTTP there
    assert health.status_code == 200
    assert health.headers[HSTS] == "max-age=31536000"
    assert missing.status_code == 401
    assert missing.headers[HSTS] == "max-age=31536000"  # on problems too
    assert chunked.status_code == 413
    assert chunked.json()["type"] == "https://paymux.dev/problems/payload-too-large"
    assert chunked.request.headers.get("transfer-encoding") == "chunked"


def test_proxy_headers_count_only_from_trusted_proxies(tmp_path: Path) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"}
    limit = {"PAYMUX_RATE_LIMIT_ANONYMOUS": "2/minute"}
    with paymux_serve(tmp_path / "plain.db", env=limit) as url:
        plain = httpx.get(f"{url}/healthz", headers=forwarded)
        codes = [
            httpx.get(f"{url}/v1/payments/x", headers={"X-Forwarded-For": f"192.0.2.{n}"})
            for n in range(3)
        ]
    assert HSTS not in plain.headers  # the forged X-Forwarded-Proto is ignored
    assert [r.status_code for r in codes] == [401, 401, 429]  # one client: the real peer

    env = {**limit, "PAYMUX_TRUSTED_PROXIES": "127.0.0.1"}
    with paymux_serve(tmp_path / "proxied.db", env=env) as url:
        proxied = httpx.get(f"{url}/healthz", headers=forwarded)
        codes = [
            httpx.get(f"{url}/v1/payments/x", headers={"X-Forwarded-For": f"192.0.2.{n}"})
            for n in range(3)
        ]
    assert proxied.headers[HSTS] == "max-age=31536000"  # the proxy ended TLS
    assert [r.status_code for r in codes] == [401, 401, 401]  # three clients behind it


def test_hsts_in_process(sqlite_url: str) -> None:
    with TestClient(create_app(make_settings(sqlite_url))) as client:
        assert HSTS not in client.get("/healthz").headers
    with TestClient(create_app(make_settings(sqlite_url)), base_url="https://paymux.test") as c:
        assert c.get("/healthz").headers[HSTS] == "max-age=31536000"
    always = make_settings(sqlite_url, settings={"hsts_always": True, "hsts_max_age_seconds": 60})
    with TestClient(create_app(always)) as client:
        assert client.get("/healthz").headers[HSTS] == "max-age=60"
    off = make_settings(sqlite_url, settings={"hsts_always": True, "hsts_max_age_seconds": 0})
    with TestClient(create_app(off)) as client:
        assert HSTS not in client.get("/healthz").headers


def test_uvicorn_options(sqlite_url: str, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    settings = make_settings(sqlite_url)
    assert uvicorn_options(settings) == {"proxy_headers": False}
    assert uvicorn_options(settings, certfile=cert, keyfile=key) == {
        "ssl_certfile": str(cert),
        "ssl_keyfile": str(key),
        "proxy_headers": False,
    }
    trusted = make_settings(sqlite_url, settings={"trusted_proxies": "10.0.0.0/8, 127.0.0.1"})
    assert uvicorn_options(trusted) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.0/8, 127.0.0.1",
    }
    with pytest.raises(ValueError, match="both"):
        uvicorn_options(settings, certfile=cert)
    with pytest.raises(ValueError, match="not a readable file"):
        uvicorn_options(settings, certfile=cert, keyfile=cert.with_name("missing.pem"))


def test_serve_refuses_half_a_tls_configuration(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    env = {**os.environ, "PAYMUX_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}
    done = subprocess.run(  # noqa: S603 - our own CLI
        [PAYMUX, "serve", "--ssl-certfile", str(certificate[0])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "both a certificate file and a key file" in done.stderr
