"""Topic discovery for one batch of documents (one intent), with BERTopic as the engine.

Pure code over values.  Inputs per document: ``text`` (normalised, redacted), ``tokens`` (content
tokens: jieba words for zh, lemmas for en, stop words removed) and a precomputed, L2-normalised
embedding row.  BERTopic is configured for weekly support-ticket volumes:

* precomputed embeddings only (``embedding_model=None``) -- it never loads a model;
* no UMAP (numba compiles for ~50 s in every new process): ``BaseDimensionalityReduction``;
* k-means with k chosen by silhouette on a sample in a PCA(10) view, bounded by
  ``n // min_topic_size`` and ``max_topics`` -- every document gets a topic (no outliers);
  clusters smaller than ``min_topic_size`` are dissolved into their nearest neighbour;
* c-TF-IDF over the *given tokens* (plus adjacent-token bigrams), with stop words, punctuation,
  numbers and single CJK characters filtered, so keywords are words and phrases;
* keywords re-ranked by an embedding MMR computed here (BERTopic's own MMR/KeyBERTInspired
  need an embedding model): a term's vector is the mean embedding of the topic's documents that
  contain it; relevance = similarity to the topic centroid (mixed with the c-TF-IDF score),
  diversity = dissimilarity to the terms already chosen.

``import bertopic`` costs 5-8 s, so it is imported lazily (:func:`import_bertopic`) and only when
there is enough data to cluster (small batches take a fast path that does not need it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voc.nlp.label_terms import LABEL_STOPWORDS, core_terms, is_label_term, make_label, topic_terms
from voc.nlp.labels import MAX_DOCS, topic_label

__all__ = [
    "FoundTopic",
    "LABEL_STOPWORDS",
    "choose_k",
    "core_terms",
    "min_topics_for",
    "merge_duplicates",
    "MERGE_SIMILARITY",
    "describe_groups",
    "fit_topics",
    "is_label_term",
    "label_groups",
    "make_label",
    "representatives",
    "topic_terms",
]


@dataclass(frozen=True)
class FoundTopic:
    key: int  # local cluster number (0..k-1), 0 = largest
    label: str  # a phrase the members wrote (nlp.labels), else 2-3 top keywords joined with " / "
    keywords: tuple[str, ...]  # top ~10 terms (c-TF-IDF, MMR re-ranked)
    centroid: np.ndarray  # mean of member embeddings, L2-normalised
    members: tuple[int, ...]  # indices into the input
    representative: tuple[int, ...]  # up to 3 member indices, typical and diverse

    @property
    def size(self) -> int:
        return len(self.members)


_DOC_SEP = "\x1e"  # marks a document boundary inside BERTopic's per-topic joined strings


def _bertopic_doc(tokens: Sequence[str]) -> str:
    toks = [t.strip().replace(" ", "_") for t in tokens if t and t.strip()]
    return " ".join([*toks, _DOC_SEP])


def _analyze_joined(doc: str) -> list[str]:
    """Analyzer for BERTopic's vectorizer: its inputs are our token strings joined with spaces
    (per topic, documents are concatenated); bigrams never cross a document boundary."""
    out: list[str] = []
    for part in doc.split(_DOC_SEP):
        toks = part.split()
        if toks:
            out.extend(topic_terms(toks))
    return out


def label_groups(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    labels: Sequence[int] | np.ndarray,
    embeddings: np.ndarray,
    keywords: Mapping[int, Sequence[str]],
    *,
    drop_terms: Sequence[str] = (),
    previous: Mapping[int, str] | None = None,
) -> dict[int, str]:
    """The label of each group (label >= 0) with keywords: :func:`nlp.labels.topic_label` over its
    members, most typical (closest to the group's centroid) first.  ``previous``: current machine
    labels, kept while they are still good phrases; ``drop_terms``: catalogue terms no label carries."""
    labels = np.asarray(labels, dtype=int)
    emb = normalise(np.asarray(embeddings, dtype=np.float32)) if len(labels) else np.zeros((0, 1), np.float32)
    previous = previous or {}
    out: dict[int, str] = {}
    for g, kws in keywords.items():
        members = np.flatnonzero(labels == g)
        if not len(members):
            continue
        centroid = normalise(emb[members].mean(axis=0))
        order = members[np.argsort(-(emb[members] @ centroid), kind="stable")][:MAX_DOCS]
        out[g] = topic_label(
            [texts[i] for i in order],
            [tokens[i] for i in order],
            kws,
            drop_terms=drop_terms,
            previous=previous.get(g),
        )
    return out


# --------------------------------------------------------------------------------------------
# Clustering
# --------------------------------------------------------------------------------------------
def _k_grid(k_max: int) -> list[int]:
    if k_max < 2:
        return [1]
    grid = {*range(2, min(k_max, 10) + 1), *(int(k) for k in np.round(np.geomspace(10, max(k_max, 10), 7)))}
    return sorted(k for k in grid if 2 <= k <= k_max)


MERGE_SIMILARITY = 0.9
"""Topic centroids at or above this cosine are one theme (fit and refit alike)."""


def min_topics_for(n: int) -> int:
    """The fewest topics worth showing for ``n`` documents: about sqrt(n / 10) (6 for 400, 21 for
    4,400, 45 for 20k). Silhouette alone settles on 3-4 broad themes for thousands of tickets
    (measured on CFPB and the zh reviews), which hides a surge of one defect inside a catch-all
    topic; the meeting triages finer themes, and refits keep ids however many there are."""
    return max(2, round(float(np.sqrt(max(n, 0) / 10))))


def choose_k(
    embeddings: np.ndarray,
    k_max: int,
    *,
    k_min: int = 2,
    seed: int = 0,
    sample: int = 2000,
    repeats: int = 3,
    tie: float = 0.97,
) -> int:
    """k in [2, k_max] by silhouette of k-means, measured in a PCA(10) view (in the full
    100-200-d space silhouette grows monotonically with k; the view is cut at a clear
    eigen-gap), averaged over ``repeats`` seeded
    samples of ``sample`` rows (one sample is noisy at small k).  Among near-ties (within
    ``tie`` of the best mean score) the largest k wins: for triage a slightly finer split is
    more useful than one catch-all topic.  k=2 must beat the rest by 15%.  ``k_min`` is a floor
    (see :func:`min_topics_for`); at or above ``k_max`` it is ``k_max``."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score

    n = len(embeddings)
    if k_max < 2 or n < 4:
        return 1
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    if n <= sample:
        repeats = 1
    k_top = min(k_max, min(n, sample) - 1)
    if k_min >= k_top:
        return max(min(k_max, n - 1), 1)
    grid = [k for k in _k_grid(k_top) if k >= k_min]
    grid = sorted({max(k_min, 2), *grid})
    if not grid:
        return 1
    # One PCA view for all repeats, fitted on up to 20k rows (a PCA per small sample is noisy).
    fit_idx = np.sort(rng.choice(n, size=min(n, 20_000), replace=False))
    d = min(10, embeddings.shape[1], len(fit_idx) - 1)
    pca = PCA(n_components=d, random_state=seed).fit(embeddings[fit_idx]) if d >= 2 else None
    keep = d
    if pca is not None and d > 2:
        # A clear eigen-gap (next component < 60% of the previous) means the theme structure
        # lives in the components before it; the rest is within-theme detail that would make
        # silhouette prefer sub-clusters.
        ev = pca.explained_variance_
        ratios = ev[1:] / np.maximum(ev[:-1], 1e-12)
        j = int(np.argmin(ratios))
        if ratios[j] < 0.6:
            keep = max(j + 1, 2)
    scores = np.zeros(len(grid))
    # Small k-means fits: OpenMP threads only add spin-wait overhead (and hurt on a busy host).
    with threadpool_limits(limits=1):
        for r in range(repeats):
            idx = np.sort(rng.choice(n, size=min(n, sample), replace=False))
            x = (
                embeddings[idx]
                if pca is None
                else pca.transform(embeddings[idx])[:, :keep].astype(np.float32)
            )
            for j, k in enumerate(grid):
                labels = KMeans(n_clusters=k, n_init=3, random_state=seed + r).fit_predict(x)
                scores[j] += float(silhouette_score(x, labels)) if len(np.unique(labels)) > 1 else -1.0
    scores /= repeats
    # Silhouette is biased towards k=2 (one strong direction splits the data in two): accept 2
    # only when it wins clearly.
    if len(grid) > 1 and grid[0] == 2 and scores[0] < 1.15 * scores[1:].max():
        grid, scores = grid[1:], scores[1:]
    best = float(scores.max())
    ok = [k for k, s in zip(grid, scores, strict=True) if s >= best - (1 - tie) * abs(best)]
    return max(ok)


class _ChosenKMeans:
    """sklearn-style clusterer for BERTopic's ``hdbscan_model`` slot: chooses k by silhouette,
    fits k-means on the full embeddings, then dissolves clusters smaller than ``min_size`` into
    their nearest surviving centroid (so there are no outliers and no tiny topics)."""

    def __init__(self, min_size: int, max_k: int, seed: int = 0, min_k: int = 2) -> None:
        self.min_size = min_size
        self.max_k = max_k
        self.min_k = min_k
        self.seed = seed
        self.labels_: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: Any = None) -> _ChosenKMeans:
        self.labels_ = _kmeans_labels(
            np.asarray(x, dtype=np.float32), self.min_size, self.max_k, self.seed, self.min_k
        )
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - BERTopic.transform only
        raise NotImplementedError("use nlp.catalogue.assign_week for new documents")


