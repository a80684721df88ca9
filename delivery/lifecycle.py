"""Alert lifecycle: what each recipient is told about each surge, and when. Pure: values in, values out.

Lifecycle, per surge and per (channel, recipient):

* **start** — the first message about a surge episode;
* **escalation** — again only when the ratio or the count grew by ``alerts.escalation_factor``
  since the last message, or the severity became *safety*;
* **resolved** — one note when a surge someone was told about is no longer flagged;
* nothing otherwise, however often the stage runs.

Each owner gets one digest per channel (all their new or escalated surges in one message; resolved
notes in a second one). In ``alerts.quiet_hours`` non-safety messages are recorded as ``deferred``
and go out on the next run outside quiet hours; safety surges go out at once.

What was told is read from the ``alerts`` table (one :class:`Record` per dedupe key, channel and
recipient; ``store/alert_log.py`` loads, claims and records them, ``flows/alert_stage.py`` sends). A
record in a ``TOLD`` status means the recipient was, or may have been, told: it is never sent again.

Dedupe keys: ``{identity}|w{episode week}|{start|esc<week>|resolved}``. The surge identity is the
brief's item (``surges.selection.SurgeGroup.identity``: ``h{theme}`` for a theme, ``{topic}|{product}``
for a topic without a theme, ``0|{product}`` / ``s|{product}`` for a product's or its safety
complaints), so a surge that moves between levels (theme → theme × product → a fine topic) is still
the same surge. A product's safety surge is one surge whichever item carries it: the daily safety
check (flows/safety.py) tells ``s|{product}``, and a later brief item about the same product's safety
tickets (a theme or topic that took the product's safety cell) continues that episode rather than
starting another (and the other way round; :func:`same_safety`). Alerts sent before themes existed
used ``{topic}|{product}``: a surge of a theme that was alerted under such a key is alerted once more
under its theme.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from voc.config.settings import VocConfig
from voc.delivery.routing import Target, owners_for, targets_for
from voc.reports.model import SurgeItem

TOLD = ("sent", "unknown", "pending")  # the recipient was (or may have been) told: never sent again

TrackKey = tuple[str, str, str]  # (channel, recipient, surge identity)


# ---------------------------------------------------------------------------------------------
# Dedupe keys
# ---------------------------------------------------------------------------------------------


def identity(topic_id: int | None, product: str | None) -> str:
    """Which surge an alert is about, for items built without a group (see SurgeGroup.identity)."""
    return f"{topic_id or 0}|{product or '-'}"


def dedupe_key(ident: str, episode: int, kind: str) -> str:
    return f"{ident}|w{episode}|{kind}"


def parse_key(key: str) -> tuple[str, int, str] | None:
    """(identity, episode week, kind) of a dedupe key; None for a key from an older version (ignored)."""
    parts = key.rsplit("|", 2)
    if len(parts) != 3 or not parts[1].startswith("w") or not parts[1][1:].isdigit():
        return None
    return parts[0], int(parts[1][1:]), parts[2]


# ---------------------------------------------------------------------------------------------
# What has been told
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One row of the ``alerts`` table as the lifecycle reads it (``week``: the week the item showed)."""

    dedupe_key: str
    channel: str
    recipient: str
    owner: str
    status: str  # pending | sent | failed | deferred | superseded | unknown
    week: int
    ratio: float | None = None


@dataclass(frozen=True)
class Track:
    """All records for one surge identity and one (channel, recipient), oldest first, each with the
    episode and kind its dedupe key names."""

    rows: tuple[tuple[Record, int, str], ...] = ()

    def by_key(self, key: str) -> Record | None:
        return next((r for r, _, _ in self.rows if r.dedupe_key == key), None)

    @property
    def owner(self) -> str:
        return self.rows[-1][0].owner

    def episode(self) -> int | None:
        return max((e for _, e, _ in self.rows), default=None)

    def is_open(self, ep: int) -> bool:
        mine = [(r, k) for r, e, k in self.rows if e == ep and r.status in TOLD]
        return any(k == "start" for _, k in mine) and not any(k == "resolved" for _, k in mine)

    def last_told(self, ep: int) -> Record | None:
        told = [r for r, e, k in self.rows if e == ep and r.status in TOLD and k != "resolved"]
        return told[-1] if told else None

    def open_last_told(self, ep: int) -> Record:
        """The last record told in an open episode (there is one: its start)."""
        last = self.last_told(ep)
        assert last is not None, "an open episode has a told start"
        return last

    def max_told_week(self) -> int:
        return max((r.week for r, _, _ in self.rows if r.status in TOLD), default=-1)

    def deferred_keys(self) -> list[str]:
        return [r.dedupe_key for r, _, _ in self.rows if r.status == "deferred"]


