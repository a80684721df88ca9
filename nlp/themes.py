"""Themes (L1) over the fine topics (L2): what a meeting names, with ids that stay.

The topic catalogue (``nlp.catalogue``) is built per intent and per embedding space, so one defect
ends up in several fine topics: a Chinese and an English phrasing, a complaint and a question
about it ("漏水怎么办?" is evidence of the leak).  Themes group those topics, as pure code over
values:

* **profile** of a topic: its member tickets' content tokens mapped onto bilingual concept ids
  (:func:`nlp.bilingual.concept_tokens`: leak / leaking / 漏水 / 渗水 -> one concept), counted;
  the profiles of all topics are weighted with c-TF-IDF (``nlp.topics.ctfidf``, BERTopic's
  formula) and compared by cosine;
* **what is wrong** (:func:`problem_similarity`): a topic's *problem coverage* is, for each concept
  of a problem kind (:data:`nlp.bilingual.PROBLEM_KINDS`: a defect or failure mode, safety, food,
  logistics, service, quality, hotel -- not a part, a function such as heating, a product kind or a
  general complaint word), the share of
  its member tickets that carry it (:func:`concept_coverage`); two topics share a problem when those
  coverage vectors point the same way (cosine), and only as far as they are about the same products
  (:func:`product_agreement`: the overlap of their tickets' product shares): a leak of the purifier
  told in five phrasings, two languages and as a question is one problem whatever part or words each
  phrasing names, and a noisy kettle is not a noisy blender.  Coverage counts tickets, not words, and
  has no idf, so a problem many topics share is not weighed down for being shared;
* **similarity** of two topics: the largest of that problem similarity, the profile cosine, and,
  when both topics live in the same embedding space (same intent), their centroid cosine;
  a suggestion topic (unmet needs) is like the other intents' topics only by the failures its
  members report (problem similarity over :data:`SUGGESTION_LINK_KINDS`, defects and safety): a
  wish ("希望出个白色款") is not evidence of a defect, but a defect report the intent model filed as
  a suggestion ("The purifier drips all night. Please help.") is; the counts a theme's surge is
  judged on are per intent, so a suggestion topic in a theme adds no suggestion to them;
* **grouping**: average-linkage agglomerative clustering cut at ``threshold``
  (:data:`THEME_SIMILARITY`, chosen on the sample brand, see :func:`cluster`);
* **stability** (:func:`update_themes`): weekly, a topic keeps its theme; a new topic joins the
  theme it is most similar to (average similarity to the theme's topics) when that reaches
  ``threshold``, else it starts a new theme.  A refit re-derives the grouping from scratch and
  maps the new groups onto the old theme ids by ticket overlap (Hungarian), with hysteresis: a
  topic leaves its theme only when it is clearly (``margin``) closer to its new one, within a churn
  budget (``max_churn`` of the tickets per refit).  Topics a
  human placed (``pinned``: a move or a merge) stay where the human put them.
* **labels** (:func:`theme_labels`): the one place where a theme's label is computed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from voc.nlp.topics import is_label_term

__all__ = [
    "ACTIVE",
    "EMERGING",
    "MERGED",
    "PROBLEM_KINDS",
    "RETIRED",
    "SUGGESTION_LINK_KINDS",
    "THEME_SIMILARITY",
    "KnownTheme",
    "ThemeTopic",
    "ThemeUpdate",
    "cluster",
    "concept_coverage",
    "concept_profile",
    "problem_similarity",
    "product_agreement",
    "product_key",
    "default_concepts",
    "default_kind",
    "problem_matrix",
    "similarity_matrix",
    "theme_labels",
    "update_themes",
]

ACTIVE, EMERGING, MERGED, RETIRED = "active", "emerging", "merged", "retired"
LIVE = frozenset({ACTIVE, EMERGING})
SUGGESTION = "suggestion"

# Average-linkage cut on the topic similarity; chosen on the sample brand (voc.sample, seeds 7 and 11,
# 12 weeks) by the F of completeness and purity against the generator's true themes (from-scratch
# grouping of the final topics, cuts 0.20-0.50: 0.35 best on average, F .813 / .799), and checked
# on seed 3 (held out: NMI .818, F .812, 22 themes for 20 true ones after the weekly runs).
THEME_SIMILARITY = 0.35

# idf of the profiles: "topics" = log(1 + topics / topics holding the concept); "frequency" = BERTopic's
# c-TF-IDF idf (log(1 + mean topic length / the concept's total count)), which marks down exactly the
# concepts a theme's several topics share (a defect split over 5 topics counts 5 times).
PROFILE_IDF = "topics"

# Topic centroids are compared after removing their mean (per intent): in a corpus whose texts share
# much of their vocabulary (long English narratives) every centroid points the same way and raw
# cosines join unrelated topics (bench/detection.py, cfpb tuning seeds: 16 of 17 complaint topics in
# one theme, 99% of the complaints); centred, only what a topic has beyond the corpus counts.
CENTRE_MIN_TOPICS = 3

CONCEPT_PREFIX = "c:"  # nlp.bilingual.PREFIX
OTHER_WEIGHT = 0.5  # chosen with THEME_SIMILARITY on the sample brand (see THEME_SIMILARITY)

ConceptFn = Callable[[Sequence[str]], list[str]]
KindFn = Callable[[str], "str | None"]

# the problem kinds through which a suggestion topic can be like a topic of another intent: a reported
# failure; not a wish about quality, colour, size, service (see the module docstring)
SUGGESTION_LINK_KINDS = frozenset({"defect", "safety"})

# the concept kinds that say what is wrong (nlp.bilingual.PROBLEM_KINDS; repeated so that this module
# works without it)
PROBLEM_KINDS = frozenset({"defect", "safety", "food", "logistics", "service", "quality", "hotel"})


def default_concepts() -> ConceptFn:
    """``nlp.bilingual.concept_tokens`` when that module is there, else the tokens themselves."""
    try:
        from voc.nlp.bilingual import concept_tokens
    except ImportError:  # pragma: no cover - depends on the checkout
        return lambda toks: list(toks)
    return concept_tokens


def default_kind() -> KindFn:
    """``nlp.bilingual.concept_kind`` when that module is there, else no concept has a kind."""
    try:
        from voc.nlp.bilingual import concept_kind
    except ImportError:  # pragma: no cover - depends on the checkout
        return lambda c: None
    return concept_kind


def concept_coverage(docs: Iterable[Sequence[str]], concepts: ConceptFn | None = None) -> dict[str, float]:
    """Share of a topic's member tickets whose tokens carry each concept (concept ids only).

    The same filtering as :func:`concept_profile`; a ticket counts once per concept however often it
    names it, so the share says how much of the topic is about that concept.
    """
    fn = concepts or default_concepts()
    n = 0
    seen: Counter[str] = Counter()
    for toks in docs:
        n += 1
        kept = [t for t in toks if is_label_term(t)]
        if kept:
            seen.update({c for c in fn(kept) if c.startswith(CONCEPT_PREFIX)})
    return {c: k / n for c, k in seen.items()} if n else {}


def problem_similarity(
    a: Mapping[str, float],
    b: Mapping[str, float],
    kind: KindFn | None = None,
    kinds: frozenset[str] = PROBLEM_KINDS,
) -> float:
    """Cosine of two topics' coverage vectors restricted to the concepts of a problem kind.

    ``a``, ``b``: concept -> share of the topic's tickets carrying it (:func:`concept_coverage`).
    0 when either topic carries no problem concept.
    """
    kf = kind or default_kind()
    pa = {c: v for c, v in a.items() if v > 0 and kf(c) in kinds}
    if not pa:
        return 0.0
    pb = {c: v for c, v in b.items() if v > 0 and kf(c) in kinds}
    dot = sum(v * pb.get(c, 0.0) for c, v in pa.items())
    if dot <= 0:
        return 0.0
    na = sum(v * v for v in pa.values()) ** 0.5
    nb = sum(v * v for v in pb.values()) ** 0.5
    return min(1.0, dot / (na * nb))


def product_key(value: str, concepts: ConceptFn | None = None, kind: KindFn | None = None) -> str:
    """The product a ticket's product value names, for :func:`product_agreement`: its product-kind
    concept when the value maps to exactly one ("净水器" and "water purifier" -> ``c:prod_water_purifier``;
    a product field not in the catalogue is spelled in the ticket's language), else the value."""
    fn, kf = concepts or default_concepts(), kind or default_kind()
    found = {c for c in fn(value.lower().split()) if c.startswith(CONCEPT_PREFIX) and kf(c) == "product"}
    return found.pop() if len(found) == 1 else value


def product_agreement(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Overlap of two topics' product shares (histogram intersection, each normalised over its
    tickets with a known product): 1 for the same product mix, 0 for disjoint products; 1 when
    either topic has no known product (nothing says they differ)."""
    ta = sum(v for v in a.values() if v > 0)
    tb = sum(v for v in b.values() if v > 0)
    if ta <= 0 or tb <= 0:
        return 1.0
    return float(sum(min(v / ta, b.get(p, 0.0) / tb) for p, v in a.items() if v > 0))


def concept_profile(docs: Iterable[Sequence[str]], concepts: ConceptFn | None = None) -> Counter[str]:
    """Concept counts over a topic's member tickets (tokens already without catalogue terms).

    Stop words, numbers and single characters are dropped before the mapping (``is_label_term``).
    Words the bilingual map does not know count ``OTHER_WEIGHT`` each: they are mostly how one
    phrasing tells it (滴答响, 橱柜), while the mapped concepts name the part and the failure.
    """
    fn = concepts or default_concepts()
    out: Counter[str] = Counter()
    for toks in docs:
        kept = [t for t in toks if is_label_term(t)]
        if kept:
            out.update(fn(kept))
    if OTHER_WEIGHT != 1.0:
        return Counter({k: (v if k.startswith(CONCEPT_PREFIX) else v * OTHER_WEIGHT) for k, v in out.items()})
    return out


@dataclass(frozen=True)
class ThemeTopic:
    """A live fine topic as the theme layer sees it."""

    topic_id: int
    intent: str
    size: int  # tickets (weights the overlap mapping of a refit)
    label: str = ""
    size_en: int = 0  # English tickets (label_en)
    profile: Mapping[str, float] = field(default_factory=dict)  # concept counts
    coverage: Mapping[str, float] = field(default_factory=dict)  # concept -> share of tickets carrying it
    products: Mapping[str, float] = field(default_factory=dict)  # product -> tickets (known products only)
    centroid: np.ndarray | None = None  # in its intent's embedding space
    status: str = ACTIVE  # the topic's status: a theme of only 'emerging' topics is 'emerging'


@dataclass(frozen=True)
class KnownTheme:
    theme_id: int
    status: str  # active | emerging | merged | retired
    merged_into: int | None = None
    human_label: bool = False
    label: str = ""
    label_en: str | None = None


@dataclass
class ThemeUpdate:
    membership: dict[int, int]  # topic id -> theme id (every live topic)
    new_themes: list[int]  # theme ids created by this run (from next_id upward)
    retired: dict[int, int | None]  # theme -> where its topics went (None: nowhere) -- no topics left
    lineage: list[tuple[int, int, str]]  # (old theme, new theme, 'split' | 'refit-map')
    labels: dict[int, tuple[str, str | None]]  # live theme -> (label, label_en) (machine labels)
    moved: int = 0  # tickets whose theme changed (weekly: 0 unless a theme was retired)


# --------------------------------------------------------------------------------------------
# Similarity and grouping
# --------------------------------------------------------------------------------------------
def _profile_matrix(topics: Sequence[ThemeTopic]) -> np.ndarray:
    """Row-normalised c-TF-IDF of the topics' concept profiles (dense: topics x concepts)."""
    from scipy import sparse

    from voc.nlp.topics import ctfidf

    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for i, t in enumerate(topics):
        for k, v in t.profile.items():
            if v > 0:
                rows.append(i)
                cols.append(vocab.setdefault(k, len(vocab)))
                vals.append(float(v))
    if not vocab:
        return np.zeros((len(topics), 1))
    counts = sparse.csr_matrix((vals, (rows, cols)), shape=(len(topics), len(vocab)))
    if PROFILE_IDF == "frequency":
        m = np.asarray(ctfidf(counts).todense())
    else:
        dense = np.asarray(counts.todense())
        tf = np.sqrt(dense / np.maximum(dense.sum(axis=1, keepdims=True), 1e-12))
        df = (dense > 0).sum(axis=0)
        m = tf * np.log(1 + len(topics) / np.maximum(df, 1))
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return m / norms


def problem_matrix(
    topics: Sequence[ThemeTopic], kind: KindFn | None = None, kinds: frozenset[str] = PROBLEM_KINDS
) -> np.ndarray:
    """Topic x topic :func:`problem_similarity` (over the concepts of ``kinds``) times
    :func:`product_agreement`."""
    kf = kind or default_kind()
    n = len(topics)
    keep: dict[str, bool] = {}
    vocab: dict[str, int] = {}
    cells: list[tuple[int, int, float]] = []
    for i, t in enumerate(topics):
        for c, v in t.coverage.items():
            if v > 0 and keep.setdefault(c, kf(c) in kinds):
                cells.append((i, vocab.setdefault(c, len(vocab)), float(v)))
    if not vocab:
        return np.zeros((n, n))
    m = np.zeros((n, len(vocab)))
    for i, j, v in cells:
        m[i, j] = v
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    m /= norms
    out = np.clip(m @ m.T, 0.0, 1.0)
    prods = sorted({p for t in topics for p, v in t.products.items() if v > 0})
    if prods:
        pi = {p: k for k, p in enumerate(prods)}
        share = np.zeros((n, len(prods)))
        for i, t in enumerate(topics):
            for p, v in t.products.items():
                if v > 0:
                    share[i, pi[p]] = v
        tot = share.sum(axis=1)
        known = tot > 0
        share[known] /= tot[known, None]
        agree = np.minimum(share[:, None, :], share[None, :, :]).sum(axis=2)
        agree[~known, :] = 1.0  # a topic without a known product: nothing says the products differ
        agree[:, ~known] = 1.0
        out *= agree
    return out


def similarity_matrix(topics: Sequence[ThemeTopic], kind: KindFn | None = None) -> np.ndarray:
    """Topic x topic similarity in [0, 1] (see the module docstring); diagonal 1."""
    n = len(topics)
    if n == 0:
        return np.zeros((0, 0))
    p = _profile_matrix(topics)
    sim = np.maximum(np.clip(p @ p.T, 0.0, 1.0), problem_matrix(topics, kind))
    intents = [t.intent for t in topics]
    for intent in set(intents):
        idx = [i for i, t in enumerate(topics) if t.intent == intent and t.centroid is not None]
        dims = Counter(np.asarray(topics[i].centroid).shape for i in idx)
        if not dims:
            continue
        shape = dims.most_common(1)[0][0]
        idx = [i for i in idx if np.asarray(topics[i].centroid).shape == shape]
        c = np.stack([np.asarray(topics[i].centroid, dtype=np.float64) for i in idx])
        if len(idx) >= CENTRE_MIN_TOPICS:  # the corpus' common direction is no similarity
            c = c - c.mean(axis=0, keepdims=True)
        norms = np.linalg.norm(c, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        c = c / norms
        cs = np.clip(c @ c.T, 0.0, 1.0)
        ix = np.ix_(idx, idx)
        sim[ix] = np.maximum(sim[ix], cs)
    sugg = np.array([i == SUGGESTION for i in intents])
    if sugg.any() and not sugg.all():
        cross = problem_matrix(topics, kind, SUGGESTION_LINK_KINDS)
        sim[np.ix_(sugg, ~sugg)] = cross[np.ix_(sugg, ~sugg)]
        sim[np.ix_(~sugg, sugg)] = cross[np.ix_(~sugg, sugg)]
    np.fill_diagonal(sim, 1.0)
    return sim


def cluster(sim: np.ndarray, threshold: float = THEME_SIMILARITY) -> np.ndarray:
    """Average-linkage groups 0..k-1 of a similarity matrix: two groups join while the mean
    similarity between their members reaches ``threshold`` (average linkage: one near pair does
    not chain two themes together, as single linkage would)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    n = len(sim)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    d = 1.0 - np.clip((sim + sim.T) / 2, 0.0, 1.0)
    np.fill_diagonal(d, 0.0)
    z = linkage(squareform(d, checks=False), method="average")
    raw = fcluster(z, t=1.0 - threshold + 1e-9, criterion="distance")
    _, labels = np.unique(raw, return_inverse=True)
    return labels.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Labels (the one place a theme's label is computed)
# --------------------------------------------------------------------------------------------
def theme_labels(members: Sequence[ThemeTopic]) -> tuple[str, str | None]:
    """(label, label_en) of a theme: the label of its largest complaint topic (else of its largest
    topic), and ``label_en`` from its largest mostly-English topic when it has one."""
    if not members:
        return "", None
    by_size = sorted(members, key=lambda t: (-t.size, t.topic_id))
    complaints = [t for t in by_size if t.intent == "complaint"]
    label = (complaints or by_size)[0].label
    english = [t for t in by_size if t.size and 2 * t.size_en > t.size]
    return label, (english[0].label if english else None)


# --------------------------------------------------------------------------------------------
# Stable ids
# --------------------------------------------------------------------------------------------
def _resolve(themes: Mapping[int, KnownTheme], theme_id: int) -> int | None:
    """Follow merged_into; None when the chain ends on a theme that is not live."""
    seen = set()
    cur = themes.get(theme_id)
    while (
        cur is not None and cur.status == MERGED and cur.merged_into is not None and cur.theme_id not in seen
    ):
        seen.add(cur.theme_id)
        cur = themes.get(cur.merged_into)
    return cur.theme_id if cur is not None and cur.status in LIVE else None


def _avg_sim(sim: np.ndarray, i: int, members: Iterable[int]) -> float:
    m = [j for j in members if j != i]
    return float(sim[i, m].mean()) if m else 0.0


def update_themes(
    topics: Sequence[ThemeTopic],
    previous: Mapping[int, int],
    themes: Sequence[KnownTheme],
    *,
    next_id: int,
    pinned: Iterable[int] = (),
    refit: bool = False,
    threshold: float = THEME_SIMILARITY,
    margin: float = 0.05,
    max_churn: float = 0.03,
    sim: np.ndarray | None = None,
) -> ThemeUpdate:
    """Group ``topics`` into themes keeping the ids of ``previous`` (topic id -> theme id).

    Weekly (``refit=False``): see the module docstring.  ``refit=True``: re-derive the grouping
    with :func:`cluster`, map groups to old ids by ticket overlap, and let a topic change theme
    only when its average similarity to the new theme beats the old one's by ``margin``, and at
    most ``max_churn`` of the tickets (topic sizes) change theme (largest gains first; the rest wait
    for the next refit) -- the meeting's history changes in small steps, as for topics.
    ``pinned`` topics (placed by a human) keep their ``previous`` theme in both modes.
    """
    from scipy.optimize import linear_sum_assignment

    by_id = {t.theme_id: t for t in themes}
    if next_id <= max(by_id, default=0):
        raise ValueError(f"next_id={next_id} collides with existing theme ids (max {max(by_id)})")
    n = len(topics)
    s = similarity_matrix(topics) if sim is None else sim
    idx = {t.topic_id: i for i, t in enumerate(topics)}
    pins = {idx[t] for t in pinned if t in idx}  # indices of the topics a human placed
    old: dict[int, int] = {}  # topic index -> live old theme
    for t in topics:
        th = previous.get(t.topic_id)
        r = _resolve(by_id, th) if th is not None else None
        if r is not None:
            old[idx[t.topic_id]] = r
    theme = dict(old)
    nid = next_id
    new_ids: list[int] = []
    lineage: list[tuple[int, int, str]] = []

    if refit and n:
        groups = cluster(s, threshold)
        k = int(groups.max()) + 1 if n else 0
        olds = sorted(set(old.values()))
        oi = {o: j for j, o in enumerate(olds)}
        size = np.array([max(t.size, 1) for t in topics], dtype=float)
        overlap = np.zeros((k, len(olds)))
        for i, o in old.items():
            overlap[groups[i], oi[o]] += size[i]
        match: dict[int, int] = {}
        if olds:
            gs = np.array([size[groups == g].sum() for g in range(k)])
            os_ = overlap.sum(axis=0)
            jac = overlap / np.maximum(gs[:, None] + os_[None, :] - overlap, 1e-9)
            r, c = linear_sum_assignment(-jac)
            match = {int(g): olds[j] for g, j in zip(r, c, strict=True) if overlap[g, j] > 0}
        target: dict[int, int] = {}
        for g in range(k):
            if g in match:
                target[g] = match[g]
                continue
            target[g] = nid
            new_ids.append(nid)
            if olds and overlap[g].max() > 0.5 * size[groups == g].sum():
                lineage.append((olds[int(overlap[g].argmax())], nid, "split"))
            nid += 1
        members: dict[int, list[int]] = {}
        for i in range(n):
            members.setdefault(target[int(groups[i])], []).append(i)
        moves: list[tuple[float, int, int]] = []
        for i, o in old.items():
            cand = target[int(groups[i])]
            if i in pins or o == cand:
                continue
            gain = _avg_sim(s, i, members[cand]) - _avg_sim(s, i, [j for j, oo in old.items() if oo == o])
            if gain > margin:  # hysteresis: only when clearly closer to the new theme
                moves.append((gain, i, cand))
        # churn budget: at most max_churn of the tickets change theme in one refit, largest gains first
        budget = max_churn * sum(size[i] for i in old)
        spent = 0.0
        for _, i, cand in sorted(moves, key=lambda m: (-m[0], topics[m[1]].topic_id)):
            if spent + size[i] <= budget:
                theme[i] = cand
                spent += size[i]
        for i in range(n):
            if i not in old and i not in pins:
                theme[i] = target[int(groups[i])]
        # a new theme some of whose topics stayed behind may be left without topics
        new_ids = [t for t in new_ids if t in theme.values()]
    else:
        order = sorted(
            (i for i in range(n) if i not in theme), key=lambda i: (-topics[i].size, topics[i].topic_id)
        )
        for i in order:
            members_of: dict[int, list[int]] = {}
            for j, th in theme.items():
                members_of.setdefault(th, []).append(j)
            best, best_sim = None, -1.0
            for th, ms in sorted(members_of.items()):
                a = _avg_sim(s, i, ms)
                if a > best_sim:
                    best, best_sim = th, a
            if best is not None and best_sim >= threshold:
                theme[i] = best
            else:
                theme[i] = nid
                new_ids.append(nid)
                nid += 1

    membership = {topics[i].topic_id: th for i, th in theme.items()}
    # themes that lost every topic: merged into where most of their tickets went, else retired
    retired: dict[int, int | None] = {}
    live_after = set(membership.values())
    for th in sorted({t.theme_id for t in themes if t.status in LIVE} - live_after):
        went: Counter[int] = Counter()
        for i, o in old.items():
            if o == th:
                went[theme[i]] += max(topics[i].size, 1)
        dest = went.most_common(1)[0][0] if went else None
        retired[th] = dest
        if dest is not None:
            lineage.append((th, dest, "refit-map"))
    moved = sum(topics[i].size for i, o in old.items() if theme[i] != o)
    labels = {th: theme_labels([topics[i] for i, x in theme.items() if x == th]) for th in live_after}
    return ThemeUpdate(membership, sorted(new_ids), retired, lineage, labels, moved)
