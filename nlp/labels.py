"""Topic labels a meeting reads: a short phrase that the topic's customers actually wrote.

Pure code over values.  :func:`phrase_label` picks, among the clauses and sub-clauses the members
wrote ("滤芯接口漏水", "door won't close"), the one that best names the topic:

* **candidates**: each text is cut into clauses on punctuation, placeholders left by redaction
  ("[PHONE]", "[图片]"), URLs/handles and clause words (但是 / 所以 / because / but ...); Chinese
  candidates are spans of 2-10 characters that start and end on a word of the ticket's tokens (or
  on the clause's edge), English ones runs of 2-6 words that start and end on a content word.
  Leading fillers (我 / 就 / 感觉 / the / my) and trailing particles (了 / 啊) are trimmed; a
  negation right before the span is kept ("不加热", never "加热").  Candidates with digits,
  placeholders or a catalogue term (``drop_terms``: product names, models, the brand -- the
  product is its own dimension of the brief) are dropped.
* **keywords of the core**: the topic's keywords are kept for scoring only when they are about
  the topic's core -- the first half of ``texts``, which the caller orders most typical first (by
  similarity to the centroid).  A term that a few unrelated tickets on the topic's edge bring in
  ("椅子", chair, under an oven door) is rarer in the core than on the edge and is dropped, as are
  stop words, single characters and generic words ("质量", "problem").
* **score**: how much of the topic the phrase names (the summed member share of the core keywords
  it contains) times the square root of the share of members who wrote it.  A phrase must be
  written by at least two members (and 2% of them), contain one of the three leading keywords and
  not be merely evaluative ("太差了", "不好", "terrible"); a lone keyword is a weaker label than a
  phrase.  Ties are broken by length, then text: the result is deterministic.
* **stability**: a ``previous`` machine label that is still a good candidate (>= 75% of the best
  score) is kept, so a topic's name does not flicker from week to week.

No phrase good enough -> the keyword label (:func:`nlp.topics.make_label` over the core keywords).
:func:`topic_label` labels a topic with tickets in two languages in both (:func:`bilingual_label`,
the one place such a label is rendered).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from voc.nlp.label_terms import LABEL_STOPWORDS, core_terms, is_label_term, make_label
from voc.nlp.normalize import PLACEHOLDER_RE as MEDIA_PLACEHOLDER_RE
from voc.nlp.redact import PLACEHOLDER_RE

__all__ = [
    "BILINGUAL_SEP",
    "bilingual_label",
    "core_keywords",
    "phrase_label",
    "split_bilingual",
    "topic_label",
]

ZH_MAX, EN_MAX = 10, 6  # longest candidate: characters (zh), words (en)
MAX_DOCS = 400  # texts read per topic (the most typical first)
MAX_CHARS = 1500  # characters read per text
MIN_SUPPORT = 0.02  # a phrase is written by at least this share of the members (and >= 2 of them)
KEEP_PREVIOUS = 0.75  # a previous label within this share of the best score stays
SINGLE_WORD = 0.6  # score factor of a Chinese candidate that is one keyword and nothing more
WHOLE_CLAUSE = 1.1  # score factor of a candidate its writers mostly wrote as a clause of its own
BILINGUAL_SEP = " / "
BILINGUAL_MIN = 0.2  # each language needs this share of a topic's texts (and 3) for a bilingual label

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_URL_RE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+|@\w+|#\w+", re.I)
_TAG_RE = re.compile(r"\[[^\[\]\s]{1,12}\]")  # any other bracketed tag, e.g. a masked code
_PUA_RE = re.compile("[\ue000-\uf8ff]")
# clause breaks: punctuation (not the apostrophe or hyphen inside English words)
_PUNCT_RE = re.compile(
    r"[，。！？；：、,.!?;:…~～\n\r\t()（）\[\]【】{}<>《》“”\"‘`「」『』/\\|*=+•·—–_^]+|--+|\s-\s"
)
_ZH_CLAUSE_WORDS = (
    "但是",
    "可是",
    "不过",
    "而且",
    "并且",
    "然后",
    "所以",
    "因为",
    "结果",
    "于是",
    "另外",
    "虽然",
    "尽管",
    "如果",
    "只是",
    "导致",
    "甚至",
    "以至于",
    "的时候",
    "时候",
)
_ZH_CLAUSE_RE = re.compile("|".join(_ZH_CLAUSE_WORDS) + "|(?<!不)但")
_EN_CLAUSE_WORDS = frozenset(
    "but because so then when after since although though however while which if until before unless whereas "
    "cause cuz coz".split()
)
_EN_WORD_RE = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")

# edges: what a label neither starts nor ends with
_ZH_LEAD = sorted(
    """我们 我的 我家 我 你们 你 他们 他 她 它 这个 那个 这款 那款 这次 这种 这 那 就是 就 都 也 还是 还 又 而 而且
    但是 但 可是 不过 然后 所以 因为 结果 并且 真的 真是 感觉 觉得 发现 说 是 的 了 在 把 被 给 让 跟 和 与 连 居然 竟然
    简直 实在 确实 其实 总是 老是 一直 已经 现在 刚 才 竟 并 很 太 非常 特别 超级 有点 有些 比较 十分 挺 好像 可能 怎么
    怎么会 为什么 为啥 啊 哎 唉 呃 嗯 哦 额 亲 请问 请 麻烦 希望 建议""".split(),
    key=len,
    reverse=True,
)
_ZH_TRAIL = sorted(
    "越来越 一直 总是 老是 有点 有些 很 太 非常 特别 比较 十分 挺 都 也 还 就 又 了 的 啊 吧 呢 吗 呀 哦 嘛 啦 哈 呵呵 哈哈 嘿嘿 等 等等 之类 什么的 啥的 么 咯 喽 哟 噢 耶 哇 呐 诶 额 地 得".split(),
    key=len,
    reverse=True,
)
_ZH_LEAD_RE = re.compile("^(?:" + "|".join(map(re.escape, _ZH_LEAD)) + ")+")
_ZH_TRAIL_RE = re.compile("(?:" + "|".join(map(re.escape, _ZH_TRAIL)) + ")+$")
_ZH_NEG = ("没有", "不能", "不会", "不太", "不够", "无法", "不", "没", "无", "未", "别", "难")
_EN_NEG = frozenset(
    "not no never nothing nobody nowhere cannot can't won't don't doesn't didn't isn't wasn't aren't weren't "
    "haven't hasn't hadn't couldn't shouldn't wouldn't cant wont dont doesnt didnt isnt wasnt arent havent hasnt "
    "couldnt shouldnt wouldnt".split()
)
_EN_EDGE = (
    LABEL_STOPWORDS
    | frozenset(
        "i'm i've i'd i'll you're you've it's that's there's what's he's she's we're they're let's im ive u ur "
        "really still even ever already actually literally just now again anymore today yesterday tomorrow "
        "day days week weeks month months year years hour hours minute minutes time times "
        "like also too much many lot lots way thing things something anything everything someone anyone".split()
    )
) - _EN_NEG
_ZH_FUNC = frozenset(
    "的了我你他她它们就都也还又很太是在和与把被给让说这那啊吧呢吗有没不会能要去到对个着过地得么呀哦嘛啦"
)
_NEG_AUX = frozenset(
    "can can't could couldn't will won't would wouldn't do don't does doesn't did didn't".split()
)

# evaluative words: a label must name the problem, not only judge it
_GENERIC_ZH = frozenset(
    """差 太差 很差 好差 超差 极差 差劲 差评 不好 不太好 很不好 不行 不怎么样 垃圾 失望 很失望 太失望 无语 郁闷 生气 气人
    后悔 不满意 不满 一般 很一般 糟糕 恶心 烂 太烂 很烂 坑 坑人 坑爹 骗人 上当 上当受骗 不值 不值得 不推荐 不建议 问题
    有问题 毛病 质量 质量差 质量太差 质量很差 质量不好 质量不行 东西 服务 态度 体验 感受 心情 东东 产品 商品 宝贝 一次
    第一次 第二次 以后 再也 不会 再买 购买 买 购物 客服 售后 我家 家里 一下 一点 有点 怎么 怎么办 为什么 告知 咨询 请问
    投诉 建议 希望 麻烦 处理 解决 联系 不错 满意 很好 好评 喜欢 推荐 好用 还行 挺好 可以 值得 支持 一般般""".split()
)
_GENERIC_EN = frozenset(
    """bad terrible awful worst horrible poor disappointed disappointing disappointment unacceptable ridiculous
    annoying annoyed frustrating frustrated useless rubbish crap shit shitty fuck fucking damn hate love good great
    nice issue issues problem problems help please thanks thank question questions experience lol lmao wtf omg
    guy guys people time day days week weeks month months year years
    says said say saying told tell tells label labels sticker batch batches serial number code""".split()
)
# (the last line: how a customer identifies the unit - "the label says batch B2402", "serial number" -
# frames a quote and names no problem; "label peeling" keeps its label through "peeling")


# --------------------------------------------------------------------------------------------
# Bilingual labels
# --------------------------------------------------------------------------------------------
def bilingual_label(zh: str | None, en: str | None) -> str:
    """One label for a theme or topic with tickets in both languages: "滤芯接口漏水 / leaking at the
    filter".  Either side may be missing (then the other alone); equal sides are shown once; a side
    that is itself a " / " keyword list is joined with " | " so the two languages stay apart."""
    zh, en = (zh or "").strip(), (en or "").strip()
    if not zh or not en or zh.lower() == en.lower():
        return zh or en
    sep = " | " if BILINGUAL_SEP in zh or BILINGUAL_SEP in en else BILINGUAL_SEP
    return f"{zh}{sep}{en}"


def split_bilingual(label: str) -> list[str]:
    """The parts of a label written by :func:`bilingual_label` (a keyword label: its keywords)."""
    parts = label.split(" | ") if " | " in label else label.split(BILINGUAL_SEP)
    return [p.strip() for p in parts if p.strip()]


# --------------------------------------------------------------------------------------------
# Text -> clauses
# --------------------------------------------------------------------------------------------
def _is_zh(text: str) -> bool:
    """Mostly Chinese: more Han characters than Latin words."""
    han = len(_CJK_RE.findall(text))
    return han > 0 and han >= len(_EN_WORD_RE.findall(text.lower()))


def _clean(text: str) -> str:
    t = text[:MAX_CHARS].replace("’", "'").replace("‘", "'")
    t = PLACEHOLDER_RE.sub("，", t)
    t = MEDIA_PLACEHOLDER_RE.sub("，", t)
    t = _URL_RE.sub("，", t)
    t = _TAG_RE.sub("，", t)
    return _PUA_RE.sub("，", t).lower()


def _zh_clauses(text: str) -> list[str]:
    out: list[str] = []
    for part in _PUNCT_RE.split(text):
        # whitespace inside Chinese text is where a catalogue term or a code was removed: a break
        for piece in re.split(r"\s+", part):
            out += [c for c in _ZH_CLAUSE_RE.split(piece) if c]
    return out


def _en_clauses(text: str) -> list[list[str]]:
    out: list[list[str]] = []
    for part in _PUNCT_RE.split(text):
        cur: list[str] = []
        for w in _EN_WORD_RE.findall(part):
            if w in _EN_CLAUSE_WORDS:
                if cur:
                    out.append(cur)
                cur = []
            else:
                cur.append(w)
        if cur:
            out.append(cur)
    return out


@lru_cache(maxsize=200_000)
def _trim_zh(s: str) -> str:
    """Without leading fillers (我 / 就 / 感觉 ...) and trailing particles and adverbs (了 / 啊 / 越来越)."""
    return _ZH_TRAIL_RE.sub("", _ZH_LEAD_RE.sub("", s))


# --------------------------------------------------------------------------------------------
# Keywords
# --------------------------------------------------------------------------------------------
def _en_same(a: str, b: str) -> bool:
    """Same English word up to inflection (keywords are lemmas, phrases are what was written)."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < 4:
        return long_ in (short + "s", short + "es")
    cp = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        cp += 1
    return cp >= max(4, len(short) - 2) and len(long_) - cp <= 4