def _kmeans_labels(x: np.ndarray, min_size: int, max_k: int, seed: int, min_k: int = 2) -> np.ndarray:
    from sklearn.cluster import KMeans

    n = len(x)
    k_max = min(max_k, n // max(min_size, 1))
    k = choose_k(x, k_max, k_min=min_k, seed=seed)
    if k < 2:
        return np.zeros(n, dtype=int)
    labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(x)
    labels = merge_duplicates(x, _dissolve_small(x, labels, min_size), MERGE_SIMILARITY)
    return np.unique(labels, return_inverse=True)[1]


def merge_duplicates(emb: np.ndarray, labels: np.ndarray, similarity: float) -> np.ndarray:
    """Join groups (label >= 0) whose centroids reach ``similarity``, the closest pair first
    (labels keep the smaller id). Used after the first fit, whose k-means floor can cut one broad
    theme into near-copies, and by the refit: the same rule both times, so a refit does not merge
    what the fit just made."""
    labels = labels.copy()
    while True:
        ids = np.unique(labels[labels >= 0])
        if len(ids) < 2:
            return labels
        cents = normalise(np.stack([emb[labels == i].mean(axis=0) for i in ids]))
        sim = cents @ cents.T
        np.fill_diagonal(sim, -1)
        a, b = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[a, b] < similarity:
            return labels
        labels[labels == ids[max(a, b)]] = ids[min(a, b)]


def _dissolve_small(x: np.ndarray, labels: np.ndarray, min_size: int) -> np.ndarray:
    labels = labels.copy()
    while True:
        ids, counts = np.unique(labels, return_counts=True)
        small = ids[counts < min_size]
        if len(small) == 0 or len(ids) == 1:
            break
        big = ids[counts >= min_size]
        if len(big) == 0:  # everything small: keep the largest
            big = ids[[int(np.argmax(counts))]]
        # dissolve the smallest small cluster first, then re-check
        victim = small[np.argmin(counts[np.isin(ids, small)])]
        cents = _centroids(x, labels, big)
        mask = labels == victim
        labels[mask] = big[np.argmax(x[mask] @ cents.T, axis=1)]
    # renumber 0..k-1
    _, labels = np.unique(labels, return_inverse=True)
    return labels


def _centroids(x: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    cents = np.stack([x[labels == i].mean(axis=0) for i in ids])
    return normalise(cents)


def normalise(x: np.ndarray) -> np.ndarray:
    """L2-normalise a vector or the rows of a matrix (float32; zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        n = float(np.linalg.norm(x))
        return x / n if n > 0 else x
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return x / norms


# --------------------------------------------------------------------------------------------
# Keywords and representatives
# --------------------------------------------------------------------------------------------
def _mmr_terms(
    cands: Sequence[tuple[str, float]],
    occurrence: Any,  # sparse (docs x cands) counts for the topic's (sampled) documents
    emb: np.ndarray,  # embeddings of the same documents
    centroid: np.ndarray,
    top_n: int = 10,
    diversity: float = 0.3,
) -> list[tuple[str, float]]:
    if not cands:
        return []
    occ = (occurrence > 0).astype(np.float32)
    df = np.asarray(occ.sum(axis=0)).ravel()
    n_docs = occ.shape[0]
    min_df = min(max(2.0, 0.01 * n_docs), 5.0)
    ok = df >= min_df
    if ok.sum() < min(3, len(cands)):  # tiny topics: accept what there is
        ok = df >= 1
    # terms of the topic's core only (when enough are left): not those of a few tickets at its edge
    order = np.argsort(-(emb @ centroid), kind="stable")
    dense = occ.toarray() if hasattr(occ, "toarray") else np.asarray(occ)
    on_core = ok & core_terms(dense[order] > 0, max(5, -(-n_docs // 2)))
    if on_core.sum() >= min(5, ok.sum()):
        ok = on_core
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return [(w, s) for w, s in cands[:top_n]]
    vecs = normalise(np.asarray(occ[:, idx].T @ emb))
    scores = np.array([cands[int(i)][1] for i in idx], dtype=np.float32)
    scores = scores / scores.max() if scores.max() > 0 else scores
    rel = 0.5 * (vecs @ centroid) + 0.5 * scores
    sim = vecs @ vecs.T
    chosen = [int(np.argmax(rel))]
    rest = [i for i in range(len(idx)) if i != chosen[0]]
    while rest and len(chosen) < top_n:
        pen = sim[np.ix_(rest, chosen)].max(axis=1)
        mmr = (1 - diversity) * rel[rest] - diversity * pen
        j = rest[int(np.argmax(mmr))]
        chosen.append(j)
        rest.remove(j)
    return [(cands[idx[j]][0], float(rel[j])) for j in chosen]


def representatives(
    emb: np.ndarray, centroid: np.ndarray, k: int = 3, diversity: float = 0.4, pool: int = 200
) -> list[int]:
    """Up to ``k`` row indices of ``emb``: the most typical first, then MMR for diversity."""
    if len(emb) == 0:
        return []
    sims = emb @ centroid
    cand = np.argsort(-sims, kind="stable")[:pool]
    chosen = [int(cand[0])]
    rest = [int(i) for i in cand[1:]]
    while rest and len(chosen) < k:
        pen = (emb[rest] @ emb[chosen].T).max(axis=1)
        # near-duplicates (same ticket pasted twice) are not diverse examples
        mmr = (1 - diversity) * sims[rest] - diversity * pen - (pen > 0.98) * 10
        j = rest[int(np.argmax(mmr))]
        chosen.append(j)
        rest.remove(j)
    return chosen


def describe_groups(
    tokens: Sequence[Sequence[str]],
    labels: Sequence[int] | np.ndarray,
    embeddings: np.ndarray,
    *,
    top_n: int = 10,
    max_docs_per_group: int = 2000,
    seed: int = 0,
) -> dict[int, tuple[str, ...]]:
    """Keywords for each group of documents without BERTopic (same c-TF-IDF formula, same
    term filter and MMR).  Used for small batches and by the catalogue to refresh keywords.
    Groups with label < 0 are ignored."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    labels = np.asarray(labels, dtype=int)
    groups = [int(g) for g in np.unique(labels) if g >= 0]
    if not groups:
        return {}
    rng = np.random.default_rng(seed)
    rows: list[int] = []
    row_group: list[int] = []
    for g in groups:
        members = np.flatnonzero(labels == g)
        if len(members) > max_docs_per_group:
            members = np.sort(rng.choice(members, size=max_docs_per_group, replace=False))
        rows.extend(int(i) for i in members)
        row_group.extend([g] * len(members))
    docs = [topic_terms(tokens[i]) for i in rows]
    if not any(docs):
        return {g: () for g in groups}
    cv = CountVectorizer(analyzer=lambda d: d)
    x = cv.fit_transform(docs).tocsr().astype(np.float32)
    words = cv.get_feature_names_out()
    gidx = np.searchsorted(groups, row_group)
    ind = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (gidx, np.arange(len(rows)))), shape=(len(groups), len(rows))
    )
    ctf = ctfidf(ind @ x)
    out: dict[int, tuple[str, ...]] = {}
    emb_rows = embeddings[rows]
    for gi, g in enumerate(groups):
        row = ctf.getrow(gi).toarray().ravel()
        top = np.argsort(-row, kind="stable")[:30]
        top = top[row[top] > 0]
        cands = [(str(words[j]), float(row[j])) for j in top]
        sel = np.flatnonzero(gidx == gi)
        centroid = normalise(emb_rows[sel].mean(axis=0))
        ranked = _mmr_terms(cands, x[sel][:, top], emb_rows[sel], centroid, top_n=top_n)
        out[g] = tuple(w for w, _ in ranked)
    return out


