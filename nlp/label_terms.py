"""Which tokens may appear in a topic's keywords and labels, and the keyword label (pure).

Shared by the topic engine (``nlp.topics``: c-TF-IDF terms, keywords) and the phrase labels
(``nlp.labels``), which both read these filters; neither imports the other's module for them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

__all__ = ["LABEL_STOPWORDS", "core_terms", "is_label_term", "make_label", "topic_terms"]

# A last line of defence for labels; the tokens module removes stop words upstream.
_ZH_STOP = """
的 了 是 我 也 就 都 还 很 在 和 有 不 没 这 那 你 他 她 它 们 我们 你们 他们 啊 吧 呢 吗 嘛 哦 呀 哈 又 太 个 一个 没有
就是 但是 可以 因为 所以 而且 还是 感觉 真的 真是 这个 那个 这样 那样 什么 怎么 自己 非常 比较 一下 一样 已经 不是 东西
觉得 知道 说 会 能 要 去 到 给 让 被 把 对 与 及 或 等 后 再 才 但 而 如果 虽然 一直 其实 然后 还有 只是 只有 可能 应该
这么 那么 一点 有点 时候 现在 之后 以后 以前 一次 不过 而且 并且 或者 以及 这些 那些 每次 的话 还是 不会 不能 没什么
""".split()
_EN_STOP = """
a an the and or but if of to in on at for with by from as is are was were be been being it its this that these
those i me my mine we our ours you your yours he him his she her hers they them their theirs not no nor do does did
done doing have has had having will would can could should shall may might must am so than then there here about into
out up down over under again further once just also very what which who whom whose when where why how all any both
each few more most other some such only own same too s t don doesn didn isn wasn aren weren won wouldn couldn
shouldn get got gets getting go going goes went let lets im ive id dont cant wont thats its it's i'm i've i'd
yes yeah ok okay hi hello hey please thanks thank via amp xxxx xx xxx because while until after before during
""".split()
LABEL_STOPWORDS: frozenset[str] = frozenset(_ZH_STOP) | frozenset(_EN_STOP) | {"emptydoc"}

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


def _is_cjk(ch: str) -> bool:
    return bool(_CJK_RE.match(ch))


@lru_cache(maxsize=500_000)
def is_label_term(tok: str) -> bool:
    """May ``tok`` appear in keywords/labels?  No stop words, no punctuation or numbers, no
    single characters (in particular no single CJK character), nothing absurdly long."""
    t = tok.strip()
    if len(t) < 2 or len(t) > 40:
        return False
    if t.lower() in LABEL_STOPWORDS:
        return False
    # at least one letter (CJK counts as a letter); this rejects punctuation, numbers, emoji
    if not any(unicodedata.category(c).startswith("L") for c in t):
        return False
    # no token that is mostly punctuation/symbols (e.g. "...!!a")
    bad = sum(1 for c in t if unicodedata.category(c)[0] in "PSZC")
    return bad * 2 < len(t)


def _join_pair(a: str, b: str) -> str:
    return a + b if _is_cjk(a[-1]) and _is_cjk(b[0]) else f"{a} {b}"


def topic_terms(tokens: Sequence[str], bigrams: bool = True) -> list[str]:
    """Unigrams (filtered) plus bigrams of *adjacent* kept tokens; CJK bigrams are written
    without a space ("关 不上" -> "关不上")."""
    toks = [t.strip().replace(" ", "_") for t in tokens]
    keep = [is_label_term(t) for t in toks]
    out = [t for t, k in zip(toks, keep, strict=True) if k]
    if bigrams:
        for i in range(len(toks) - 1):
            if keep[i] and keep[i + 1] and toks[i] != toks[i + 1]:
                out.append(_join_pair(toks[i], toks[i + 1]))
    return out


def make_label(keywords: Sequence[str], max_terms: int = 3, sep: str = " / ") -> str:
    """2-3 top keywords, skipping ones that repeat a chosen one (substring either way)."""
    chosen: list[str] = []
    for kw in keywords:
        if not is_label_term(kw.replace(" ", "")):
            continue
        low = kw.lower()
        if any(low in c.lower() or c.lower() in low for c in chosen):
            continue
        chosen.append(kw)
        if len(chosen) >= max_terms:
            break
    return sep.join(chosen) if chosen else "(no keywords)"


def core_terms(hits: np.ndarray, n_core: int, *, edge_ratio: float = 0.5, min_core: int = 2) -> np.ndarray:
    """Which terms speak for a topic's core.  ``hits``: documents x terms (bool), documents ordered
    most typical first; the first ``n_core`` are the core.  A term is off-core when it is in fewer
    than ``min_core`` core documents (cores of 4+) or its core share is below ``edge_ratio`` times
    its share among the rest: a few unrelated tickets at the topic's edge ("椅子", chair, in an
    oven-door topic) bring it, not the topic."""
    hits = np.asarray(hits, dtype=bool)
    n = hits.shape[0]
    n_core = min(max(n_core, 1), n) if n else 0
    core = hits[:n_core].sum(axis=0)
    edge = hits[n_core:].sum(axis=0)
    ok = np.ones(hits.shape[1], dtype=bool)
    if n_core >= 4:
        ok &= core >= min_core
    if n > n_core:
        ok &= core / n_core >= edge_ratio * edge / (n - n_core)
    return ok