@dataclass(frozen=True)
class _Kw:
    text: str  # as matched: zh without spaces, en lower-case words joined by spaces
    words: tuple[str, ...]  # en words (empty for zh)
    weight: float  # share of the (language's) members containing it


def _kw_form(kw: str, zh: bool) -> tuple[str, tuple[str, ...]] | None:
    k = kw.strip().lower().replace("_", " ")
    if zh:
        if not _CJK_RE.search(k):
            return None
        return k.replace(" ", ""), ()
    if _CJK_RE.search(k):
        return None
    ws = tuple(w for w in k.split() if w)
    return (" ".join(ws), ws) if ws else None


def _has_drop(s: str, drops: Sequence[str]) -> bool:
    for d in drops:
        if _CJK_RE.search(d):
            if d in s:
                return True
        elif re.search(r"(?<![a-z0-9])" + re.escape(d) + r"(?![a-z0-9])", s):
            return True
    return False


def _doc_has(kw: _Kw, text: str, toks: frozenset[str]) -> bool:
    if not kw.words:
        return _zh_in(kw.text, text)
    return all(w in toks for w in kw.words) or all(any(_en_same(w, t) for t in toks) for w in kw.words)


def core_keywords(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    keywords: Sequence[str],
    *,
    drop_terms: Sequence[str] = (),
    zh: bool | None = None,
    edge_ratio: float = 0.5,
) -> list[tuple[str, float]]:
    """The keywords that speak for the topic's core, with the share of ``texts`` containing each.

    ``texts`` are ordered most typical first; the first half is the core.  A keyword is dropped when
    it is not a label term, is generic, carries a catalogue term, is found in fewer than two core
    texts, or its share in the core is below ``edge_ratio`` times its share on the edge (terms
    brought in by a few unrelated tickets at the topic's edge).  ``zh``: only Chinese (True) or
    only English (False) keywords; None = both.
    """
    drops = [d.lower() for d in drop_terms if d and len(d) > 1]
    n = len(texts)
    if n == 0:
        return []
    low = [_clean(t) for t in texts]
    toks = [frozenset(w.lower() for w in tk) for tk in tokens] if tokens else [frozenset()] * n
    n_core = min(n, max(5, math.ceil(n / 2)))
    out: list[tuple[str, float]] = []
    seen: set[str] = set()
    for kw in keywords:
        langs = [zh] if zh is not None else [bool(_CJK_RE.search(kw))]
        form = _kw_form(kw, langs[0])
        if form is None or form[0] in seen:
            continue
        text, words = form
        if (
            not is_label_term(text.replace(" ", ""))
            or _generic(text)
            or all(_generic(w) for w in words or (text,))
        ):
            continue
        if _has_drop(text, drops):
            continue
        k = _Kw(text, words, 0.0)
        hits = [_doc_has(k, low[i], toks[i]) for i in range(n)]
        if not core_terms(np.array(hits, dtype=bool)[:, None], n_core, edge_ratio=edge_ratio)[0]:
            continue
        seen.add(text)
        out.append((kw, sum(hits) / n))
    return out


