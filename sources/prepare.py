"""Raw rows -> batches of prepared ticket rows and quarantine triples (pure: no database).

This is the CPU-heavy half of ingestion (mapping, validation, content hash). It is kept apart from
the writer so it can run in the writer's process or in a worker process with identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from voc.config.settings import Mapping
from voc.errors import RowError
from voc.fields import CODE_FIELDS
from voc.nlp.redact import personal_data_kind
from voc.sources.files import BROKEN, UNDECODABLE, RawRow
from voc.sources.mapping import apply_mapping
from voc.store.tickets import ticket_row
from voc.ticket import Ticket, parse_ticket

Bad = tuple[str, dict[str, Any], str]  # (location, raw row, reason)


@dataclass
class Prepared:
    """One batch: how many raw rows it covers, its ticket rows (``ticket_row`` tuples, or ``base_row``
    ones on their way from a worker), its bad rows."""

    read: int = 0
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    bad: list[Bad] = field(default_factory=list)


def without_personal_codes(t: Ticket) -> Ticket:
    """``t`` unless a code field (channel, product, model, batch: they become report cells) holds
    personal data - a phone number as the batch -, else RowError naming the field, not the value."""
    for f in CODE_FIELDS:
        v = getattr(t, f)
        kind = personal_data_kind(v) if v else None
        if kind:
            raise RowError(f"{f}: looks like personal data ({kind}), not a {f} value")
    return t


def to_ticket(raw: RawRow, source: str, mapping: Mapping, max_body_chars: int) -> Ticket:
    """Map and validate one raw row; raises RowError with the reason it must be quarantined."""
    return mapped_ticket(raw.data, source, mapping, max_body_chars)


def mapped_ticket(data: dict[str, Any], source: str, mapping: Mapping, max_body_chars: int) -> Ticket:
    """Map and validate one row's data (``parse_ticket`` and the personal-data check of the code
    fields); raises RowError with the reason it must be quarantined."""
    t = parse_ticket(
        apply_mapping(data, mapping),
        source,
        max_body_chars=max_body_chars,
        tz=mapping.timezone,
        date_formats=tuple(mapping.date_formats),
    )
    return without_personal_codes(t)


def prepare(
    rows: Iterable[RawRow],
    source: str,
    mapping: Mapping,
    max_body_chars: int,
    batch_size: int,
    row: Callable[[Ticket], tuple[Any, ...]] = ticket_row,
) -> Iterator[Prepared]:
    """Batches of ``batch_size`` rows (good + bad), then a last, possibly empty, one."""
    # No mapping: the columns are already canonical and parse_ticket reads only canonical keys, so a
    # clean row skips apply_mapping's copy (flagged rows still go through it for their RowError).
    canonical = not mapping.model_fields_set
    tz = mapping.timezone
    b = Prepared()
    for raw in rows:
        b.read += 1
        data = raw.data
        try:
            if canonical and BROKEN not in data and UNDECODABLE not in data:
                t = without_personal_codes(parse_ticket(data, source, max_body_chars=max_body_chars, tz=tz))
            else:
                t = to_ticket(raw, source, mapping, max_body_chars)
        except RowError as e:
            b.bad.append((raw.location, data, str(e)))
        else:
            b.rows.append(row(t))
        if len(b.rows) + len(b.bad) >= batch_size:
            yield b
            b = Prepared()
    yield b
