"""Card data never enters paymux: requests that carry a card number or security code are
refused (``card-data-refused``, 422) before any route runs, so nothing is written or logged.

paymux keeps card data out of its PCI DSS scope (SAQ A): buyers type card numbers into the
PSP's hosted page, never into paymux. :class:`CardDataGuard` looks at every request to paymux's
own routes (the API, buyer status pages, PSP webhooks) for

- fields named like a card number or security code (:func:`card_field_kind`), with a value
  (:func:`holds_card_data`), at any depth of a JSON body, in query parameters and form fields;
- card numbers (:func:`paymux.core.card_numbers.find_card_numbers`, strict) in the path,
  query string, headers, JSON keys and values (strings, integers and whole floats), form
  fields and plain text bodies.

Plugins' mounted apps (the sandbox PSP's hosted page, which plays the PSP and takes test
cards) are not guarded; neither is the body of ``POST /v1/reconciliations`` (the PSP's
settlement file, streamed and never stored as it is). See ``docs/security/pci.md``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, unquote_plus

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paymux.app.problems import Problem, problem_response
from paymux.core.card_numbers import contains_card_number, redact_card_numbers

log = logging.getLogger(__name__)

MAX_SCANNED_BODY_BYTES = 1 << 20
"""The largest body the guard reads (and so paymux accepts, but for settlement files)."""

TRACING_HEADERS = frozenset(
    {
        "traceparent",
        "tracestate",
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-amzn-trace-id",
        "x-cloud-trace-context",
        "x-datadog-trace-id",
        "x-datadog-parent-id",
        "uber-trace-id",
        "sentry-trace",
    }
)
"""Headers of tracing systems, not looked at: they carry random ids (Datadog's in decimal, up to
20 digits) that paymux neither stores nor logs, and a card number there is no one's input."""

_NUMBER_FIELD = re.compile(
    r"(?:credit|debit|payment)?(?:card|cc)(?:number|num|no|pan)|pan|primaryaccountnumber"
)
_CODE_FIELD = re.compile(
    r"(?:card|cc)?(?:cvv2?|cvc2?|cvn|csc|securitycode|verificationcode|verificationvalue)"
)
_CARD_PARENT = re.compile(r"(?:credit|debit|payment)?(?:card|cc)")
_NUMBER_IN_CARD = re.compile(r"number|num|no|pan")
_NON_ALNUM = re.compile(r"[^a-z0-9]")
_MASKED = re.compile(r"[0-9]{1,4}|(?=.*[0-9])(?=.*[*xX\u2022])[0-9*xX\u2022 -]+")
"""A masked card number (``424242******4242``) or its last four digits: not card data."""
MAX_MASKED_DIGITS = 10
"""The most digits a masked card number shows: the first six and the last four."""


def _normalized(name: str) -> str:
    return _NON_ALNUM.sub("", name.lower())


def card_field_kind(name: str, parent: str | None = None) -> Literal["number", "code"] | None:
    """What a field named ``name`` (in an object named ``parent``) is for: a card ``number``
    (``card_number``, ``cardNumber``, ``card[number]``, ``cc_num``, ``pan``, ``number`` in
    ``card``), a security ``code`` (``cvc``, ``cvv2``, ``security_code``), or neither
    (``card_last4``, ``cvc_check``, ``account_number``)."""
    normalized = _normalized(name)
    if _CODE_FIELD.fullmatch(normalized):
        return "code"
    if _NUMBER_FIELD.fullmatch(normalized):
        return "number"
    if (
        parent is not None
        and _CARD_PARENT.fullmatch(_normalized(parent)) is not None
        and _NUMBER_IN_CARD.fullmatch(normalized) is not None
    ):
        return "number"
    return None


def is_card_field(name: str, parent: str | None = None) -> bool:
    """Whether a field named ``name`` is for card data (see :func:`card_field_kind`)."""
    return card_field_kind(name, parent) is not None


def holds_card_data(kind: Literal["number", "code"] | None, value: object) -> bool:
    """Whether a field of ``kind`` with ``value`` carries card data: any value of a security
    code field; any value of a card number field but a masked number or the last four
    digits (what PSPs may send back). A masked number shows at most ten digits (the first
    six and the last four): ``4242424242424242x`` is a card number, not a masked one. A
    missing value (``null``, ``""``) carries nothing."""
    if kind is None or value is None or value == "":
        return False
    if kind == "code":
        return True
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value)
        digits = sum(character.isdigit() for character in text)
        return digits > MAX_MASKED_DIGITS or _MASKED.fullmatch(text) is None
    return True


@dataclass(frozen=True, slots=True)
class Finding:
    """Where card data was found (never the data): ``{"in": "body", "at": "/card/number"}``."""

    where: str
    at: str
    what: str

    def as_dict(self) -> dict[str, str]:
        """The finding for the problem's ``errors``, masked should the place name a PAN."""
        return {"in": self.where, "at": redact_card_numbers(self.at), "detail": self.what}


_NUMBER = "a card number"
_FIELD = "a card number or security code field"


def _text_findings(where: str, at: str, text: str) -> Iterator[Finding]:
    if contains_card_number(text, strict=True):
        yield Finding(where, at, _NUMBER)


