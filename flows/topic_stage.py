"""Topic stage: keep the topic catalogue up to date for one week, per intent.

The first run fits on all history; later weeks assign new tickets to existing topic ids and open
*emerging* topics for the rest (``nlp.catalogue``). The fitted embedder is stored so every week
embeds in the same space, and each ticket's embedding is cached.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from sqlalchemy import Connection, Engine

from voc.config.settings import Thresholds, VocConfig
from voc.errors import ConfigError
from voc.nlp.catalogue import KnownTopic, assign_week, first_fit, fit_sample, refit, resolve_ids
from voc.nlp.embedding import Embedder, EmbedderUnavailable, embedder_from_config, load_embedder
from voc.nlp.split import refreshed_topics, split_topics
from voc.nlp.theme_sums import Digest, ThemeSums, add_sums, kept_weeks, theme_topics_from, total
from voc.nlp.themes import ConceptFn, ThemeTopic, default_concepts
from voc.nlp.themes import update_themes as group_themes
from voc.nlp.topic_view import product_terms, topic_view
from voc.store import analysis
from voc.store import themes as theme_store
from voc.store.analysis import AssignedDocument, TopicRecord
from voc.store.db import refresh_statistics
from voc.ticket import TOPIC_INTENTS
from voc.weeks import Week

INTENTS = TOPIC_INTENTS


@dataclass
class TopicSummary:
    assigned: dict[str, int] = field(default_factory=dict)
    new_topics: dict[str, int] = field(default_factory=dict)
    split: dict[str, int] = field(default_factory=dict)  # earlier tickets moved into this week's new topics
    refits: dict[str, RefitStats] = field(default_factory=dict)  # intents whose periodic refit was due
    themes: ThemeStats | None = None

    def line(self) -> str:
        parts = [
            f"{i}: {self.assigned.get(i, 0)} assigned, {self.new_topics.get(i, 0)} new topics"
            + (f" ({self.split[i]} earlier tickets moved into them)" if self.split.get(i) else "")
            + (f" [refit: {self.refits[i].line()}]" if i in self.refits else "")
            for i in INTENTS
        ]
        return "; ".join(parts) + (f"; themes: {self.themes.line()}" if self.themes else "")


@dataclass
class ThemeStats:
    """What one update of the themes did."""

    themes: int = 0  # live themes after the update
    topics: int = 0
    new_themes: int = 0
    tickets: int = 0
    moved: int = 0  # tickets whose theme changed (a refit's regrouping, or a retired theme)
    refit: bool = False

    def line(self) -> str:
        kept = 1 - self.moved / self.tickets if self.tickets else 1.0
        return f"{self.themes} themes over {self.topics} topics, {self.new_themes} new" + (
            f", refit kept {kept:.1%} of tickets' theme" if self.refit else ""
        )


@dataclass
class RefitStats:
    """What a refit of one intent's catalogue did."""

    tickets: int = 0
    kept: int = 0  # tickets whose (merge-resolved) topic id did not change
    merges: int = 0  # topics merged into another by the refit ('merge' and 'refit-map' lineage)
    splits: int = 0  # new topics carved mostly out of one old topic
    new_topics: int = 0  # new topics in all (splits included)

    @property
    def kept_share(self) -> float:
        return self.kept / self.tickets if self.tickets else 1.0

    def line(self) -> str:
        return (
            f"{self.tickets} tickets, {self.kept_share:.1%} kept their topic id, {self.merges} merges, "
            f"{self.splits} splits, {self.new_topics} new topics"
        )


@dataclass
class RefitSummary:
    week: int
    intents: dict[str, RefitStats] = field(default_factory=dict)
    themes: ThemeStats | None = None

    def lines(self) -> list[str]:
        if not self.intents:
            return ["nothing to refit (no topic catalogue yet: run the weekly analysis first)"]
        return [f"{i}: {st.line()}" for i, st in self.intents.items()] + (
            [f"themes: {self.themes.line()}"] if self.themes else []
        )


