"""Statements that bind many ids go in chunks: SQLite caps the bound variables of one statement
(32,766 by default, 250,000 in some builds), and a 1M-ticket backfill touches ~450k ids at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

CHUNK = 5000

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
