"""Putting the pieces of a large frame together in one chunk, a column at a time.

The records read with ``COPY`` (in pieces of 8 MiB, hundreds for a million payments) and
the payments' snapshot merged with its delta are matched by row: gathers and hashes over
a frame of hundreds of chunks copy columns again and again, so they are put in one chunk
per column. (A file's lines come from a parser in a few pieces and are matched as they
are: compacting them cost a second copy at the run's peak, not time.)

``pl.concat(..., rechunk=True)`` copies the whole frame while every piece is still held
(twice the frame at once); this copies one column, then lets go of its pieces, so the
extra memory is one column's.
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