def catalogue_terms(cfg: VocConfig) -> list[str]:
    """Product names, aliases, models and brand words (``nlp.topic_view.product_terms``): topics are
    built without them."""
    return product_terms(cfg.report.brand, cfg.products)


def _known(t: TopicRecord) -> KnownTopic:
    centroid = t.centroid if t.centroid is not None else np.zeros(1, np.float32)
    return KnownTopic(
        topic_id=t.id,
        label=t.label,
        keywords=tuple(k for k in t.keywords.split(" / ") if k),
        centroid=centroid,
        status=t.status,
        merged_into=t.merged_into,
        human_label=t.human_label,
    )


# Tickets per chunk when the embedding is handed to workers (``update_topics(embed_chunks=...)``): the
# embedder's own transform block, so a chunk costs one block and fewer tickets stay in this process.
EMBED_CHUNK = 20_000
# Embeds chunks of (texts, tokens) with the stored embedder (its blob) on workers; vectors in order.
EmbedChunks = Callable[[bytes, list[tuple[list[str], list[list[str]]]]], list[np.ndarray]]


def _embed(
    conn: Connection,
    embedder: Embedder,
    key: str,
    ids: list[int],
    texts: list[str],
    tokens: list[list[str]],
    *,
    blob: bytes | None = None,
    embed_chunks: EmbedChunks | None = None,
) -> np.ndarray:
    """Embed with the cache: only tickets never embedded under this embedder state are computed, on
    ``embed_chunks``' workers (given the embedder's ``blob``) when more than one chunk is to do."""
    cached = analysis.cached_embeddings(conn, key, ids)
    todo = [i for i, tid in enumerate(ids) if tid not in cached]
    if todo:
        t, k = [texts[i] for i in todo], [tokens[i] for i in todo]
        if embed_chunks is not None and blob is not None and len(todo) > EMBED_CHUNK:
            parts = [(t[s : s + EMBED_CHUNK], k[s : s + EMBED_CHUNK]) for s in range(0, len(t), EMBED_CHUNK)]
            vecs = np.vstack(embed_chunks(blob, parts))
            if vecs.shape[0] != len(todo):
                raise RuntimeError(
                    f"embedding workers returned {vecs.shape[0]} vectors for {len(todo)} tickets"
                )
        else:
            vecs = embedder.transform(t, k)
        analysis.store_embeddings(conn, key, [ids[i] for i in todo], vecs)
        for i, v in zip(todo, vecs, strict=True):
            cached[ids[i]] = v
    return np.vstack([cached[tid] for tid in ids]) if ids else np.zeros((0, 1), np.float32)


def split_window_start(w: int, th: Thresholds) -> int | None:
    """First week (ordinal, inclusive) whose tickets :func:`split_history` may move in week ``w``.

    ``th.split_history_weeks`` earlier weeks (but never fewer than ``th.baseline_weeks``, the surge
    baseline: weeks ``w - baseline_weeks`` .. ``w - 1``) plus ``w`` itself; None (all history) when
    ``split_history_weeks`` is 0. Week ordinals are consecutive integers, so this is a subtraction.
    """
    if th.split_history_weeks <= 0:
        return None
    return w - max(th.split_history_weeks, th.baseline_weeks)