def ctfidf(counts: Any) -> Any:
    """BERTopic's ClassTfidfTransformer(reduce_frequent_words=True): tf = l1-normalised class
    counts (square-rooted), idf = log(1 + mean class size / term frequency)."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    counts = sparse.csr_matrix(counts, dtype=np.float64)
    df = np.asarray(counts.sum(axis=0)).ravel()
    avg = float(counts.sum(axis=1).mean())
    idf = np.log(avg / np.maximum(df, 1) + 1)
    tf = normalize(counts, axis=1, norm="l1", copy=True)
    tf.data = np.sqrt(tf.data)
    return (tf @ sparse.diags(idf)).tocsr()


# --------------------------------------------------------------------------------------------
# BERTopic
# --------------------------------------------------------------------------------------------
def import_bertopic() -> None:
    """Import BERTopic without the ``transformers`` integrations this pipeline never uses.

    ``bertopic.representation`` imports its TextGeneration and ZeroShotClassification models, which
    import ``transformers`` (and with it much of torch) whenever it is installed; without it BERTopic
    leaves placeholders. Measured 2026-12-06 in a process that already imported spaCy and
    scikit-learn (as the weekly run has): ``from bertopic import BERTopic`` 3.7-5.8 s, with
    transformers hidden 1.5-2.3 s. Hidden only for the import, and not at all when something already
    imported transformers (the sentence-transformers embedder)."""
    import sys

    if "bertopic" in sys.modules:
        return
    hide = "transformers" not in sys.modules
    if hide:
        sys.modules["transformers"] = None  # type: ignore[assignment]  # import raises ModuleNotFoundError
    try:
        import bertopic  # noqa: F401
    finally:
        if hide:
            del sys.modules["transformers"]


def _make_representation(embeddings: np.ndarray, top_n: int):
    import_bertopic()
    from bertopic.representation._base import BaseRepresentation

    class EmbeddingMMR(BaseRepresentation):
        """MMR keyword re-ranking from precomputed document embeddings (no embedding model)."""

        def __init__(self, top_n_words: int = 10, diversity: float = 0.3, max_docs: int = 2000) -> None:
            self.top_n_words = top_n_words
            self.diversity = diversity
            self.max_docs = max_docs

        def extract_topics(self, topic_model, documents, c_tf_idf, topics):
            vocab = topic_model.vectorizer_model.vocabulary_
            rng = np.random.default_rng(0)
            out = {}
            for topic, words in topics.items():
                cands = [(w, float(s)) for w, s in words if w and w in vocab and s > 0]
                sel = documents.loc[documents.Topic == topic]
                ids = sel.ID.to_numpy()
                docs = sel.Document.to_numpy()
                if len(ids) > self.max_docs:
                    pick = np.sort(rng.choice(len(ids), size=self.max_docs, replace=False))
                    ids, docs = ids[pick], docs[pick]
                if not cands or len(ids) == 0:
                    out[topic] = words[: self.top_n_words]
                    continue
                occ = topic_model.vectorizer_model.transform(list(docs))[:, [vocab[w] for w, _ in cands]]
                emb = embeddings[ids]
                centroid = normalise(emb.mean(axis=0))
                out[topic] = _mmr_terms(cands, occ, emb, centroid, self.top_n_words, self.diversity)
            return out

    return EmbeddingMMR(top_n_words=top_n)


def fit_topics(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    embeddings: np.ndarray,
    *,
    min_topic_size: int = 8,
    max_topics: int = 40,
    min_topics: int | None = None,
    seed: int = 0,
    drop_terms: Sequence[str] = (),
) -> list[FoundTopic]:
    """Cluster one batch into topics; every document belongs to exactly one topic.

    * ``n == 0`` -> ``[]``.
    * ``n < 2 * min_topic_size`` (too few to split) -> one topic holding every document
      (keywords from the same c-TF-IDF/MMR code, without importing BERTopic).
    * otherwise BERTopic with precomputed embeddings, no UMAP, silhouette-chosen k-means with at
      least ``min_topics`` clusters (default :func:`min_topics_for`; 2 lets silhouette decide).
    Topics are numbered by size (0 = largest). Deterministic for a given ``seed``.
    Labels are phrases the members wrote (:func:`label_groups`); ``drop_terms`` (catalogue terms)
    never appear in them.
    """
    n = len(texts)
    if len(tokens) != n or len(embeddings) != n:
        raise ValueError(f"texts/tokens/embeddings differ in length: {n}, {len(tokens)}, {len(embeddings)}")
    if n == 0:
        return []
    min_topic_size = max(int(min_topic_size), 1)
    min_k = min_topics_for(n) if min_topics is None else max(int(min_topics), 2)
    emb = normalise(np.asarray(embeddings, dtype=np.float32))
    has_terms = any(topic_terms(t, bigrams=False) for t in tokens)

    if n < 2 * min_topic_size or max_topics < 2 or not has_terms:
        labels = (
            np.zeros(n, dtype=int)
            if n < 2 * min_topic_size or max_topics < 2
            else _kmeans_labels(emb, min_topic_size, max_topics, seed, min_k)
        )
        kws = describe_groups(tokens, labels, emb, seed=seed)
        return _build(emb, labels, kws, label_groups(texts, tokens, labels, emb, kws, drop_terms=drop_terms))

    import_bertopic()
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.vectorizers import ClassTfidfTransformer
    from sklearn.feature_extraction.text import CountVectorizer

    model = BERTopic(
        language="multilingual",  # "english" would strip every non-ASCII character before c-TF-IDF
        embedding_model=None,
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=_ChosenKMeans(min_size=min_topic_size, max_k=max_topics, seed=seed, min_k=min_k),
        vectorizer_model=CountVectorizer(analyzer=_analyze_joined),
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        representation_model=_make_representation(emb, top_n=10),
        top_n_words=10,
        calculate_probabilities=False,
        verbose=False,
    )
    docs = [_bertopic_doc(t) for t in tokens]
    topics, _ = model.fit_transform(docs, embeddings=emb)
    labels = np.asarray(topics, dtype=int)
    kws = {int(t): tuple(w for w, s in model.get_topic(t) or [] if w and s > 0) for t in np.unique(labels)}
    return _build(emb, labels, kws, label_groups(texts, tokens, labels, emb, kws, drop_terms=drop_terms))


def _build(
    emb: np.ndarray, labels: np.ndarray, kws: Mapping[int, tuple[str, ...]], names: Mapping[int, str]
) -> list[FoundTopic]:
    ids, counts = np.unique(labels, return_counts=True)
    order = [int(i) for i in ids[np.argsort(-counts, kind="stable")]]
    out = []
    for key, t in enumerate(order):
        members = np.flatnonzero(labels == t)
        centroid = normalise(emb[members].mean(axis=0))
        rep = [int(members[i]) for i in representatives(emb[members], centroid)]
        keywords = tuple(kws.get(t, ()))
        out.append(
            FoundTopic(
                key=key,
                label=names.get(t) or make_label(keywords),
                keywords=keywords,
                centroid=centroid,
                members=tuple(int(i) for i in members),
                representative=tuple(rep),
            )
        )
    return out
