"""Stable topic ids across weeks.

BERTopic (like any clustering) numbers its topics afresh on every fit, and its own answers to
"keep topics stable over time" (``merge_models``, ``partial_fit``) either renumber, grow outliers
or forget human edits (MaartenGr/BERTopic #1632, #1692, #1890, #2257, #1593).  The catalogue keeps
the ids instead, as pure code over values:

* :func:`assign_week` -- the weekly path.  New documents go to the nearest known topic when the
  cosine to its centroid reaches ``threshold`` (merged topics forward to their target); what is
  left is clustered with :func:`nlp.topics.fit_topics` (clusters closer to each other than the
  catalogue's two closest topics joined) and clusters that are big and coherent enough become
  new ``'emerging'`` topics; the rest goes to its nearest topic anyway (with its low
  similarity; an ignored one when that is nearest), so no document is an outlier.  Known topics that received documents get a
  running-mean centroid and refreshed keywords (labels kept when a human wrote them).
* :func:`refit` -- the periodic path (e.g. monthly) over the whole history: a fresh
  ``fit_topics``; each new cluster is mapped onto an old id by Hungarian matching on ticket
  overlap (Jaccard of member doc ids) plus centroid similarity; documents keep their old id
  unless the refit puts them clearly (``margin``) closer to another topic (hysteresis); old
  topics that land in one cluster *and* are near-duplicates are merged (older id kept);
  an unmatched cluster drawn mostly from one old topic is a split; any other unmatched cluster
  is a new ``'emerging'`` topic.  Human edits survive: human labels, ``'ignored'`` status and
  human merges (``merged_into``; documents of a merged topic count for its target).

Ignored topics: documents that match an ignored topic are assigned to it (so the caller can
hide them) instead of resurfacing every week as a new emerging topic; pass
``match_ignored=False`` to treat ignored topics as absent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from voc.nlp.topics import (
    MERGE_SIMILARITY,
    FoundTopic,
    describe_groups,
    fit_topics,
    label_groups,
    make_label,
    merge_duplicates,
    normalise,
    representatives,
)

__all__ = [
    "ACTIVE",
    "EMERGING",
    "IGNORED",
    "MERGED",
    "CatalogueUpdate",
    "KnownTopic",
    "anchored_clusters",
    "assign_week",
    "first_fit",
    "fit_sample",
    "known_from_found",
    "refit",
    "resolve_ids",
]

ACTIVE, EMERGING, IGNORED, MERGED = "active", "emerging", "ignored", "merged"
SPLIT_SIMILARITY = 0.05
"""2-means halves of a topic whose centroids sit below this cosine are two topics (refit, first fit)."""
STATUSES = frozenset({ACTIVE, EMERGING, IGNORED, MERGED})


@dataclass(frozen=True)
class KnownTopic:
    topic_id: int
    label: str
    keywords: tuple[str, ...]
    centroid: np.ndarray
    status: str  # 'active' | 'emerging' | 'ignored' | 'merged'
    merged_into: int | None = None
    human_label: bool = False
    size: int = 0  # documents behind the centroid (weights the running mean); 0 = unknown


@dataclass(frozen=True)
class CatalogueUpdate:
    assignments: list[tuple[int, float]]  # per input doc: (topic_id, cosine to that topic's centroid)
    new_topics: list[KnownTopic]  # created this run ('emerging'), ids from next_id upward
    updated: list[KnownTopic]  # existing topics whose centroid/keywords/status changed
    lineage: list[tuple[int, int, str]]  # (old_id, new_id, 'merge' | 'split' | 'refit-map')

    @property
    def topic_ids(self) -> list[int]:
        return [t for t, _ in self.assignments]


def resolve_ids(known: Sequence[KnownTopic]) -> dict[int, int]:
    """topic_id -> final id after following ``merged_into`` chains (cycle-safe; a chain that
    points at an unknown id stops at the last known topic)."""
    by_id = {t.topic_id: t for t in known}
    out: dict[int, int] = {}
    for t in known:
        cur, seen = t, {t.topic_id}
        while cur.status == MERGED and cur.merged_into is not None and cur.merged_into in by_id:
            nxt = by_id[cur.merged_into]
            if nxt.topic_id in seen:
                break
            seen.add(nxt.topic_id)
            cur = nxt
        out[t.topic_id] = cur.topic_id
    return out


def known_from_found(
    found: Sequence[FoundTopic], *, first_id: int, status: str = EMERGING
) -> list[KnownTopic]:
    """Turn a batch's :class:`FoundTopic` list into catalogue entries with ids from ``first_id``."""
    return [
        KnownTopic(
            topic_id=first_id + i,
            label=f.label,
            keywords=f.keywords,
            centroid=f.centroid,
            status=status,
            size=len(f.members),
        )
        for i, f in enumerate(found)
    ]