def split_history(
    conn: Connection,
    intent: str,
    w: int,
    new: list[KnownTopic],
    emb_key: str,
    threshold: float,
    min_size: int,
    terms: list[str],
    since_week: int | None = None,
    moves: list[Move] | None = None,
) -> int:
    """Give this week's new topics their history: a split, not a birth, when the theme existed
    (``nlp.split.split_topics``). Moves are recorded as 'split' lineage, and the topics whose members
    changed get their centroid, keywords and labels recomputed from their members in the window.
    Returns how many earlier tickets moved.

    Only tickets of weeks ``since_week`` .. ``w`` are read and considered (None = all history; the
    weekly run passes :func:`split_window_start`, 26 earlier weeks by default). Older tickets stay
    where they are: the new topic's baseline then covers the window, which is what the surge stage
    compares against (its trailing ``baseline_weeks``, 8 by default, always inside the window). A
    periodic refit (:func:`refit_topics`) still looks at all history. ``moves``: each moved ticket
    is appended to it (for the theme sums, :class:`AssignmentChanges`).
    """
    topics = {t.id: t for t in analysis.load_topics(conn, intent, centroids=True)}
    frozen = {tid for tid, t in topics.items() if t.human_label or t.status in ("ignored", "merged")}
    rows = analysis.assigned_documents(conn, intent, w, since_week=since_week)
    vecs = analysis.cached_embeddings(conn, emb_key, [r.id for r in rows])
    rows = [r for r in rows if r.id in vecs and r.topic_id in topics]
    if not rows:
        return 0
    x = np.vstack([vecs[r.id] for r in rows])
    done = split_topics(
        x,
        np.array([r.topic_id for r in rows]),
        np.array([r.week for r in rows]),
        w,
        list(topics),
        {tid: t.centroid for tid, t in topics.items() if t.centroid is not None},
        [t.topic_id for t in new],
        frozen,
        threshold=threshold,
        min_size=min_size,
    )
    for tid in done.split_ids:
        analysis.mark_split(conn, tid)
    for mv in done.moves:
        analysis.reassign(conn, [rows[i].id for i in mv.rows], mv.topic_id, mv.similarities)
        if moves is not None:
            moves += [Move(rows[i].id, rows[i].week, int(rows[i].topic_id), mv.topic_id) for i in mv.rows]
    analysis.record_lineage(conn, done.lineage, w)
    for ref in refreshed_topics(
        [r.text_clean or "" for r in rows],
        [(r.tokens or "").split() for r in rows],
        x,
        done.label,
        done.touched,
        {tid: t.label for tid, t in topics.items()},
        {tid for tid, t in topics.items() if t.human_label},
        terms,
    ):
        analysis.refresh_topic(conn, ref.topic_id, ref.centroid, ref.keywords, ref.label)
    return done.moved_before


def update_topics(
    engine: Engine, cfg: VocConfig, week: Week, *, embed_chunks: EmbedChunks | None = None
) -> TopicSummary:
    """Assign the week's (first run: all history's) tickets to topics, split history where new topics
    open, refit when due, and update the themes. ``embed_chunks``: embed on workers (a Dask cluster,
    flows.weekly) rather than in this process; the vectors are the same."""
    th = cfg.thresholds
    summary = TopicSummary()
    w = week.ordinal()
    terms = catalogue_terms(cfg)
    with engine.connect() as conn:
        changes = AssignmentChanges(theme_store.week_fingerprints(conn, w + 1))
    for intent in INTENTS:
        with engine.begin() as conn:
            _assign_intent(conn, intent, w, th, terms, summary, changes, embed_chunks)
        if refit_due(engine, intent, w, th.refit_every_weeks):
            with engine.begin() as conn:
                st = _refit_intent(conn, cfg, intent, w, terms)
            if st is not None:
                summary.refits[intent] = st
    # a refit reassigns without reporting its moves: the kept theme sums are checked week by week
    summary.themes = update_theme_catalogue(
        engine, cfg, w, refit=bool(summary.refits), changes=None if summary.refits else changes
    )
    refresh_statistics(engine)  # the later stages' queries join the tickets and assignments just written
    return summary


