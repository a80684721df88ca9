"""The topic view of a ticket: its text and tokens without product names and batch codes.

Products are their own dimension (topic × product cells), so topics are built without them: "door
won't close" is one topic whether the text names the oven by model or by alias. The topic stage
embeds, clusters and labels this view (``flows.topic_stage``), and the themes sum concepts over it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol, overload

BATCH_CODE = re.compile(r"\b(?:[A-Z]{1,2}\d{3,5}[A-Z]?|\d{2}[A-Z]\d{2,3})\b")


class ProductNames(Protocol):
    """A catalogue product's names (``config.settings.Product``)."""

    @property
    def id(self) -> str: ...
    @property
    def name_zh(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def aliases(self) -> Sequence[str]: ...
    @property
    def models(self) -> Sequence[str]: ...


def product_terms(brand: str, products: Iterable[ProductNames]) -> list[str]:
    """Product names, aliases, models and brand words, longest first: they say *what* product, not
    *what problem*."""
    terms = {brand, *brand.split()}
    for p in products:
        terms.update([p.id, p.name_zh, p.name_en, *p.aliases, *p.models])
    return sorted((t for t in terms if t and len(t) > 1), key=len, reverse=True)


def terms_pattern(terms: list[str]) -> re.Pattern[str]:
    """One pattern for all the terms; Latin terms only as whole words: the brand word "Co" must not
    eat the "co" of "colour" or "cord"."""
    return re.compile(
        "|".join(
            (r"(?<![A-Za-z0-9])" if t[0].isascii() and t[0].isalnum() else "")
            + re.escape(t)
            + (r"(?![A-Za-z0-9])" if t[-1].isascii() and t[-1].isalnum() else "")
            for t in terms
        ),
        re.IGNORECASE,
    )


def view_text(t: str, pattern: re.Pattern[str]) -> str:
    """A text with the terms of ``pattern`` and batch codes blanked out."""
    return BATCH_CODE.sub(" ", pattern.sub(" ", t)) if t else t


def topic_view(
    texts: list[str], tokens: list[list[str]], terms: list[str]
) -> tuple[list[str], list[list[str]]]:
    """Texts and tokens with catalogue terms and batch codes removed, for embedding and labels."""
    if not terms:
        return texts, tokens
    pattern = terms_pattern(terms)
    lowered = {t.lower() for t in terms}
    out_texts = [view_text(t, pattern) for t in texts]
    # each distinct token is tested once (history runs to millions of token occurrences)
    keep: dict[str, bool] = {}

    def kept(w: str) -> bool:
        k = keep.get(w)
        if k is None:
            k = keep[w] = not (
                w.lower() in lowered or BATCH_CODE.fullmatch(w) or pattern.fullmatch(w.replace("_", " "))
            )
        return k

    out_tokens = [[w for w in toks if kept(w)] for toks in tokens]
    return out_texts, out_tokens


class LazyViewTexts(Sequence[str]):
    """:func:`topic_view`'s texts of ``texts``, each computed when it is first read."""

    def __init__(self, texts: list[str], terms: list[str]) -> None:
        self._texts, self._pattern = texts, (terms_pattern(terms) if terms else None)
        self._done: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._texts)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        out = self._done.get(i)
        if out is None:
            t = self._texts[i]
            out = self._done[i] = t if self._pattern is None else view_text(t, self._pattern)
        return out
