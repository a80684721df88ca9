"""The frames a period is judged on, from the store's plain rows (pure pandas).

The surge stage and the daily safety check read weekly counts (per week, topic, product, model,
batch; one list of rows per intent) and ticket volumes (per week, product, batch; '' = all), and
turn them into what :func:`voc.surges.cells.count_table` and the flagged rows need: one counts frame,
the total volume per week, each product's volume per week, and the batch shares a concentration is
judged against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = [
    "COUNT_COLUMNS",
    "VOLUME_COLUMNS",
    "batch_baseline",
    "counts_frame",
    "product_totals",
    "volume_frame",
    "week_totals",
    "with_themes",
]

COUNT_COLUMNS = ["week", "topic_id", "product", "model", "batch", "n", "n_safety", "n_defect", "n_service"]
VOLUME_COLUMNS = ["week", "product", "batch", "n"]


def counts_frame(rows_by_intent: Mapping[str, Sequence[Sequence[Any]]]) -> pd.DataFrame:
    """One frame (COUNT_COLUMNS + intent) from each intent's count rows (empty, with its columns,
    when there are none)."""
    frames = [
        pd.DataFrame(list(rows), columns=COUNT_COLUMNS).assign(intent=i) for i, rows in rows_by_intent.items()
    ]
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)


def volume_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=VOLUME_COLUMNS)


def week_totals(vol: pd.DataFrame, *, positive: bool = False) -> pd.Series:
    """Total ticket volume per week (the rows with no product and no batch); ``positive``: only weeks
    that had tickets."""
    m = (vol["product"] == "") & (vol["batch"] == "")
    if positive:
        m &= vol["n"] > 0
    return vol[m].set_index("week")["n"]


def product_totals(vol: pd.DataFrame) -> pd.DataFrame:
    """week, product, n: each product's ticket volume per week."""
    return vol[(vol["product"] != "") & (vol["batch"] == "")][["week", "product", "n"]]


def batch_baseline(vol: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    """product, batch, n: each product's tickets per batch over the weeks ``first``..``last`` - what a
    batch's share of a cell is expected to be. The tested period is not in it: its own tickets would
    already carry the surge and hide the concentration."""
    base = vol[(vol["week"] >= first) & (vol["week"] <= last) & (vol["product"] != "") & (vol["batch"] != "")]
    return base.groupby(["product", "batch"], as_index=False)["n"].sum()


def with_themes(counts: pd.DataFrame, theme_of: Mapping[int, int] | None) -> pd.DataFrame:
    """A copy of the count rows with their topic's theme (``theme_id``) when a theme map is given."""
    out = counts.copy()
    if theme_of:
        tmap = {int(k): int(v) for k, v in theme_of.items()}
        out["theme_id"] = out["topic_id"].map(lambda t: tmap.get(int(t)))
    return out
