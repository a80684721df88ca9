"""The rolling-window rule of the daily safety check (surges.rolling), over plain values: a window
of the last 7 days judged against the complete weeks before it, the overlapping week left out,
per-week exposures scaled to the days covered, only the safety family tested."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voc.surges import count_table, detect
from voc.surges.rolling import SAFETY_LEVELS, detect_window, window_table

WEEKS = list(range(3000, 3014))  # 12 complete weeks, the week overlapping the window, the window's week
BASE_END, GAP, NOW = WEEKS[-3], WEEKS[-2], WEEKS[-1]


def _counts(
    window_safety: int,
    gap_safety: int = 1,
    weekly_safety: tuple[int, ...] = (1, 0, 1, 2, 1, 1, 0, 1, 1, 2, 1, 1),
) -> pd.DataFrame:
    """Safety complaints about the kettle: ~1 a week, ``gap_safety`` in the overlapping week and
    ``window_safety`` in the window; 100 kettle tickets and 40 other topic complaints a week."""
    rows = []
    for wk, s in zip(WEEKS, [*weekly_safety, gap_safety, window_safety], strict=True):
        rows.append(
            {
                "week": wk,
                "intent": "complaint",
                "topic_id": 1,
                "product": "kettle",
                "model": "KT",
                "batch": "",
                "n": 40 + s,
                "n_safety": s,
            }
        )
        rows.append(
            {
                "week": wk,
                "intent": "complaint",
                "topic_id": 2,
                "product": "oven",
                "model": "KX",
                "batch": "",
                "n": 40,
                "n_safety": 0,
            }
        )
    return pd.DataFrame(rows)


def _table(counts: pd.DataFrame, units: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> pd.DataFrame:
    total = pd.Series(1000.0, index=WEEKS)
    product_total = pd.DataFrame(
        [
            {"week": w, "product": p, "n": 100 + (5 if p == "kettle" else 0)}
            for w in WEEKS
            for p in ("kettle", "oven")
        ]
    )
    return count_table(counts, total, WEEKS, units, product_total=product_total)


def _kettle(res: pd.DataFrame) -> pd.Series:
    return res[(res["level"] == "product×safety") & (res["product"] == "kettle")].iloc[0]


def test_six_safety_complaints_in_the_window_are_flagged_where_the_partial_week_was_not() -> None:
    counts = _counts(window_safety=6)
    res = detect_window(_table(counts), NOW, BASE_END)
    row = _kettle(res)
    assert bool(row["flagged"]) and row["observed"] == 6 and row["ratio"] >= 2.5
    assert set(res["level"]) <= set(SAFETY_LEVELS)
    # the old daily check: the current week judged on what the weekly counts held for it (nothing
    # counted yet) - no safety cell is flagged
    old = counts.copy()
    old.loc[old["week"] == NOW, ["n", "n_safety"]] = 0
    weekly = detect(_table(old), NOW)
    assert not weekly[weekly["level"].isin(SAFETY_LEVELS)]["flagged"].any()


def test_a_normal_window_is_not_flagged() -> None:
    res = detect_window(_table(_counts(window_safety=2)), NOW, BASE_END)
    assert not res["flagged"].any()


def test_the_week_overlapping_the_window_is_missing_data_not_baseline() -> None:
    quiet, busy = _counts(6, gap_safety=1), _counts(6, gap_safety=6)
    a = _kettle(detect_window(_table(quiet), NOW, BASE_END))
    b = _kettle(detect_window(_table(busy), NOW, BASE_END))
    # the surge's first days fall in the overlapping week: they do not raise the window's expectation
    assert a["expected"] == pytest.approx(b["expected"]) and bool(b["flagged"])
    t = window_table(_table(busy), NOW, BASE_END)
    assert t.loc[t["period"] == GAP, "exposure"].isna().all()
    assert (t.groupby(["level", "cell"])["period"].nunique() == len(WEEKS)).all()  # a row per cell and period
    # had it been a baseline week (the window right after the overlapping week), the expectation rises
    c = _kettle(detect_window(_table(busy), NOW, GAP))
    assert c["expected"] > b["expected"]


def test_weekly_exposures_are_scaled_to_the_days_the_window_covers() -> None:
    units = pd.DataFrame(
        [{"product": p, "week": w, "units": 50_000.0} for w in WEEKS for p in ("kettle", "oven")]
    )
    by_batch = pd.DataFrame(columns=["product", "batch", "week", "units"])
    table = _table(_counts(window_safety=6), (units, by_batch))
    week = _kettle(detect_window(table, NOW, BASE_END))
    half = _kettle(detect_window(table, NOW, BASE_END, days=3.5))
    assert bool(week["per_units"]) and half["exposure"] == pytest.approx(week["exposure"] / 2)
    assert half["expected"] == pytest.approx(week["expected"] / 2, rel=1e-3)
    assert half["ratio"] > week["ratio"]
    # ticket volume is counted over the window itself: not scaled
    vol = _table(_counts(window_safety=6))
    assert _kettle(detect_window(vol, NOW, BASE_END, days=3.5))["expected"] == pytest.approx(
        _kettle(detect_window(vol, NOW, BASE_END))["expected"]
    )


def test_the_baseline_must_end_before_the_window() -> None:
    with pytest.raises(ValueError):
        window_table(_table(_counts(6)), NOW, NOW)
    with pytest.raises(ValueError):
        window_table(_table(_counts(6)), NOW, BASE_END, days=0)
    assert np.isnan(window_table(_table(_counts(6)), NOW, BASE_END)["exposure"]).sum() > 0