# --------------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------------
def _zh_spans(clause: str, toks: Sequence[str], kws: Sequence[_Kw]) -> set[str]:
    """Trimmed spans of a clause that contain a keyword and start/end on word or clause edges.

    Word edges come from the ticket's tokens (and the keywords found in the clause); a negation
    right before a word belongs to it ("不加热"), and so does a verb the tokenizer dropped before a
    negated complement ("找" in "找不到")."""
    starts, ends = {0}, {len(clause)}
    inside: set[int] = set()
    pos = 0
    for t in toks:
        if not t or not _CJK_RE.search(t):
            continue
        j = clause.find(t, pos)
        if j < 0:
            continue
        pos = j + len(t)
        starts.add(j)
        ends.add(j + len(t))
        inside.update(range(j, j + len(t)))
    hits = []
    for k in kws:
        j = clause.find(k.text)
        while j >= 0:
            hits.append((j, j + len(k.text)))
            starts.add(j)
            ends.add(j + len(k.text))
            j = clause.find(k.text, j + 1)
    if not hits:
        return set()
    # a negation right before a word belongs to it ("不加热", never "加热"), and so does a verb the
    # tokenizer dropped before a negated complement ("找不到", never "不到")
    for st in sorted(starts):
        at = st
        for ng in _ZH_NEG:
            if at >= len(ng) and clause.startswith(ng, at - len(ng)):
                at -= len(ng)
                break
        if (
            clause.startswith(("不", "没"), at)
            and at > 0
            and at - 1 not in inside
            and _lone_char(clause[at - 1])
            and clause[max(0, at - 2) : at] not in _zh_stop()
        ):
            at -= 1
        if at != st:
            starts.discard(st)
            starts.add(at)
    out: set[str] = set()
    ss, es = sorted(starts), sorted(ends)
    for a, b in hits:
        for st in ss:
            if st > a or a - st > ZH_MAX:
                continue
            for e in es:
                if e < b:
                    continue
                if e - st > ZH_MAX + 4:
                    break
                span = _trim_zh(clause[st:e])
                if 2 <= len(span) <= ZH_MAX:
                    out.add(span)
    return out


