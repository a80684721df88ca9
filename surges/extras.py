"""Batch concentration, volume-wide rises and one-sentence explanations."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from surges.params import DEFAULT_PARAMS, SurgeParams


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
    return Concentration(top_batch=str(batches[i]), share=float(n[i] / N), expected_share=float(e[i]),
                         ratio=float(ratio), p=float(p[i]))


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
    s = pd.Series(total_by_period, dtype=float) if not isinstance(total_by_period, pd.Series) else total_by_period
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
    p = float(stats.t.sf(tstat, k - 1))
    expected = math.exp(mean)
    ratio = float(s.loc[period]) / expected
    if ratio >= params.global_min_ratio and p <= params.global_p:
        return GlobalRise(period=int(period), observed=float(s.loc[period]), expected=expected, ratio=ratio, p=p)
    return None


def _fmt_q(q: float) -> str:
    if not np.isfinite(q):
        return "q=n/a"
    if q < 0.001:
        return "q<0.001"
    return f"q={q:.3f}" if q < 0.01 else f"q={q:.2f}"


def _fmt_ratio(r: float) -> str:
    if not np.isfinite(r):
        return "new"
    return f"{r:.1f}×" if r < 10 else f"{r:.0f}×"


def _fmt_expected(x: float) -> str:
    if x < 1:
        return "<1"
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}".rstrip("0").rstrip(".")


# the wording of an explanation, one place per language: the noun counted and how a cell is named
WORDS = {
    "zh": {"complaints": "起投诉", "safety": "起安全类工单", "batch": "{label} 批次 {batch}",
           "product_safety": "{label} 安全问题", "all_safety": "全部产品安全问题"},
    "en": {"complaints": "complaints", "safety": "safety tickets", "batch": "{label}, batch {batch}",
           "product_safety": "{label}, safety", "all_safety": "All products, safety"},
}


def _cell_name(row: Mapping, label: str, w: Mapping[str, str]) -> tuple[str, str]:
    """(name of the cell, noun counted) by level: a batch is named, safety cells count safety tickets."""
    level = str(row.get("level", "") or "")
    if level == "product×batch":
        return w["batch"].format(label=label, batch=row.get("batch", "")), w["complaints"]
    if level == "product×safety":
        return w["product_safety"].format(label=label), w["safety"]
    if level == "safety":
        return w["all_safety"], w["safety"]
    return label, w["complaints"]


def explain(row: Mapping, label: str, lang: str, concentration: Concentration | None = None,
            period_name: Callable[[int], str] | None = None) -> str:
    """One sentence for a flagged cell, e.g.
    zh '门关不紧：31 起投诉，预期约 12 起（2.6×，q=0.003）；80% 来自批次 B2409'
    en 'door not closing: 31 complaints vs ~12 expected (2.6×, q=0.003); 80% from batch B2409'.
    ``row`` is a row of ``detect``'s output; its ``level`` chooses how the cell is named
    (``product×batch``: the batch; ``product×safety`` / ``safety``: safety tickets)."""
    obs = int(row["observed"])
    exp_ = float(row["expected"])
    ratio = float(row.get("ratio", obs / exp_ if exp_ > 0 else math.inf))
    q = float(row.get("q", math.nan))
    methods = str(row.get("methods", "") or "")
    new = bool(row.get("new_cell", False))
    zh = lang.lower().startswith("zh")
    name, noun = _cell_name(row, label, WORDS["zh" if zh else "en"])
    first, period = row.get("first_period"), row.get("period")
    since = first is not None and period is not None and int(first) < int(period)
    if new:
        s = (f"{name}：新出现 {obs} {noun}，此前 {baseline_periods(row)} 期为零（{_fmt_q(q)}）" if zh
             else f"{name}: {obs} {noun}, new (none in the previous {baseline_periods(row)} periods; {_fmt_q(q)})")
    elif zh:
        s = f"{name}：{obs} {noun}，预期约 {_fmt_expected(exp_)} 起（{_fmt_ratio(ratio)}，{_fmt_q(q)}）"
    else:
        s = f"{name}: {obs} {noun} vs ~{_fmt_expected(exp_)} expected ({_fmt_ratio(ratio)}, {_fmt_q(q)})"
    if "cusum" in methods and since:
        assert first is not None  # `since` implies it
        when = period_name(int(first)) if period_name else f"{first}"
        s += f"；自 {when} 起持续上升" if zh else f"; rising steadily since {when}"
    if concentration is not None:
        s += batch_share_clause(concentration.share, concentration.top_batch, lang)
    return s


def batch_share_clause(share: float, batch: str, lang: str) -> str:
    """'；80% 来自批次 B2409' / '; 80% from batch B2409': the clause an explanation ends with when
    one batch carries the surge (the one place this sentence is worded)."""
    pct = f"{share * 100:.0f}%"
    return f"；{pct} 来自批次 {batch}" if lang.lower().startswith("zh") else f"; {pct} from batch {batch}"


def batch_count_clause(batch: str, observed: int, expected: float, lang: str) -> str:
    """'；批次 B2409 本周 12 件，预期约 3.1 件' / '; batch B2409: 12 vs ~3.1 expected': a flagged batch
    cell named inside its theme's or product's item."""
    if lang.lower().startswith("zh"):
        return f"；批次 {batch} 本周 {observed} 件，预期约 {expected:.1f} 件"
    return f"; batch {batch}: {observed} vs ~{expected:.1f} expected"


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
