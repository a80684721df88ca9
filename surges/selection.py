"""Which flagged cells a meeting sees: one item per theme (pure; rows in, groups out).

A defect that rises is usually flagged in several cells at once: its theme, the theme on the
product, a fine topic under it, the batch that carries it, the product's safety series. The brief
and the alerts show it **once**: one group per theme (or per fine topic without a theme), with the
row that speaks for it, the batch that carries it and every flagged row under it. Cells without a
topic (a product's complaints, a batch's complaints, a product's safety tickets) join the group of
a theme on the same product when there is one (the batch and safety signal then speak inside that
item); otherwise they are items of their own. A safety series joins a theme only when that theme is
itself safety: a safety rise is never hidden inside a broader item.

Rows are any objects with the attributes ``level, topic_id, theme_id, product, batch, q, observed,
severity`` (stored ``Surge`` rows, or plain records in tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from voc.surges.cells import BATCH_LEVELS, SAFETY_LEVELS

# the row that speaks for a group: the most telling level first (product-specific theme, then the
# theme, then a fine topic on the product...), ties by the smallest q
LEVEL_PREFERENCE = (
    "theme×product",
    "theme",
    "topic×product",
    "topic",
    "theme×product×batch",
    "topic×product×batch",
    "topic×product×model",
    "product×safety",
    "safety",
    "product",
    "product×batch",
)


@dataclass(frozen=True)
class SurgeGroup:
    """One brief item: the row that speaks for it, the row that names its batch, every row in it."""

    primary: Any
    rows: tuple[Any, ...]
    theme_id: int | None = None
    batch_row: Any | None = None

    @property
    def identity(self) -> str:
        """Which surge this is, week after week (alert dedupe): its theme; else its topic and product
        (the format alerts used before themes); else its product's safety or complaints."""
        p = self.primary
        if self.theme_id is not None:
            return f"h{self.theme_id}"
        if p.topic_id is not None:
            return f"{p.topic_id}|{p.product or '-'}"
        if p.level in SAFETY_LEVELS:
            return f"s|{p.product or '-'}"
        return f"0|{p.product or '-'}"

    @property
    def severity(self) -> str:
        """The item's severity: safety when it holds a safety cell (a product's safety tickets joined
        to a theme or topic item), else its primary row's. The brief shows it and the alerts compare it
        week to week (an item does not "become safety" again on every run)."""
        if any(r.level in SAFETY_LEVELS for r in self.rows):
            return "safety"
        return str(self.primary.severity)

    @property
    def topic_ids(self) -> tuple[int, ...]:
        """The fine topics flagged in this group, most complaints first."""
        seen: dict[int, int] = {}
        for r in self.rows:
            if r.topic_id is not None:
                seen[int(r.topic_id)] = max(seen.get(int(r.topic_id), 0), int(r.observed))
        return tuple(sorted(seen, key=lambda t: (-seen[t], t)))


def rank(level: str) -> int:
    return LEVEL_PREFERENCE.index(level) if level in LEVEL_PREFERENCE else len(LEVEL_PREFERENCE)


def _key(r: Any, theme_of: Mapping[int, int]) -> tuple[str, Any]:
    theme = getattr(r, "theme_id", None)
    if theme is not None:
        return ("h", int(theme))
    if r.topic_id is not None:
        t = theme_of.get(int(r.topic_id))
        return ("h", int(t)) if t is not None else ("t", int(r.topic_id))
    if r.level in SAFETY_LEVELS:
        return ("s", r.product)
    return ("p", r.product)


def _best(rows: Sequence[Any]) -> Any:
    return min(rows, key=lambda r: (rank(r.level), r.q, -r.observed))


