"""The ingestion loop: raw rows -> validated tickets (upserted) or quarantined rows, in batches.

Every batch is one transaction (tickets + quarantine together), so a crash mid-file loses nothing
and a re-run converges to the same rows. A file is recorded as processed only after its last batch.
Every row read is exactly one of: stored (inserted, updated, unchanged), a duplicate within the run,
or quarantined; a file that cannot be read at all is quarantined as a file and the folder goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from voc.config.settings import Mapping
from voc.errors import RowError, SourceError
from voc.sources.files import (
    RawRow,
    UnreadableFile,
    file_problem,
    file_sha256,
    list_files,
    read_rows,
    unsupported,
)
from voc.sources.prepare import Bad, Prepared, mapped_ticket, prepare
from voc.sources.worker import prepared_in_worker, worth_it
from voc.store import ingest_log
from voc.store.tickets import RunSeen, UpsertCounts, apply_pending, upsert_rows, upsert_tickets


@dataclass
class IngestSummary:
    source: str
    read: int = 0
    quarantined: int = 0  # rows of this run that went to quarantine (read = stored + duplicates + this)
    known: int = 0  # ... of which an earlier run had already quarantined (e.g. a --force re-run)
    files_skipped: int = 0
    bad_files: list[str] = field(default_factory=list)  # why each unreadable file was quarantined
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    reasons: dict[str, int] = field(default_factory=dict)
    missing: str | None = (
        None  # the source's path does not exist: nothing was read (a warning, not a failure)
    )

    def line(self) -> str:
        if self.missing:
            return f"{self.source}: nothing read ({self.missing})"
        c = self.counts
        text = (
            f"{self.source}: read {self.read}, inserted {c.inserted}, updated {c.updated}, "
            f"unchanged {c.unchanged}, duplicates {c.duplicates}"
        )
        if c.duplicates:
            text += " (same id again in this run: newest version kept)"
        text += f", quarantined {self.quarantined}"
        if self.known:
            text += f" ({self.known} already in quarantine)"
        if self.files_skipped:
            text += f", {self.files_skipped} file(s) already ingested"
        if self.bad_files:
            text += f", {len(self.bad_files)} file(s) unreadable, quarantined: " + "; ".join(self.bad_files)
        return text

    def as_dict(self) -> dict[str, object]:
        """The counts for ``--json`` (with the summary line and the warnings as printed)."""
        c = self.counts
        return {
            "source": self.source,
            "read": self.read,
            "inserted": c.inserted,
            "updated": c.updated,
            "unchanged": c.unchanged,
            "duplicates": c.duplicates,
            "quarantined": self.quarantined,
            "files_skipped": self.files_skipped,
            "reasons": dict(self.reasons),
            "missing": self.missing,
            "line": self.line(),
            "warnings": self.warnings(),
        }

    def warnings(self) -> list[str]:
        """One line per file quarantined whole: the run went on without it (exit 0), so say it apart
        from the counts, where it cannot be missed."""
        said = [
            f"warning: {self.source}: file not ingested, quarantined: {reason}; fix or replace it and "
            f"run again (`voc quarantine` lists it)"
            for reason in self.bad_files
        ]
        if self.missing:
            said.append(
                f"warning: source {self.source!r}: {self.missing}, nothing read; create it (exports "
                "dropped there are read by the next run) or change `sources:` in your VOC_CONFIG"
            )
        return said

    def add(self, other: IngestSummary) -> None:
        self.read += other.read
        self.quarantined += other.quarantined
        self.known += other.known
        self.files_skipped += other.files_skipped
        self.bad_files += other.bad_files
        self.counts.add(other.counts)
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v


@contextmanager
def recorded_run(engine: Engine, source: str, summary: IngestSummary) -> Iterator[int]:
    """An ingest_runs row around the block: 'ok' with the counts, or 'failed' with the error (also
    when the block quarantined an unreadable file)."""
    limit = ingest_log.SOURCE_CHARS
    if len(source) > limit:
        raise SourceError(f"source name: {len(source)} characters, over the limit of {limit}")
    with engine.begin() as conn:
        run_id = ingest_log.start_run(conn, source)
    try:
        yield run_id
    except BaseException as e:
        with engine.begin() as conn:
            ingest_log.finish_run(conn, run_id, "failed", _run_counts(summary), error=repr(e)[:2000])
        raise
    error = "; ".join(summary.bad_files)[:2000] or None
    with engine.begin() as conn:
        ingest_log.finish_run(conn, run_id, "failed" if error else "ok", _run_counts(summary), error=error)


def count_reasons(summary: IngestSummary, bad: list[Bad]) -> None:
    for _, _, reason in bad:
        k = reason.split(":", 1)[0]
        summary.reasons[k] = summary.reasons.get(k, 0) + 1


def store_batches(
    engine: Engine,
    source: str,
    batches: Iterable[Prepared],
    summary: IngestSummary,
    run_id: int,
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Write each prepared batch (tickets + quarantine) in one transaction, in order."""
    seen: RunSeen | None = None
    for b in batches:
        with engine.begin() as conn:
            seen = seen or RunSeen(conn)
            counts = upsert_rows(conn, b.rows, seen)
            new = ingest_log.quarantine(conn, source, run_id, b.bad)
        summary.read += b.read
        summary.counts.add(counts)
        summary.quarantined += len(b.bad)
        summary.known += len(b.bad) - new
        count_reasons(summary, b.bad)
        if on_batch:
            on_batch(len(b.rows) + len(b.bad))
    if seen is not None and seen.pending:
        with engine.begin() as conn:
            summary.counts.add(apply_pending(conn, seen))