def _check_inputs(texts, tokens, embeddings, known) -> np.ndarray:
    n = len(texts)
    if len(tokens) != n or len(embeddings) != n:
        raise ValueError(f"texts/tokens/embeddings differ in length: {n}, {len(tokens)}, {len(embeddings)}")
    emb = normalise(
        np.asarray(embeddings, dtype=np.float32).reshape(n, -1) if n else np.zeros((0, 0), np.float32)
    )
    for t in known:
        if t.status not in STATUSES:
            raise ValueError(f"topic {t.topic_id}: unknown status {t.status!r}")
        if n and np.asarray(t.centroid).shape != (emb.shape[1],):
            raise ValueError(
                f"topic {t.topic_id}: centroid has shape {np.asarray(t.centroid).shape}, embeddings have "
                f"dimension {emb.shape[1]} -- embed with the same fitted embedder as the catalogue "
                "(load_embedder) or run a refit"
            )
    return emb


def _check_next_id(known: Sequence[KnownTopic], next_id: int) -> None:
    if known and next_id <= max(t.topic_id for t in known):
        raise ValueError(
            f"next_id={next_id} collides with existing topic ids (max {max(t.topic_id for t in known)})"
        )


def _blend_keywords(
    old: Sequence[str], new: Sequence[str], w_old: float, w_new: float, top_n: int = 10
) -> tuple[str, ...]:
    score: dict[str, float] = defaultdict(float)
    for w, kws in ((w_old, old), (w_new, new)):
        for r, k in enumerate(kws):
            score[k] += w / (r + 1)
    order = {k: i for i, k in enumerate([*new, *old])}  # ties: newer evidence first
    return tuple(sorted(score, key=lambda k: (-score[k], order[k]))[:top_n])


