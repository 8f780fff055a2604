"""Adyen's OpenAPI specs as validators of requests and webhooks (needs openapi-core).

The files in ``specs/`` are Adyen's official OpenAPI files (``Adyen/adyen-openapi``, see
``specs/trim_specs.py``) trimmed to the operations paymux uses. Test-only: openapi-core is
in paymux's dev dependencies, not the plugin's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

from paymux_adyen.fake_psp import CHECKOUT, TRANSFERS, RecordedRequest

SPECS = Path(__file__).with_name("specs")


class _WebhookRequest(MockRequest):
    """An openapi-core webhook request: a POST body under a webhook name."""

    def __init__(self, name: str, body: bytes) -> None:
        super().__init__("https://paymux.example", "POST", "/", data=body,
                         headers={"Authorization": "Basic dXNlcjpwYXNz"})  # fmt: skip
        self.name = name


class AdyenSpecs:
    """Adyen's OpenAPI specs, loaded once, as validators."""

    def __init__(self) -> None:
        self.checkout = OpenAPI.from_file_path(str(SPECS / "CheckoutService-v72.json"))
        self.transfers = OpenAPI.from_file_path(str(SPECS / "TransferService-v4.json"))
        self.webhooks = OpenAPI.from_file_path(str(SPECS / "Webhooks-v1.json"))
        self.transfer_webhooks = OpenAPI.from_file_path(
            str(SPECS / "BalancePlatformTransferNotification-v4.json")
        )

    def raw(self, name: str) -> Any:
        """The (trimmed) spec file ``name`` as JSON."""
        return json.loads((SPECS / name).read_text())

    def request_errors(self, request: RecordedRequest) -> list[str]:
        """What is wrong with ``request`` by Adyen's specs (``[]``: it validates)."""
        if request.path.startswith(CHECKOUT):
            api, host, path = (self.checkout, "https://checkout-test.adyen.com",
                               request.path.removeprefix("/checkout"))  # fmt: skip
        elif request.path.startswith(TRANSFERS):
            api, host, path = (self.transfers, "https://balanceplatform-api-test.adyen.com",
                               request.path)  # fmt: skip
        else:
            return [f"no Adyen API serves {request.method} {request.path}"]
        mock = MockRequest(
            host,
            request.method,
            path,
            headers=request.headers,
            data=request.body or None,
            content_type=request.headers.get("content-type", "application/json"),
        )
        try:
            api.validate_request(mock)
        except Exception as error:  # openapi-core raises several unrelated classes
            cause = getattr(error, "__cause__", None)
            details = [str(e).splitlines()[0] for e in getattr(cause, "schema_errors", [])]
            return [f"{request.method} {request.path}: {error!r} {details}"]
        return []

    def webhook_errors(self, name: str, body: bytes) -> list[str]:
        """What is wrong with a webhook body by Adyen's webhook specs."""
        api = self.transfer_webhooks if name.startswith("balancePlatform") else self.webhooks
        try:
            api.validate_webhook_request(_WebhookRequest(name, body))
        except Exception as error:
            return [f"{name}: {error!r}"]
        return []
