"""The buyer's instruction page (the checkout's ``redirect_url``), served through
``paymux_asgi_mounts``: beneficiary, IBAN, BIC, amount and reference, as plain HTML.

Every value is escaped. In sandbox mode the page also offers a form that plays the bank:
it produces a camt.053 statement with the transfer (:mod:`paymux_bank_transfer.fake_bank`),
imports it into the plugin's store and posts it, signed, to paymux's webhook endpoint.
"""

from __future__ import annotations

import logging
from html import escape
from typing import Annotated

import httpx
from fastapi import FastAPI, Form
from fastapi.responses import HTMLResponse, RedirectResponse

from paymux.core.domain.status import PaymentStatus
from paymux.currencies import InvalidAmountError, Money, format_amount, format_money, parse_amount
from paymux_bank_transfer import fake_bank
from paymux_bank_transfer.provider import BankTransferProvider, Instruction
from paymux_bank_transfer.references import format_reference
from paymux_bank_transfer.sepa import format_iban
from paymux_bank_transfer.signature import sign

log = logging.getLogger(__name__)

_STATUS_TEXT = {
    PaymentStatus.PENDING: "Waiting for your transfer.",
    PaymentStatus.SUCCEEDED: "Your transfer has arrived. Thank you!",
    PaymentStatus.FAILED: "This transfer was sent back. Please start a new checkout.",
    PaymentStatus.EXPIRED: "This payment has expired. Please do not transfer any money.",
}


def render_instruction(instruction: Instruction, *, sandbox: bool) -> str:
    """The instruction page for one payment."""
    amount = format_money(instruction.amount, "en_US")
    plain = format_amount(instruction.amount.minor, instruction.amount.currency)
    status = _STATUS_TEXT.get(instruction.status, instruction.status.value)
    waiting = instruction.status is PaymentStatus.PENDING
    rows = [
        ("Beneficiary", "beneficiary", escape(instruction.beneficiary)),
        ("IBAN", "iban", escape(format_iban(instruction.iban))),
        ("BIC", "bic", escape(instruction.bic)),
        (
            "Amount",
            "amount",
            f'<span data-amount="{escape(plain)}" data-currency='
            f'"{escape(instruction.amount.currency)}">{escape(amount)}</span>',
        ),
        ("Reference", "reference", escape(format_reference(instruction.reference))),
    ]
    table = "".join(
        f'<tr><th scope="row">{label}</th><td id="{ident}">{value}</td></tr>'
        for label, ident, value in rows
    )
    steps = (
        f"""<p>Transfer exactly <strong>{escape(amount)}</strong> by SEPA credit transfer and
quote the reference <strong>exactly</strong> (as the structured creditor reference if your
bank offers it, else in the payment details). Please pay by
<strong id="expires">{escape(instruction.expires_at.date().isoformat())}</strong>.</p>"""
        if waiting
        else ""
    )
    simulate = (
        f"""<form method="post" action="{escape(instruction.reference)}/simulate">
<p><span class="badge">SANDBOX</span> Play the bank: book a transfer of
<input id="simulate-amount" name="amount" value="{escape(plain)}" size="10"> EUR with this
reference.</p><button id="simulate" type="submit">Simulate the transfer</button></form>"""
        if sandbox and waiting
        else ""
    )
    content = f"""<p id="status">{escape(status)}</p>{steps}
<table>{table}</table>{simulate}
<p><a id="back" href="{escape(instruction.return_url)}">Back to the shop</a></p>"""
    return _page("Pay by bank transfer", content)


def _page(title: str, content: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; color: #1d2433; }}
th {{ text-align: left; padding: .3rem 1rem .3rem 0; }}
td {{ font-family: ui-monospace, monospace; font-size: 1.05rem; }}
.badge {{ background: #ffe9a8; padding: .1rem .5rem; border-radius: .3rem; font-size: .8rem; }}
button {{ padding: .5rem 1rem; }}
</style></head>
<body><h1>{escape(title)}</h1>{content}</body></html>"""


def instruction_app(
    provider: BankTransferProvider, *, sandbox: bool, webhook_url: str | None
) -> FastAPI:
    """The pages' ASGI app; in sandbox mode with the bank simulation form."""
    app = FastAPI(title="paymux bank transfer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.provider = provider

    @app.get("/pay/{reference}", response_class=HTMLResponse)
    async def page(reference: str) -> HTMLResponse:
        instruction = await provider.instruction(reference)
        if instruction is None:
            return HTMLResponse(_page("Unknown payment", "<p>No such payment.</p>"), 404)
        return HTMLResponse(render_instruction(instruction, sandbox=sandbox))

    if sandbox:

        @app.post("/pay/{reference}/simulate", response_model=None)
        async def simulate(
            reference: str, amount: Annotated[str, Form()]
        ) -> HTMLResponse | RedirectResponse:
            instruction = await provider.instruction(reference)
            if instruction is None:
                return HTMLResponse(_page("Unknown payment", "<p>No such payment.</p>"), 404)
            try:
                paid = Money(parse_amount(amount.strip(), "EUR"), "EUR")
            except InvalidAmountError as error:
                return HTMLResponse(_page("Invalid amount", f"<p>{escape(str(error))}</p>"), 400)
            line = fake_bank.credit(paid, instruction.reference)
            document = fake_bank.statement(provider.config.iban, [line])
            await provider.import_statement(document)
            if webhook_url is not None:
                await _deliver(document, webhook_url, provider.config.statement_secret)
            return RedirectResponse(f"../{instruction.reference}", status_code=303)

    return app


async def _deliver(document: bytes, url: str, secret: str) -> None:
    """Post a signed statement to paymux's webhook endpoint (sandbox only; errors logged)."""
    headers = {
        "content-type": "application/xml",
        "Bank-Statement-Signature": sign(document, secret=secret),
    }
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.post(url, content=document, headers=headers)
        if not response.is_success:
            log.warning("statement upload to %s answered %s", url, response.status_code)
    except httpx.HTTPError as error:
        log.warning("statement upload to %s failed: %s", url, error)
