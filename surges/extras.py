"""Batch concentration, volume-wide rises and the numbers an explanation of a flagged cell names
(its baseline length, the start of a steady rise); the sentences are worded in ``reports.explanations``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from voc.surges.params import DEFAULT_PARAMS, SurgeParams


@dataclass(frozen=True)
class Concentration:
    top_batch: str
    share: float  # share of the cell's complaints that come from the batch
    expected_share: float  # the batch's share of the product's tickets (or units shipped)
    ratio: float  # disproportionality, shrunk towards 1: (n + s) / (N * expected_share + s)
    p: float  # one-sided binomial p of that many complaints from the batch, Bonferroni over batches


def batch_concentration(
    topic_batch_counts: Mapping[str, int],
    product_batch_counts: Mapping[str, int],
    prior_strength: float = 5.0,
    max_p: float = 0.05,
    min_count: int = 3,
) -> Concentration | None:
    """Is a surge concentrated in one production batch more than the batch's share of the product
    explains? ``topic_batch_counts``: this cell's complaints by batch; ``product_batch_counts``: the
    product's tickets (or units) by batch, the reference mix. A batch missing from the reference gets
    at least its own complaint count there. Picks the batch with the smallest p-value; ``None`` when
    no batch with >= ``min_count`` complaints is significantly over-represented (Bonferroni-adjusted
    p > max_p) or the input is empty."""
    batches = [b for b, n in topic_batch_counts.items() if n and n > 0]
    if sum(topic_batch_counts[b] for b in batches) < min_count:
        return None
    if not batches:
        return None
    n = np.array([float(topic_batch_counts[b]) for b in batches])
    N = n.sum()
    ref_all = {b: float(v) for b, v in product_batch_counts.items() if v and v > 0}
    for b, v in zip(batches, n, strict=True):
        ref_all[b] = max(ref_all.get(b, 0.0), v)
    total = sum(ref_all.values())
    e = np.array([ref_all[b] / total for b in batches])
    m = len(ref_all)
    p = np.minimum(1.0, special.betainc(n, N - n + 1, e) * m)  # P(Bin(N, e) >= n) x batches
    p = np.where(e >= 1.0, 1.0, p)
    cand = n >= min_count  # a batch needs a few complaints of its own to be "the" batch
    if not cand.any():
        return None
    p = np.where(cand, p, 1.0)
    i = int(np.lexsort((-(n / (N * e)), p))[0])
    if p[i] > max_p:
        return None
    ratio = (n[i] + prior_strength) / (N * e[i] + prior_strength)
    return Concentration(
        top_batch=str(batches[i]),
        share=float(n[i] / N),
        expected_share=float(e[i]),
        ratio=float(ratio),
        p=float(p[i]),
    )


@dataclass(frozen=True)
class GlobalRise:
    period: int
    observed: float
    expected: float
    ratio: float
    p: float


def global_rise(
    total_by_period: Mapping[int, float] | pd.Series, period: int, params: SurgeParams = DEFAULT_PARAMS
) -> GlobalRise | None:
    """Volume-wide rise at ``period`` (a sale, consumer-rights day 3.15): the total against its own
    last ``baseline_weeks`` usable periods on the log scale (t test with the baseline's spread).
    Reported once; with exposure = total volume the topic cells do not flag for it."""
    s = (
        pd.Series(total_by_period, dtype=float)
        if not isinstance(total_by_period, pd.Series)
        else total_by_period
    )
    s = s.astype(float).sort_index()
    if period not in s.index or not np.isfinite(s.loc[period]) or s.loc[period] <= 0:
        return None
    past = s[(s.index < period) & np.isfinite(s) & (s > 0)]
    # broken periods (tiny totals) are not a baseline
    if len(past) >= 3:
        med = past.rolling(params.missing_total_window, min_periods=1).median().shift(1).bfill()
        past = past[past >= params.missing_total_frac * med]
    past = past.iloc[-params.baseline_weeks :]
    k = len(past)
    if k < params.min_baseline_periods:
        return None
    x = np.log(past.to_numpy())
    x_t = math.log(float(s.loc[period]))
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if k > 1 else 0.0
    sd = max(sd, 0.02)  # floor: totals are never that steady
    tstat = (x_t - mean) / (sd * math.sqrt(1 + 1 / k))
    # Student's t upper tail: scipy.stats.t.sf(tstat, k - 1) is this ufunc (t_gen._sf), the same float for
    # every input; scipy.special alone spares each process scipy.stats' ~1 s import
    p = float(special.stdtr(k - 1, -tstat))
    expected = math.exp(mean)
    ratio = float(s.loc[period]) / expected
    if ratio >= params.global_min_ratio and p <= params.global_p:
        return GlobalRise(
            period=int(period), observed=float(s.loc[period]), expected=expected, ratio=ratio, p=p
        )
    return None


def baseline_periods(row: Mapping, params: SurgeParams = DEFAULT_PARAMS) -> int:
    """Baseline periods a flagged cell was judged against (``detect``'s ``baseline_periods``; a row
    without that column: ``params.baseline_weeks``). A new cell had none in that many periods."""
    n = row.get("baseline_periods")
    return params.baseline_weeks if n is None or (isinstance(n, float) and math.isnan(n)) else int(n)


def rising_since(row: Mapping) -> int | None:
    """The period a steady rise began: a ``detect`` row's ``first_period`` when CUSUM saw the rise
    (``methods``) and it began before the row's ``period``; else None."""
    first, period = row.get("first_period"), row.get("period")
    if "cusum" not in str(row.get("methods", "") or "") or first is None or period is None:
        return None
    return int(first) if int(first) < int(period) else None