# --------------------------------------------------------------------------------------------
# Weekly assignment
# --------------------------------------------------------------------------------------------
def assign_week(
    known: Sequence[KnownTopic],
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    embeddings: np.ndarray,
    *,
    threshold: float,
    min_new_topic_size: int,
    next_id: int,
    max_new_topics: int = 40,
    min_coherence: float | None = None,
    same_topic_similarity: float = 0.8,
    new_topic_margin: float = 0.1,
    match_ignored: bool = True,
    seed: int = 0,
    drop_terms: Sequence[str] = (),
    relabel_min_docs: int = 20,
) -> CatalogueUpdate:
    """Assign one week's documents (one intent) to catalogue topics; see the module docstring.

    ``min_coherence`` (default 0: off): a leftover cluster becomes a new topic only if
    its members' mean cosine to its centroid reaches it -- a mixed bag of stragglers is not a
    theme.  (When the catalogue is empty every cluster becomes a topic.)
    ``same_topic_similarity``: a leftover cluster whose *centroid* is this close to a known
    centroid is that topic's periphery, not a new one (centroid-to-centroid cosines run higher
    than document-to-centroid ones, so this is not ``threshold``).
    Labels (:func:`nlp.topics.label_groups`: a phrase the members wrote, never with a ``drop_terms``
    catalogue term): new topics get one; a known topic's machine label is re-read from this week's
    documents only when it received ``relabel_min_docs`` of them (a few tickets are too little to
    rename a topic; the refit relabels from all history), and human labels are never touched.
    ``new_topic_margin``: members of a new topic must on average be this much more similar to
    its centroid than to their nearest known topic -- a pile of short generic stragglers is
    "coherent" in a weak way and would otherwise become a junk 'emerging' topic every week.
    """
    n = len(texts)
    emb = _check_inputs(texts, tokens, embeddings, known)
    _check_next_id(known, next_id)
    if n == 0:
        return CatalogueUpdate([], [], [], [])
    min_new_topic_size = max(int(min_new_topic_size), 1)
    min_coherence = 0.0 if min_coherence is None else min_coherence
    by_id = {t.topic_id: t for t in known}
    final = resolve_ids(known)

    # anchors: every known centroid whose resolved target may receive documents
    anchors = [t for t in known if by_id[final[t.topic_id]].status != IGNORED or match_ignored]
    live_targets = sorted({final[t.topic_id] for t in anchors if by_id[final[t.topic_id]].status != IGNORED})
    target_of = np.array([final[t.topic_id] for t in anchors], dtype=np.int64)
    cents = (
        np.stack([normalise(t.centroid) for t in anchors])
        if anchors
        else np.zeros((0, emb.shape[1]), np.float32)
    )

    topic = np.full(n, -1, dtype=np.int64)
    confident = np.zeros(n, dtype=bool)  # counts towards the target's running mean
    if len(anchors):
        sims = emb @ cents.T
        best = sims.argmax(axis=1)
        best_sim = sims[np.arange(n), best]
        hit = best_sim >= threshold
        topic[hit] = target_of[best[hit]]
        confident[hit] = True

    new_topics: list[KnownTopic] = []
    new_cents: dict[int, np.ndarray] = {}
    rest = np.flatnonzero(topic < 0)
    if len(rest):
        catalogue_empty = not live_targets
        if catalogue_empty or len(rest) >= min_new_topic_size:
            found = fit_topics(
                [texts[int(i)] for i in rest],
                [tokens[int(i)] for i in rest],
                emb[rest],
                min_topic_size=min_new_topic_size,
                max_topics=max_new_topics,
                min_topics=None if catalogue_empty else 2,  # this week's leftovers: silhouette decides
                seed=seed,
                drop_terms=drop_terms,
            )
            r_texts, r_tokens = [texts[int(i)] for i in rest], [tokens[int(i)] for i in rest]
            if catalogue_empty:  # the first fit: what the refit would split at once is split now
                found = _split_first_fit(
                    found, r_texts, r_tokens, emb[rest], min_new_topic_size, seed=seed, drop_terms=drop_terms
                )
            else:
                live = [by_id[t].centroid for t in live_targets]
                found = _join_unseparated(
                    found, r_texts, r_tokens, emb[rest], _resolution(live), seed=seed, drop_terms=drop_terms
                )
            nid = next_id
            for f in found:
                members = rest[list(f.members)]
                if not catalogue_empty:
                    if len(members) < min_new_topic_size:
                        continue
                    # collectively close to a known topic: its periphery, not a new theme
                    if len(anchors):
                        s = cents @ f.centroid
                        j = int(s.argmax())
                        if s[j] >= same_topic_similarity and by_id[int(target_of[j])].status != IGNORED:
                            topic[members] = target_of[j]
                            confident[members] = True
                            continue
                    own = emb[members] @ f.centroid
                    if float(own.mean()) < min_coherence:
                        continue
                    if len(anchors):
                        near = (emb[members] @ cents.T).max(axis=1)
                        if float((own - near).mean()) < new_topic_margin:
                            continue
                topic[members] = nid
                confident[members] = True
                new_cents[nid] = f.centroid
                new_topics.append(
                    KnownTopic(nid, f.label, f.keywords, f.centroid, EMERGING, size=len(members))
                )
                nid += 1

    # leftovers: nearest topic (known or new) so nothing is an outlier.  An ignored topic takes
    # the stragglers nearest to it (match_ignored): the caller hides them, where a live topic
    # they barely resemble would count them as its own.
    rest = np.flatnonzero(topic < 0)
    if len(rest):
        ids = [*live_targets, *new_cents]
        c = [normalise(by_id[i].centroid) if i in by_id else new_cents[i] for i in ids]
        hidden: list[int] = []
        if match_ignored or not ids:  # with only ignored topics, park the documents on the nearest
            hidden = sorted(
                {final[t.topic_id] for t in known if not ids or by_id[final[t.topic_id]].status == IGNORED}
                - set(live_targets)
            )
        if not ids:
            ids, c, hidden = hidden, [normalise(by_id[i].centroid) for i in hidden], []
        sims = emb[rest] @ np.stack(c).T
        choice = np.asarray(ids)[sims.argmax(axis=1)]
        if hidden:
            # an ignored topic takes a straggler only when it is nearer than every live topic and
            # nearly close enough to have matched it (0.9 x threshold): never a complaint far from it
            hs = emb[rest] @ np.stack([normalise(by_id[i].centroid) for i in hidden]).T
            take = (hs.max(axis=1) > sims.max(axis=1)) & (hs.max(axis=1) >= 0.9 * threshold)
            choice = np.where(take, np.asarray(hidden)[hs.argmax(axis=1)], choice)
        topic[rest] = choice

    # running means and keywords for the known topics that received confident documents
    updated: list[KnownTopic] = []
    got = [int(t) for t in np.unique(topic[confident]) if int(t) in by_id]
    grouped = np.where(confident & np.isin(topic, got), topic, -1)
    new_kw = describe_groups(tokens, grouped, emb, seed=seed) if got else {}
    counts = Counter(int(t) for t in grouped[grouped >= 0])
    relabel = {
        tid: new_kw.get(tid, by_id[tid].keywords)
        for tid in got
        if not by_id[tid].human_label and counts[tid] >= relabel_min_docs
    }
    names = (
        label_groups(
            texts,
            tokens,
            grouped,
            emb,
            relabel,
            drop_terms=drop_terms,
            previous={tid: by_id[tid].label for tid in relabel},
        )
        if relabel
        else {}
    )
    final_cent: dict[int, np.ndarray] = dict(new_cents)
    for tid in got:
        t = by_id[tid]
        mask = confident & (topic == tid)
        k = int(mask.sum())
        w_old = t.size if t.size > 0 else k
        cent = normalise(w_old * normalise(t.centroid) + emb[mask].sum(axis=0))
        kws = _blend_keywords(t.keywords, new_kw.get(tid, ()), w_old, k)
        label = t.label if t.human_label else names.get(tid) or t.label or make_label(kws)
        nt = replace(t, centroid=cent, keywords=kws, label=label, size=t.size + k)
        updated.append(nt)
        final_cent[tid] = cent
    for tid in {int(x) for x in np.unique(topic)} - set(final_cent):
        final_cent[tid] = normalise(by_id[tid].centroid)
    assignments = [(int(t), float(emb[i] @ final_cent[int(t)])) for i, t in enumerate(topic)]
    return CatalogueUpdate(assignments, new_topics, updated, [])


def fit_sample(n: int, sample: int, seed: int = 0) -> np.ndarray:
    """The documents (sorted indices) a first fit of ``n`` clusters (:func:`first_fit`), and its
    embedder is fitted on: all of them up to ``sample``, else a seeded random ``sample`` of them."""
    if n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))