@lru_cache(maxsize=1)
def _zh_stop() -> frozenset[str]:
    """Two-character Chinese stop words (the project's list; no spaCy import)."""
    text = resources.files("voc.nlp").joinpath("data", "stopwords_zh.txt").read_text(encoding="utf-8")
    words = {w.strip() for w in text.splitlines() if w.strip() and not w.lstrip().startswith("#")}
    return frozenset(w for w in words if len(w) == 2 and _CJK_RE.search(w))


def _lone_char(c: str) -> bool:
    return bool(_CJK_RE.match(c)) and c not in _ZH_FUNC


def _en_spans(words: Sequence[str], is_kw_word: dict[str, bool]) -> set[str]:
    """Runs of 2-6 words that contain a keyword word and start and end on a content word (a
    negation or a negated auxiliary may start one: "won't close")."""
    out: set[str] = set()
    n = len(words)
    for i in range(n):
        first = words[i]
        if first in _EN_EDGE and first not in _NEG_AUX:
            continue
        if any(c.isdigit() for c in first):
            continue
        for j in range(i + 2, min(n, i + EN_MAX) + 1):
            span = words[i:j]
            last = span[-1]
            if any(c.isdigit() for c in last):
                break
            if last in _EN_EDGE or last in _EN_NEG or last in _NEG_AUX:
                continue
            if not any(is_kw_word.get(w, False) for w in span):
                continue
            if first in _NEG_AUX and span[1] not in _EN_NEG and not first.endswith("n't"):
                continue  # "can close" is not a complaint; "can't close" / "won't close" are
            out.add(" ".join(span))
    return out