def group_surges(rows: Sequence[Any], theme_of: Mapping[int, int] | None = None) -> list[SurgeGroup]:
    """Flagged rows (global rows ignored) -> one group per theme / topic / product item."""
    theme_of = theme_of or {}
    groups: dict[tuple[str, Any], list[Any]] = {}
    for r in rows:
        if r.level == "global":
            continue
        groups.setdefault(_key(r, theme_of), []).append(r)
    # the all-products safety cell joins a product's safety item when there is one
    if ("s", None) in groups:
        others = [k for k in groups if k[0] == "s" and k[1] is not None]
        if others:
            groups[others[0]].extend(groups.pop(("s", None)))
    # product-only cells join the theme (or topic) item on the same product with the most complaints;
    # a batch's cell only an item that itself names that batch (a batch row or its concentration)
    topical = {k: v for k, v in groups.items() if k[0] in ("h", "t")}
    for k in [k for k in groups if k[0] in ("p", "s")]:
        product = k[1]
        batches = {r.batch for r in groups[k] if r.level in BATCH_LEVELS and r.batch}
        hosts = [
            (sum(r.observed for r in v if r.product == product), hk)
            for hk, v in topical.items()
            if any(r.product == product for r in v)
            and (k[0] == "p" or any(r.severity == "safety" for r in v))
            and (not batches or any({r.batch, getattr(r, "conc_batch", None)} & batches for r in v))
        ]
        if product is not None and hosts:
            host = max(hosts, key=lambda h: (h[0], str(h[1])))[1]
            groups[host].extend(groups.pop(k))
    out = []
    for k, rs in groups.items():
        primary = _best(rs)
        batch_rows = [
            r
            for r in rs
            if r.level in BATCH_LEVELS
            and r.batch
            and (primary.product is None or r.product == primary.product)
        ]
        out.append(
            SurgeGroup(
                primary=primary,
                rows=tuple(rs),
                theme_id=k[1] if k[0] == "h" else None,
                batch_row=min(batch_rows, key=lambda r: (r.q, -r.observed)) if batch_rows else None,
            )
        )
    return out


def item_theme(
    by_topic: Mapping[int, int], theme_of: Mapping[int, int], theme_recs: Mapping[int, Any]
) -> tuple[Any, list[int], int | None]:
    """What a cell without a topic is about: (the theme holding most of its tickets - from
    ``theme_recs`` -, that theme's topics in the cell most first, the top one); without a theme, the
    cell's topics most first and the top one."""
    by_theme: dict[int, int] = {}
    for t, n in by_topic.items():
        if t in theme_of:
            by_theme[theme_of[t]] = by_theme.get(theme_of[t], 0) + n
    if not by_theme:
        top = sorted(by_topic, key=lambda t: (-by_topic[t], t))
        return None, top, top[0] if top else None
    th = min(by_theme, key=lambda h: (-by_theme[h], h))
    under = sorted((t for t in by_topic if theme_of.get(t) == th), key=lambda t: (-by_topic[t], t))
    return theme_recs.get(th), under, under[0] if under else None


def item_model(primary: Any, rows: Sequence[Any]) -> tuple[str | None, Any]:
    """(model, row whose batch concentration the item shows) for a surge shown at a topic or theme ×
    product level.

    When one model carries most of the rise (≥ 60% of it, over the fine topics of the item) the item
    names that model; batch concentration comes from the primary row or, failing that, from that
    model's row.
    """
    siblings = [
        x
        for x in rows
        if x is not primary
        and x.product == primary.product
        and x.level == "topic×product×model"
        and (primary.topic_id is None or x.topic_id == primary.topic_id)
    ]
    model = primary.model
    by_model: dict[str, int] = {}
    for x in siblings:
        by_model[x.model] = by_model.get(x.model, 0) + int(x.observed)
    top = max(by_model, key=lambda m: (by_model[m], m), default=None)
    if model is None and top is not None and by_model[top] >= 0.6 * primary.observed:
        model = top
    if primary.conc_batch:
        return model, primary
    main = max((x for x in siblings if x.model == model), key=lambda x: x.observed, default=None)
    if main is not None and main.conc_batch:
        return model, main
    return model, None