def first_fit(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    embeddings: np.ndarray,
    *,
    sample: int,
    threshold: float,
    min_new_topic_size: int,
    next_id: int,
    seed: int = 0,
    drop_terms: Sequence[str] = (),
) -> CatalogueUpdate:
    """The first fit of an empty catalogue: :func:`assign_week` on every document up to ``sample``
    documents; above that, on a seeded random ``sample`` of them, the rest then assigned to the topics
    found as a week is (:func:`assign_week` with those topics known: their centroids and keywords take
    in their new members, a leftover group that matches none opens a topic of its own). Every topic is
    'active' (the first fit is the baseline catalogue) and each document's similarity is to its topic's
    final centroid. The clustering's cost grows with the documents it sees; the assignment's is a
    matrix product."""
    n = len(texts)
    emb = _check_inputs(texts, tokens, embeddings, [])

    def week(known: Sequence[KnownTopic], idx: np.ndarray, first_id: int) -> CatalogueUpdate:
        return assign_week(
            known,
            [texts[int(i)] for i in idx],
            [tokens[int(i)] for i in idx],
            np.asarray(embeddings)[idx],  # as given: assign_week checks and normalises them itself
            threshold=threshold,
            min_new_topic_size=min_new_topic_size,
            next_id=first_id,
            seed=seed,
            drop_terms=drop_terms,
        )

    picked = fit_sample(n, sample, seed)
    fit = week([], picked, next_id)
    found = [replace(t, status=ACTIVE) for t in fit.new_topics]
    if len(picked) == n:
        return replace(fit, new_topics=found)
    rest = np.setdiff1d(np.arange(n), picked)
    more = week(found, rest, next_id + len(found))
    updated = {t.topic_id: t for t in more.updated}
    topics = [updated.get(t.topic_id, t) for t in found] + [
        replace(t, status=ACTIVE) for t in more.new_topics
    ]
    cent = {t.topic_id: normalise(t.centroid) for t in topics}
    topic = np.empty(n, dtype=np.int64)
    topic[picked] = fit.topic_ids
    topic[rest] = more.topic_ids
    sims = np.einsum("ij,ij->i", emb, np.stack([cent[int(t)] for t in topic]))
    return CatalogueUpdate([(int(t), float(x)) for t, x in zip(topic, sims, strict=True)], topics, [], [])


def _resolution(centroids: Sequence[np.ndarray]) -> float:
    """The cosine of the two closest live topics: the finest distinction the catalogue keeps
    (:data:`nlp.topics.MERGE_SIMILARITY` when there are fewer than two, or when it is finer)."""
    if len(centroids) < 2:
        return MERGE_SIMILARITY
    c = normalise(np.stack([np.asarray(x, dtype=np.float32) for x in centroids]))
    s = c @ c.T
    np.fill_diagonal(s, -1.0)
    return min(float(s.max()), MERGE_SIMILARITY)


def _join_unseparated(
    found: list[FoundTopic],
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    emb: np.ndarray,
    similarity: float,
    *,
    seed: int,
    drop_terms: Sequence[str],
) -> list[FoundTopic]:
    """Leftover clusters closer to each other than ``similarity`` become one.

    k-means over a week's leftovers always returns at least two clusters, so one new theme came
    out as two emerging topics (27 tickets as 14 + 13, centroid cosine 0.59, in a catalogue whose
    closest live topics sit at 0.36).  The merge is :func:`nlp.topics.merge_duplicates`, the rule
    of the first fit and the refit, at the catalogue's own resolution (:func:`_resolution`): a
    distinction finer than any the catalogue keeps is not made from one week's stragglers."""
    if len(found) < 2:
        return found
    return _regroup(
        found,
        merge_duplicates(emb, _labels_of(found, len(emb)), similarity),
        texts,
        tokens,
        emb,
        seed=seed,
        drop_terms=drop_terms,
    )


def _split_first_fit(
    found: list[FoundTopic],
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    emb: np.ndarray,
    min_size: int,
    *,
    seed: int,
    drop_terms: Sequence[str],
) -> list[FoundTopic]:
    """The refit's split rule (:func:`_split_separable`: 2-means halves at centroid cosine below
    :data:`SPLIT_SIMILARITY`) applied to the first fit, so the first refit does not split a topic
    the fit could already see was two (on the sample brand with bilingual concepts, 3 mixed
    topics were split by the first refit, moving 6% of the complaints' ids at once)."""
    from threadpoolctl import threadpool_limits

    if not found:
        return found
    with threadpool_limits(limits=1):
        labels, split_of = _split_separable(
            emb, _labels_of(found, len(emb)), min_size, SPLIT_SIMILARITY, seed, set()
        )
    if not split_of:
        return found
    return _regroup(found, labels, texts, tokens, emb, seed=seed, drop_terms=drop_terms)


def _labels_of(found: Sequence[FoundTopic], n: int) -> np.ndarray:
    labels = np.full(n, -1, dtype=np.int64)
    for f in found:
        labels[list(f.members)] = f.key
    return labels


