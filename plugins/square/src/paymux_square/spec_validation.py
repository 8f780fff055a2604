"""Checking requests against Square's official OpenAPI document (tests only).

Square's ``api.json`` (OpenAPI 3.0) is read with openapi-core, a test-only dependency
(imported lazily, so the plugin itself never needs it). The file as published cannot be used
offline as is: some ``$ref``\\s point to ``squareup.common`` scalar types on Square's CDN and one
names a schema that does not exist. Those are replaced by their plain JSON types in memory;
the file on disk is not changed. ``info.externalDocs`` (not allowed by OAS 3.0) makes the
strict spec validator refuse the document, so it is skipped.

The document is looked up at ``PAYMUX_SQUARE_SPEC`` or at ``shared/psp-specs/square/api.json``
in a parent folder of this file (the repository's ``../shared`` in development and CI).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SPEC_ENV = "PAYMUX_SQUARE_SPEC"
SPEC_RELATIVE = Path("shared") / "psp-specs" / "square" / "api.json"
SPEC_HOST = "https://connect.squareup.com"
_COMMON = "https://developer-production-s.squarecdn.com/schemas/v1/common.json#squareup.common."
_COMMON_TYPES = {
    "String": "string",
    "Number": "number",
    "Boolean": "boolean",
    "PhoneNumber": "string",
}
_DANGLING = "#/components/schemas/CatalogModifierToggleOverrideType"
_USED_PATHS = (
    "/v2/online-checkout/payment-links",
    "/v2/online-checkout/payment-links/{id}",
    "/v2/orders/{order_id}",
    "/v2/payments/{payment_id}",
    "/v2/refunds",
    "/v2/refunds/{refund_id}",
    "/v2/payouts",
    "/v2/payouts/{payout_id}/payout-entries",
)


class SpecNotFoundError(FileNotFoundError):
    """Square's OpenAPI document is not where it is looked for."""


def find_spec() -> Path:
    """The path of Square's ``api.json``."""
    configured = os.environ.get(SPEC_ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise SpecNotFoundError(f"{SPEC_ENV}={configured} is not a file")
        return path
    for folder in Path(__file__).resolve().parents:
        if (folder / SPEC_RELATIVE).is_file():
            return folder / SPEC_RELATIVE
    raise SpecNotFoundError(f"no {SPEC_RELATIVE} above {__file__}; set {SPEC_ENV}")


def patch_offline(node: Any) -> None:
    """Replace the CDN and dangling ``$ref``\\s by plain types, in place."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_COMMON):
            del node["$ref"]
            node["type"] = _COMMON_TYPES[ref[len(_COMMON) :]]
        elif ref == _DANGLING:
            del node["$ref"]
            node["type"] = "string"
        for value in node.values():
            patch_offline(value)
    elif isinstance(node, list):
        for value in node:
            patch_offline(value)


@dataclass(frozen=True, slots=True)
class SpecRequest:
    """One HTTP request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class SquareSpecValidator:
    """Validates requests against Square's OpenAPI document with openapi-core."""

    def __init__(self, spec_path: Path | None = None) -> None:
        from openapi_core import Config, OpenAPI

        document = json.loads((spec_path or find_spec()).read_text(encoding="utf-8"))
        document["info"].pop("externalDocs", None)
        # Only the operations the plugin uses: the schemas stay whole (refs resolve lazily).
        document["paths"] = {path: document["paths"][path] for path in _USED_PATHS}
        patch_offline(document)
        self._openapi = OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))

    def errors(self, request: SpecRequest) -> list[str]:
        """What is wrong with ``request`` according to the spec (``[]`` when it is valid)."""
        from openapi_core.testing import MockRequest

        mock = MockRequest(
            SPEC_HOST,
            request.method,
            request.path,
            args=request.query,
            headers=request.headers,
            data=request.body or None,
            content_type=request.headers.get("content-type", "application/json"),
        )
        try:
            with warnings.catch_warnings():
                # Square's operations require OAuth 2, which openapi-core cannot check.
                warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
                self._openapi.validate_request(mock)
        except Exception as error:
            details = [repr(error)]
            cause: BaseException | None = error.__cause__
            while cause is not None:
                details.append(repr(cause))
                for sub in getattr(cause, "schema_errors", ()) or ():
                    details.append(f"{list(sub.path)}: {sub.message}")
                cause = cause.__cause__
            return [" <- ".join(details)]
        return []


@lru_cache(maxsize=1)
def shared_validator() -> SquareSpecValidator:
    """One validator per process (loading the document takes a few seconds)."""
    return SquareSpecValidator()


@lru_cache(maxsize=1)
def _components() -> dict[str, Any]:
    document = json.loads(find_spec().read_text(encoding="utf-8"))
    components: dict[str, Any] = document["components"]
    patch_offline(components)
    return components


def schema_errors(schema: str, value: object) -> list[str]:
    """What is wrong with ``value`` as an object of ``components/schemas/<schema>`` (an
    answer's object, such as ``Payout``), according to the spec; ``[]`` when it is valid."""
    from openapi_schema_validator import OAS30Validator

    validator = OAS30Validator(
        {"$ref": f"#/components/schemas/{schema}", "components": _components()}
    )
    return [
        f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(value)
    ]
