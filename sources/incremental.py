"""Incremental pulls: a source yields batches of raw rows, each with the cursor that is safe to store
once that batch is committed.

The loop writes a batch's tickets, its quarantined rows and the source's new watermark in ONE
transaction. A crash at any point therefore leaves the store at the end of some whole batch with the
watermark pointing exactly there; the re-run resumes from it, and because tickets are upserted by
(source, ticket id) keeping the newest version, re-reading a boundary row is harmless. The end state
after crash + re-run is the same as after one clean run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine

from voc.config.settings import Mapping
from voc.errors import RowError
from voc.sources.files import RawRow
from voc.sources.ingest import IngestSummary, count_reasons, recorded_run
from voc.sources.prepare import to_ticket
from voc.store import ingest_log
from voc.store.erasure import Deletion, erase_tickets
from voc.store.tickets import upsert_tickets
from voc.ticket import Ticket


@dataclass
class Batch:
    """Rows of one page/chunk, and the cursor to store once they are committed (None: keep the old one).

    ``skipped`` counts items the source read but deliberately did not turn into rows (e.g. tickets
    that are not solved/closed yet: they come again when they close). ``erase`` names the tickets the
    source reports deleted or spam: they are erased (``store.erasure``) in the batch's transaction.
    A source never puts one ticket in both ``rows`` and ``erase`` of a batch (the later event wins).
    """

    rows: Iterable[RawRow]
    cursor: str | None
    skipped: int = 0
    erase: Sequence[Deletion] = ()


class IncrementalSource(Protocol):
    """Anything that can resume from a stored cursor (None on the first run)."""

    name: str

    def batches(self, watermark: str | None) -> Iterator[Batch]: ...


@dataclass
class IncrementalSummary(IngestSummary):
    skipped: int = 0
    batches: int = 0
    erased: int = 0  # stored tickets (or their quarantined rows) erased: deleted or spam at the source

    def line(self) -> str:
        text = super().line()
        if self.skipped:
            text += f", skipped {self.skipped} not closed"
        if self.erased:
            text += f", erased {self.erased} deleted at the source"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "skipped": self.skipped, "erased": self.erased}


def ingest_batches(
    engine: Engine,
    source: str,
    batches: Iterable[Batch],
    mapping: Mapping,
    *,
    max_body_chars: int = 100_000,
    copies: Sequence[str] = (),
    on_batch: Callable[[int], None] | None = None,
) -> IncrementalSummary:
    """Validate and store each batch, advancing the watermark in the same transaction as its rows.

    A ticket the batch names deleted or spam is erased from ``source`` and, under the same ticket id,
    from each source in ``copies`` (its exports stored by another source), in that transaction."""
    summary = IncrementalSummary(source)
    with recorded_run(engine, source, summary) as run_id:
        for batch in batches:
            good: list[Ticket] = []
            bad: list[tuple[str, dict, str]] = []
            for raw in batch.rows:
                summary.read += 1
                try:
                    good.append(to_ticket(raw, source, mapping, max_body_chars))
                except RowError as e:
                    bad.append((raw.location, raw.data, str(e)))
            with engine.begin() as conn:
                counts = upsert_tickets(conn, good)
                new = ingest_log.quarantine(conn, source, run_id, bad)
                erased = erase_tickets(conn, source, batch.erase)
                for copy in copies:  # their quarantine holds file locations, not this source's: ids only
                    erased += erase_tickets(
                        conn, copy, [Deletion(d.ticket_id, d.reason) for d in batch.erase]
                    )
                if batch.cursor is not None:
                    ingest_log.set_watermark(conn, source, batch.cursor)
            summary.counts.add(counts)
            summary.quarantined += len(bad)
            summary.known += len(bad) - new
            summary.skipped += batch.skipped
            summary.erased += len(erased)
            summary.batches += 1
            count_reasons(summary, bad)
            if on_batch:
                on_batch(len(good) + len(bad))
    return summary


def pull(
    engine: Engine,
    src: IncrementalSource,
    mapping: Mapping,
    *,
    max_body_chars: int = 100_000,
    copies: Sequence[str] = (),
    on_batch: Callable[[int], None] | None = None,
) -> IncrementalSummary:
    """Resume ``src`` from its stored watermark and ingest everything new."""
    with engine.connect() as conn:
        watermark = ingest_log.get_watermark(conn, src.name)
    return ingest_batches(
        engine,
        src.name,
        src.batches(watermark),
        mapping,
        max_body_chars=max_body_chars,
        copies=copies,
        on_batch=on_batch,
    )
