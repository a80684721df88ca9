"""A rolling window judged against complete weeks (pure pandas): the daily safety check.

A safety surge should not wait for its week to end. The check takes the last ``days`` days ending
now (e.g. Thursday 18:00 to Thursday 18:00) as one period and tests it with the weekly statistics
(``surges.detect``) against the complete weeks before the window:

- the window is the table's period ``period`` (by convention the ISO week ``now`` falls in, so the
  seasonal model lines up); its count is the cell's tickets in the window, its exposure the volume
  in the window (ticket volume counted over the same days);
- the weeks that overlap the window (after ``baseline_until``, before ``period``) are missing data:
  their tickets are partly the window's own, and a surge that began in them would raise its own
  expectation;
- exposures stated per week (units in the field: ``per_units`` rows) are scaled to the days the
  window covers (``days / 7``), so a window is expected what a week would be expected, pro rata;
- only the safety family's levels are tested (``product×safety``, ``safety``), so the
  false-discovery family is the one the weekly run uses for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from voc.surges.cells import SAFETY_LEVELS
from voc.surges.detect import detect
from voc.surges.params import DEFAULT_PARAMS, SurgeParams

WEEK_DAYS = 7.0


def window_table(
    table: pd.DataFrame,
    period: int,
    baseline_until: int,
    days: float = WEEK_DAYS,
    levels: Sequence[str] = SAFETY_LEVELS,
) -> pd.DataFrame:
    """The long count table ``detect`` reads for a rolling window (see the module notes).

    ``table``: long count table (``surges.cells.count_table`` or any with level, cell, period, count,
    exposure): complete weeks up to ``baseline_until``, the window's counts and exposure at
    ``period``; rows after ``period`` are dropped, rows in between become missing data (a row per
    cell, so no cell borrows an exposure there)."""
    period, baseline_until = int(period), int(baseline_until)
    if baseline_until >= period:
        raise ValueError(f"the baseline must end before the window's period ({baseline_until} >= {period})")
    if not days > 0:
        raise ValueError(f"a window covers a positive number of days, not {days}")
    t = table[table["level"].isin(list(levels)) & (table["period"] <= period)].copy()
    t["exposure"] = t["exposure"].astype(float)
    gap_periods = list(range(baseline_until + 1, period))
    if gap_periods and len(t):
        t = t[~t["period"].isin(gap_periods)]
        cells = t.sort_values("period").drop_duplicates(["level", "cell"], keep="last")
        gap = cells.loc[cells.index.repeat(len(gap_periods))].copy()
        gap["period"] = np.tile(gap_periods, len(cells))
        gap["count"] = 0
        gap["exposure"] = np.nan
        t = pd.concat([t, gap], ignore_index=True)
    if "per_units" in t.columns and days != WEEK_DAYS:
        m = (t["period"] == period) & t["per_units"].fillna(False).astype(bool)
        t.loc[m, "exposure"] = t.loc[m, "exposure"] * (days / WEEK_DAYS)
    return t.sort_values(["level", "cell", "period"]).reset_index(drop=True)


def detect_window(
    table: pd.DataFrame,
    period: int,
    baseline_until: int,
    params: SurgeParams = DEFAULT_PARAMS,
    *,
    days: float = WEEK_DAYS,
    levels: Sequence[str] = SAFETY_LEVELS,
) -> pd.DataFrame:
    """Test the rolling window at ``period`` against the complete weeks up to ``baseline_until``:
    one row per tested cell of ``levels`` (``surges.detect``'s output)."""
    return detect(window_table(table, period, baseline_until, days, levels), int(period), params)