def tracks_from(records: Iterable[Record]) -> dict[TrackKey, Track]:
    """Records (in the order they were written) grouped into tracks; keys of older versions are ignored."""
    grouped: dict[TrackKey, list[tuple[Record, int, str]]] = {}
    for r in records:
        parsed = parse_key(r.dedupe_key)
        if parsed is None:
            continue
        ident, ep, kind = parsed
        grouped.setdefault((r.channel, r.recipient, ident), []).append((r, ep, kind))
    return {k: Track(tuple(v)) for k, v in grouped.items()}


@dataclass(frozen=True)
class Flagged:
    """A surge flagged in some week, under some identity: the primary row of its brief item (a
    product's safety cell inside a theme or topic item is also flagged as ``s|{product}``)."""

    product: str | None
    severity: str
    observed: float


FlaggedIn = Callable[[int], Mapping[str, Flagged]]  # week ordinal -> identity -> what was flagged


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------


def in_quiet_hours(cfg: VocConfig, now: datetime | None = None) -> bool:
    """Is ``now`` inside ``alerts.quiet_hours`` in ``alerts.timezone``? (naive ``now`` = that timezone)."""
    q = cfg.alerts.quiet_hours
    if q is None or q.start == q.end:
        return False
    tz = ZoneInfo(cfg.alerts.timezone or cfg.schedules.timezone)
    now = now or datetime.now(UTC)
    t = (now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)).time()
    return q.start <= t < q.end if q.start < q.end else (t >= q.start or t < q.end)


def waits(quiet: bool, severity: str) -> bool:
    """Does a start or escalation wait for the end of quiet hours? (safety never waits)."""
    return quiet and severity != "safety"


def same_safety(
    tracks: Mapping[TrackKey, Track], tg: Target, ident: str, item: SurgeItem, flagged: FlaggedIn
) -> tuple[Track, str] | None:
    """An open episode about the same product's safety that this target was told about under another
    identity: the daily safety check tells ``s|{product}`` (it judges only the safety cells), the week's
    brief may carry the same tickets as a theme or topic item (``group_surges`` joins the product's
    safety cell to it), and the other way round. One product's safety surge is one surge."""
    if item.severity != "safety":
        return None
    alias = f"s|{item.product_id or '-'}"
    for (ch, rcp, other), tr in tracks.items():
        if (ch, rcp) != (tg.channel, tg.recipient) or other == ident:
            continue
        ep = tr.episode()
        if ep is None or not tr.is_open(ep):
            continue
        row = flagged(tr.open_last_told(ep).week).get(other)
        if other == alias or (
            row is not None and row.product == item.product_id and row.severity == "safety"
        ):
            return tr, other
    return None


def escalated(item: SurgeItem, last_ratio: float, base: Flagged | None, factor: float) -> bool:
    """Grown by ``factor`` since the last message (ratio, or count against ``base``), or became safety."""
    if last_ratio > 0 and item.ratio >= last_ratio * factor:
        return True
    if base is not None:
        if base.observed > 0 and item.observed >= base.observed * factor:
            return True
        if item.severity == "safety" and base.severity != "safety":
            return True
    return False


def decide(
    tr: Track | None,
    ident: str,
    item: SurgeItem,
    w: int,
    factor: float,
    flagged: FlaggedIn,
    same_cell: bool = True,
) -> tuple[str, str] | None:
    """(kind, dedupe key) to tell this target about a flagged surge, or None (told already).
    ``same_cell=False``: the track was told about another cell of the surge (:func:`same_safety`), whose
    ratio says nothing about this one's: it escalates by count (or by becoming a safety issue) only."""
    if tr is None:
        return "start", dedupe_key(ident, w, "start")
    if tr.max_told_week() > w:
        return None  # a later week was handled already: this is a re-run of an old week
    ep = tr.episode()
    if ep is not None and tr.is_open(ep):
        key = dedupe_key(ident, ep, f"esc{w}")
        row = tr.by_key(key)
        if row is not None:
            return None if row.status in TOLD else ("escalation", key)
        last = tr.open_last_told(ep)
        return (
            ("escalation", key)
            if escalated(
                item, float(last.ratio or 0) if same_cell else 0.0, flagged(last.week).get(ident), factor
            )
            else None
        )
    if ep is not None:  # a start that never reached the recipient (deferred, failed): same episode
        row = tr.by_key(dedupe_key(ident, ep, "start"))
        if row is not None and row.status not in TOLD:
            return "start", row.dedupe_key
    key = dedupe_key(ident, w, "start")
    row = tr.by_key(key)
    return None if row is not None and row.status in TOLD else ("start", key)


