"""The ingestion loop: raw rows -> validated tickets (upserted) or quarantined rows, in batches.

Every batch is one transaction (tickets + quarantine together), so a crash mid-file loses nothing
and a re-run converges to the same rows. A file is recorded as processed only after its last batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from config.settings import Mapping
from sources.files import BROKEN, UNDECODABLE, RawRow, file_sha256, list_files, read_rows
from sources.mapping import apply_mapping
from store import ingest_log
from store.tickets import UpsertCounts, upsert_tickets
from voc.errors import RowError
from voc.ticket import Ticket, parse_ticket


@dataclass
class IngestSummary:
    source: str
    read: int = 0
    quarantined: int = 0
    files_skipped: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    reasons: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        c = self.counts
        text = (f"{self.source}: read {self.read}, inserted {c.inserted}, updated {c.updated}, "
                f"unchanged {c.unchanged}, duplicates {c.duplicates}, quarantined {self.quarantined}")
        if self.files_skipped:
            text += f", {self.files_skipped} file(s) already ingested"
        return text


@contextmanager
def recorded_run(engine: Engine, source: str, summary: IngestSummary) -> Iterator[int]:
    """An ingest_runs row around the block: 'ok' with the counts, or 'failed' with the error."""
    with engine.begin() as conn:
        run_id = ingest_log.start_run(conn, source)
    try:
        yield run_id
    except BaseException as e:
        with engine.begin() as conn:
            ingest_log.finish_run(conn, run_id, "failed", _run_counts(summary), error=repr(e)[:2000])
        raise
    with engine.begin() as conn:
        ingest_log.finish_run(conn, run_id, "ok", _run_counts(summary))


def to_ticket(raw: RawRow, source: str, mapping: Mapping, max_body_chars: int) -> Ticket:
    """Map and validate one raw row; raises RowError with the reason it must be quarantined."""
    return parse_ticket(apply_mapping(raw.data, mapping), source, max_body_chars=max_body_chars,
                        tz=mapping.timezone)


def count_reasons(summary: IngestSummary, bad: list[tuple[str, dict, str]]) -> None:
    for _, _, reason in bad:
        k = reason.split(":", 1)[0]
        summary.reasons[k] = summary.reasons.get(k, 0) + 1


def ingest_rows(engine: Engine, source: str, rows: Iterable[RawRow], mapping: Mapping, *,
                max_body_chars: int = 100_000, batch_size: int = 5000,
                on_batch: Callable[[int], None] | None = None) -> IngestSummary:
    """Validate and store rows from one source; returns the run's counts."""
    summary = IngestSummary(source)
    good: list[Ticket] = []
    bad: list[tuple[str, dict, str]] = []

    def flush() -> None:
        with engine.begin() as conn:
            summary.counts.add(upsert_tickets(conn, good))
            summary.quarantined += ingest_log.quarantine(conn, source, run_id, bad)
        count_reasons(summary, bad)
        if on_batch:
            on_batch(len(good) + len(bad))
        good.clear()
        bad.clear()

    # No mapping: the columns are already canonical and parse_ticket reads only canonical keys, so a
    # clean row skips apply_mapping's copy (flagged rows still go through it for their RowError).
    canonical = not mapping.model_fields_set
    tz = mapping.timezone
    with recorded_run(engine, source, summary) as run_id:
        for raw in rows:
            summary.read += 1
            data = raw.data
            try:
                if canonical and BROKEN not in data and UNDECODABLE not in data:
                    good.append(parse_ticket(data, source, max_body_chars=max_body_chars, tz=tz))
                else:
                    good.append(to_ticket(raw, source, mapping, max_body_chars))
            except RowError as e:
                bad.append((raw.location, raw.data, str(e)))
            if len(good) + len(bad) >= batch_size:
                flush()
        flush()
    return summary


def _run_counts(s: IngestSummary) -> dict[str, int]:
    return dict(read=s.read, inserted=s.counts.inserted, updated=s.counts.updated,
                unchanged=s.counts.unchanged, quarantined=s.quarantined)


def ingest_path(engine: Engine, path: Path, source: str, mapping: Mapping, *, encoding: str | None = None,
                max_body_chars: int = 100_000, batch_size: int = 5000, force: bool = False) -> IngestSummary:
    """Ingest one file or a folder of drops; files already ingested with the same content are skipped."""
    total = IngestSummary(source)
    for f in list_files(path):
        sha = file_sha256(f)
        key = str(f.resolve())
        with engine.connect() as conn:
            seen = ingest_log.file_seen(conn, source, key, sha)
        if seen and not force:
            total.files_skipped += 1
            continue
        s = ingest_rows(engine, source, read_rows(f, encoding), mapping, max_body_chars=max_body_chars,
                        batch_size=batch_size)
        with engine.begin() as conn:
            ingest_log.record_file(conn, source, key, sha, s.read)
        total.read += s.read
        total.quarantined += s.quarantined
        total.counts.add(s.counts)
        for k, v in s.reasons.items():
            total.reasons[k] = total.reasons.get(k, 0) + v
    return total


def replay_quarantine(engine: Engine, source: str | None, mappings: dict[str, Mapping],
                      max_body_chars: int = 100_000) -> tuple[int, int]:
    """Re-validate quarantined rows (after a fix to data or mapping); returns (stored, still bad)."""
    with engine.connect() as conn:
        rows = ingest_log.list_quarantine(conn, source)
    fixed, still = 0, 0
    for q in rows:
        data = json.loads(q.raw)
        mapping = mappings.get(q.source, Mapping())
        try:
            t = parse_ticket(apply_mapping(data, mapping), q.source, max_body_chars=max_body_chars,
                             tz=mapping.timezone)
        except RowError:
            still += 1
            continue
        with engine.begin() as conn:
            upsert_tickets(conn, [t])
            ingest_log.mark_replayed(conn, [q.id])
        fixed += 1
    return fixed, still
