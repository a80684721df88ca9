"""A topic's theme profile as sums over its tickets, so the sums of earlier weeks can be kept.

Profiles, coverage, sizes and products are sums of integers per ticket: the sums of the tickets of
earlier weeks plus those of the weeks since give the same :class:`nlp.themes.ThemeTopic` as a read of
every ticket (``flows.topic_stage.theme_topics`` keeps them in the store between runs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from voc.nlp.themes import CONCEPT_PREFIX, OTHER_WEIGHT, ConceptFn, ThemeTopic, product_key
from voc.nlp.topic_view import topic_view
from voc.nlp.topics import is_label_term


@dataclass
class ThemeSums:
    """What a set of tickets adds to a topic's theme profile: tickets, English tickets, concept counts
    (unweighted, as :func:`nlp.themes.concept_profile` sums them), tickets per concept (as
    :func:`nlp.themes.concept_coverage` counts them) and tickets per product key."""

    n: int = 0
    en: int = 0
    profile: Counter[str] = field(default_factory=Counter)
    coverage: Counter[str] = field(default_factory=Counter)
    products: Counter[str] = field(default_factory=Counter)

    def add(self, other: ThemeSums) -> None:
        self.n += other.n
        self.en += other.en
        self.profile.update(other.profile)
        self.coverage.update(other.coverage)
        self.products.update(other.products)

    def sub(self, other: ThemeSums) -> None:
        """Take ``other``'s tickets out again (tickets moved to another topic)."""
        self.n -= other.n
        self.en -= other.en
        for mine, theirs in (
            (self.profile, other.profile),
            (self.coverage, other.coverage),
            (self.products, other.products),
        ):
            mine.subtract(theirs)
            for k in [k for k, v in mine.items() if v <= 0]:
                del mine[k]

    def dump(self) -> list[Any]:
        return [self.n, self.en, dict(self.profile), dict(self.coverage), dict(self.products)]

    @classmethod
    def load(cls, v: list[Any]) -> ThemeSums:
        return cls(int(v[0]), int(v[1]), Counter(v[2]), Counter(v[3]), Counter(v[4]))


def weighted(profile: Counter[str]) -> Counter[str]:
    """:func:`nlp.themes.concept_profile`'s weighting of the summed counts."""
    if OTHER_WEIGHT != 1.0:
        return Counter(
            {k: (v if k.startswith(CONCEPT_PREFIX) else v * OTHER_WEIGHT) for k, v in profile.items()}
        )
    return Counter(profile)


class AssignedTicket(Protocol):
    """What the sums read of an assigned ticket (``store.themes.assigned_rows``)."""

    @property
    def topic_id(self) -> int: ...
    @property
    def lang(self) -> str | None: ...
    @property
    def tokens(self) -> str | None: ...  # space-joined
    @property
    def product_n(self) -> str | None: ...


def add_sums(
    sums: dict[int, ThemeSums],
    rows: Sequence[AssignedTicket],
    terms: list[str],
    fn: ConceptFn,
    keys: dict[str, str],
) -> None:
    """Add these tickets to their assigned topic's sums (``keys``: product value -> product key, filled
    as met); the same per-ticket steps as :func:`nlp.themes.concept_profile` and
    :func:`nlp.themes.concept_coverage`, with each ticket's tokens mapped once for both."""
    _, toks_all = topic_view(["" for _ in rows], [(r.tokens or "").split() for r in rows], terms)
    for r, toks in zip(rows, toks_all, strict=True):
        sm = sums.get(int(r.topic_id))
        if sm is None:
            sm = sums[int(r.topic_id)] = ThemeSums()
        sm.n += 1
        sm.en += r.lang == "en"
        if r.product_n:
            key = keys.get(r.product_n) or keys.setdefault(r.product_n, product_key(r.product_n, fn))
            sm.products[key] += 1
        kept = [t for t in toks if is_label_term(t)]
        if kept:
            found = fn(kept)
            sm.profile.update(found)
            sm.coverage.update({c for c in found if c.startswith(CONCEPT_PREFIX)})


Digest = list[float]  # a week's assigned tickets in a few sums (``store.themes.week_fingerprints``)


def kept_weeks(
    stored: Mapping[int, Digest], before: Mapping[int, Digest], read_again: Iterable[int]
) -> set[int]:
    """The weeks whose stored sums still hold: the week's digest as stored with its sums equals its
    digest ``before`` this run changed anything, and this run assigned none of its tickets
    (``read_again``). The sums of the other weeks are read from their tickets again."""
    again = set(read_again)
    return {wk for wk, d in stored.items() if wk not in again and before.get(wk) == d}


def total(by_week: Mapping[int, Mapping[int, ThemeSums]]) -> dict[int, ThemeSums]:
    """Per topic, the sums of every week."""
    out: dict[int, ThemeSums] = {}
    for sums in by_week.values():
        for topic, sm in sums.items():
            out.setdefault(topic, ThemeSums()).add(sm)
    return out


class LiveTopic(Protocol):
    """A live topic as the theme layer reads it (``store.analysis.TopicRecord``)."""

    @property
    def id(self) -> int: ...
    @property
    def intent(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def centroid(self) -> np.ndarray | None: ...


def theme_topics_from(
    sums: Mapping[int, ThemeSums], merged_into: Mapping[int, int], live: Iterable[LiveTopic]
) -> list[ThemeTopic]:
    """The live topics with tickets as the theme layer sees them: the sums of each assigned topic
    merge-resolved (``merged_into``: topic -> the topic it counts for, as the counts resolve them)."""
    by_topic: dict[int, ThemeSums] = {}
    for raw, sm in sums.items():
        by_topic.setdefault(merged_into.get(raw, raw), ThemeSums()).add(sm)
    out = []
    for t in live:
        tot = by_topic.get(t.id)
        if tot is None or not tot.n:
            continue
        out.append(
            ThemeTopic(
                topic_id=t.id,
                intent=t.intent,
                size=tot.n,
                label=t.label,
                size_en=tot.en,
                # sorted: sums kept per week add up in another order than one read of every ticket,
                # and the theme layer's matrices take their columns in this order
                profile=weighted(Counter(dict(sorted(tot.profile.items())))),
                coverage={c: k / tot.n for c, k in sorted(tot.coverage.items())},
                products=dict(sorted(tot.products.items())),
                centroid=t.centroid,
                status=t.status,
            )
        )
    return out
