"""Walk-forward backtest: test every period in turn using only the data before it."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

from voc.surges.detect import detect_panel
from voc.surges.extras import global_rise
from voc.surges.panel import build_panel
from voc.surges.params import DEFAULT_PARAMS, SurgeParams

_ISO_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)
_EPOCH_ORD = date(1970, 1, 1).toordinal()


def parse_periods(values: pd.Series, freq: str = "W") -> np.ndarray:
    """Period ordinals (consecutive integers). 'M': months ('2017-09', dates) -> months since 1970-01.
    'W': ISO weeks ('2026-W47') or dates -> the same ordinal as ``voc.weeks.Week.ordinal()``.
    Integers are returned unchanged."""
    v = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_integer_dtype(v):
        return v.to_numpy(dtype=np.int64)
    f = freq.upper()[:1]
    if f == "M":
        return pd.PeriodIndex(pd.to_datetime(v.astype(str), format="mixed"), freq="M").asi8.astype(np.int64)
    if f == "W":
        s = v.astype(str)
        m = s.str.extract(_ISO_WEEK)
        out = np.empty(len(s), dtype=np.int64)
        iso = m[0].notna().to_numpy()
        if iso.any():
            out[iso] = [
                date.fromisocalendar(int(a), int(b), 1).toordinal() // 7
                for a, b in zip(m.loc[iso, 0], m.loc[iso, 1], strict=True)
            ]
        if (~iso).any():
            days = pd.to_datetime(s[~iso], format="mixed").to_numpy().astype("datetime64[D]").astype(np.int64)
            out[~iso] = (days + _EPOCH_ORD - 1) // 7
        return out
    raise ValueError(f"freq must be 'W' or 'M', not {freq!r}")


def period_label(ordinal: int, freq: str = "W") -> str:
    f = freq.upper()[:1]
    if f == "M":
        return str(pd.Period(ordinal=int(ordinal), freq="M"))
    y, w, _ = date.fromordinal(int(ordinal) * 7 + 1).isocalendar()
    return f"{y}-W{w:02d}"


def find_missing_periods(totals: pd.Series, params: SurgeParams = DEFAULT_PARAMS) -> list[int]:
    """Periods whose total is anomalously tiny (broken upstream data): total < missing_total_frac x
    median of the previous ``missing_total_window`` usable totals (needs 3 of them), or 0. Causal."""
    s = totals.sort_index().astype(float)
    good: list[float] = []
    missing = []
    for p, v in s.items():
        recent = good[-params.missing_total_window :]
        if (
            not np.isfinite(v)
            or v <= 0
            or (len(recent) >= 3 and v < params.missing_total_frac * np.median(recent))
        ):
            missing.append(int(p))
        else:
            good.append(float(v))
    return missing


def backtest(
    df: pd.DataFrame,
    period_col: str,
    cell_cols: list[str],
    count_col: str,
    exposure_col: str | None = None,
    freq: str = "W",
    params: SurgeParams = DEFAULT_PARAMS,
) -> pd.DataFrame:
    """Test every period in turn with only earlier data; return all flagged cell-periods.

    Cells are the combinations of ``cell_cols`` (level = their names joined by '×', cell = values
    joined by '|'; the columns are carried through). Exposure: ``exposure_col`` or, when None, the
    total count across cells of the period. Periods whose total is anomalously tiny are missing
    data: not tested, not used as baselines, listed in ``result.attrs['missing_periods']``. Flags feed
    forward (``params.flagged_weight`` in later baselines). ``attrs`` also holds 'global_rises'
    (volume-wide rises, reported once each) and 'n_tests'. Weekly/monthly seasonal settings follow
    ``freq`` (see ``SurgeParams.for_freq``)."""
    params = params.for_freq(freq)
    cols = [period_col, *cell_cols, count_col] + ([exposure_col] if exposure_col else [])
    d = df[cols].copy()
    d["_p"] = parse_periods(d[period_col], freq)
    d[count_col] = pd.to_numeric(d[count_col], errors="coerce").fillna(0)
    for c in cell_cols:
        d[c] = d[c].astype(str)
    agg = {count_col: "sum"} | ({exposure_col: "first"} if exposure_col else {})
    g = d.groupby(["_p", *cell_cols], sort=False, dropna=False).agg(agg).reset_index()
    p0, p1 = int(g["_p"].min()), int(g["_p"].max())
    totals = g.groupby("_p")[count_col].sum().reindex(range(p0, p1 + 1), fill_value=0)
    missing = find_missing_periods(totals, params)
    level = "×".join(cell_cols)
    long = pd.DataFrame(
        {
            "level": level,
            "cell": g[cell_cols].agg("|".join, axis=1) if len(cell_cols) > 1 else g[cell_cols[0]],
            "period": g["_p"].astype(np.int64),
            "count": g[count_col].astype(float),
        }
    )
    if exposure_col:
        long["exposure"] = pd.to_numeric(g[exposure_col], errors="coerce").to_numpy()
    else:
        long["exposure"] = totals.reindex(g["_p"]).to_numpy(dtype=float)
    long.loc[long["period"].isin(missing), "exposure"] = np.nan
    for c in cell_cols:
        long[c] = g[c].to_numpy()
    panel = build_panel(long)
    miss_set = set(missing)
    rises = []
    out = []
    n_tests = 0
    tot_ok = totals.astype(float).copy()
    tot_ok[tot_ok.index.isin(missing)] = np.nan
    for ti, per in enumerate(panel.periods):
        if int(per) in miss_set:
            continue
        gr = global_rise(tot_ok, int(per), params)
        if gr is not None:
            rises.append(gr)
        r = detect_panel(panel, ti, params)
        n_tests += len(r)
        f = r[r["flagged"]]
        if len(f):
            panel.flags[f.index.to_numpy(), ti] = True
            out.append(f)
    res = pd.concat(out) if out else detect_panel(panel, 0, params).iloc[:0]
    res = res.reset_index(drop=True)
    res.insert(
        res.columns.get_loc("period") + 1, "period_label", [period_label(p, freq) for p in res["period"]]
    )
    res["first_label"] = [period_label(p, freq) for p in res["first_period"]]
    res.attrs["missing_periods"] = [period_label(p, freq) for p in missing]
    res.attrs["global_rises"] = rises
    res.attrs["n_tests"] = n_tests
    return res
