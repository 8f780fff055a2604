"""concat_compact: the pieces of a frame as one frame of one chunk."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from paymux.core.reconciliation.frames import concat_compact


def _piece(start: int, count: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "n": list(range(start, start + count)),
            "text": [None if i % 3 == 0 else f"reference number {i}" for i in range(count)],
            "day": [date(2026, 11, 1 + i % 28) for i in range(count)],
            "flag": [i % 2 == 0 for i in range(count)],
        },
        schema={"n": pl.Int64, "text": pl.String, "day": pl.Date, "flag": pl.Boolean},
    )


def test_the_pieces_become_one_chunk_with_the_same_rows() -> None:
    pieces = [_piece(start, 50) for start in range(0, 500, 50)]
    expected = pl.concat(pieces)
    assert expected.n_chunks() == 10
    compact = concat_compact(pieces)
    assert compact.equals(expected)
    assert compact.schema == expected.schema
    assert compact.n_chunks("all") == [1, 1, 1, 1]
    assert pieces == []  # let go of, column by column


def test_no_pieces_is_an_error() -> None:
    with pytest.raises(ValueError, match="no pieces"):
        concat_compact([])
