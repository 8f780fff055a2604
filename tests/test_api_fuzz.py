"""Schemathesis against the app in process: generated requests for every operation, and
scenarios that follow the OpenAPI links; no 5xx, every answer as the schema says."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.stateful import Bundle, initialize
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.stateful.state_machine import StepInput

from paymux.app.factory import create_app
from paymux_test_support import API_KEY, auth, live_service, make_settings

pytestmark = pytest.mark.postgres

CONFIG = {
    # the sandbox's key for the app's security scheme (negative cases may drop or spoil it)
    "auth": {"openapi": {"HTTPBearer": {"bearer": API_KEY}}},
    # the scenarios follow the links the OpenAPI document declares (paymux.app.openapi_links);
    # inferred ones would make POST /v1/payments a mere fallback root (its buyer_id and
    # seller_id look like references to resources nothing produces)
    # Scenarios are positive only: their generated bodies are steered to acceptable ones
    # (steer_generation), which would turn a negative case valid; negative cases are the
    # per-operation test's.
    "phases": {"stateful": {"inference": {"algorithms": []}, "generation": {"mode": "positive"}}},
    "checks": {
        # Schema-valid is not always acceptable: a currency code of three letters that ISO
        # 4217 does not know, a provider that is not enabled, no route for the country,
        # more than is left to refund are documented 422 problems that JSON Schema cannot
        # express. Everything else (400, 413, 415 ...) still fails the check.
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
        }
    },
}
EXAMPLES = int(os.environ.get("PAYMUX_FUZZ_EXAMPLES", "30"))
"""Cases per operation and mode, and scenarios (more for a deeper run by hand)."""
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def fuzz_app(postgres_url: str) -> Iterator[FastAPI]:
    """The app under test, in process; its sandbox PSP is a second instance on the same
    database, served on a real port (providers are called over HTTP, and the PSP's webhooks
    reach paymux there)."""
    with live_service(postgres_url, settings={"embedded_worker": "never"}) as psp:
        # No rate limits here: the fuzzer's bursts would be 429s, not what is tested.
        unlimited = {"embedded_worker": "never", "rate_limit": "", "rate_limit_anonymous": ""}
        yield create_app(make_settings(postgres_url, psp.url, settings=unlimited))


@pytest.fixture
def api_schema(fuzz_app: FastAPI) -> Any:
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", fuzz_app, config=SchemathesisConfig.from_dict(CONFIG)
    )
    return schema


def checkouts() -> st.SearchStrategy[dict[str, Any]]:
    """Checkouts the sandbox accepts: random JSON Schema data rarely has a real currency
    and amounts of its exponent, and without created payments the links lead nowhere."""
    order = st.fixed_dictionaries(
        {
            "seller_id": st.sampled_from(["seller-a", "seller-b", "seller-c"]),
            "amount": st.integers(1, 10**7).map(lambda minor: f"{minor // 100}.{minor % 100:02d}"),
            "reference": st.text("abc123-", min_size=1, max_size=8),
        }
    )
    return st.fixed_dictionaries(
        {
            "buyer_id": st.text("xyz789", min_size=1, max_size=8),
            "currency": st.sampled_from(["EUR", "USD", "JPY", "KWD"]),
            "country": st.sampled_from(["DE", "FR", "US", "JP"]),
            "return_url": st.just("https://shop.example/thanks"),
            "orders": st.lists(order, min_size=1, max_size=3),
        }
    )


SETTLEMENT_FILE = (
    "line_id,type,payment_reference,modification_reference,merchant_reference,currency,"
    "gross,fee,net,booked_at,batch\n"
    "sbxln_1,capture,sbxref_nobody,,,EUR,10.00,0.39,9.61,2026-11-23T09:00:00Z,b1\n"
)


def steer_generation(schema: Any) -> None:
    """Half the generated payments and settlement uploads are ones paymux accepts (for
    positive cases only: a negative case must stay invalid)."""

    @schema.hook("flatmap_body").apply_to(method="POST", path="/v1/payments")  # type: ignore[untyped-decorator]
    def payments(_context: Any, body: Any) -> st.SearchStrategy[Any]:
        return st.one_of(st.just(body), checkouts())

    @schema.hook("flatmap_body").apply_to(method="POST", path="/v1/reconciliations")  # type: ignore[untyped-decorator]
    def settlement_file(_context: Any, body: Any) -> st.SearchStrategy[Any]:
        return st.one_of(st.just(body), st.just(SETTLEMENT_FILE))

    @schema.hook("map_query").apply_to(method="POST", path="/v1/reconciliations")  # type: ignore[untyped-decorator]
    def sandbox_provider(_context: Any, query: Any) -> Any:
        return {**(query or {}), "provider": "sandbox"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(
    api_schema: Any, mode: GenerationMode, subtests: Any
) -> None:
    if mode is GenerationMode.POSITIVE:
        steer_generation(api_schema)
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @FUZZ_SETTINGS
        def run(case: Any) -> None:
            case.call_and_validate()

        with subtests.test(operation=operation.label):
            try:
                run()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise
                # nothing in the operation can be made invalid (no parameter, no body)


def test_scenarios_that_follow_the_links_answer_as_documented(api_schema: Any) -> None:
    steer_generation(api_schema)
    statuses: dict[str, list[int]] = {}
    create_payment = api_schema["/v1/payments"]["POST"]

    class Scenarios(api_schema.as_state_machine()):  # type: ignore[misc]
        """Every scenario starts from a created payment (Schemathesis' own roots would
        not pick ``POST /v1/payments``: its seller ids reference nothing it can create),
        then follows the links from there or from other roots."""

        @initialize(target=Bundle("catch_all"), body=checkouts(), key=st.uuids())
        def a_payment(self, body: dict[str, Any], key: Any) -> Any:
            case = create_payment.Case(
                body=body,
                headers={**auth(), "Idempotency-Key": str(key)},
                media_type="application/json",
            )
            step = StepInput.initial(case)
            self.recorder.record_case(case=case)
            self.control.record_step(step, self.recorder)
            return self.step(step)

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            statuses.setdefault(case.operation.label, []).append(response.status_code)

    Scenarios.run(settings=settings(FUZZ_SETTINGS, max_examples=EXAMPLES, stateful_step_count=6))
    # the links were followed from created objects, not only tried on made-up ids
    assert 201 in statuses["POST /v1/payments"]
    assert 200 in statuses["GET /v1/payments/{payment_id}"]