def _pairs_findings(where: str, pairs: Sequence[tuple[str, str]]) -> Iterator[Finding]:
    for name, value in pairs:
        if holds_card_data(card_field_kind(name), value):
            yield Finding(where, name, _FIELD)
        elif contains_card_number(name, strict=True) or contains_card_number(value, strict=True):
            yield Finding(where, name, _NUMBER)


def json_findings(value: Any, pointer: str = "", parent: str | None = None) -> Iterator[Finding]:
    """Card data in a parsed JSON document, each finding with its JSON pointer."""
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            here = f"{pointer}/{name.replace('~', '~0').replace('/', '~1')}"
            if holds_card_data(card_field_kind(name, parent), item):
                yield Finding("body", here, _FIELD)
            elif contains_card_number(name, strict=True):
                yield Finding("body", here, _NUMBER)
            else:
                yield from json_findings(item, here, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_findings(item, f"{pointer}/{index}", parent)
    elif isinstance(value, str):
        yield from _text_findings("body", pointer, value)
    elif isinstance(value, int) and not isinstance(value, bool):
        yield from _text_findings("body", pointer, str(value))
    elif isinstance(value, float) and value.is_integer():  # 4242424242424242.0
        yield from _text_findings("body", pointer, str(int(value)))


def _body_findings(content_type: str, body: bytes) -> Iterator[Finding]:
    media_type = content_type.split(";")[0].strip().lower()
    text = body.decode("utf-8", "replace")
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            found = list(json_findings(json.loads(text)))
        except (ValueError, RecursionError):  # not JSON after all, or too deep to walk
            found = list(_text_findings("body", "", text))
        yield from found
        return
    if media_type == "application/x-www-form-urlencoded":
        yield from _pairs_findings("form", parse_qsl(text, keep_blank_values=True))
        return
    if media_type == "multipart/form-data":
        for name in re.findall(r'name="([^"]*)"', text):
            if is_card_field(name):
                yield Finding("form", name, _FIELD)
        return
    if media_type.startswith("text/plain") or not media_type:
        yield from _text_findings("body", "", text)
    # other documents (a bank's XML statement, a PSP's CSV report) are not looked at: they
    # come from the bank or the PSP, and their long references would be refused now and then


def request_findings(scope: Scope, body: bytes | None) -> list[Finding]:
    """Card data anywhere in a request (``body`` ``None``: not looked at)."""
    findings: list[Finding] = []
    path = unquote(scope.get("path", ""))
    findings.extend(_text_findings("path", path, path))
    query = scope.get("query_string", b"").decode("latin-1")
    findings.extend(_pairs_findings("query", parse_qsl(query, keep_blank_values=True)))
    if not findings:  # a card number spread over several parameters, or not key=value
        findings.extend(_text_findings("query", "", unquote_plus(query)))
    headers = Headers(scope=scope)
    for name, value in headers.items():
        if name not in TRACING_HEADERS:
            findings.extend(_text_findings("header", name, value))
    if body:
        findings.extend(_body_findings(headers.get("content-type", ""), body))
    return findings


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)


class CardDataGuard:
    """ASGI middleware refusing requests that carry card data (see the module's docstring).

    ``exempt_paths``: mounted apps not guarded at all (the sandbox PSP). ``raw_body_paths``:
    routes whose body is not read (streamed uploads); their path, query and headers are.
    A body over ``max_body_bytes`` answers 413 ``payload-too-large``; ``None``: no limit of
    its own, for an app whose body limits (:mod:`paymux.app.body_limits`) wrap the guard.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        exempt_paths: Sequence[str] = (),
        raw_body_paths: Sequence[str] = ("/v1/reconciliations",),
        max_body_bytes: int | None = MAX_SCANNED_BODY_BYTES,
    ) -> None:
        self.app = app
        self.exempt_paths = tuple(exempt_paths)
        self.raw_body_paths = tuple(raw_body_paths)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse card data; pass everything else on, body included."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        route_path = scope.get("path", "")[len(scope.get("root_path", "")) :] or "/"
        if _under(route_path, self.exempt_paths):
            await self.app(scope, receive, send)
            return
        body: bytes | None = None
        if not _under(route_path, self.raw_body_paths):
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away before sending the whole body
                chunk = message.get("body", b"")
                size += len(chunk)
                if self.max_body_bytes is not None and size > self.max_body_bytes:
                    problem = Problem(
                        "payload-too-large",
                        f"the body is larger than {self.max_body_bytes} bytes",
                    )
                    await problem_response(problem, instance=redact_card_numbers(route_path))(
                        scope, receive, send
                    )
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
        findings = request_findings(scope, body)
        if findings:
            await self._refuse(request, route_path, findings, scope, receive, send)
            return
        if body is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(
        self,
        request: Request,
        route_path: str,
        findings: list[Finding],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        path = redact_card_numbers(route_path)
        places = ", ".join(f"{item.where} {redact_card_numbers(item.at)}" for item in findings)
        level = logging.ERROR if route_path.startswith("/v1/webhooks/") else logging.WARNING
        log.log(level, "refused %s %s: it carries card data (%s)", request.method, path, places)
        problem = Problem(
            "card-data-refused",
            "paymux never accepts card numbers or security codes (PCI DSS): the buyer enters "
            "them on the payment provider's page; remove them from the request",
            errors=[finding.as_dict() for finding in findings],
        )
        await problem_response(problem, instance=path)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