def _assign_intent(
    conn: Connection,
    intent: str,
    w: int,
    th: Thresholds,
    terms: list[str],
    summary: TopicSummary,
    changes: AssignmentChanges,
    embed_chunks: EmbedChunks | None = None,
) -> None:
    """The weekly assignment of one intent (first run: the initial fit)."""
    analysis.promote_emerging(conn, w)
    known = analysis.load_topics(conn, intent, centroids=True)
    art_key = f"embedder:{intent}"
    blob = analysis.get_artifact(conn, art_key)
    first = blob is None or not known
    rows = analysis.tickets_for_topics(conn, intent, w, only_unassigned=not first)
    if not rows:
        return
    ids = [r.id for r in rows]
    texts, tokens = topic_view(
        [r.text_clean or "" for r in rows], [(r.tokens or "").split() for r in rows], terms
    )
    embedder: Embedder
    if first:
        fit_on = fit_sample(len(ids), th.topic_fit_sample)
        try:
            embedder = embedder_from_config(th.embedder).fit(
                [texts[i] for i in fit_on], [tokens[i] for i in fit_on]
            )
        except EmbedderUnavailable as exc:
            raise ConfigError(f"thresholds.embedder: {exc}") from exc
        blob = embedder.dumps()
        analysis.put_artifact(conn, art_key, blob)
    else:
        assert blob is not None  # not `first`
        embedder = load_embedder(blob)
    emb_key = analysis.embedder_key(intent, blob)
    vectors = _embed(conn, embedder, emb_key, ids, texts, tokens, blob=blob, embed_chunks=embed_chunks)
    if first:
        upd = first_fit(
            texts,
            tokens,
            vectors,
            sample=th.topic_fit_sample,
            threshold=th.topic_match_similarity,
            min_new_topic_size=th.min_new_topic_size,
            next_id=analysis.next_topic_id(conn),
            drop_terms=terms,
        )
    else:
        upd = assign_week(
            [_known(t) for t in known],
            texts,
            tokens,
            vectors,
            threshold=th.topic_match_similarity,
            min_new_topic_size=th.min_new_topic_size,
            next_id=analysis.next_topic_id(conn),
            drop_terms=terms,
        )
    new = upd.new_topics
    if first:  # the initial fit on history is the baseline catalogue, not "emerging"
        new = [
            KnownTopic(
                topic_id=t.topic_id, label=t.label, keywords=t.keywords, centroid=t.centroid, status="active"
            )
            for t in new
        ]
    analysis.upsert_topics(conn, intent, [*new, *upd.updated], w)
    analysis.save_assignments(conn, ids, upd.assignments, w)
    changes.weeks.update(r.week for r in rows)
    analysis.record_lineage(conn, upd.lineage, w)
    if not first and new:
        summary.split[intent] = split_history(
            conn,
            intent,
            w,
            new,
            emb_key,
            th.topic_match_similarity,
            th.min_new_topic_size,
            terms,
            since_week=split_window_start(w, th),
            moves=changes.moves,
        )
    summary.assigned[intent] = len(ids)
    summary.new_topics[intent] = len(new)


# --------------------------------------------------------------------------------------------
# Periodic refit
# --------------------------------------------------------------------------------------------
def _week_ordinal(week: Week | int) -> int:
    return week if isinstance(week, int) else week.ordinal()


def refit_due(engine: Engine, intent: str, week: Week | int, every: int) -> bool:
    """Whether ``intent``'s catalogue is due for a refit in ``week``: ``every`` weeks after the last
    refit (artifact ``refit:<intent>``), or after the first fit when it was never refitted.
    ``every`` <= 0 turns periodic refits off."""
    if every <= 0:
        return False
    with engine.connect() as conn:
        blob = analysis.get_artifact(conn, f"refit:{intent}")
        last = int(blob.decode()) if blob else analysis.first_topic_week(conn, intent)
    return last is not None and _week_ordinal(week) - last >= every