# ---------------------------------------------------------------------------------------------
# One run's messages
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One surge in one message, told under ``ident`` with dedupe key ``key``."""

    ident: str
    kind: str  # start | escalation | resolved
    key: str
    ratio: float
    week: int  # the week (ordinal) whose data the item shows
    item: str = ""  # this week's item's identity when the surge is told under another one (same_safety)
    flagged_week: int | None = None  # not in this week's brief (resolved, late): the week it was flagged


@dataclass(frozen=True)
class Digest:
    """One message to one target: its surges, and whether it waits for the end of quiet hours."""

    target: Target
    kind: str  # start | escalation | resolved
    entries: tuple[Entry, ...]
    deferred: bool = False  # quiet hours: record as 'deferred', send on a later run
    supersedes: tuple[str, ...] = ()  # deferred keys this message makes obsolete


def plan_digests(
    cfg: VocConfig,
    tracks: Mapping[TrackKey, Track],
    current: Mapping[str, SurgeItem],
    flagged: FlaggedIn,
    w: int,
    *,
    quiet: bool,
    detected: bool,
    sink: bool = False,
    only_safety: bool = False,
) -> list[Digest]:
    """The messages of one run for week ``w``: per target, starts and escalations of the week's items
    (``current``, by identity) in one digest, resolved notes in another.

    ``detected``: surge detection ran for ``w`` (without it "not flagged" means nothing, so no
    resolved note). ``sink``: plan one file target per owner. ``only_safety`` (the daily safety
    check): only the week's safety items, starts and escalations; no resolved notes and no late
    deferred alerts (the week is still running: the weekly run judges it whole and takes care of those).
    """
    factor = cfg.alerts.escalation_factor
    buckets: dict[Target, dict[str, list[Entry]]] = {}

    def add(tg: Target, bucket: str, e: Entry) -> None:
        lst = buckets.setdefault(tg, {"now": [], "later": [], "resolved": []})[bucket]
        if all(x.ident != e.ident for x in lst):
            lst.append(e)

    tg: Target | None
    carried: set[TrackKey] = set()  # tracks a current item of another identity carries on
    for ident, item in current.items():
        if only_safety and item.severity != "safety":
            continue
        for owner in owners_for(cfg, item):
            for tg in targets_for(cfg, owner, sink):
                told_as, tr = ident, tracks.get((tg.channel, tg.recipient, ident))
                if tr is None and (same := same_safety(tracks, tg, ident, item, flagged)) is not None:
                    tr, told_as = same
                    carried.add((tg.channel, tg.recipient, told_as))
                decision = decide(tr, told_as, item, w, factor, flagged, same_cell=told_as == ident)
                if decision is None:
                    continue
                kind, key = decision
                add(
                    tg,
                    "later" if waits(quiet, item.severity) else "now",
                    Entry(told_as, kind, key, item.ratio, w, item=ident),
                )

    for (ch, rcp, ident), tr in tracks.items():
        if ident in current or only_safety or (ch, rcp, ident) in carried:
            continue
        tg = next(
            (t for t in targets_for(cfg, tr.owner, sink) if (t.channel, t.recipient) == (ch, rcp)), None
        )
        ep = tr.episode()
        if tg is None or ep is None:
            continue  # owner or channel no longer configured
        if tr.is_open(ep):
            last = tr.open_last_told(ep)
            if not detected or last.week >= w or flagged(last.week).get(ident) is None:
                continue
            add(
                tg,
                "resolved",
                Entry(
                    ident,
                    "resolved",
                    dedupe_key(ident, ep, "resolved"),
                    float(last.ratio or 0),
                    w,
                    flagged_week=last.week,
                ),
            )
            continue
        start = tr.by_key(dedupe_key(ident, ep, "start"))
        if start is not None and start.status == "deferred" and start.week <= w:
            row = flagged(start.week).get(ident)  # deferred in quiet hours, not flagged any more: late
            if row is not None:
                add(
                    tg,
                    "later" if waits(quiet, row.severity) else "now",
                    Entry(
                        ident,
                        "start",
                        start.dedupe_key,
                        float(start.ratio or 0),
                        start.week,
                        flagged_week=start.week,
                    ),
                )

    out = []
    for tg, b in buckets.items():
        for bucket, entries in b.items():
            if not entries:
                continue
            if bucket == "resolved":
                kind = "resolved"
            else:
                kind = "escalation" if all(e.kind == "escalation" for e in entries) else "start"
            keys = tuple(e.key for e in entries)
            idents = dict.fromkeys(e.ident for e in entries)
            obsolete = tuple(
                k
                for i in idents
                for k in tracks.get((tg.channel, tg.recipient, i), Track()).deferred_keys()
                if k not in keys
            )
            deferred = bucket == "later" or (bucket == "resolved" and quiet)
            out.append(Digest(tg, kind, tuple(entries), deferred, obsolete))
    return out
