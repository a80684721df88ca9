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
_CONTENT_RE = re.compile(r"[A-Za-z\u4e00-\u9fff]")
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


def build_pipelines(index: ProductIndex, hmm: bool = True):
    """(zh_nlp, en_nlp, lemma_lookup) with entity rulers for catalogue names, models and parts."""
    import spacy
    from spacy.symbols import ORTH

    import jieba

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
    except (KeyError, ValueError):  # pragma: no cover
        table = {}
    return zh, en, table


def token_text(text: str, index: ProductIndex) -> str:
    """What the tokenizer sees: placeholders dropped, model codes in catalogue spelling."""
    if "[" in text:
        text = PLACEHOLDER_RE.sub(" ", text)
        text = MEDIA_PLACEHOLDER_RE.sub(" ", text)
    return index.finder.canonicalise(text)


def content_tokens(doc, lang: str, lemma_table) -> tuple[str, ...]:
    stop = stop_words()
    single = keep_single()
    out: list[str] = []
    for tok in doc:
        if tok.ent_type_ == "MODEL":
            out.append(tok.text.upper())
            continue
        if tok.is_space or tok.is_punct or tok.like_num:
            continue
        text = tok.text
        if not _CONTENT_RE.search(text):
            continue
        if _HAN_RE.match(text):
            if text in stop:
                continue
            if len(text) == 1 and text not in single:
                continue
            out.append(text)
            continue
        w = tok.lemma_.lower() if lang == "en" and tok.lemma_ else text.lower()
        if lang != "en":
            w = lemma_table.get(w, w) if hasattr(lemma_table, "get") else w
        if len(w) < 2 or w in stop or not _LATIN_WORD_RE.match(w):
            continue
        out.append(w)
    return tuple(out)