def refit_topics(engine: Engine, cfg: VocConfig, week: Week | int, intent: str | None = None) -> RefitSummary:
    """Refit each intent's catalogue (or one) on every ticket assigned up to ``week``.

    Same stored embedder (cached embeddings); :func:`nlp.catalogue.refit` maps the fresh clusters
    onto the existing ids, so most tickets keep their topic, human labels, ignored topics and human
    merges survive, and lineage records merges, splits and absorbed topics. Writes artifact
    ``refit:<intent>`` = the week ordinal (see :func:`refit_due`).
    """
    w = _week_ordinal(week)
    terms = catalogue_terms(cfg)
    summary = RefitSummary(week=w)
    for i in [intent] if intent else INTENTS:
        if i not in INTENTS:
            raise ValueError(f"unknown intent {i!r} (one of {', '.join(INTENTS)})")
        with engine.begin() as conn:
            st = _refit_intent(conn, cfg, i, w, terms)
        if st is not None:
            summary.intents[i] = st
    if summary.intents:
        summary.themes = update_theme_catalogue(engine, cfg, w, refit=True)
    return summary


def _refit_intent(
    conn: Connection, cfg: VocConfig, intent: str, w: int, terms: list[str]
) -> RefitStats | None:
    blob = analysis.get_artifact(conn, f"embedder:{intent}")
    topics = analysis.load_topics(conn, intent, centroids=True)
    rows = analysis.assigned_documents(conn, intent, w)
    if blob is None or not topics or not rows:
        return None
    known = [_known(t) for t in topics]
    ids = [r.id for r in rows]
    # the refit is not a fixpoint of itself (its centroids move with the assignments it makes), so a
    # refit over exactly the catalogue and assignments the last refit wrote is a no-op: idempotent
    fp_key, fingerprint = f"refit-input:{intent}", _refit_fingerprint(rows, topics)
    if analysis.get_artifact(conn, fp_key) == fingerprint:
        analysis.put_artifact(conn, f"refit:{intent}", str(w).encode())
        return RefitStats(tickets=len(rows), kept=len(rows))
    texts, tokens = topic_view(
        [r.text_clean or "" for r in rows], [(r.tokens or "").split() for r in rows], terms
    )
    emb_key = analysis.embedder_key(intent, blob)
    vectors = _embed(conn, load_embedder(blob), emb_key, ids, texts, tokens)
    prior = {str(r.id): int(r.topic_id) for r in rows}
    upd = refit(
        known,
        prior,
        [str(i) for i in ids],
        texts,
        tokens,
        vectors,
        next_id=analysis.next_topic_id(conn),
        min_topic_size=cfg.thresholds.min_new_topic_size,
        max_churn=cfg.thresholds.refit_max_churn,
        drop_terms=terms,
    )
    # refit's new topics carved out of an old one have a history: 'active', like weekly splits
    split_ids = {n for _, n, kind in upd.lineage if kind == "split"}
    new = [
        KnownTopic(
            t.topic_id,
            t.label,
            t.keywords,
            t.centroid,
            "active" if t.topic_id in split_ids else t.status,
            size=t.size,
        )
        for t in upd.new_topics
    ]
    analysis.upsert_topics(conn, intent, [*new, *upd.updated], w)
    for t in upd.updated:  # upsert_topics keeps merged_into of existing rows: write the refit's merges
        if t.status == "merged" and t.merged_into is not None:
            analysis.set_merged_into(conn, t.topic_id, t.merged_into)
    by_topic: dict[int, tuple[list[int], list[float]]] = {}
    for tid, (topic_id, sim) in zip(ids, upd.assignments, strict=True):
        grp = by_topic.setdefault(topic_id, ([], []))
        grp[0].append(tid)
        grp[1].append(sim)
    for topic_id, (members, sims) in by_topic.items():
        analysis.reassign(conn, members, topic_id, sims)  # keeps each ticket's first assigned week
    analysis.record_lineage(conn, upd.lineage, w)
    analysis.put_artifact(conn, f"refit:{intent}", str(w).encode())
    analysis.put_artifact(
        conn,
        fp_key,
        _refit_fingerprint(analysis.assigned_documents(conn, intent, w), analysis.load_topics(conn, intent)),
    )
    final = resolve_ids(known)
    kept = sum(
        final.get(int(r.topic_id), int(r.topic_id)) == topic_id
        for r, (topic_id, _) in zip(rows, upd.assignments, strict=True)
    )
    return RefitStats(
        tickets=len(rows),
        kept=int(kept),
        merges=sum(kind in ("merge", "refit-map") for _, _, kind in upd.lineage),
        splits=len(split_ids),
        new_topics=len(upd.new_topics),
    )