def ingest_rows(
    engine: Engine,
    source: str,
    rows: Iterable[RawRow],
    mapping: Mapping,
    *,
    max_body_chars: int = 100_000,
    batch_size: int = 5000,
    on_batch: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Validate and store rows from one source; returns the run's counts."""
    summary = IngestSummary(source)
    with recorded_run(engine, source, summary) as run_id:
        store_batches(
            engine,
            source,
            prepare(rows, source, mapping, max_body_chars, batch_size),
            summary,
            run_id,
            on_batch,
        )
    return summary


def _run_counts(s: IngestSummary) -> dict[str, int]:
    return dict(
        read=s.read,
        inserted=s.counts.inserted,
        updated=s.counts.updated,
        unchanged=s.counts.unchanged,
        quarantined=s.quarantined,
    )


def ingest_path(
    engine: Engine,
    path: Path,
    source: str,
    mapping: Mapping,
    *,
    encoding: str | None = None,
    max_body_chars: int = 100_000,
    batch_size: int = 5000,
    force: bool = False,
    worker: bool | None = None,
) -> IngestSummary:
    """Ingest one file or a folder of drops; files already ingested with the same content are skipped.

    A big file is read and validated in a worker process while this one writes (``worker=None``:
    decided by size; True/False forces it). A file that cannot be read (truncated, not its format,
    a FIFO) is quarantined as a file, named in the summary, and the next file is read; it is not
    recorded as processed, so it is tried again next time (and its entry resolved once it reads)."""
    total = IngestSummary(source)
    for f in list_files(path):
        problem = file_problem(f) or unsupported(f)
        try:
            sha = None if problem else file_sha256(f)
        except OSError as e:
            problem = f"cannot be read ({type(e).__name__}: {e.strerror or e})"
        if problem or sha is None:
            _bad_file(engine, source, total, f, None, f"{f.name}: {problem}")
            continue
        key = str(f.resolve())
        with engine.connect() as conn:
            seen = ingest_log.file_seen(conn, source, key, sha)
        if seen and not force:
            total.files_skipped += 1
            continue
        s = IngestSummary(source)
        with recorded_run(engine, source, s) as run_id:
            try:
                if worker if worker is not None else worth_it(f):
                    batches = prepared_in_worker(f, encoding, source, mapping, max_body_chars, batch_size)
                else:
                    batches = prepare(read_rows(f, encoding), source, mapping, max_body_chars, batch_size)
                store_batches(engine, source, batches, s, run_id)
            except UnreadableFile as e:  # rows before the failure stay stored; the file is retried next time
                _bad_file(engine, source, s, f, run_id, str(e), sha)
        total.add(s)
        if s.bad_files:
            continue
        with engine.begin() as conn:
            ingest_log.record_file(conn, source, key, sha, s.read)
            ingest_log.resolve_file(conn, source, f.name)
    return total


def _bad_file(
    engine: Engine,
    source: str,
    summary: IngestSummary,
    f: Path,
    run_id: int | None,
    reason: str,
    sha: str | None = None,
) -> None:
    """Quarantine a whole file: its path and content hash (not its bytes), and why."""
    reason = " ".join(reason.split())
    raw = {"__file__": str(f), "sha256": sha}
    with engine.begin() as conn:
        ingest_log.quarantine(conn, source, run_id, [(f.name, raw, f"unreadable file: {reason}")])
    summary.bad_files.append(reason)


def replay_quarantine(
    engine: Engine, source: str | None, mappings: dict[str, Mapping], max_body_chars: int = 100_000
) -> tuple[int, int]:
    """Re-validate quarantined rows (after a fix to data or mapping); returns (stored, still bad)."""
    with engine.connect() as conn:
        rows = ingest_log.list_quarantine(conn, source)
    fixed, still = 0, 0
    for q in rows:
        data = json.loads(q.raw)
        if "__file__" in data:  # a whole file: it is read again by the next ingest of its folder
            still += 1
            continue
        mapping = mappings.get(q.source, Mapping())
        try:
            t = mapped_ticket(data, q.source, mapping, max_body_chars)
        except RowError:
            still += 1
            continue
        with engine.begin() as conn:
            upsert_tickets(conn, [t], keep_newer=True)
            ingest_log.mark_replayed(conn, [q.id])
        fixed += 1
    return fixed, still
