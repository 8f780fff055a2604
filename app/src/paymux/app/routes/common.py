"""Helpers shared by the route modules."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from paymux.app.problems import Problem


async def json_body(request: Request, *, empty: Any = None) -> Any:
    """The parsed JSON body (``empty`` when there is none and that is allowed)."""
    raw = await request.body()
    if not raw and empty is not None:
        return empty
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise Problem("unsupported-media-type", "send the body as application/json")
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as error:
        raise Problem("invalid-json", f"the body is not valid JSON: {error}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
