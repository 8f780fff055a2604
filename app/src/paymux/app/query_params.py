"""Unknown query parameters are refused: a typo (``?limt=5``) is a 422, not a silent default."""

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


async def refuse_unknown_query_parameters(request: Request) -> None:
    """FastAPI dependency: a ``validation-error`` naming every query parameter the route
    does not declare (the route's dependency tree is a few nodes: walked per request)."""
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
