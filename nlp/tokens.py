"""spaCy pipelines (blank zh with jieba, blank en with lookup lemmas) and content-token extraction.

Built once per ``Understander``. Tokens are for topic modelling: no stop words, punctuation,
numbers, placeholders or lone Han characters (unless in ``data/keep_single_zh.txt``); catalogue
model codes stay one token in their catalogue spelling.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from voc.nlp.entities import PARTS_ZH, ProductIndex, add_entity_ruler
from voc.nlp.normalize import PLACEHOLDER_RE as MEDIA_PLACEHOLDER_RE
from voc.nlp.redact import PLACEHOLDER_RE

_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD_RE = re.compile(r"^[a-z][a-z'\-]*$")


def _read_list(name: str) -> list[str]:
    text = resources.files("voc.nlp").joinpath("data", name).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP
    from spacy.lang.zh.stop_words import STOP_WORDS as ZH_STOP

    words = set(_read_list("stopwords_zh.txt")) | set(_read_list("stopwords_en.txt"))
    words |= {w.lower() for w in EN_STOP}
    # spaCy's zh list is long and includes content words; keep only its multi-char function words
    words |= {w for w in ZH_STOP if len(w) >= 2 and not re.search(r"[坏漏问题热门电]", w)}
    return frozenset(words)


@lru_cache(maxsize=1)
def keep_single() -> frozenset[str]:
    return frozenset(_read_list("keep_single_zh.txt"))


@lru_cache(maxsize=1)
def user_words() -> tuple[str, ...]:
    return tuple(_read_list("userdict_zh.txt"))


class _JiebaSegmenter:
    """Stands in for the jieba module inside spaCy's ChineseTokenizer; private dictionary, HMM switch.

    Without HMM, ``cut`` is jieba's own algorithm (prefix DAG + max log-probability route over the
    same dictionary). It runs in ``rjieba`` (jieba-rs, the same algorithm in Rust) loaded with this
    tokenizer's exact word frequencies and total (``_rust_jieba``), or, when rjieba is not installed
    or the text holds an ideograph that jieba-rs counts as Han and jieba does not, in Python
    (``_cut_py``: jieba's cut with the log-probabilities computed once instead of per candidate per
    call). Both give ``jieba.Tokenizer.cut``'s words (``tests/test_nlp_understanding.py`` compares
    them, user dictionary included).
    """

    def __init__(self, hmm: bool) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self.tk = jieba.Tokenizer()
        self.tk.initialize()
        self.hmm = hmm
        self._logp: dict[str, float] | None = None
        self._re_han = jieba.re_han_default
        self._re_skip = jieba.re_skip_default
        self._re_eng = jieba.re_eng
        self._rs: Any = None  # the rjieba.Jieba copy of the dictionary, False without rjieba

    def add_word(self, word: str) -> None:
        self.tk.add_word(word)
        self._logp = None
        self._rs = None

    def cut(self, text: str, cut_all: bool = False):
        if self.hmm or cut_all:
            return self.tk.cut(text, cut_all=cut_all, HMM=self.hmm)
        return self._cut(text)

    def _cut(self, text: str) -> list[str]:
        rs = self._rs
        if rs is None:
            rs = self._rs = _rust_jieba(self.tk) or False
        if rs and not _RS_ONLY_HAN_RE.search(text):
            return rs.cut(text, False)
        return self._cut_py(text)

    def _cut_py(self, text: str) -> list[str]:
        if self._logp is None:
            logtotal = math.log(self.tk.total)
            self._logp = {w: math.log(f) - logtotal for w, f in self.tk.FREQ.items() if f}
            self._unknown = 0.0 - logtotal  # log(1) - logtotal, as jieba scores a word not in the dictionary
        out: list[str] = []
        re_han, re_skip = self._re_han, self._re_skip
        for blk in re_han.split(text):
            if not blk:
                continue
            if re_han.match(blk):
                out += self._cut_block(blk)
            else:
                for x in re_skip.split(blk):
                    if re_skip.match(x):
                        out.append(x)
                    else:
                        out += x
        return out

    def _cut_block(self, s: str) -> list[str]:
        freq, logp, unknown = self.tk.FREQ, self._logp, self._unknown
        assert logp is not None
        n = len(s)
        route: list[tuple[float, int]] = [(0.0, 0)] * (n + 1)
        for k in range(n - 1, -1, -1):
            ends = []
            i, frag = k, s[k]
            while i < n and frag in freq:
                if freq[frag]:
                    ends.append(i)
                i += 1
                frag = s[k : i + 1]
            if len(ends) <= 1:
                x = ends[0] if ends else k
                route[k] = (logp.get(s[k : x + 1], unknown) + route[x + 1][0], x)
            else:
                route[k] = max((logp.get(s[k : x + 1], unknown) + route[x + 1][0], x) for x in ends)
        out: list[str] = []
        x, buf, eng = 0, "", self._re_eng
        while x < n:
            y = route[x][1] + 1
            word = s[x:y]
            if len(word) == 1 and eng.match(word):
                buf += word
            else:
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(word)
            x = y
        if buf:
            out.append(buf)
        return out


# Ideographs that jieba-rs puts in its Han blocks but jieba's ``re_han_default`` (U+4E00-U+9FD5) does
# not: a text holding one is cut in Python, so blocks are always jieba's. Outside Han blocks both emit
# every character on its own ("\r\n" as one), so nothing else can differ.
_RS_ONLY_HAN_RE = re.compile("[\u3400-\u4dbf\u9fd6-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
# Never inside a Han block of either library (a private-use character): carries the rest of jieba's total.
_TOTAL_PAD = "\ue000"


def _rust_jieba(tk: Any) -> Any:
    """An ``rjieba.Jieba`` whose no-HMM cut equals ``tk.cut(text, HMM=False)`` on jieba's Han blocks,
    or None if rjieba is not installed.

    The route score of a word is log(freq) - log(total), so both the frequencies and the total must
    be jieba's: jieba's ``add_word`` adds a word's new frequency to the total without taking off an
    old one (and prefixes stay at 0, not words), so the dictionary is loaded from ``tk.FREQ`` as it
    stands and the difference between ``tk.total`` and the sum of the frequencies goes to a word
    that can never be in a block.
    """
    try:
        import rjieba
    except ImportError:  # optional speed-up: the Python cut gives the same words
        return None
    rs = rjieba.Jieba.empty()
    added = 0
    for word, freq in tk.FREQ.items():
        if freq:
            rs.add_word(word, freq, None)
            added += freq
    if tk.total < added:  # pragma: no cover - not jieba's bookkeeping any more: stay in Python
        return None
    if tk.total > added:
        rs.add_word(_TOTAL_PAD, tk.total - added, None)
    return rs


def build_pipelines(index: ProductIndex, hmm: bool = False):
    """(zh_nlp, en_nlp, Lemmas) with entity rulers for catalogue names, models and parts.

    ``hmm``: jieba's HMM new-word discovery. Off by default: 2-2.5x faster segmentation; domain
    words come from ``data/userdict_zh.txt`` and the catalogue instead.
    """
    import jieba
    import spacy
    from spacy.symbols import ORTH

    jieba.setLogLevel(logging.WARNING)
    # The zh tokenizer segments with jieba through ``seg`` below. Built with segmenter "jieba", spaCy
    # would first load jieba's global dictionary (~0.8 s and ~100 MB a process) only for it to be
    # replaced: build it with the default and switch it to jieba with our segmenter.
    zh = spacy.blank("zh")
    seg = _JiebaSegmenter(hmm)
    for w in (*user_words(), *PARTS_ZH):
        seg.add_word(w)
    for surface, _pid in index.names:
        seg.add_word(surface)
    for m in index.models:
        seg.add_word(m)
    zh_tok: Any = zh.tokenizer  # spaCy types it as a plain callable
    zh_tok.segmenter = "jieba"  # spacy.lang.zh.Segmenter.jieba
    zh_tok.jieba_seg = seg
    add_entity_ruler(zh, index, "zh")

    en = spacy.blank("en")
    en.add_pipe("lemmatizer", config={"mode": "lookup"})
    en.initialize()  # loads the lookup table from spacy-lookups-data (offline)
    en_tok: Any = en.tokenizer
    for m in index.models:
        en_tok.add_special_case(m, [{ORTH: m}])
    add_entity_ruler(en, index, "en")
    try:
        lemmatizer: Any = en.get_pipe("lemmatizer")
        table = lemmatizer.lookups.get_table("lemma_lookup")
    except (KeyError, ValueError):  # pragma: no cover - lookups data missing: no lemmas
        table = None
    return zh, en, Lemmas(table)


def token_text(text: str, index: ProductIndex) -> str:
    """What the tokenizer sees: placeholders dropped, model codes in catalogue spelling."""
    if "[" in text:
        text = PLACEHOLDER_RE.sub(" ", text)
        text = MEDIA_PLACEHOLDER_RE.sub(" ", text)
    return index.finder.canonicalise(text)


class Lemmas:
    """English lookup lemmas (spacy-lookups-data table of the lookup-mode lemmatizer), memoised."""

    def __init__(self, table) -> None:
        self.table = table
        self.cache: dict[str, str] = {}

    def __call__(self, word: str) -> str:
        w = self.cache.get(word)
        if w is None:
            w = self.table.get(word, word) if self.table is not None else word
            if not isinstance(w, str):
                w = word
            if len(self.cache) < 200_000:
                self.cache[word] = w
        return w


def content_tokens(doc, lemmas: Lemmas) -> tuple[str, ...]:
    """Content tokens of a spaCy Doc from either pipeline."""
    models = {ent.start: (ent.end, ent.ent_id_ or ent.text) for ent in doc.ents if ent.label_ == "MODEL"}
    return content_words([t.text for t in doc], models, lemmas)


def content_words(
    words: Sequence[str], models: dict[int, tuple[int, str]], lemmas: Lemmas
) -> tuple[str, ...]:
    """Content tokens (lemmatised lower-case Latin words, Han words, model codes) of a word sequence.

    ``models``: start index -> (end index, canonical code) of MODEL entities, kept as one token.
    """
    stop = stop_words()
    single = keep_single()
    out: list[str] = []
    skip = -1
    for i, text in enumerate(words):
        if i < skip:
            continue
        if models and i in models:
            skip, code = models[i]
            out.append(code)
            continue
        if text in stop:
            continue
        c = text[0]
        if "\u4e00" <= c <= "\u9fff":
            if len(text) == 1 and text not in single:
                continue
            out.append(text)
            continue
        low = text.lower()
        if not _LATIN_WORD_RE.match(low):
            continue
        w = lemmas(low)
        if len(w) < 2 or w in stop:
            continue
        out.append(w)
    return tuple(out)


class ZhWords:
    """Words and entities of the zh pipeline without building a spaCy Doc.

    Building Docs (and running the EntityRuler over them) cost about a quarter of ``understand()``
    while only words and the first PRODUCT / MODEL are used. This gives the same words as the
    pipeline's tokenizer (its own jieba segmenter, whitespace dropped) and the same entity spans as
    its EntityRuler: the ruler's own phrase patterns, segmented the same way, matched on lower-cased
    words, longest match first, then leftmost (spaCy's order). ``tests/test_nlp_understanding.py``
    checks both paths agree.
    """

    def __init__(self, zh) -> None:
        self.seg = zh.tokenizer.jieba_seg
        self.first: dict[str, list[tuple[tuple[str, ...], str, str | None]]] = {}
        self.max_len = 1
        for p in zh.get_pipe("entity_ruler").patterns:
            if not isinstance(p["pattern"], str):
                continue
            toks = tuple(w.lower() for w in self.words(p["pattern"]))
            if toks:
                self.first.setdefault(toks[0], []).append((toks, p["label"], p.get("id")))
                self.max_len = max(self.max_len, len(toks))

    def words(self, text: str) -> list[str]:
        return [w for w in self.seg.cut(text) if w and not w.isspace()]

    def entities(self, words: Sequence[str]) -> list[tuple[int, int, str, str | None]]:
        """(start, end, label, id) of non-overlapping entity spans, in text order."""
        found: set[tuple[int, int, str, str | None]] = set()
        first = self.first
        low: list[str] | None = None
        for i, w in enumerate(words):
            cands = first.get(w.lower())
            if not cands:
                continue
            if low is None:
                low = [x.lower() for x in words]
            for toks, label, eid in cands:
                n = len(toks)
                if n == 1 or tuple(low[i : i + n]) == toks:
                    found.add((i, i + n, label, eid))
        if not found:
            return []
        seen: set[int] = set()
        out = []
        for s, e, label, eid in sorted(found, key=lambda m: (m[1] - m[0], -m[0]), reverse=True):
            if s not in seen and e - 1 not in seen:
                out.append((s, e, label, eid))
                seen.update(range(s, e))
        out.sort()
        return out
