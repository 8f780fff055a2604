"""Unknown query parameters are refused: a typo (``?limt=5``) is a 422, not a silent default.

On a route behind an API key the check runs once the key is accepted (the key's own
dependency calls :func:`check_query_parameters`), so a caller without a valid key learns
nothing about a route's parameters: it gets 401 first.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant

from paymux.app.problems import Problem, json_pointer


def declared_query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route declares, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= declared_query_names(dependency)
    return names


CHECKS_QUERY_PARAMETERS = "paymux_checks_query_parameters"
"""An attribute (true) of a dependency that calls :func:`check_query_parameters` itself,
after its own check (the API key's): the router's dependency then leaves it to it."""


def _defers(dependant: Dependant) -> bool:
    return any(
        getattr(dependency.call, CHECKS_QUERY_PARAMETERS, False) or _defers(dependency)
        for dependency in dependant.dependencies
    )


async def refuse_unknown_query_parameters(request: Request) -> None:
    """FastAPI dependency: a ``validation-error`` naming every query parameter the route
    does not declare (the route's dependency tree is a few nodes: walked per request).
    Left to a dependency marked :data:`CHECKS_QUERY_PARAMETERS` when the route has one."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if not isinstance(dependant, Dependant) or not request.query_params or _defers(dependant):
        return
    check_query_parameters(request)


def check_query_parameters(request: Request) -> None:
    """:class:`Problem` ``validation-error`` naming every query parameter the request's
    route does not declare."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if not isinstance(dependant, Dependant) or not request.query_params:
        return
    unknown = sorted(set(request.query_params) - declared_query_names(dependant))
    if unknown:
        raise Problem(
            "validation-error",
            "unknown query parameters: " + ", ".join(unknown),
            errors=[
                {"pointer": json_pointer(("query", name)), "detail": "unknown query parameter"}
                for name in unknown
            ],
        )
