"""What an alert says, shared by every channel: a headline, counts per class, examples.

Amounts are exact: minor units shown with the currency's ISO 4217 decimal places and its
code (``42.50 EUR``, ``1500 JPY``, ``1.234 KWD``), never through a float. Dates are ISO
(``2026-11-23``). The wording is English.
"""

from __future__ import annotations

import html

from paymux.core.reconciliation.alerts import DiscrepancySummary, ReconciliationAlert
from paymux.currencies import MoneyError, format_amount

SUBJECT_PREFIX = "[paymux]"


def headline(alert: ReconciliationAlert) -> str:
    """``3 new reconciliation discrepancies for adyen (2026-11-23)``.

    The parenthesis holds the file's period (``2026-11-01 to 2026-11-07`` for several
    days), or the file's name when the provider's file has no period.
    """
    count = alert.new_discrepancies
    noun = "discrepancy" if count == 1 else "discrepancies"
    return _one_line(
        f"{count} new reconciliation {noun} for {alert.provider} "
        f"({period_text(alert) or alert.file_name})"
    )


def subject(alert: ReconciliationAlert) -> str:
    """``[paymux] 3 new reconciliation discrepancies for adyen (2026-11-23)``."""
    return f"{SUBJECT_PREFIX} {headline(alert)}"


def period_text(alert: ReconciliationAlert) -> str | None:
    """``2026-11-23``, ``2026-11-01 to 2026-11-07``, or ``None`` without a period."""
    start, end = alert.period_start, alert.period_end
    if start is not None and end is not None and start != end:
        return f"{start.isoformat()} to {end.isoformat()}"
    day = start or end
    return day.isoformat() if day is not None else None


def kind_counts(alert: ReconciliationAlert) -> list[tuple[str, int]]:
    """The classes and their counts, the most frequent first (then by name)."""
    return sorted(alert.by_kind.items(), key=lambda item: (-item[1], item[0]))


def amount_text(minor: int | None, currency: str | None) -> str | None:
    """``42.50 EUR`` from ``4250`` and ``"EUR"``; ``None`` for no amount.

    An amount without a currency, or in a code paymux does not know, is shown in minor
    units (``4250 minor units``, ``4250 minor units of XYZ``) rather than guessed.
    """
    if minor is None:
        return None
    if currency:
        try:
            return f"{format_amount(minor, currency)} {currency}"
        except MoneyError:
            return f"{minor} minor units of {currency}"
    return f"{minor} minor units"


def difference_text(example: DiscrepancySummary) -> str | None:
    """``actual - expected`` (``-0.50 EUR``, with the sign), when both are known."""
    if example.expected_minor is None or example.actual_minor is None:
        return None
    difference = example.actual_minor - example.expected_minor
    text = amount_text(difference, example.currency)
    return f"+{text}" if difference > 0 else text


def example_text(example: DiscrepancySummary) -> str:
    """One discrepancy on one line.

    ``amount_mismatch: reference 8835511210681234, paymux pe_1, line 12, expected 42.50 EUR,
    actual 42.00 EUR, difference -0.50 EUR (dc_1)``
    """
    parts = [f"reference {example.psp_reference}"]
    if example.subject_id:
        parts.append(f"paymux {example.subject_id}")
    if example.line_number is not None:
        parts.append(f"line {example.line_number}")
    for label, value in example_amounts(example):
        parts.append(f"{label} {value}")
    return _one_line(f"{example.kind}: {', '.join(parts)} ({example.id})")


def example_amounts(example: DiscrepancySummary) -> list[tuple[str, str]]:
    """``[("expected", "42.50 EUR"), ("actual", "42.00 EUR"), ("difference", "-0.50 EUR")]``,
    leaving out what is not known."""
    expected = amount_text(example.expected_minor, example.currency)
    actual = amount_text(example.actual_minor, example.currency)
    difference = difference_text(example)
    pairs = [("expected", expected), ("actual", actual), ("difference", difference)]
    return [(label, value) for label, value in pairs if value is not None]


def more_text(alert: ReconciliationAlert, shown: int) -> str | None:
    """``…and 17 more.`` when ``shown`` examples do not cover every new discrepancy."""
    rest = alert.new_discrepancies - shown
    return f"…and {rest} more." if rest > 0 else None


def details(alert: ReconciliationAlert) -> list[tuple[str, str]]:
    """The run's facts as label and value: run, provider, client, file, period."""
    facts = [
        ("Run", alert.run_id),
        ("Provider", alert.provider),
        ("Client", alert.client_id),
        ("File", alert.file_name),
    ]
    period = period_text(alert)
    if period is not None:
        facts.append(("Period", period))
    return [(label, _one_line(value)) for label, value in facts]


def text_body(alert: ReconciliationAlert) -> str:
    """The plain-text message (e-mail): facts, counts per class, the examples."""
    lines = [
        f"paymux found {headline(alert)}.",
        "",
        *(f"{label}: {value}" for label, value in details(alert)),
        "",
        "New discrepancies by class:",
        *(f"  {kind}: {count}" for kind, count in kind_counts(alert)),
    ]
    if alert.examples:
        lines += ["", "Examples:", *(f"- {example_text(e)}" for e in alert.examples)]
    more = more_text(alert, len(alert.examples))
    if more is not None:
        lines.append(more)
    lines += ["", f"Look them up with the run id {alert.run_id}."]
    return "\n".join(lines) + "\n"


def html_body(alert: ReconciliationAlert) -> str:
    """The HTML message (e-mail), every value escaped."""
    facts = "\n".join(
        f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>" for label, value in details(alert)
    )
    counts = "\n".join(
        f'<tr><td>{_e(kind)}</td><td style="text-align:right">{count}</td></tr>'
        for kind, count in kind_counts(alert)
    )
    examples = ""
    if alert.examples:
        rows = "\n".join(_example_row(example) for example in alert.examples)
        examples = (
            "<h2>Examples</h2>\n<table>\n<thead><tr><th>Class</th><th>Reference</th>"
            "<th>paymux</th><th>Line</th><th>Expected</th><th>Actual</th><th>Difference</th>"
            f"<th>Id</th></tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>\n"
        )
    more = more_text(alert, len(alert.examples))
    more_html = f"<p>{_e(more)}</p>\n" if more else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{_e(subject(alert))}</title></head>\n<body>\n"
        f"<p>paymux found <strong>{_e(headline(alert))}</strong>.</p>\n"
        f"<table>\n{facts}\n</table>\n"
        "<h2>New discrepancies by class</h2>\n"
        f"<table>\n{counts}\n</table>\n"
        f"{examples}"
        f"{more_html}"
        f"<p>Look them up with the run id {_e(alert.run_id)}.</p>\n"
        "</body>\n</html>\n"
    )


def _example_row(example: DiscrepancySummary) -> str:
    amounts = dict(example_amounts(example))
    cells = [
        example.kind,
        example.psp_reference,
        example.subject_id or "",
        "" if example.line_number is None else str(example.line_number),
        amounts.get("expected", ""),
        amounts.get("actual", ""),
        amounts.get("difference", ""),
        example.id,
    ]
    return "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in cells) + "</tr>"


def _one_line(text: str) -> str:
    """``text`` without line breaks (values come from files: no header injection)."""
    return " ".join(text.splitlines())


def _e(text: str) -> str:
    return html.escape(text, quote=True)
