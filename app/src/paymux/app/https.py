"""HTTPS: the ``Strict-Transport-Security`` header, and the options ``paymux serve`` gives
uvicorn for TLS and for proxy headers (see ``docs/security/https-and-proxies.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paymux.core.settings import Settings


def hsts_value(max_age_seconds: int) -> str:
    """The ``Strict-Transport-Security`` value paymux sends."""
    return f"max-age={max_age_seconds}"


class HSTSMiddleware:
    """Adds ``Strict-Transport-Security`` to responses to HTTPS requests (or to all)."""

    def __init__(self, app: ASGIApp, *, max_age_seconds: int, always: bool) -> None:
        self.app = app
        self.header = (b"strict-transport-security", hsts_value(max_age_seconds).encode())
        self.always = always

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the header to the response's start."""
        if scope["type"] != "http" or not (self.always or scope.get("scheme") == "https"):
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"strict-transport-security"
                ]
                message = {**message, "headers": [*headers, self.header]}
            await send(message)

        await self.app(scope, receive, send_with_hsts)


def add_hsts(app: FastAPI, settings: Settings) -> None:
    """Send HSTS as ``settings`` say (nothing when ``hsts_max_age_seconds`` is 0)."""
    if settings.hsts_max_age_seconds > 0:
        app.add_middleware(
            HSTSMiddleware,
            max_age_seconds=settings.hsts_max_age_seconds,
            always=settings.hsts_always,
        )


def uvicorn_options(
    settings: Settings, *, certfile: Path | None = None, keyfile: Path | None = None
) -> dict[str, Any]:
    """uvicorn's TLS and proxy-header options: TLS when a certificate and key are given
    (arguments over settings); proxy headers only from ``trusted_proxies``."""
    certfile = certfile or settings.ssl_certfile
    keyfile = keyfile or settings.ssl_keyfile
    if (certfile is None) != (keyfile is None):
        raise ValueError("HTTPS needs both a certificate file and a key file")
    options: dict[str, Any] = {}
    if certfile is not None and keyfile is not None:
        for path in (certfile, keyfile):
            if not path.is_file():
                raise ValueError(f"{path} is not a readable file")
        options.update(ssl_certfile=str(certfile), ssl_keyfile=str(keyfile))
    trusted = (settings.trusted_proxies or "").strip()
    if trusted:
        options.update(proxy_headers=True, forwarded_allow_ips=trusted)
    else:
        options.update(proxy_headers=False)
    return options
