"""A new topic's history: the weekly split of earlier tickets into this week's new topics.

A theme that used to be a minor part of a broader topic (door complaints inside "heating") only shows
up as its own cluster once it grows. :func:`split_topics` moves the tickets (earlier weeks and this
one) that are closer to a new topic's centroid than to their own topic's, and close enough to join it;
the new topic then has a real baseline, so its rise is measured against it instead of against zero.
Then the new topic's centroid is recomputed from its members, and this week's stragglers that now sit
closer to another topic go back there. Tickets under frozen (human-edited, ignored or merged) topics
stay where they are. :func:`refreshed_topics` gives the topics whose members changed their new
centroid, keywords and (machine) label. Values in, values out: ``flows.topic_stage.split_history``
reads the tickets and stores the result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from voc.nlp.topic_view import LazyViewTexts, topic_view
from voc.nlp.topics import describe_groups, label_groups, make_label, normalise


@dataclass(frozen=True)
class Move:
    """Tickets (row indices) that now belong to ``topic_id``, with their similarity to its centroid."""

    topic_id: int
    rows: tuple[int, ...]
    similarities: tuple[float, ...]


@dataclass(frozen=True)
class Split:
    label: np.ndarray  # each row's topic after the split
    moves: tuple[Move, ...]  # the rows whose topic changed, by their new topic
    lineage: tuple[tuple[int, int, str], ...]  # (parent, new topic, 'split'): parents giving >= 3 tickets
    split_ids: tuple[int, ...]  # new topics that took tickets over: they have a history ('active')
    touched: frozenset[int]  # topics whose members changed (their centroid, keywords, label to refresh)
    moved_before: int  # tickets of earlier weeks that moved


def split_topics(
    x: np.ndarray,
    label: np.ndarray,
    weeks: np.ndarray,
    week: int,
    topic_ids: Sequence[int],
    centroids: Mapping[int, np.ndarray],
    new_ids: Sequence[int],
    frozen: Collection[int],
    *,
    threshold: float,
    min_size: int,
) -> Split:
    """Split this week's new topics (``new_ids``) out of the others.

    ``x``: the rows' embeddings (unit length), ``label`` their topic, ``weeks`` their week ordinal,
    ``week`` this week; ``topic_ids`` every topic of the intent in id order, ``centroids`` those that
    have one (every new topic does). A new topic takes over the movable rows (not under a frozen or a
    new topic) that are at least ``threshold`` similar to it and closer to it than to their own topic,
    when there are at least ``min_size`` of them."""
    label = label.copy()
    original = label.copy()
    cents = dict(centroids)
    movable = np.array([tid not in frozen and tid not in new_ids for tid in label])
    new_c = np.vstack([cents[i] for i in new_ids])
    sim_new = x @ new_c.T
    best = sim_new.argmax(axis=1)
    best_sim = sim_new[np.arange(len(label)), best]
    cur_sim = np.einsum(
        "ij,ij->i", x, np.vstack([cents.get(t, np.zeros(x.shape[1], np.float32)) for t in label])
    )
    move = movable & (best_sim >= threshold) & (best_sim > cur_sim)
    moved_before, touched = 0, set(new_ids)
    lineage: list[tuple[int, int, str]] = []
    split_ids: list[int] = []
    for j, tid in enumerate(new_ids):
        idx = np.flatnonzero(move & (best == j))
        if len(idx) < min_size:
            continue
        parents, counts = np.unique(label[idx], return_counts=True)
        lineage += [(int(p), tid, "split") for p, n in zip(parents, counts, strict=True) if n >= 3]
        touched.update(int(p) for p in parents)
        label[idx] = tid
        moved_before += int((weeks[idx] < week).sum())
        split_ids.append(tid)
    # recompute centroids, then send this week's stragglers of each new topic back where they fit
    live = [tid for tid in topic_ids if tid not in frozen and np.any(label == tid)]
    cents.update({tid: normalise(x[label == tid].mean(axis=0)) for tid in touched if np.any(label == tid)})
    others = [tid for tid in live if tid not in new_ids]
    if others:
        oc = np.vstack([cents[t] for t in others])
        for tid in new_ids:
            idx = np.flatnonzero((label == tid) & (weeks == week))
            if not len(idx):
                continue
            own = x[idx] @ cents[tid]
            alt = x[idx] @ oc.T
            back = alt.max(axis=1) > own
            label[idx[back]] = np.array(others)[alt[back].argmax(axis=1)]
            touched.update(int(t) for t in label[idx[back]])
    changed = np.flatnonzero(label != original)
    moves = []
    for tid in np.unique(label[changed]):
        sel = changed[label[changed] == tid]
        moves.append(
            Move(int(tid), tuple(int(i) for i in sel), tuple(float(x[i] @ cents[int(tid)]) for i in sel))
        )
    return Split(label, tuple(moves), tuple(lineage), tuple(split_ids), frozenset(touched), moved_before)


@dataclass(frozen=True)
class Refreshed:
    """A topic whose members changed: its new centroid and keywords, and its new label (None: keep it,
    a human's label or no keywords)."""

    topic_id: int
    centroid: np.ndarray
    keywords: tuple[str, ...]
    label: str | None


def refreshed_topics(
    texts: list[str],
    tokens: list[list[str]],
    x: np.ndarray,
    label: np.ndarray,
    touched: Collection[int],
    labels: Mapping[int, str],
    human: Collection[int],
    terms: list[str],
) -> list[Refreshed]:
    """New centroids, keywords and (machine) labels for the ``touched`` topics among ``labels`` (every
    topic's current label; ``human``: those a human labelled), from their members (rows of ``x`` and
    ``label``; ``texts`` and ``tokens`` the rows' cleaned texts and tokens, their topic view is taken
    here with ``terms`` removed)."""
    # the texts only for the labels of the relabelled topics' most typical members (label_groups reads no
    # others): the topic view of a row's text when it is first read, not for every row of the window
    _, view_tokens = topic_view(["" for _ in tokens], tokens, terms)
    view_texts = LazyViewTexts(texts, terms)
    keywords = describe_groups(view_tokens, label, x)
    relabel = {
        tid: kws
        for tid, kws in keywords.items()
        if tid in touched and tid in labels and kws and tid not in human
    }
    names = label_groups(
        view_texts,
        view_tokens,
        label,
        x,
        relabel,
        drop_terms=terms,
        previous={tid: labels[tid] for tid in relabel},
    )
    out = []
    for tid in touched:
        members = label == tid
        if not members.any() or tid not in labels:
            continue
        kws = tuple(keywords.get(tid, ()))
        out.append(
            Refreshed(
                tid,
                normalise(x[members].mean(axis=0)),
                kws,
                None if tid in human or not kws else names.get(tid) or make_label(kws),
            )
        )
    return out
