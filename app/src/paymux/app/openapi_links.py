"""OpenAPI links: which operation a response's ids lead to (``POST /v1/payments`` ->
``GET /v1/payments/{payment_id}`` ...). Clients and generators read them from the OpenAPI
document; Schemathesis follows them to build stateful scenarios."""

from __future__ import annotations

from typing import Any


def operation_ref(method: str, path: str) -> str:
    """A JSON pointer to an operation of this document (``/`` escaped as ``~1``)."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()


def link(method: str, path: str, description: str, **parameters: str) -> dict[str, Any]:
    """A link to ``method path``; ``parameters`` map its parameter names to runtime
    expressions (``$response.body#/id``, ``$request.path.seller_id``)."""
    return {
        "operationRef": operation_ref(method, path),
        "parameters": parameters,
        "description": description,
    }


def linked(description: str, **links: dict[str, Any]) -> dict[str, Any]:
    """A response's OpenAPI entry with ``links`` (for a route's ``responses``)."""
    return {"description": description, "links": links}


PAYMENT_LINKS = linked(
    "The payment, with its orders",
    GetPayment=link(
        "GET", "/v1/payments/{payment_id}", "Read the payment", payment_id="$response.body#/id"
    ),
    RefundPayment=link(
        "POST",
        "/v1/payments/{payment_id}/refunds",
        "Refund the payment",
        payment_id="$response.body#/id",
    ),
    ListChargebacks=link(
        "GET",
        "/v1/payments/{payment_id}/chargebacks",
        "The payment's chargebacks",
        payment_id="$response.body#/id",
    ),
    ShipFirstOrder=link(
        "POST",
        "/v1/payment-orders/{order_id}/shipment",
        "Confirm the shipment of the first order",
        order_id="$response.body#/orders/0/id",
    ),
)
REFUND_LINKS = linked(
    "The refund",
    GetRefund=link(
        "GET", "/v1/refunds/{refund_id}", "Read the refund", refund_id="$response.body#/id"
    ),
    GetPayment=link(
        "GET",
        "/v1/payments/{payment_id}",
        "The refunded payment",
        payment_id="$response.body#/payment_id",
    ),
)
PAYOUT_LINKS = linked(
    "The payout",
    GetPayout=link(
        "GET", "/v1/payouts/{payout_id}", "Read the payout", payout_id="$response.body#/id"
    ),
    GetWallet=link(
        "GET",
        "/v1/wallets/{seller_id}",
        "The seller's wallet",
        seller_id="$response.body#/seller_id",
    ),
)
SHIPMENT_LINKS = linked(
    "The shipment and what it released",
    GetWallet=link(
        "GET",
        "/v1/wallets/{seller_id}",
        "The seller's wallet",
        seller_id="$response.body#/seller_id",
    ),
    GetLedgerTransaction=link(
        "GET",
        "/v1/ledger/transactions/{transaction_id}",
        "The ledger transaction of the release",
        transaction_id="$response.body#/ledger_transaction_id",
    ),
)
PAYOUT_METHOD_LINKS = linked(
    "The seller's payout method",
    GetPayoutMethod=link(
        "GET",
        "/v1/sellers/{seller_id}/payout-method",
        "Read it back",
        seller_id="$request.path.seller_id",
    ),
)
RECONCILIATION_LINKS = linked(
    "The run and its summary",
    GetReconciliation=link(
        "GET", "/v1/reconciliations/{run_id}", "Read the run", run_id="$response.body#/id"
    ),
    ListDiscrepancies=link(
        "GET",
        "/v1/reconciliations/{run_id}/discrepancies",
        "The discrepancies the run opened",
        run_id="$response.body#/id",
    ),
)
