"""A small validator of Stripe API requests against Stripe's OpenAPI spec (``spec3.yaml``).

Stripe's bodies are form-encoded with bracket notation (``line_items[0][price_data][currency]``),
which general OpenAPI validators misread. This one parses the brackets into nested dicts
(lists where the spec says ``array``), then checks: the operation exists, required
parameters are present, every property is known, and basic types, enums and lengths.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml

Schema = Mapping[str, Any]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
_INTEGER = re.compile(r"^-?[0-9]+$")
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


class FormError(ValueError):
    """A form body whose keys are not well-formed bracket notation."""


def parse_form(text: str) -> dict[str, Any]:
    """``a[b][0]=x&a[c]=y`` as ``{"a": {"b": {"0": "x"}, "c": "y"}}`` (lists stay dicts)."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True, strict_parsing=False):
        match = _KEY.match(key)
        if match is None:
            raise FormError(f"malformed form key {key!r}")
        parts = [match.group(1), *_PART.findall(match.group(2))]
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            name = part if part != "" else str(len(node))
            if last:
                if name in node:
                    raise FormError(f"form key {key!r} given twice")
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise FormError(f"form key {key!r} nests under a plain value")
                node = child
    return root


@dataclass(frozen=True, slots=True)
class Operation:
    """One spec operation matched by a request."""

    method: str
    template: str
    path_params: dict[str, str]
    spec: Schema


class StripeSpec:
    """Stripe's spec, loaded once; validates requests."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document
        self._schemas: Mapping[str, Any] = document["components"]["schemas"]
        self._routes: list[tuple[re.Pattern[str], str, int]] = []
        for template in document["paths"]:
            pattern = re.sub(r"\\\{[^}]+\\\}", r"([^/]+)", re.escape(template))
            self._routes.append((re.compile(f"^{pattern}$"), template, template.count("{")))
        self._routes.sort(key=lambda route: route[2])

    @property
    def schemas(self) -> Mapping[str, Any]:
        """``components.schemas`` of the spec."""
        return self._schemas

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation for ``method`` and ``path`` (literal paths win over templates)."""
        for pattern, template, _count in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            operations = self._document["paths"][template]
            operation = operations.get(method.lower())
            if operation is None:
                continue
            names = re.findall(r"\{([^}]+)\}", template)
            return Operation(
                method.upper(), template, dict(zip(names, match.groups(), strict=True)), operation
            )
        return None

    def validate(self, method: str, path: str, query: str, body: str) -> list[str]:
        """Every way the request departs from the spec (``[]``: it validates)."""
        operation = self.operation(method, path)
        if operation is None:
            return [f"no operation {method.upper()} {path} in Stripe's spec"]
        errors: list[str] = []
        try:
            query_values = parse_form(query)
            body_values = parse_form(body)
        except FormError as error:
            return [str(error)]
        parameters = operation.spec.get("parameters", [])
        known_query = {p["name"]: p for p in parameters if p.get("in") == "query"}
        for parameter in parameters:
            location = parameter.get("in")
            name = parameter["name"]
            if location == "path":
                value = operation.path_params.get(name)
                if value is None:
                    errors.append(f"path parameter {name} missing")
                else:
                    errors += self._check(value, parameter.get("schema", {}), name)
            elif location == "query":
                if name in query_values:
                    errors += self._check(query_values[name], parameter.get("schema", {}), name)
                elif parameter.get("required"):
                    errors.append(f"query parameter {name} is required")
        errors += [
            f"unknown query parameter {name}" for name in query_values if name not in known_query
        ]
        request_body = operation.spec.get("requestBody")
        if request_body is None:
            if body_values:
                errors.append("the operation takes no body")
            return errors
        schema = request_body["content"].get("application/x-www-form-urlencoded", {}).get("schema")
        if schema is None:
            return [*errors, "the operation takes no form body"]
        return errors + self._check(body_values, schema, "body")

    def _resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            reference = str(schema["$ref"])
            schema = self._schemas[reference.rsplit("/", 1)[-1]]
        return schema

    def _check(self, value: Any, schema: Schema, where: str) -> list[str]:
        schema = self._resolve(schema)
        if "anyOf" in schema:
            branches = [self._check(value, option, where) for option in schema["anyOf"]]
            if any(not branch for branch in branches):
                return []
            best = min(branches, key=len)
            return best or [f"{where}: matches no alternative"]
        kind = schema.get("type")
        if kind == "object" or (kind is None and "properties" in schema):
            return self._check_object(value, schema, where)
        if kind == "array":
            return self._check_array(value, schema, where)
        if not isinstance(value, str):
            return [f"{where}: expected a {kind or 'value'}, got a nested object"]
        if "enum" in schema and value not in schema["enum"]:
            return [f"{where}: {value!r} not in {schema['enum']}"]
        if kind == "integer" and not _INTEGER.match(value):
            return [f"{where}: {value!r} is not an integer"]
        if kind == "number" and not _NUMBER.match(value):
            return [f"{where}: {value!r} is not a number"]
        if kind == "boolean" and value not in ("true", "false"):
            return [f"{where}: {value!r} is not a boolean"]
        if kind == "string" and len(value) > int(schema.get("maxLength", 1 << 30)):
            return [f"{where}: longer than {schema['maxLength']} characters"]
        return []

    def _check_object(self, value: Any, schema: Schema, where: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {value!r}"]
        errors = [
            f"{where}.{name}: required" for name in schema.get("required", []) if name not in value
        ]
        properties: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in properties:
                errors += self._check(item, properties[name], f"{where}.{name}")
            elif isinstance(extra, Mapping):
                errors += self._check(item, extra, f"{where}.{name}")
            elif extra is True or (not properties and extra is None):
                continue
            else:
                errors.append(f"{where}.{name}: unknown property")
        return errors

    def _check_array(self, value: Any, schema: Schema, where: str) -> list[str]:
        if not isinstance(value, dict) or not all(key.isdigit() for key in value):
            return [f"{where}: expected a list (name[0], name[1], ...)"]
        indexes = sorted(int(key) for key in value)
        if indexes != list(range(len(indexes))):
            return [f"{where}: list indexes {indexes} are not 0..n-1"]
        errors: list[str] = []
        for index in indexes:
            errors += self._check(value[str(index)], schema.get("items", {}), f"{where}[{index}]")
        return errors


def as_lists(value: Any) -> Any:
    """A parsed form with index-keyed dicts (``{"0": ..., "1": ...}``) turned into lists."""
    if isinstance(value, dict):
        if value and all(key.isdigit() for key in value):
            return [as_lists(value[key]) for key in sorted(value, key=int)]
        return {key: as_lists(item) for key, item in value.items()}
    return value


@functools.cache
def load_spec(path: Path) -> StripeSpec:
    """The spec at ``path`` (YAML or JSON), parsed once per process."""
    text = path.read_text("utf-8")
    if path.suffix == ".json":
        document = json.loads(text)
    else:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    return StripeSpec(document)
