"""Trim the official Adyen OpenAPI files to what the plugin's tests use.

Run with the unmodified files of ``shared/psp-specs/adyen`` (see
``shared/psp-specs/SOURCES.md`` for their origin and checksums)::

    python -m paymux_adyen.specs.trim_specs /path/to/shared/psp-specs/adyen

Only the listed paths (and webhooks) and the components they reach are kept; nothing is
rewritten, so the trimmed files validate exactly as the originals do.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KEEP: dict[str, tuple[str, list[str]]] = {
    "CheckoutService-v72.json": (
        "paths",
        ["/paymentLinks", "/paymentLinks/{linkId}", "/payments/{paymentPspReference}/refunds"],
    ),
    "TransferService-v4.json": ("paths", ["/transfers"]),
    "Webhooks-v1.json": ("webhooks", []),
    "BalancePlatformTransferNotification-v4.json": ("webhooks", []),
}


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            found.add(ref)
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def trim(spec: dict[str, Any], section: str, keep: list[str]) -> dict[str, Any]:
    """The spec with only ``keep`` of ``section`` (all when empty) and reachable components."""
    sections = ("paths", "webhooks", "components")
    out = {key: value for key, value in spec.items() if key not in sections}
    chosen = {key: value for key, value in spec[section].items() if not keep or key in keep}
    out[section] = chosen
    pending: set[str] = set()
    _refs(chosen, pending)
    kept: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in kept:
            continue
        kept.add(ref)
        _kind, group, name = ref.removeprefix("#/").split("/", 2)
        _refs(spec["components"][group][name], pending)
    components: dict[str, dict[str, Any]] = {}
    for ref in sorted(kept):
        _kind, group, name = ref.removeprefix("#/").split("/", 2)
        components.setdefault(group, {})[name] = spec["components"][group][name]
    if "securitySchemes" in spec["components"]:
        components["securitySchemes"] = spec["components"]["securitySchemes"]
    out["components"] = components
    return out


def main(source: str) -> None:
    """Write the trimmed copies beside this script."""
    for name, (section, keep) in KEEP.items():
        spec = json.loads((Path(source) / name).read_text())
        target = Path(__file__).with_name(name)
        target.write_text(json.dumps(trim(spec, section, keep), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
