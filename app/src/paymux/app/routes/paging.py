"""Page sizes: a ``limit`` above a list's maximum is clamped to it, never refused."""

# No ``from __future__ import annotations``: FastAPI reads the closure's annotation at once.

from typing import Annotated, Any

from fastapi import Depends, Query


def page_limit(default: int, maximum: int) -> Any:
    """A ``limit`` query parameter (at least 1) for ``Annotated[int, page_limit(...)]``:
    values above ``maximum`` give ``maximum`` items per page, and the page's cursor is
    then set exactly as for a page of ``maximum``."""
    description = f"Items per page, at most {maximum} (a larger value gives {maximum})"

    def clamp(limit: Annotated[int, Query(ge=1, description=description)] = default) -> int:
        return min(limit, maximum)

    return Depends(clamp)