def _refit_fingerprint(rows: list[AssignedDocument], topics: list[TopicRecord]) -> bytes:
    """Digest of what a refit reads: the tickets with their topic ids and the topics' statuses."""
    h = hashlib.sha256()
    for r in rows:
        h.update(f"{r.id}:{r.topic_id};".encode())
    for t in topics:
        h.update(f"{t.id}:{t.status}:{t.merged_into};".encode())
    return h.hexdigest().encode()


# --------------------------------------------------------------------------------------------
# Themes over the topics
# --------------------------------------------------------------------------------------------
@dataclass
class AssignmentChanges:
    """What one weekly topic update changed in the assignments, so the theme sums kept per week
    (:func:`theme_topics`) are brought up to date without reading every ticket again: each week's
    digest before anything changed, the weeks whose tickets were assigned (read again), and the
    tickets :func:`split_history` moved to another topic (taken out of the old topic's sums of their
    week and added to the new one's)."""

    digests: dict[int, Digest]
    weeks: set[int] = field(default_factory=set)
    moves: list[Move] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Move:
    ticket_id: int
    week: int
    old_topic: int
    new_topic: int


def theme_topics(
    conn: Connection,
    w: int,
    terms: list[str],
    concepts=None,  # type: ignore[no-untyped-def]
    changes: AssignmentChanges | None = None,
) -> list[ThemeTopic]:
    """The live topics with their tickets' concept profiles and coverage (catalogue terms removed, as
    for topics) and product counts, over every assigned ticket up to week ``w``.

    The sums are kept in the store per week and topic (artifact ``themes-history``) with a digest of
    each week's assigned tickets (``store.themes.week_fingerprints``, in SQL). A week's kept sums are
    used while its digest is unchanged, or, in a weekly update (``changes``), unchanged before the
    update and changed only by the moves it reports; any other change (a refit, an erasure, a late
    or corrected ticket) reads that week's tickets again. Profiles, coverage, sizes and products are
    sums of integers per ticket, so the figures are the same either way. ``concepts`` given: read
    every ticket and keep nothing."""
    fn = concepts or default_concepts()
    keys: dict[str, str] = {}
    if concepts is not None:
        sums: dict[int, ThemeSums] = {}
        add_sums(sums, theme_store.assigned_rows(conn, None, w), terms, fn, keys)
    else:
        sums = total(_week_sums(conn, w, terms, fn, keys, changes))
    return theme_topics_from(sums, theme_store.merged_into_map(conn), theme_store.live_topics(conn))