def _regroup(
    found: list[FoundTopic],
    joined: np.ndarray,
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    emb: np.ndarray,
    *,
    seed: int,
    drop_terms: Sequence[str],
) -> list[FoundTopic]:
    """``found`` re-described for new group labels ``joined`` (unchanged when the groups are)."""
    if len(np.unique(joined[joined >= 0])) == len(found) and (joined == _labels_of(found, len(emb))).all():
        return found
    kws = describe_groups(tokens, joined, emb, seed=seed)
    names = label_groups(texts, tokens, joined, emb, kws, drop_terms=drop_terms)
    groups = sorted((int(g) for g in np.unique(joined[joined >= 0])), key=lambda g: -int((joined == g).sum()))
    out = []
    for key, g in enumerate(groups):
        members = np.flatnonzero(joined == g)
        centroid = normalise(emb[members].mean(axis=0))
        rep = [int(members[i]) for i in representatives(emb[members], centroid)]
        out.append(
            FoundTopic(
                key=key,
                label=names.get(g) or make_label(kws.get(g, ())),
                keywords=kws.get(g, ()),
                centroid=centroid,
                members=tuple(int(i) for i in members),
                representative=tuple(rep),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Periodic refit
# --------------------------------------------------------------------------------------------
def anchored_clusters(
    emb: np.ndarray,
    prior: np.ndarray,
    *,
    min_size: int,
    merge_similarity: float = MERGE_SIMILARITY,
    split_similarity: float = SPLIT_SIMILARITY,
    frozen: frozenset[int] | set[int] = frozenset(),
    seed: int = 0,
) -> np.ndarray:
    """Cluster labels 0..k-1 for a refit that keeps the catalogue's shape unless the data say otherwise.

    k-means is started from the centroids of the documents' current topics (``prior``; -1 = none)
    with k = the number of those topics, so a refit corrects drift instead of re-drawing the
    partition (a fresh fit's k moves with silhouette noise).  Then two kinds of change, each only
    when clear: clusters whose centroids are near-duplicates (cosine >= ``merge_similarity``)
    become one; a cluster whose 2-means halves share next to nothing (centroid cosine below
    ``split_similarity``; both halves >= ``min_size``) becomes two -- unless most of it comes
    from a ``frozen`` topic (human label, ignored, merge target: the weekly path does not split
    those either).  The split bar is low on
    purpose: on the sample data the zh and en halves of one problem sit at cosine 0.06-0.2 in
    the default TF-IDF space, and distinct neighbouring topics at 0.1-0.45, so a margin-style
    test would split most topics; the weekly path (emerging topics with their history) is where
    a theme growing out of a topic normally becomes its own.  A cluster left below ``min_size`` stays (its prior topic is
    the catalogue's decision, not this function's).
    """
    return _anchored(
        emb,
        prior,
        min_size=min_size,
        merge_similarity=merge_similarity,
        split_similarity=split_similarity,
        frozen=frozen,
        seed=seed,
    ).labels


@dataclass(frozen=True)
class _Anchored:
    labels: np.ndarray
    split_of: dict[int, int]  # split-off cluster -> the cluster it was split from
    seeded_by: dict[int, int]  # cluster -> the old topic whose centroid started it


def _anchored(
    emb: np.ndarray,
    prior: np.ndarray,
    *,
    min_size: int,
    merge_similarity: float,
    split_similarity: float,
    frozen: frozenset[int] | set[int],
    seed: int,
) -> _Anchored:
    """:func:`anchored_clusters` plus where each cluster came from: the old topic whose centroid
    started it and, for a split-off cluster, the cluster it was split from.  Overlap alone cannot
    say this when a small topic grew: a 29-ticket emerging topic whose k-means cluster gathered
    300 older tickets of its theme (out of a catch-all) has a Jaccard of 0.1 with its own past."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    n = len(emb)
    # near-duplicate topics are merged before k-means: started apart, k-means would pull the two
    # halves of one theme apart along its within-theme variation
    start = merge_duplicates(emb, np.where(prior >= 0, prior, -1), merge_similarity)
    olds = [int(o) for o in np.unique(start) if o >= 0]
    init = np.stack([normalise(emb[start == o].mean(axis=0)) for o in olds])
    with threadpool_limits(limits=1):
        if len(olds) >= 2 and n > len(olds):
            # k-means keeps the order of its initial centroids: cluster i started from olds[i]
            labels = KMeans(n_clusters=len(olds), init=init, n_init=1, random_state=seed).fit_predict(emb)
        else:
            labels = np.zeros(n, dtype=np.int64)
        labels = merge_duplicates(emb, labels, merge_similarity)
        keep = {int(c) for c in np.unique(labels) if _majority(prior[labels == c]) in frozen}
        labels, split_of = _split_separable(emb, labels, min_size, split_similarity, seed, keep)
    uniq, labels = np.unique(labels, return_inverse=True)
    pos = {int(u): i for i, u in enumerate(uniq)}
    # merges keep the smaller label and splits add labels >= len(olds), so a label < len(olds)
    # is still the cluster that olds[label] started
    seeded = {pos[int(u)]: olds[int(u)] for u in uniq if int(u) < len(olds)}
    return _Anchored(
        labels.astype(np.int64),
        {pos[c]: pos[p] for c, p in split_of.items() if c in pos and p in pos},
        seeded,
    )


def _majority(values: np.ndarray) -> int:
    ids, counts = np.unique(values, return_counts=True)
    return int(ids[np.argmax(counts)]) if len(ids) else -1


def _split_separable(
    emb: np.ndarray, labels: np.ndarray, min_size: int, similarity: float, seed: int, keep: set[int]
) -> tuple[np.ndarray, dict[int, int]]:
    from sklearn.cluster import KMeans

    labels = labels.copy()
    split_of: dict[int, int] = {}
    nxt = int(labels.max()) + 1
    for c in [int(i) for i in np.unique(labels)]:
        idx = np.flatnonzero(labels == c)
        if c in keep or len(idx) < 2 * max(min_size, 2):
            continue
        halves = KMeans(n_clusters=2, n_init=3, random_state=seed).fit_predict(emb[idx])
        sizes = np.bincount(halves, minlength=2)
        if sizes.min() < min_size:
            continue
        cents = normalise(np.stack([emb[idx[halves == h]].mean(axis=0) for h in (0, 1)]))
        if float(cents[0] @ cents[1]) < similarity:
            labels[idx[halves == int(np.argmin(sizes))]] = nxt
            split_of[nxt] = c
            nxt += 1
    return labels, split_of


def refit(
    known: Sequence[KnownTopic],
    prior_assignments: Mapping[str, int],
    doc_ids: Sequence[str],
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    embeddings: np.ndarray,
    *,
    next_id: int,
    min_topic_size: int = 8,
    max_topics: int = 40,
    min_jaccard: float = 0.1,
    margin: float = 0.05,
    merge_share: float = 0.6,
    merge_similarity: float = MERGE_SIMILARITY,
    split_share: float = 0.5,
    anchored: bool = True,
    split_similarity: float = SPLIT_SIMILARITY,
    max_churn: float = 0.03,
    seed: int = 0,
    drop_terms: Sequence[str] = (),
) -> CatalogueUpdate:
    """Full refit over history with id continuity; see the module docstring.

    ``prior_assignments`` maps doc id -> topic id from earlier runs (ids of merged topics are
    followed to their target).  Documents keep that id unless the refit's topic for them is at
    least ``margin`` more similar (cosine) than their old topic's refitted centroid, and at most
    ``max_churn`` of them change id in one refit by drift (the moves with the largest gain go
    first; the rest wait for the next refit; clean splits of a mixed topic are not counted).
    Without a budget one refit of the 31k Chinese reviews moved 5.2% of tickets at once out of a
    4,109-review catch-all; the meeting's history should change in small, explained steps (each
    split is recorded with its parent).

    ``anchored`` (default): the clusters are :func:`anchored_clusters` -- k-means started from the
    topics' current centroids, k = the live catalogue, plus merges of near-duplicates and splits
    of clearly separable clusters (``split_similarity``).  ``anchored=False`` clusters afresh with
    :func:`nlp.topics.fit_topics`; its silhouette-chosen k moves between fits (16 -> 13 clusters
    on the sample data), which moved ~14% of tickets to another id.

    Machine labels are re-read from each topic's members (:func:`nlp.topics.label_groups`; the old
    label stays while it is still a good phrase); human labels are kept.
    """
    from scipy.optimize import linear_sum_assignment

    n = len(texts)
    if len(doc_ids) != n:
        raise ValueError(f"doc_ids has {len(doc_ids)} entries for {n} documents")
    if not 0.0 <= max_churn <= 1.0:
        raise ValueError(f"max_churn={max_churn!r}: expected a share between 0 and 1")
    emb = _check_inputs(texts, tokens, embeddings, known)
    _check_next_id(known, next_id)
    if n == 0:
        return CatalogueUpdate([], [], [], [])
    by_id = {t.topic_id: t for t in known}
    final = resolve_ids(known)
    raw = np.array([int(prior_assignments.get(d, -1)) for d in doc_ids], dtype=np.int64)
    prior = np.array([final.get(int(p), -1) for p in raw], dtype=np.int64)
    merged_src = {t.topic_id for t in known if t.status == MERGED and final[t.topic_id] != t.topic_id}

    if anchored and (prior >= 0).any():
        frozen = {
            final[t.topic_id]
            for t in known
            if t.topic_id in merged_src or t.status == IGNORED or t.human_label
        }
        anch = _anchored(
            emb,
            prior,
            min_size=min_topic_size,
            merge_similarity=merge_similarity,
            split_similarity=split_similarity,
            frozen=frozen,
            seed=seed,
        )
        cluster, split_of, seeded_by = anch.labels, anch.split_of, anch.seeded_by
    else:
        split_of, seeded_by = {}, {}
        found = fit_topics(
            texts,
            tokens,
            emb,
            min_topic_size=min_topic_size,
            max_topics=max_topics,
            seed=seed,
            drop_terms=drop_terms,
        )
        cluster = np.empty(n, dtype=np.int64)
        for f in found:
            cluster[list(f.members)] = f.key
    k = int(cluster.max()) + 1
    ccent = np.stack([normalise(emb[cluster == c].mean(axis=0)) for c in range(k)])
    cl_n = np.bincount(cluster, minlength=k).astype(float)

    olds = sorted(int(o) for o in np.unique(prior) if o >= 0)
    oidx = {o: i for i, o in enumerate(olds)}
    m = len(olds)
    overlap = np.zeros((m, k))
    if m:
        np.add.at(overlap, (np.array([oidx[int(p)] for p in prior[prior >= 0]]), cluster[prior >= 0]), 1)
    old_n = overlap.sum(axis=1)
    ocent = (
        np.stack([normalise(emb[prior == o].mean(axis=0)) for o in olds])
        if m
        else np.zeros((0, emb.shape[1]), np.float32)
    )

    # 1. Hungarian matching of clusters to old ids on overlap (+ a little centroid similarity)
    match: dict[int, int] = {}  # cluster -> old id
    grown: set[int] = set()  # old ids matched to the cluster their centroid started (not by overlap)
    if m:
        jac = overlap / (old_n[:, None] + cl_n[None, :] - overlap)
        score = jac + 0.1 * np.clip(ocent @ ccent.T, 0, 1)
        rows, cols = linear_sum_assignment(-score)
        for r, c in zip(rows, cols, strict=True):
            if jac[r, c] >= min_jaccard:
                match[int(c)] = olds[r]
        # a cluster the overlap test left unmatched keeps the id of the topic that started it,
        # when that topic got no other cluster: it is that topic grown (or drifted), not a new
        # theme.  Human-edited, ignored and merged topics are left to the overlap test.
        taken = set(match.values())
        for c, o in seeded_by.items():
            seed_topic = by_id.get(o)
            if (
                c in match
                or o in taken
                or seed_topic is None
                or seed_topic.human_label
                or seed_topic.status in (IGNORED, MERGED)
            ):
                continue
            match[c] = o
            grown.add(o)
            taken.add(o)

    lineage: list[tuple[int, int, str]] = []
    merged_away: dict[int, int] = {}

    # 2. merges: near-duplicate old topics that mostly landed in the same cluster
    for c in range(k):
        share = overlap[:, c] / np.maximum(old_n, 1) if m else np.zeros(0)
        group = [olds[i] for i in np.flatnonzero(share >= merge_share) if by_id.get(olds[i]) is not None]
        group = [o for o in group if by_id[o].status != IGNORED]
        if len(group) < 2:
            continue
        keep = min(group)  # ids are allocated in order: the smallest is the oldest
        for o in sorted(group):
            if o == keep or o in merged_away:
                continue
            if float(ocent[oidx[o]] @ ocent[oidx[keep]]) >= merge_similarity:
                merged_away[o] = keep
                lineage.append((o, keep, "merge"))
        if any(merged_away.get(o) == keep for o in group):
            match[c] = keep
    # a cluster matched to a merged-away id now belongs to the kept one
    match = {c: merged_away.get(o, o) for c, o in match.items()}
    prior = np.array([merged_away.get(int(p), int(p)) for p in prior], dtype=np.int64)

    # 3. unmatched clusters: splits of an old topic, or genuinely new themes
    cl_target: dict[int, int] = dict(match)
    new_ids: dict[int, int] = {}
    nid = next_id
    split_parent: dict[int, int] = {}
    for c in sorted(set(range(k)) - set(match), key=lambda c: -cl_n[c]):
        # a cluster made of a merged topic's documents: the merge stands (human or earlier
        # refit decision) -- it maps to the merge target instead of resurfacing as a split
        src = Counter(int(p) for p in raw[(cluster == c) & np.isin(raw, list(merged_src))])
        if src:
            o, cnt = src.most_common(1)[0]
            if cnt / cl_n[c] >= split_share:
                cl_target[c] = final[o]
                continue
        cl_target[c] = nid
        new_ids[nid] = c
        if c in split_of and split_of[c] in match:  # split off a cluster that kept an old id
            split_parent[nid] = match[split_of[c]]
        elif m:
            i = int(overlap[:, c].argmax())
            parent = merged_away.get(olds[i], olds[i])
            if overlap[i, c] / cl_n[c] >= split_share and overlap[i, c] >= min_topic_size:
                split_parent[nid] = parent
        nid += 1

    # 4. per-document decision with hysteresis
    targets = sorted(set(cl_target.values()) | {int(p) for p in np.unique(prior) if p >= 0})
    tcent: dict[int, np.ndarray] = {}
    for t in targets:
        cs = [c for c, tt in cl_target.items() if tt == t]
        mask = np.isin(cluster, cs) | (prior == t)
        tcent[t] = normalise(emb[mask].mean(axis=0)) if mask.any() else normalise(by_id[t].centroid)
    cand = np.array([cl_target[int(c)] for c in cluster], dtype=np.int64)
    topic = cand.copy()
    has_prior = prior >= 0
    differs = has_prior & (prior != cand)
    if differs.any():
        idx = np.flatnonzero(differs)
        s_new = np.einsum("ij,ij->i", emb[idx], np.stack([tcent[int(t)] for t in cand[idx]]))
        s_old = np.einsum("ij,ij->i", emb[idx], np.stack([tcent[int(t)] for t in prior[idx]]))
        stay = s_new < s_old + margin
        # churn budget: at most max_churn of the documents that had an id change it; the moves
        # with the least gain wait for a later refit (a grown topic keeps its clearest members).
        # A clean split of a mixed topic (halves that share next to nothing) is a recorded
        # correction, not drift: its moves are not budgeted.
        budget = int(np.floor(max_churn * int(has_prior.sum())))
        go = np.flatnonzero(~stay & ~np.isin(cluster[idx], list(split_of)))
        if len(go) > budget:
            gain = (s_new - s_old)[go]
            stay[go[np.argsort(-gain, kind="stable")[budget:]]] = True
        topic[idx[stay]] = prior[idx[stay]]

    # 5. new topics that hysteresis left too small dissolve back (prior id, else nearest)
    for t in list(new_ids):
        mask = topic == t
        if 0 < mask.sum() < min_topic_size or not mask.any():
            keep_ids = [x for x in targets if x != t and (topic == x).any()]
            for i in np.flatnonzero(mask).tolist():
                if prior[i] >= 0:
                    topic[i] = prior[i]
                elif keep_ids:
                    topic[i] = keep_ids[int(np.argmax(np.stack([tcent[x] for x in keep_ids]) @ emb[i]))]
            if not (topic == t).any():
                del new_ids[t]
                split_parent.pop(t, None)

    # 5b. a grown topic that took a block of tickets from another topic split it: record that
    for o in sorted(grown):
        came = Counter(int(p) for p in prior[(topic == o) & (prior >= 0) & (prior != o)])
        lineage += [(p, o, "split") for p, cnt in sorted(came.items()) if cnt >= min_topic_size]

    # 6. old topics with docs before that ended with none: absorbed ('refit-map')
    absorbed: dict[int, int] = {}
    for o in olds:
        o2 = merged_away.get(o, o)
        if o2 != o or (topic == o).any():
            continue
        dest = Counter(int(t) for t in topic[prior == o]).most_common(1)
        if dest and by_id.get(o) is not None and by_id[o].status != IGNORED:
            absorbed[o] = dest[0][0]
            lineage.append((o, dest[0][0], "refit-map"))

    # 7. describe the final groups
    ids_present = sorted(int(t) for t in np.unique(topic))
    kws = describe_groups(tokens, topic, emb, seed=seed)
    to_label = {t: kw for t, kw in kws.items() if t in new_ids or (t in by_id and not by_id[t].human_label)}
    names = label_groups(
        texts,
        tokens,
        topic,
        emb,
        to_label,
        drop_terms=drop_terms,
        previous={t: by_id[t].label for t in to_label if t in by_id},
    )
    fcent = {t: normalise(emb[topic == t].mean(axis=0)) for t in ids_present}
    sizes = {t: int((topic == t).sum()) for t in ids_present}

    new_topics: list[KnownTopic] = []
    renumber: dict[int, int] = {}
    for j, t in enumerate(sorted(new_ids, key=lambda t: (-sizes.get(t, 0), t))):
        renumber[t] = next_id + j  # ids stay contiguous after dissolved candidates
    topic = np.array([renumber.get(int(t), int(t)) for t in topic], dtype=np.int64)
    for t, nt_id in sorted(renumber.items(), key=lambda kv: kv[1]):
        kw = kws.get(t, ())
        new_topics.append(
            KnownTopic(nt_id, names.get(t) or make_label(kw), kw, fcent[t], EMERGING, size=sizes[t])
        )
        if t in split_parent:
            lineage.append((split_parent[t], nt_id, "split"))
    fcent = {renumber.get(t, t): c for t, c in fcent.items()}

    updated: list[KnownTopic] = []
    for t in ids_present:
        if t in new_ids or t not in by_id:
            continue
        old = by_id[t]
        kw = kws.get(t, old.keywords)
        updated.append(
            replace(
                old,
                centroid=fcent[t],
                keywords=kw,
                size=sizes[t],
                label=old.label if old.human_label else names.get(t) or make_label(kw),
            )
        )
    for o, keep in {**merged_away, **absorbed}.items():
        old = by_id[o]
        keep_t = by_id.get(keep)
        upd = [u for u in updated if u.topic_id == keep]
        # a human label on the merged-away topic survives on the kept one when it has none
        if old.human_label and keep_t is not None and upd and not upd[0].human_label:
            updated[updated.index(upd[0])] = replace(upd[0], label=old.label, human_label=True)
        updated.append(replace(old, status=MERGED, merged_into=renumber.get(keep, keep)))

    lineage = [(a, renumber.get(b, b), kind) for a, b, kind in lineage]
    assignments = [(int(t), float(emb[i] @ fcent[int(t)])) for i, t in enumerate(topic)]
    return CatalogueUpdate(assignments, new_topics, updated, lineage)
