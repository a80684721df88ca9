"""Statement helpers the store's writers share. Statements that bind many ids go in chunks: SQLite caps
the bound variables of one statement (32,766 by default, 250,000 in some builds), and a 1M-ticket
backfill touches ~450k ids at once. An INSERT that may meet an existing row is the dialect's own
(``ON CONFLICT``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

CHUNK = 5000

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def dialect_insert(conn: Connection, table: Any) -> Any:
    """INSERT into ``table`` in ``conn``'s dialect (PostgreSQL or SQLite), with ``on_conflict_do_*``."""
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)