def _week_sums(
    conn: Connection,
    w: int,
    terms: list[str],
    fn: ConceptFn,
    keys: dict[str, str],
    changes: AssignmentChanges | None,
) -> dict[int, dict[int, ThemeSums]]:
    """The theme sums of weeks up to ``w`` per week and topic: kept ones where they still hold
    (``nlp.theme_sums.kept_weeks``), the moves applied, the other weeks read again. Stores them."""
    from voc.flows.understand import NLP_VERSION

    # sorted: catalogue_terms orders terms of one length as a set iterates, which differs between processes
    tag = hashlib.sha256(("\n".join(sorted(terms)) + "|" + NLP_VERSION).encode()).hexdigest()[:16]
    now = theme_store.week_fingerprints(conn, w + 1)
    by_week: dict[int, dict[int, ThemeSums]] = {}
    blob = analysis.get_artifact(conn, theme_store.THEME_HISTORY)
    state = json.loads(blob) if blob is not None else {}
    if state.get("v") == 2 and state["tag"] == tag:
        stored = {int(k): v for k, v in state["weeks"].items() if int(k) in now}
        keep = kept_weeks(stored, changes.digests if changes else now, changes.weeks if changes else ())
        by_week = {
            wk: {int(t): ThemeSums.load(v) for t, v in state["sums"][str(wk)].items()} for wk in sorted(keep)
        }
        if changes and changes.moves:
            _apply_moves(conn, by_week, [m for m in changes.moves if m.week in by_week], terms, fn, keys)
    rows: dict[int, list[theme_store.AssignedTicket]] = {}
    for r in theme_store.assigned_rows_of_weeks(conn, [wk for wk in now if wk not in by_week]):
        rows.setdefault(r.week, []).append(r)
    for wk, week_rows in rows.items():
        add_sums(by_week.setdefault(wk, {}), week_rows, terms, fn, keys)
    by_week = {wk: by_week[wk] for wk in sorted(now) if wk in by_week}
    analysis.put_artifact(
        conn,
        theme_store.THEME_HISTORY,
        json.dumps(
            {
                "v": 2,
                "tag": tag,
                "weeks": {str(wk): now[wk] for wk in by_week},
                "sums": {str(wk): {str(t): v.dump() for t, v in s.items()} for wk, s in by_week.items()},
            }
        ).encode(),
    )
    return by_week


def _apply_moves(
    conn: Connection,
    by_week: dict[int, dict[int, ThemeSums]],
    moves: list[Move],
    terms: list[str],
    fn: ConceptFn,
    keys: dict[str, str],
) -> None:
    """Take each moved ticket out of its old topic's sums of its week and add it to the new one's."""
    row = dict(theme_store.assigned_rows_of(conn, [m.ticket_id for m in moves]))
    out: dict[int, list[theme_store.AssignedTicket]] = {}
    into: dict[int, list[theme_store.AssignedTicket]] = {}
    for m in moves:
        r = row[m.ticket_id]
        out.setdefault(m.week, []).append(replace(r, topic_id=m.old_topic))
        into.setdefault(m.week, []).append(replace(r, topic_id=m.new_topic))
    for wk, week_rows in out.items():
        sums = by_week[wk]
        add_sums(sums, into[wk], terms, fn, keys)  # first: a ticket moved twice passes through a topic
        taken: dict[int, ThemeSums] = {}
        add_sums(taken, week_rows, terms, fn, keys)
        for topic, sm in taken.items():
            sums[topic].sub(sm)
            if sums[topic].n == 0:
                del sums[topic]


def update_theme_catalogue(
    engine: Engine,
    cfg: VocConfig,
    week: Week | int,
    *,
    refit: bool = False,
    concepts=None,
    threshold: float | None = None,
    changes: AssignmentChanges | None = None,
) -> ThemeStats:  # type: ignore[no-untyped-def]
    """Group this week's live topics into themes (``nlp.themes.update_themes``) and store them.

    Weekly: topics keep their theme, new topics join the nearest theme or start one. ``refit``
    (after a topic refit): re-derive the grouping and map it onto the old theme ids. Human
    placements (``voc topics move``, ``voc themes merge``) and labels survive both.
    """
    w = _week_ordinal(week)
    terms = catalogue_terms(cfg)
    with engine.begin() as conn:
        topics = theme_topics(conn, w, terms, concepts, changes)
        previous, pinned = theme_store.memberships(conn)
        upd = group_themes(
            topics,
            previous,
            theme_store.known_themes(conn),
            next_id=theme_store.next_theme_id(conn),
            pinned=pinned,
            refit=refit,
            threshold=threshold or cfg.thresholds.theme_similarity,
        )
        theme_store.save_update(conn, upd, w, [t.topic_id for t in topics if t.status == "emerging"])
    return ThemeStats(
        themes=len(set(upd.membership.values())),
        topics=len(topics),
        new_themes=len(upd.new_themes),
        tickets=sum(t.size for t in topics),
        moved=upd.moved,
        refit=refit,
    )
