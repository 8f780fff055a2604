"""Helpers shared by the route modules."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ValidationError

from paymux.app.idempotency import HEADER
from paymux.app.localization import DisplayLocale, Localizable, display_headers, localize
from paymux.app.problems import MEDIA_TYPE, Problem, ProblemRoute, field_errors
from paymux.app.query_params import refuse_unknown_query_parameters
from paymux.core.services.idempotency import StoredResponse


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


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: Any) -> M:
    """``body`` validated as ``model``; a ``validation-error`` problem listing every field."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise Problem(
            "validation-error",
            "some fields are missing or have the wrong type",
            errors=field_errors(error.errors()),
        ) from None


def stored_response(
    stored: StoredResponse,
    model: type[Localizable] | None = None,
    locale: DisplayLocale | None = None,
) -> Response:
    """The response of an idempotent request, marked ``Idempotent-Replayed`` on a replay.

    With ``model`` (what a success's body is), the answer says it varies with
    ``Accept-Language``, and a success is localized for ``locale``: the stored body is the
    machine form, so a replay is shown in the locale of the request that replays it. A
    stored body that does not read as ``model`` is sent as stored.
    """
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
    body = stored.body
    if model is not None:
        shown = None
        if locale is not None and 200 <= stored.status < 300:
            try:
                body = localize(model.model_validate_json(stored.body), locale).model_dump_json()
                shown = locale
            except ValidationError:
                pass
        headers.update(display_headers(shown))
    return Response(body, status_code=stored.status, media_type="application/json", headers=headers)


def localized_response(
    view: Localizable, locale: DisplayLocale | None, status_code: int = 200
) -> Response:
    """``view`` as JSON, localized for ``locale`` (see :mod:`paymux.app.localization`)."""
    return Response(
        localize(view, locale).model_dump_json(),
        status_code=status_code,
        media_type="application/json",
        headers=display_headers(locale),
    )


def problem_responses(answers: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problems a route can answer."""
    return {
        code: {"description": text, "content": {MEDIA_TYPE: {}}} for code, text in answers.items()
    }


CLIENT_PROBLEMS = problem_responses(
    {
        401: "Missing, unknown, expired or revoked API key",
        403: "The API key lacks the scope this operation needs (`insufficient-scope`)",
        422: "Invalid parameters or body",
        429: "Over this API key's rate limit (`rate-limited`, with `Retry-After`)",
    }
)
"""What every route behind an API key can answer; a route's own ``responses`` say more
about the same status."""


def api_router(*, prefix: str, tags: list[str | Enum]) -> APIRouter:
    """A router of API routes: errors as problems, :data:`CLIENT_PROBLEMS` documented, and
    unknown query parameters refused."""
    return APIRouter(
        prefix=prefix,
        tags=tags,
        route_class=ProblemRoute,
        responses=CLIENT_PROBLEMS,
        dependencies=[Depends(refuse_unknown_query_parameters)],
    )


IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": True,
    # printable ASCII (what the server accepts), no space at either end (HTTP strips it)
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$",
    },
    "description": "Unique per request; a retry sends the same key",
}
