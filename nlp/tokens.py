"""spaCy pipelines (blank zh with jieba, blank en with lookup lemmas) and content-token extraction.

Built once per ``Understander``. Tokens are for topic modelling: no stop words, punctuation,
numbers, placeholders or lone Han characters (unless in ``data/keep_single_zh.txt``); catalogue
model codes stay one token in their catalogue spelling.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib import resources

from nlp.entities import PARTS_ZH, ProductIndex, add_entity_ruler
from nlp.normalize import PLACEHOLDER_RE as MEDIA_PLACEHOLDER_RE
from nlp.redact import PLACEHOLDER_RE

_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD_RE = re.compile(r"^[a-z][a-z'\-]*$")


def _read_list(name: str) -> list[str]:
    text = resources.files("nlp").joinpath("data", name).read_text(encoding="utf-8")
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
    """Stands in for the jieba module inside spaCy's ChineseTokenizer; private dictionary, HMM switch."""

    def __init__(self, hmm: bool) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self.tk = jieba.Tokenizer()
        self.tk.initialize()
        self.hmm = hmm

    def add_word(self, word: str) -> None:
        self.tk.add_word(word)

    def cut(self, text: str, cut_all: bool = False):
        return self.tk.cut(text, cut_all=cut_all, HMM=self.hmm)


def build_pipelines(index: ProductIndex, hmm: bool = False):
    """(zh_nlp, en_nlp, Lemmas) with entity rulers for catalogue names, models and parts.

    ``hmm``: jieba's HMM new-word discovery. Off by default: 2-2.5x faster segmentation; domain
    words come from ``data/userdict_zh.txt`` and the catalogue instead.
    """
    import jieba
    import spacy
    from spacy.symbols import ORTH

    jieba.setLogLevel(logging.WARNING)
    zh = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    seg = _JiebaSegmenter(hmm)
    for w in (*user_words(), *PARTS_ZH):
        seg.add_word(w)
    for surface, _pid in index.names:
        seg.add_word(surface)
    for m in index.models:
        seg.add_word(m)
    zh.tokenizer.jieba_seg = seg
    add_entity_ruler(zh, index, "zh")

    en = spacy.blank("en")
    en.add_pipe("lemmatizer", config={"mode": "lookup"})
    en.initialize()  # loads the lookup table from spacy-lookups-data (offline)
    for m in index.models:
        en.tokenizer.add_special_case(m, [{ORTH: m}])
    add_entity_ruler(en, index, "en")
    try:
        table = en.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
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
    """Content tokens of a Doc from either pipeline (lemmatised lower-case Latin words, Han words)."""
    stop = stop_words()
    single = keep_single()
    models: dict[int, tuple[int, str]] = {}
    for ent in doc.ents:
        if ent.label_ == "MODEL":
            models[ent.start] = (ent.end, ent.ent_id_ or ent.text)
    out: list[str] = []
    skip = -1
    for i, tok in enumerate(doc):
        if i < skip:
            continue
        if models and i in models:
            skip, code = models[i]
            out.append(code)
            continue
        text = tok.text
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