def _zh_in(kw: str, s: str) -> bool:
    """A Chinese keyword in ``s``: as written, or, for a keyword joined from two adjacent tokens
    ("保修期多久"), both halves in order ("保修期是多久")."""
    if kw in s:
        return True
    for i in range(2, len(kw) - 1):
        j = s.find(kw[:i])
        if j >= 0 and kw[i:] in s[j + i :]:
            return True
    return False


def _matches(phrase: str, k: _Kw, zh: bool) -> bool:
    if zh:
        return _zh_in(k.text, phrase)
    pw = phrase.split()
    return all(any(_en_same(w, p) for p in pw) for w in k.words)


def _covered(phrase: str, kws: Sequence[_Kw], zh: bool) -> list[tuple[_Kw, float]]:
    """The keywords in ``phrase``, each with the part of its weight not already counted: heavier
    keywords first; a keyword counts for its characters (words) no heavier keyword in the phrase
    has ("水壶漏水" after "漏水" and "水壶": nothing; "底部渗水" after "渗水": half)."""
    hit = [k for k in kws if _matches(phrase, k, zh)]
    hit.sort(key=lambda k: (-k.weight, len(k.text), k.text))  # parts before the compounds made of them
    out: list[tuple[_Kw, float]] = []
    for k in hit:
        units = list(k.text) if zh else list(k.words)
        done = [u for u in units if any((u in o.text) if zh else (u in o.words) for o, _ in out)]
        share = 1 - len(done) / len(units)
        if share > 0:
            out.append((k, k.weight * share))
    return out


