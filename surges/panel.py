"""A dense cells x periods view of a long count table (numpy arrays, built once).

Rules (documented in surges/README.md):
- A row with ``exposure`` NaN is a missing-data period for that cell: never tested, never a baseline.
- No row for (cell, period) means count 0. Its exposure is the level's common exposure of that period
  when all present rows of the level agree (the default: total ticket volume); otherwise the cell's
  own last known exposure (then the next known one). A level-period with no usable exposure at all
  is missing for every cell of the level.
- A cell exists from its first non-zero count: earlier periods are not part of its baseline (a new
  product category or topic is not compared with the zeros from before it existed). In the period
  it first appears it is tested as a *new cell* against zeros over its level's baseline periods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

REQUIRED = ("level", "cell", "period", "count", "exposure")
DESCRIPTIVE = ("topic_id", "product", "model", "batch")


@dataclass
class Panel:
    level: np.ndarray  # (C,) level name per cell
    cell: np.ndarray  # (C,) cell key
    level_code: np.ndarray  # (C,) int
    periods: np.ndarray  # (T,) consecutive ints
    y: np.ndarray  # (C, T) float counts
    expo: np.ndarray  # (C, T) float exposure, NaN = missing
    exist_from: np.ndarray  # (C,) index of first non-zero count (T if none)
    flags: np.ndarray  # (C, T) bool, past verdicts (down-weighted in baselines)
    desc: pd.DataFrame  # (C, ...) descriptive columns carried through

    @property
    def n_cells(self) -> int:
        return len(self.cell)

    def index_of(self, period: int) -> int:
        i = int(period) - int(self.periods[0])
        if not 0 <= i < len(self.periods):
            raise ValueError(f"period {period} outside the data ({self.periods[0]}..{self.periods[-1]})")
        return i


def build_panel(counts: pd.DataFrame) -> Panel:
    missing = [c for c in REQUIRED if c not in counts.columns]
    if missing:
        raise ValueError(f"counts is missing columns {missing} (needs {list(REQUIRED)})")
    if len(counts) == 0:
        raise ValueError("counts is empty")
    lv_codes, lv_names = pd.factorize(counts["level"].astype(str), sort=True)
    cl_codes, cl_names = pd.factorize(counts["cell"].astype(str))
    key = lv_codes.astype(np.int64) * (len(cl_names) + 1) + cl_codes
    codes, uniq = pd.factorize(key, sort=True)
    n_cells = len(uniq)
    cell_level = (uniq // (len(cl_names) + 1)).astype(np.int64)
    cell_name = np.asarray(cl_names)[uniq % (len(cl_names) + 1)]

    per = counts["period"].to_numpy()
    if not np.issubdtype(per.dtype, np.integer):
        per = per.astype(np.int64)
    p0, p1 = int(per.min()), int(per.max())
    n_per = p1 - p0 + 1
    ti = per - p0

    cnt = counts["count"].to_numpy(dtype=float)
    if np.any(cnt < 0) or np.any(~np.isfinite(cnt)):
        raise ValueError("count must be finite and >= 0")
    ex = counts["exposure"].to_numpy(dtype=float)

    y = np.zeros((n_cells, n_per))
    if _has_dupes(codes, ti, n_per):  # several rows for one cell-period: counts add up
        np.add.at(y, (codes, ti), cnt)
    else:
        y[codes, ti] = cnt
    expo = np.full((n_cells, n_per), np.nan)
    expo[codes, ti] = np.where(ex > 0, ex, np.nan)
    has_row = np.zeros((n_cells, n_per), dtype=bool)
    has_row[codes, ti] = True
    _fill_exposure(expo, has_row, cell_level, ex, lv_codes, ti, len(lv_names))

    pos = y > 0
    exist_from = np.where(pos.any(axis=1), pos.argmax(axis=1), n_per)

    flags = np.zeros((n_cells, n_per), dtype=bool)
    if "flagged" in counts.columns:
        flags[codes, ti] = counts["flagged"].fillna(False).to_numpy(dtype=bool)

    extra = [c for c in counts.columns if c not in REQUIRED and c != "flagged"]
    if extra:
        order = np.lexsort((per, codes))
        last = np.ones(len(order), dtype=bool)
        last[:-1] = codes[order][1:] != codes[order][:-1]
        rows = order[last]
        desc = counts.iloc[rows][extra].reset_index(drop=True)
        desc.index = codes[rows]
        desc = desc.sort_index().reset_index(drop=True)
    else:
        desc = pd.DataFrame(index=range(n_cells))
    return Panel(
        level=np.asarray(lv_names)[cell_level],
        cell=cell_name,
        level_code=cell_level,
        periods=np.arange(p0, p1 + 1),
        y=y,
        expo=expo,
        exist_from=exist_from,
        flags=flags,
        desc=desc,
    )


def _has_dupes(codes: np.ndarray, ti: np.ndarray, n_per: int) -> bool:
    k = codes.astype(np.int64) * n_per + ti
    return bool(np.bincount(k).max(initial=0) > 1)


def _fill_exposure(expo, has_row, cell_level, ex, lv_codes, ti, n_levels) -> None:
    """Exposure for (cell, period) pairs without a row (see module docstring)."""
    need = ~has_row
    if not need.any():
        return
    n_per = expo.shape[1]
    ok = np.isfinite(ex) & (ex > 0)
    lo = np.full((n_levels, n_per), np.inf)
    hi = np.full((n_levels, n_per), -np.inf)
    np.minimum.at(lo, (lv_codes[ok], ti[ok]), ex[ok])
    np.maximum.at(hi, (lv_codes[ok], ti[ok]), ex[ok])
    common = np.where(np.isfinite(lo) & np.isclose(lo, hi, rtol=1e-9, atol=0), lo, np.nan)
    heterogeneous = np.isfinite(lo) & ~np.isfinite(common)
    fill = common[cell_level]  # (C, T)
    expo[need] = fill[need]
    het_cells = heterogeneous[cell_level] & need
    rows = np.unique(np.nonzero(het_cells)[0])
    if len(rows):
        own = pd.DataFrame(np.where(has_row[rows], expo[rows], np.nan))
        own = own.ffill(axis=1).bfill(axis=1).to_numpy()
        sub = expo[rows]
        m = het_cells[rows]
        sub[m] = own[m]
        expo[rows] = sub
