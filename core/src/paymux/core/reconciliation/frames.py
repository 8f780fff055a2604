"""Putting the pieces of a large frame together in one chunk, a column at a time.

A file's lines (parsed in pieces) and the records read with ``COPY`` (read in pieces) are
matched by row: gathers and hashes over a frame of many chunks copy columns again and
again, so matching wants one chunk per column. ``pl.concat(..., rechunk=True)`` copies
the whole frame while every piece is still held (twice the frame at once); this copies
one column, then lets go of its pieces, so the extra memory is one column's.
"""

from __future__ import annotations

import polars as pl


def concat_compact(pieces: list[pl.DataFrame]) -> pl.DataFrame:
    """The rows of ``pieces`` (same columns, in order) as one frame of one chunk.

    Empties ``pieces`` (the caller's list) as it goes, so the pieces can be freed."""
    if not pieces:
        raise ValueError("no pieces")
    names = pieces[0].columns
    columns: list[pl.Series] = []
    for name in names:
        columns.append(pl.concat([piece.get_column(name) for piece in pieces], rechunk=True))
        pieces[:] = [piece.drop(name) for piece in pieces]
    pieces.clear()
    return pl.DataFrame(columns)