_DEGREE_RE = re.compile(
    "真心|真的|真是|实在|简直|特别|超级|极其|非常|有点|比较|十分|太|很|真|好|最|巨|了|啊|呀|吧"
)


def _generic(word: str) -> bool:
    """An evaluative or empty word: "垃圾", "真心垃圾", "质量太差", "terrible"."""
    if word in _GENERIC_ZH or word in _GENERIC_EN:
        return True
    if _CJK_RE.search(word):
        core = _DEGREE_RE.sub("", word)
        return not core or core in _GENERIC_ZH
    return False


def _is_generic_phrase(phrase: str, zh: bool, covered: Sequence[_Kw]) -> bool:
    if zh:
        if _generic(phrase):
            return True
    else:
        content = [w for w in phrase.split() if w not in _EN_EDGE and w not in _EN_NEG and w not in _NEG_AUX]
        if all(w in _GENERIC_EN for w in content):
            return True
    return all(_generic(k.text) for k in covered)


def _best_phrase(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    keywords: Sequence[tuple[str, float]],
    zh: bool,
    drops: Sequence[str],
    previous: Iterable[str],
) -> str | None:
    n = len(texts)
    kws: list[_Kw] = []
    for kw, share in keywords:
        form = _kw_form(kw, zh)
        if form is not None:
            kws.append(_Kw(form[0], form[1], share))
    if n < 2 or not kws:
        return None
    lead = kws[:3]
    df: Counter[str] = Counter()
    whole: Counter[str] = Counter()  # candidates that are a whole clause (trimmed) of a text
    kw_words = {w for k in kws for w in k.words}
    is_kw_word: dict[str, bool] = {}
    for i, text in enumerate(texts):
        low = _clean(text)
        cands: set[str] = set()
        if zh:
            toks = [t.lower() for t in tokens[i]] if i < len(tokens) else []
            for clause in _zh_clauses(low):
                if any(k.text in clause for k in kws):
                    cands |= _zh_spans(clause, toks, kws)
                    whole[_trim_zh(clause)] += 1
        else:
            for words in _en_clauses(low):
                for w in words:
                    if w not in is_kw_word:
                        is_kw_word[w] = any(_en_same(w, k) for k in kw_words)
                cands |= _en_spans(words, is_kw_word)
                whole[" ".join(words)] += 1
        df.update(cands)
    min_df = max(2, math.ceil(MIN_SUPPORT * n))
    scored: dict[str, float] = {}
    single: set[str] = set()
    for phrase, count in df.items():
        if count < min_df or _has_drop(phrase, drops) or any(c.isdigit() for c in phrase):
            continue
        if zh and not _CJK_RE.search(phrase):
            continue
        cov = _covered(phrase, kws, zh)
        ks = [k for k, _ in cov]
        if not cov or not any(_matches(phrase, k, zh) for k in lead) or _is_generic_phrase(phrase, zh, ks):
            continue
        score = sum(w for _, w in cov) * math.sqrt(count / n)
        if zh and len(ks) == 1 and phrase == ks[0].text:
            score *= SINGLE_WORD
            single.add(phrase)
        if whole[phrase] * 2 >= count:  # mostly written as a clause of its own
            score *= WHOLE_CLAUSE
        scored[phrase] = score
    if not scored:
        return None
    best = min(scored, key=lambda p: (-scored[p], -whole[p], len(p), p))
    if best in single:  # one keyword names the topic best: no phrase does -> the keyword label
        return None
    for prev in previous:
        p = prev.strip().lower() if not zh else prev.strip()
        if p in scored and scored[p] >= KEEP_PREVIOUS * scored[best]:
            return p
    return best


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------
def phrase_label(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    keywords: Sequence[str],
    lang: str | None = None,
    *,
    drop_terms: Sequence[str] = (),
    previous: str | None = None,
    fallback: bool = True,
    max_docs: int = MAX_DOCS,
) -> str:
    """The label of one topic: the best phrase its members wrote, else its keyword label.

    ``texts`` / ``tokens``: the topic's members, most typical first (the caller orders them by
    similarity to the centroid); at most ``max_docs`` are read.  ``keywords``: the topic's
    keywords, best first.  ``lang``: 'zh' or 'en' (only that language's texts and phrases); None =
    the language most of the texts are written in.  ``drop_terms``: catalogue terms a label must not
    carry.  ``previous``: the topic's current machine label, kept while it is still a good phrase.
    ``fallback=False`` returns "" instead of the keyword label when no phrase is good enough.
    """
    texts, tokens = list(texts[:max_docs]), list(tokens[:max_docs]) if tokens else []
    zh_flags = [_is_zh(t) for t in texts]
    if lang is None:
        zh = sum(zh_flags) * 2 >= len(texts) if texts else True
    else:
        zh = lang.lower().startswith("zh")
    sel = [i for i, f in enumerate(zh_flags) if f == zh]
    t_sel = [texts[i] for i in sel]
    k_sel = [tokens[i] if i < len(tokens) else () for i in sel]
    drops = sorted({d.lower() for d in drop_terms if d and len(d.strip()) > 1}, key=len, reverse=True)
    core = core_keywords(t_sel, k_sel, keywords, drop_terms=drops, zh=zh)
    prev = split_bilingual(previous) if previous else []
    best = _best_phrase(t_sel, k_sel, core, zh, drops, prev)
    if best is not None:
        return best
    if not fallback:
        return ""
    named = [k for k in keywords if not _has_drop(k.lower(), drops)]
    kept = [k for k, _ in core] or [k for k in named if not _generic(k.lower())] or named
    return make_label(kept)


def topic_label(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    keywords: Sequence[str],
    *,
    drop_terms: Sequence[str] = (),
    previous: str | None = None,
    fallback: bool = True,
    max_docs: int = MAX_DOCS,
) -> str:
    """:func:`phrase_label` of a topic, in both languages when it has Chinese and English members
    (each at least ``BILINGUAL_MIN`` of them and 3): "滤芯接口漏水 / leaking at the filter"."""
    texts, tokens = list(texts[:max_docs]), list(tokens[:max_docs]) if tokens else []
    n = len(texts)
    n_zh = sum(_is_zh(t) for t in texts)
    need = max(3, math.ceil(BILINGUAL_MIN * n))
    if n_zh >= need and n - n_zh >= need:
        zh, en = (
            phrase_label(
                texts,
                tokens,
                keywords,
                lang,
                drop_terms=drop_terms,
                previous=previous,
                fallback=False,
                max_docs=max_docs,
            )
            for lang in ("zh", "en")
        )
        if zh or en:
            return bilingual_label(zh, en)
    return phrase_label(
        texts,
        tokens,
        keywords,
        None,
        drop_terms=drop_terms,
        previous=previous,
        fallback=fallback,
        max_docs=max_docs,
    )
