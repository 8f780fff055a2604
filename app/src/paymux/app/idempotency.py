"""The ``Idempotency-Key`` header and the fingerprint of a request."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from fastapi import Request

from paymux.app.problems import Problem

HEADER = "Idempotency-Key"
_VALID = re.compile(r"^[\x20-\x7e]{1,255}$")


def idempotency_key(request: Request) -> str:
    """FastAPI dependency: the request's idempotency key (400 when missing or malformed)."""
    key = request.headers.get(HEADER)
    if key is None or key == "":
        raise Problem(
            "idempotency-key-missing",
            f"every mutating request needs an {HEADER} header (a unique string, e.g. a UUID)",
        )
    if not _VALID.match(key):
        raise Problem(
            "invalid-idempotency-key", f"{HEADER} must be 1 to 255 printable ASCII characters"
        )
    return key


def fingerprint(method: str, route: str, body: Any) -> str:
    """A digest of what makes two requests "the same": method, route and the parsed body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {route}\n{canonical}".encode()).hexdigest()
