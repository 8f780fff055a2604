"""The buyer's side in a real browser: the sandbox PSP's hosted page, then paymux's status page.

Drives headless Chromium (the system's ``/usr/bin/chromium``; Playwright never downloads one)
and keeps a screenshot of each page in ``artifacts_dir``. Without Chromium the test is skipped,
unless ``PAYMUX_REQUIRE_BROWSER=1`` (set by CI) turns that into a failure.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from paymux.app.runtime import PaymuxRuntime
from paymux_sandbox.simulator import SandboxPsp
from paymux_test_support import SUCCESS_CARD, LiveService, auth, live_service, payment_body

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
WAIT_MS = 15_000
"""Upper bound for each browser wait (navigation, the status page reaching succeeded)."""

pytestmark = pytest.mark.browser


def require_chromium() -> Path:
    """The system Chromium, or a skip (a failure under PAYMUX_REQUIRE_BROWSER=1)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)"
    if os.environ.get("PAYMUX_REQUIRE_BROWSER") == "1":
        pytest.fail(f"a browser is required (PAYMUX_REQUIRE_BROWSER=1): {message}")
    pytest.skip(message)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless system Chromium, closed after the test."""
    executable = require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def sandbox_psp(service: LiveService) -> SandboxPsp:
    """The simulator mounted in ``service``."""
    runtime = service.app.state.paymux
    assert isinstance(runtime, PaymuxRuntime)
    (mount,) = [m for m in runtime.mounts if m.name == "sandbox-psp"]
    psp = getattr(mount.app, "state").psp  # noqa: B009 - AsgiApp is a plain callable type
    assert isinstance(psp, SandboxPsp)
    return psp


def test_buyer_pays_on_hosted_page_and_sees_status_page(
    browser: Browser,
    sqlite_url: str,
    artifacts_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    card_digits = SUCCESS_CARD.replace(" ", "")
    return_url = payment_body()["return_url"]

    with live_service(sqlite_url) as service, service.client() as client:
        created = client.post(
            "/v1/payments", json=payment_body(), headers=auth(idempotency_key="browser-1")
        )
        assert created.status_code == 201, created.text
        payment = created.json()
        assert payment["amount"] == "42.50"
        assert len(payment["orders"]) == 2
        redirect_url: str = payment["redirect_url"]
        assert redirect_url.startswith(f"{service.url}/sandbox-psp/pay/")

        context = browser.new_context(viewport={"width": 800, "height": 900})
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        try:
            # The sandbox PSP's hosted page.
            page.goto(redirect_url)
            expect(page.locator("#amount")).to_have_text("€42.50")
            expect(page.locator("#error")).to_have_count(0)
            page.locator("#card-number").fill(SUCCESS_CARD)
            expect(page.locator("#card-number")).to_have_value(SUCCESS_CARD)
            page.screenshot(path=artifacts_dir / "hosted-page.png", full_page=True)

            page.locator("#pay").click()
            page.wait_for_url(f"{service.url}/checkout/{payment['id']}?sig=*")

            # paymux's status page: it refreshes itself every 3 seconds until the payment is final.
            page.wait_for_selector('#result[data-status="succeeded"]', timeout=WAIT_MS)
            expect(page.locator("#result")).to_have_text("Payment received. Thank you!")
            expect(page.locator(".status")).to_have_text(["succeeded", "succeeded"])
            expect(page.locator("#back")).to_have_attribute("href", return_url)
            page.screenshot(path=artifacts_dir / "status-page.png", full_page=True)
            status_html = page.content()
        finally:
            context.close()

        settled = client.get(f"/v1/payments/{payment['id']}").json()
        assert settled["status"] == "succeeded"
        assert [order["status"] for order in settled["orders"]] == ["succeeded", "succeeded"]

        # The card number is kept nowhere but as its last four digits.
        psp = sandbox_psp(service)
        (checkout,) = psp.checkouts.values()
        assert checkout.submitted
        assert checkout.card_last4 == card_digits[-4:]
        kept = repr([getattr(checkout, f.name) for f in fields(checkout)])
        assert card_digits not in kept
        assert SUCCESS_CARD not in kept

    assert f"card ending {card_digits[-4:]}" in caplog.text
    for leaked in (card_digits, SUCCESS_CARD):
        assert leaked not in caplog.text
        assert leaked not in status_html
    assert (artifacts_dir / "hosted-page.png").stat().st_size > 0
    assert (artifacts_dir / "status-page.png").stat().st_size > 0
