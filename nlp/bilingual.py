"""Bilingual concept map: Chinese and English complaint words onto shared concept ids.

``concept_tokens(["filter", "leak"])`` and ``concept_tokens(["滤芯", "漏水"])`` both give
``["c:filter", "c:leak"]``, so a Chinese and an English ticket about one defect share features
whatever embedder is used.  Pure code over values; the vocabulary is ``data/bilingual_terms.tsv``
(hand-written: concept id, English terms, Chinese terms), plus the product catalogue's names and
aliases when given (:meth:`TermMap.with_products`).

Matching, per token of a ticket's ``tokens`` (jieba words, lower-case English lemmas):

* a multi-word English term (``"power cord"``) matches consecutive tokens, longest first;
* a known token maps to its concept(s);
* an English word not listed is retried without a common inflection (-s, -es, -ed, -ing);
* a Chinese word not listed (jieba keeps some compounds whole, e.g. ``滤芯漏水``) maps to the listed
  words of two or more characters it contains, longest first, left to right;
* anything else is left unchanged.

Each concept has a *kind* (:func:`concept_kind`), from the section header of the tsv it is listed
under (``# ---- [defect] ...``): what is wrong (:data:`PROBLEM_KINDS`: a defect or failure mode,
safety, food, logistics, service, quality, hotel), what it is wrong with (``part``, ``function``: what
the product does, e.g. heating; ``product``: the catalogue's products too), or neither (``general``:
how upset, how often).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = [
    "KINDS",
    "PREFIX",
    "PROBLEM_KINDS",
    "TermMap",
    "concept_kind",
    "concept_tokens",
    "concepts_of",
    "default_terms",
    "is_concept",
]

PREFIX = "c:"
_MAX_ZH_TERM = 8
KINDS = frozenset(
    {
        "defect",
        "safety",
        "food",
        "logistics",
        "service",
        "quality",
        "hotel",
        "part",
        "function",
        "product",
        "general",
    }
)
PROBLEM_KINDS = frozenset({"defect", "safety", "food", "logistics", "service", "quality", "hotel"})
_KIND_HEADER = re.compile(r"^#\s*-{2,}\s*\[(\w+)\]")


def is_concept(token: str) -> bool:
    return token.startswith(PREFIX)


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _split_terms(cell: str) -> list[str]:
    return [t.strip().lower() for t in cell.split(",") if t.strip()]


@dataclass
class TermMap:
    """term (lower-case; a multi-word term as a tuple of words) -> concept ids (with prefix)."""

    single: dict[str, tuple[str, ...]] = field(default_factory=dict)
    phrases: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # concept id -> kind (see KINDS)

    # -- building ---------------------------------------------------------------------------
    def add(self, concept: str, term: str) -> None:
        cid = concept if concept.startswith(PREFIX) else PREFIX + concept
        words = tuple(term.lower().split())
        if not words:
            return
        if len(words) == 1:
            old = self.single.get(words[0], ())
            if cid not in old:
                self.single[words[0]] = (*old, cid)
            return
        lst = self.phrases.setdefault(words[0], [])
        for i, (w, cs) in enumerate(lst):
            if w == words:
                if cid not in cs:
                    lst[i] = (w, (*cs, cid))
                return
        lst.append((words, (cid,)))
        lst.sort(key=lambda p: -len(p[0]))

    @classmethod
    def from_tsv(cls, text: str) -> TermMap:
        m = cls()
        kind: str | None = None
        for n, line in enumerate(text.splitlines(), 1):
            header = _KIND_HEADER.match(line.strip())
            if header:
                kind = header.group(1)
                if kind not in KINDS:
                    raise ValueError(f"bilingual terms line {n}: unknown concept kind {kind!r}")
                continue
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 3:
                raise ValueError(
                    f"bilingual terms line {n}: expected 3 tab-separated columns, got {len(cols)}"
                )
            concept = cols[0].strip()
            if kind is not None:
                m.kinds[PREFIX + concept] = kind
            for term in (*_split_terms(cols[1]), *_split_terms(cols[2])):
                m.add(concept, term)
        return m

    def copy(self) -> TermMap:
        return TermMap(dict(self.single), {k: list(v) for k, v in self.phrases.items()}, dict(self.kinds))

    def with_products(self, products: Iterable[Any]) -> TermMap:
        """A copy that also maps each catalogue product's names and aliases onto one concept.

        ``products``: objects or mappings with ``id``, ``name_zh``, ``name_en`` and optional
        ``aliases``.  When one of a product's names is already a product-kind term of this map
        (e.g. ``烤箱`` -> ``c:prod_oven``), that concept is reused, so its other spellings join too;
        otherwise the concept is ``c:prod:<id>``.
        """
        m = self.copy()
        for p in products:
            get = p.get if isinstance(p, Mapping) else (lambda k, _p=p: getattr(_p, k, None))
            surfaces = [s for s in (get("name_zh"), get("name_en"), *(get("aliases") or ())) if s]
            known = [c for s in surfaces for c in self.concepts_of_term(s) if c.startswith(PREFIX + "prod")]
            cid = known[0] if known else f"{PREFIX}prod:{get('id')}"
            m.kinds.setdefault(cid, "product")
            for s in surfaces:
                words = s.lower().split()
                if len(words) == 1:
                    m.single[words[0]] = (cid,)  # the catalogue's meaning wins over the generic one
                else:
                    m.add(cid, s)
        return m

    # -- lookup -----------------------------------------------------------------------------
    def kind(self, concept: str) -> str | None:
        """The concept's kind (see :data:`KINDS`); catalogue products (``c:prod:<id>``) are
        ``product``; None for a token that is not a concept or a concept listed without a kind."""
        k = self.kinds.get(concept)
        if k is None and concept.startswith(PREFIX + "prod:"):
            return "product"
        return k

    def concepts_of_term(self, term: str) -> tuple[str, ...]:
        words = tuple(term.lower().split())
        if len(words) == 1:
            return self.single.get(words[0], ())
        for w, cs in self.phrases.get(words[0], ()) if words else ():
            if w == words:
                return cs
        return ()

    def _english(self, low: str) -> tuple[str, ...]:
        cs = self.single.get(low)
        if cs is not None:
            return cs
        for suffix, repl in (
            ("ies", "y"),
            ("es", ""),
            ("s", ""),
            ("ed", ""),
            ("ed", "e"),
            ("ing", ""),
            ("ing", "e"),
        ):
            if low.endswith(suffix) and len(low) - len(suffix) >= 3:
                cs = self.single.get(low[: -len(suffix)] + repl)
                if cs is not None:
                    return cs
        return ()

    def _chinese(self, tok: str) -> tuple[str, ...]:
        cs = self.single.get(tok)
        if cs is not None:
            return cs
        if len(tok) < 3:
            return ()
        out: list[str] = []
        i, n = 0, len(tok)
        while i < n - 1:
            for j in range(min(n, i + _MAX_ZH_TERM), i + 1, -1):
                found = self.single.get(tok[i:j])
                if found:
                    out.extend(c for c in found if c not in out)
                    i = j
                    break
            else:
                i += 1
        return tuple(out)

    def concept_tokens(self, tokens: Sequence[str]) -> list[str]:
        out: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            tok = tokens[i]
            if not tok:
                i += 1
                continue
            low = tok.lower()
            cands = self.phrases.get(low)
            if cands:
                lows = None
                for words, cs in cands:
                    k = len(words)
                    if i + k <= n:
                        if lows is None:
                            lows = [t.lower() for t in tokens[i : i + max(len(w) for w, _ in cands)]]
                        if tuple(lows[:k]) == words:
                            out.extend(cs)
                            i += k
                            break
                else:
                    cands = None
                if cands:
                    continue
            cs = self._chinese(tok) if _is_han(tok[0]) else self._english(low)
            if cs:
                out.extend(cs)
            else:
                out.append(tok)
            i += 1
        return out

    def __bool__(self) -> bool:  # a map is a map even when empty; len() walks every phrase list
        return True

    def __len__(self) -> int:
        return len(self.single) + sum(len(v) for v in self.phrases.values())

    @property
    def concepts(self) -> frozenset[str]:
        cs = {c for v in self.single.values() for c in v}
        cs |= {c for v in self.phrases.values() for _, t in v for c in t}
        return frozenset(cs)


@lru_cache(maxsize=1)
def default_terms() -> TermMap:
    """The bundled vocabulary (``nlp/data/bilingual_terms.tsv``), parsed once per process."""
    text = resources.files("voc.nlp").joinpath("data", "bilingual_terms.tsv").read_text(encoding="utf-8")
    return TermMap.from_tsv(text)


def concept_kind(concept: str, terms: TermMap | None = None) -> str | None:
    """Kind of a concept id (``"c:leak"`` -> ``"defect"``, ``"c:filter"`` -> ``"part"``), else None."""
    return (terms if terms is not None else default_terms()).kind(concept)


def concept_tokens(tokens: Sequence[str], terms: TermMap | None = None) -> list[str]:
    """Each token mapped onto its shared concept id(s) (``c:leak``) when known, others unchanged."""
    return (terms if terms is not None else default_terms()).concept_tokens(tokens)


def concepts_of(tokens: Sequence[str], terms: TermMap | None = None) -> list[str]:
    """Only the concept ids of :func:`concept_tokens` (in order, repeats kept)."""
    return [t for t in concept_tokens(tokens, terms) if t.startswith(PREFIX)]
