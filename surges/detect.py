"""Week-over-week surge detection over count tables: vectorised across cells with numpy.

For the tested period t and every cell that exists and has data at t:

1. ``baseline`` - exact conditional test of the count at t against the cell's last k usable periods
   (missing periods skipped, previously flagged periods down-weighted, outlying baseline periods
   down-weighted Farrington-style). Given the total N = y_t + B, y_t ~ Binomial(N, o_t/(o_t+O_B))
   under "same rate", with counts divided by the over-dispersion factor phi = 1 + alpha mu (negative
   binomial alpha estimated per cell and shrunk towards a pooled alpha of the cell's level and
   count-size stratum). The 95% interval of the rate ratio comes from the beta (Clopper-Pearson)
   interval of the binomial proportion.
2. ``seasonal`` - improved Farrington (Noufaily et al. 2013) once the cell has a year of history:
   quasi-Poisson GLM with a 10-level seasonal factor (a 2w+1 window around the current week in past
   years, 9 levels for the rest), a trend when >= 3 years of history and significant, the most recent
   26 weeks left out, Anscombe residuals > 2.58 down-weighted, negative binomial upper tail using
   phi (inflated for the uncertainty of the estimated mean).
3. ``cusum`` - negative binomial CUSUM over the last few periods against an in-control rate
   estimated before them, for slow rises that never look large in a single period.
4. One verdict: p = p_baseline; Benjamini-Hochberg q over every cell tested in the period (all levels
   together). flagged = (q <= fdr_q and observed >= min_count and ratio >= min_ratio and, once the
   seasonal model applies, p_seasonal <= 0.05 and observed >= 1.25 x the seasonal expectation - a
   veto of seasonal peaks and of long-accepted level shifts) or (CUSUM alarm and observed >=
   min_count, the current count being nominally high for the season, or against the trailing
   baseline at p <= 0.01 in the first year). ``methods`` names what fired: baseline (q <= fdr_q),
   seasonal (p_seasonal below the BH cut-off), cusum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from voc.surges.panel import Panel, build_panel
from voc.surges.params import DEFAULT_PARAMS, SurgeParams

Z975 = 1.959963984540054

OUTPUT_COLUMNS = [
    "level",
    "cell",
    "period",
    "observed",
    "expected",
    "ratio",
    "ratio_lo",
    "ratio_hi",
    "p",
    "q",
    "methods",
    "flagged",
    "first_period",
    "new_cell",
]


def bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN and is not counted."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv, kind="mergesort")
    ranked = pv[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def detect(counts: pd.DataFrame, period: int, params: SurgeParams = DEFAULT_PARAMS) -> pd.DataFrame:
    """Test every cell at ``period`` against its own history in ``counts`` (rows after ``period``
    are ignored). One row per tested cell, see OUTPUT_COLUMNS (+ descriptive columns and extras)."""
    period = int(period)
    per = counts["period"].to_numpy()
    if len(per) and per.max() > period:  # rows after the tested period are ignored
        counts = counts[per <= period]
    if len(counts) == 0 or int(counts["period"].max()) < period:
        return _empty(counts)
    panel = build_panel(counts)
    return detect_panel(panel, panel.index_of(period), params)


def _empty(counts: pd.DataFrame) -> pd.DataFrame:
    extra = [
        c for c in counts.columns if c not in ("level", "cell", "period", "count", "exposure", "flagged")
    ]
    return pd.DataFrame(columns=["level", "cell", *extra, *OUTPUT_COLUMNS[2:]])


def _last_birth(y, valid, gap: int) -> np.ndarray:
    """Per row, the last column with a count after >= ``gap`` usable zero periods (-1 if none)."""
    C, W = y.shape
    run = np.zeros(C)
    last = np.full(C, -1)
    for s in range(W):
        born = valid[:, s] & (y[:, s] > 0) & (run >= gap)
        last = np.where(born, s, last)
        run = np.where(valid[:, s], np.where(y[:, s] > 0, 0, run + 1), run)
    return last


def _last_n(mask: np.ndarray, n: int | np.ndarray) -> np.ndarray:
    """Per row, keep the last ``n`` True entries of ``mask`` (``n`` one number or one per row)."""
    rc = np.cumsum(mask[:, ::-1], axis=1)[:, ::-1]
    return mask & (rc <= (np.asarray(n)[:, None] if np.ndim(n) else n))


def detect_panel(panel: Panel, ti: int, params: SurgeParams = DEFAULT_PARAMS) -> pd.DataFrame:
    """Core of :func:`detect` on a prebuilt panel, at period index ``ti`` (uses columns <= ti only)."""
    P = params
    S = P.season_length
    far_back = P.farrington_years * S + P.farrington_window + 1
    back = max(
        P.max_lookback, P.dispersion_periods, P.cusum_window + P.cusum_ref_periods + P.max_lookback, far_back
    )
    a = max(0, ti - back)
    t = ti - a
    exist_from = panel.exist_from
    e_t = panel.expo[:, ti]
    tested = np.isfinite(e_t) & (e_t > 0) & (exist_from <= ti)
    idx = np.nonzero(tested)[0]

    y = panel.y[idx, a : ti + 1]
    E = panel.expo[idx, a : ti + 1]
    if P.exposure_includes_counts:
        rest = E - y
        o = np.where(rest > 0, rest, E)
    else:
        o = E.copy()
    valid = np.isfinite(o) & (o > 0)
    o = np.where(valid, o, 0.0)
    y = np.where(valid, y, 0.0)
    ef = np.maximum(exist_from[idx], a + _last_birth(y, valid, P.rebirth_gap))
    cols = np.arange(a, ti + 1)
    exists = cols[None, :] >= ef[:, None]
    new_here = ef == ti
    past_flag = panel.flags[idx, a : ti + 1] & (cols > ti - 1 - P.flag_memory)[None, :]

    # usable history (weights): valid, cell existed (new cells: the level's periods, all zeros)
    base_ok = valid & (exists | new_here[:, None])
    base_ok[:, t] = False
    clean = base_ok & ~past_flag
    w_hist = np.where(past_flag, P.flagged_weight, 1.0) * base_ok

    # the baseline and dispersion only look back max_lookback periods (the seasonal model further)
    b0 = max(0, t - max(P.max_lookback, P.dispersion_periods + P.baseline_weeks))
    # the baseline's length per cell: cells whose share drifts by nature (``short_memory``: a batch's
    # share of its product's tickets follows its life cycle) are predicted from their last few periods
    memory = np.where(
        _desc(panel, "short_memory", False, idx).astype(bool) & (P.short_memory_weeks > 0),
        P.short_memory_weeks,
        P.baseline_weeks,
    ).astype(np.int64)
    alpha = _dispersion(
        y[:, b0:t],
        o[:, b0:t],
        _last_n(clean[:, b0:t], P.dispersion_periods),
        clean[:, b0:t],
        panel.level_code[idx],
        P,
        memory,
    )

    if not P.safety_dispersion:  # the safety family judged as Poisson counts (recall first)
        alpha = np.where(_desc(panel, "family", "", idx).astype(str) == P.safety_family, 0.0, alpha)
    yt, ot = y[:, t], o[:, t]
    res = _baseline_test(y[:, b0:t], o[:, b0:t], w_hist[:, b0:t], yt, ot, alpha, P, memory)
    far = _farrington(
        y, o, np.where(past_flag, P.flagged_weight, 1.0) * (valid & exists), t, ti - ef, yt, ot, alpha, P
    )
    cus = _cusum(y, o, clean, t, alpha, P)

    testable = res["n_base"] >= P.min_baseline_periods
    keep = testable
    sel = np.nonzero(keep)[0]

    def k(arr):
        return np.asarray(arr)[sel]

    yt_k = k(yt)
    has_f = k(far["available"])
    p_b = k(res["p"])
    p_f = k(far["p"])
    p = p_b
    expected = k(res["expected"])
    lo, hi = k(res["lo"]), k(res["hi"])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, yt_k / expected, np.inf)
        ratio_f = np.where(k(far["mu0"]) > 0, yt_k / k(far["mu0"]), np.inf)
    ratio = np.where(yt_k == 0, 0.0, ratio)
    gi = idx[sel]
    p_cus = (
        k(cus["alarm"])
        & (ratio >= P.cusum_min_ratio)
        & np.where(
            has_f, (ratio_f >= P.cusum_min_ratio) & (p_f <= P.cusum_gate_p), p_b <= P.cusum_gate_p_first_year
        )
    )
    young = k(ti - ef) < P.maturity_periods  # periods since the cell's (last) birth
    # a cell holding most of the volume has no reference left (its "rest" is a handful of tickets)
    with np.errstate(divide="ignore", invalid="ignore"):
        dominant = P.exposure_includes_counts & (expected / k(ot) >= P.dominant_odds)
    v = _verdict(
        panel, gi, p, p_f, has_f, ratio, ratio_f, yt_k, p_cus, young, yt_k + k(res["B"]), P, dominant
    )
    q, flagged, methods, family, gated = v["q"], v["flagged"], v["methods"], v["family"], v["gated"]

    # first period of the rise: CUSUM run start, or the start of the run of past flags
    run_start = np.where(k(cus["stat"]) > 0, k(cus["run_start"]) + a, ti)
    pf = past_flag[sel, :t]
    chain = np.cumprod(pf[:, ::-1], axis=1).sum(axis=1) if t > 0 else np.zeros(len(sel), dtype=int)
    first = np.minimum(run_start, ti - chain)
    first = np.where(flagged, first, np.where(k(cus["stat"]) > 0, run_start, ti))

    p0 = int(panel.periods[0])
    out = pd.DataFrame({"level": panel.level[gi], "cell": panel.cell[gi]}, index=gi)
    for c in panel.desc.columns:
        out[c] = panel.desc[c].to_numpy()[gi]
    out.index.name = "cell_index"
    out["period"] = p0 + ti
    out["observed"] = yt_k.astype(np.int64)
    out["expected"] = expected
    out["ratio"] = ratio
    out["ratio_lo"] = lo
    out["ratio_hi"] = hi
    out["p"] = p
    out["q"] = q
    out["methods"] = methods
    out["flagged"] = flagged
    out["first_period"] = (p0 + first).astype(np.int64)
    out["new_cell"] = k(res["B"]) == 0
    out["family"] = family
    out["gated"] = gated
    out["baseline_periods"] = k(res["n_base"]).astype(np.int64)
    # extras (for reports and the benchmark)
    out["exposure"] = panel.expo[gi, ti]
    out["expected_baseline"] = k(res["expected"])
    out["p_baseline"] = p_b
    out["expected_seasonal"] = np.where(has_f, k(far["mu0"]), np.nan)
    out["p_seasonal"] = np.where(has_f, p_f, np.nan)
    out["cusum"] = k(cus["stat"])
    out["cusum_alarm"] = k(cus["alarm"])
    out["dispersion"] = 1.0 + k(alpha) * k(res["expected"])
    return out


def _desc(panel: Panel, col: str, default, gi: np.ndarray) -> np.ndarray:
    if col in panel.desc.columns:
        v = panel.desc[col].to_numpy()[gi]
        return np.where(pd.isna(v), default, v) if default is not None else v
    return np.full(len(gi), default, dtype=object)


def _verdict(
    panel: Panel, gi, p, p_f, has_f, ratio, ratio_f, yt, cus_alarm, young, n_cond, P: SurgeParams, dominant
) -> dict:
    """q, flagged and methods per tested cell, family by family.

    Without a ``family`` column every cell is one family (BH over all). With it: BH per family over
    its top-level cells (``parent`` None), then, depth by depth, per parent that was flagged over its
    children; cells under a parent that did not move are not tested (``gated``, q NaN). Emerging
    cells (``emerging``) and young cells where birth is not news (``flag_new`` False: fewer than
    ``maturity_periods`` since birth) are never flagged and not counted in a family. Nor are cells
    whose conditional total (this period + baseline) is below the family's ``min_count``: they can
    never be flagged, and the total is independent of the conditional test's p-value under the null
    (Bourgon et al. 2010), so leaving them out keeps the false-discovery control. The safety family uses its own (recall-favouring) level and floors."""
    n = len(gi)
    family = _desc(panel, "family", "all", gi).astype(str)
    parent = _desc(panel, "parent", None, gi)
    emerging = _desc(panel, "emerging", False, gi).astype(bool)
    flag_new = _desc(panel, "flag_new", True, gi).astype(bool)
    unborn = young & ~flag_new
    # parent -> position among the tested cells (a parent not tested never moved)
    pos = {f"{lv}\t{c}": j for j, (lv, c) in enumerate(zip(panel.level[gi], panel.cell[gi], strict=True))}
    par = np.array(
        [-2 if x is None or (isinstance(x, float) and np.isnan(x)) else pos.get(str(x), -1) for x in parent],
        dtype=np.int64,
    )  # -2 top level, -1 parent not tested
    dominant = np.asarray(dominant, dtype=bool)
    # a dominant cell (most of the volume: a catch-all theme, a brand's only product) is no test of
    # anything and no gate: its children are judged as top-level cells of their family
    par = np.where((par >= 0) & dominant[np.maximum(par, 0)], -2, par)
    depth = np.where(par == -2, 0, -1)
    for _ in range(8):  # chains are short (theme > topic > topic x product > x batch)
        up = np.where(par >= 0, depth[np.maximum(par, 0)], -1)
        depth = np.where(par >= 0, np.where(up >= 0, up + 1, -1), depth)
    safety = family == P.safety_family
    fdr = np.where(safety, P.safety_fdr_q, P.fdr_q)
    min_count = np.where(safety, P.safety_min_count, P.min_count)
    min_ratio = np.where(
        safety, P.safety_min_ratio, np.where(family == P.product_family, P.product_min_ratio, P.min_ratio)
    )
    # where a year of history exists the count must also be high for the season (veto of seasonal
    # peaks and of long-accepted level shifts)
    season_ok = ~has_f | ((p_f <= P.seasonal_veto_p) & (ratio_f >= P.seasonal_veto_ratio))
    q = np.full(n, np.nan)
    flagged = np.zeros(n, dtype=bool)
    fired_b = np.zeros(n, dtype=bool)
    fired_f = np.zeros(n, dtype=bool)
    fired_c = np.zeros(n, dtype=bool)
    gated = depth < 0
    candidate = ~emerging & ~unborn & ~dominant & (n_cond >= min_count)
    for d in range(int(depth.max(initial=0)) + 1):
        at = (depth == d) & candidate
        if d > 0:
            open_ = at & flagged[np.maximum(par, 0)]
            gated |= (depth == d) & ~flagged[np.maximum(par, 0)]
            at = open_
        if not at.any():
            continue
        groups = pd.Series(family[at]).str.cat(pd.Series(par[at]).astype(str), sep="\t").to_numpy()
        for g in np.unique(groups):
            m = np.nonzero(at)[0][groups == g]
            qm = bh(p[m])
            q[m] = qm
            sig = qm <= fdr[m]
            if P.safety_p > 0 and safety[m[0]]:  # recall first: per cell, no correction
                sig = p[m] <= P.safety_p
            p_cut = p[m][sig].max() if sig.any() else -1.0
            fired_b[m] = sig & season_ok[m]
            fired_f[m] = has_f[m] & (p_f[m] <= p_cut)
            fired_c[m] = cus_alarm[m]
            flagged[m] = (fired_b[m] & (yt[m] >= min_count[m]) & (ratio[m] >= min_ratio[m])) | (
                fired_c[m] & (yt[m] >= min_count[m])
            )
    # levels also judged on their own, whatever their parent did (``SurgeParams.free_levels``): one
    # more false-discovery family over all their cells of the period, flagged if either route flags
    free = candidate & np.isin(panel.level[gi], list(P.free_levels)) if P.free_levels else np.zeros(n, bool)
    if free.any():
        m = np.nonzero(free)[0]
        qm = bh(p[m])
        q[m] = np.fmin(q[m], qm)
        sig = (qm <= fdr[m]) & season_ok[m]
        fired_b[m] |= sig
        flagged[m] |= sig & (yt[m] >= min_count[m]) & (ratio[m] >= min_ratio[m])
        gated[m] = False
    names = ("baseline", "seasonal", "cusum")
    table = np.array(
        ["+".join(nm for j, nm in enumerate(names) if c >> j & 1) for c in range(8)], dtype=object
    )
    methods = table[fired_b.astype(int) + 2 * fired_f.astype(int) + 4 * fired_c.astype(int)]
    methods = np.where(dominant, "dominant", methods)
    methods = np.where(unborn, "young", methods)
    methods = np.where(emerging, "emerging", methods)
    return {"q": q, "flagged": flagged, "methods": methods, "family": family, "gated": gated & candidate}


# --------------------------------------------------------------------------------------------------
def _dispersion(y, o, sel, usable_all, level_code, P: SurgeParams, memory=None) -> np.ndarray:
    """Negative binomial alpha per cell (var = mu + alpha mu^2), shrunk towards the trimmed-mean alpha
    of the cells of the same level and count-size stratum.

    The cell's own estimate comes from one-step-ahead prediction errors of the very predictor the
    baseline test uses (the mean rate of the previous k usable-looking periods) over its recent
    periods ``sel``: so drift (seasonality, trends) inside the baseline window counts as dispersion,
    and the test stays calibrated. Errors are winsorised at 5 robust SDs, so a topic dying out, a
    level shift or one past spike barely move it."""
    C, H = y.shape
    k = np.full(C, P.baseline_weeks, dtype=np.int64) if memory is None else np.asarray(memory)
    u = usable_all.astype(float)
    cy = np.concatenate([np.zeros((C, 1)), np.cumsum(y * u, axis=1)], axis=1)
    co = np.concatenate([np.zeros((C, 1)), np.cumsum(o * u, axis=1)], axis=1)
    cn = np.concatenate([np.zeros((C, 1)), np.cumsum(u, axis=1)], axis=1)
    lo = np.maximum(np.arange(H)[None, :] - k[:, None], 0)
    Yp = cy[:, :H] - np.take_along_axis(cy, lo, axis=1)
    Op = co[:, :H] - np.take_along_axis(co, lo, axis=1)
    Np = cn[:, :H] - np.take_along_axis(cn, lo, axis=1)
    ok = sel & (Np >= P.min_baseline_periods) & (Op > 0) & (Yp > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pred = np.where(ok, Yp / np.where(Op > 0, Op, 1.0) * o, np.nan)
        e2 = np.where(ok, (y - pred) ** 2 / (1.0 + 1.0 / np.maximum(Np, 1)), np.nan)
    n_ok = ok.sum(axis=1)
    n = sel.sum(axis=1).astype(float)
    mean = np.where(n > 0, (y * sel).sum(axis=1) / np.maximum(n, 1), 0.0)
    own = np.zeros(C)
    usable = n_ok >= 3
    if usable.any():
        import warnings

        eu, pu = e2[usable], pred[usable]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            lim = 25.0 * np.maximum(np.nanmedian(eu, axis=1) / 0.455, np.nanmean(pu, axis=1))
            ew = np.minimum(eu, lim[:, None])
            num = np.nansum(ew - pu, axis=1)
            den = np.nansum(pu**2, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            own[usable] = np.clip(np.where(den > 0, num / den, 0.0), 0.0, 5.0)
    # cells dying out (recent mean < 1/4 of the window's) say nothing about the others' noise
    recent = _last_n(sel, 3)
    rmean = (y * recent).sum(axis=1) / np.maximum(recent.sum(axis=1), 1)
    usable = usable & (mean > 0) & (rmean >= 0.25 * mean)
    # pooled: trimmed mean per level x log2 count-size stratum (>= 5 cells), else the level's
    nb = 16
    stratum = np.clip(np.floor(np.log2(mean + 0.5)).astype(int) + 2, 0, nb - 1)
    lv = level_code.astype(np.int64)
    g = lv * nb + stratum
    pooled = np.zeros(C)
    if usable.any():
        dfu = pd.DataFrame({"g": g[usable], "lv": lv[usable], "a": own[usable]})
        g_med = dfu.groupby("g")["a"].agg([("median", _trim_mean), ("size", "size")])
        l_med = dfu.groupby("lv")["a"].agg(_trim_mean)
        lvl = l_med.reindex(lv).fillna(0.0).to_numpy()
        gm = g_med.reindex(g)
        pooled = np.where(gm["size"].fillna(0).to_numpy() >= 5, gm["median"].fillna(0).to_numpy(), lvl)
    w_own = np.where(n_ok >= 3, n_ok * mean / (mean + P.dispersion_half_count), 0.0)
    return (w_own * own + P.dispersion_prior_df * pooled) / (w_own + P.dispersion_prior_df)


def _trim_mean(a) -> float:
    """Mean without the top and bottom 10% (one each side at least); the median below 5 values."""
    v = np.sort(np.asarray(a, float))
    if len(v) < 5:
        return float(np.median(v))
    k = max(1, int(0.1 * len(v)))
    return float(v[k : len(v) - k].mean())


def _nb_sf(y, mu, phi):
    """P(Y >= y) for a count with mean mu and variance phi * mu (negative binomial; Poisson if phi=1)."""
    y = np.asarray(y, float)
    mu = np.maximum(np.asarray(mu, float), 1e-12)
    phi = np.asarray(phi, float)
    out = np.ones(np.broadcast(y, mu, phi).shape)
    pos = y > 0
    over = phi > 1 + 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        size = mu / np.where(over, phi - 1, 1.0)
        nb = special.betainc(np.where(pos, y, 1.0), size, mu / (size + mu))
        po = special.gammainc(np.where(pos, y, 1.0), mu)
    return np.where(pos, np.where(over, nb, po), out)


def _baseline_test(yb, ob, w, yt, ot, alpha, P: SurgeParams, memory=None) -> dict:
    sel = _last_n(w > 0, P.baseline_weeks if memory is None else memory)
    wb = w * sel
    n_base = sel.sum(axis=1)
    B0 = (wb * yb).sum(axis=1)
    O0 = (wb * ob).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(O0 > 0, B0 / O0, 0.0)
        mu = rate[:, None] * ob
        phi_s = 1.0 + alpha[:, None] * mu
        z = np.where(mu > 0, (yb - mu) / np.sqrt(phi_s * mu), 0.0)
        f = np.where(z > P.outlier_z, (P.outlier_z / z) ** 2, 1.0)
    wb = wb * f
    B = (wb * yb).sum(axis=1)
    OB = (wb * ob).sum(axis=1)
    OB = np.where(OB > 0, OB, np.nan)
    expected = ot * np.where(B > 0, B, 0.5) / OB
    phi = 1.0 + alpha * ot * B / OB
    ys, Bs = yt / phi, B / phi
    pi0 = ot / (ot + OB)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_cond = np.where(yt > 0, special.betainc(np.maximum(ys, 1e-12), Bs + 1.0, pi0), 1.0)
        # negative binomial predictive tail (mean = expected, variance phi mu (1 + mu / B)): the
        # scaled conditional binomial is too light in the far right tail of skewed NB counts; use the
        # larger (more cautious) of the two
        p_nb = _nb_sf(
            yt,
            np.where(np.isfinite(expected), expected, 1.0),
            phi * (1.0 + np.where(np.isfinite(expected), expected, 1.0) / np.maximum(B, 0.5)),
        )
        p = np.where(B > 0, np.maximum(p_cond, p_nb), p_cond)
        pl = np.where(ys > 0, special.betaincinv(np.maximum(ys, 1e-12), Bs + 1.0, 0.025), 0.0)
        ph = np.where(Bs > 0, special.betaincinv(ys + 1.0, np.maximum(Bs, 1e-12), 0.975), 1.0)
        scale = OB / ot
        lo = pl / (1 - pl) * scale
        hi = np.where(ph < 1, ph / (1 - ph) * scale, np.inf)
    p = np.where(np.isfinite(p), p, 1.0)
    return {"p": p, "expected": expected, "lo": lo, "hi": hi, "B": B, "n_base": n_base}


def _farrington(y, o, w, t, history, yt, ot, alpha, P: SurgeParams) -> dict:
    """Improved Farrington (Noufaily et al. 2013), vectorised: closed-form level rates given the trend
    slope, slope by profile Newton steps (only where >= trend_min_periods of history)."""
    C = y.shape[0]
    S, wdw, L = P.season_length, P.farrington_window, P.farrington_levels
    nan = np.full(C, np.nan)
    out = {"available": np.zeros(C, dtype=bool), "mu0": nan, "p": np.ones(C), "lo": nan, "hi": nan}
    s_hi = t - P.farrington_exclude_recent
    s_lo = max(0, t - P.farrington_years * S - wdw)
    if s_hi <= s_lo or C == 0:
        return out
    cols = np.arange(s_lo, s_hi + 1)
    delta = (t - cols) % S
    in_win = (delta <= wdw) | (delta >= S - wdw)
    rest = S - 2 * wdw - 1
    lev = np.where(in_win, 0, 1 + ((delta - wdw - 1) * (L - 1)) // max(rest, 1))
    lev = np.clip(lev, 0, L - 1)
    onehot = np.zeros((len(cols), L))
    onehot[np.arange(len(cols)), lev] = 1.0
    Y = y[:, cols]
    Oc = o[:, cols]
    W = w[:, cols]
    tau = (cols - t) / S  # years before now (negative)
    win_pts = ((W > 0) & in_win[None, :]).sum(axis=1)
    avail = (history >= P.farrington_min_periods) & (win_pts >= 3)
    trend_ok = avail & (history >= P.farrington_trend_min_periods)

    def fit(Wt, use_trend):
        beta = np.zeros(C)
        info = np.zeros(C)
        trend = bool(use_trend.any())
        Sy = (Wt * Y) @ onehot
        WO = Wt * Oc
        for _ in range(6 if trend else 0):  # profile Newton steps for the slope
            ex = np.exp(beta[:, None] * tau[None, :])
            So = (WO * ex) @ onehot
            with np.errstate(divide="ignore", invalid="ignore"):
                R = np.where(So > 0, Sy / So, 0.0)
            mu = R[:, lev] * Oc * ex
            U = (Wt * tau * (Y - mu)).sum(axis=1)
            a1 = (Wt * tau * mu) @ onehot
            a0 = (Wt * mu) @ onehot
            with np.errstate(divide="ignore", invalid="ignore"):
                info = (Wt * tau**2 * mu).sum(axis=1) - np.where(a0 > 0, a1**2 / a0, 0.0).sum(axis=1)
                step = np.where(use_trend & (info > 1e-9), U / info, 0.0)
            beta = np.clip(beta + step, -3, 3)
        ex = np.exp(beta[:, None] * tau[None, :]) if trend else 1.0
        So = (WO * ex) @ onehot
        with np.errstate(divide="ignore", invalid="ignore"):
            R = np.where(So > 0, Sy / So, 0.0)
        mu = R[:, lev] * Oc * ex
        n = ((Wt > 0) & (mu > 0)).sum(axis=1)
        npar = (So > 0).sum(axis=1) + use_trend
        with np.errstate(divide="ignore", invalid="ignore"):
            pear = np.where(mu > 0, Wt * (Y - mu) ** 2 / mu, 0.0).sum(axis=1)
            phi = np.where(n - npar >= 1, np.maximum(1.0, pear / np.maximum(n - npar, 1)), 1.0)
        return Sy, So, mu, phi, beta, info

    Wt = W * avail[:, None]
    Sy, So, mu, phi, beta, info = fit(Wt, trend_ok)
    # Anscombe residuals > 2.58 down-weighted (w ~ r^-2), weights renormalised
    with np.errstate(divide="ignore", invalid="ignore"):
        r = 1.5 * (np.cbrt(Y) ** 2 - np.cbrt(mu) ** 2) / (np.sqrt(phi)[:, None] * mu ** (1 / 6))
        f = np.where((mu > 0) & (r > P.outlier_z), r**-2.0, 1.0)
    Wn = Wt * f
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(Wn.sum(axis=1) > 0, Wt.sum(axis=1) / Wn.sum(axis=1), 1.0)
    Wn = Wn * gamma[:, None]
    Sy, So, mu, phi, beta, info = fit(Wn, trend_ok)
    if trend_ok.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.sqrt(phi / info)
            zt = np.abs(beta) / se
        R0 = np.where(So[:, 0] > 0, Sy[:, 0] / np.where(So[:, 0] > 0, So[:, 0], 1), 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            max_rate = np.where(Oc > 0, Y / np.where(Oc > 0, Oc, 1), 0).max(axis=1)
        keep = trend_ok & (zt > special.ndtri(1 - P.farrington_trend_alpha / 2)) & (R0 <= max_rate)
        if (trend_ok & ~keep).any():
            Sy2, So2, _, phi2, _, _ = fit(Wn, np.zeros(C, dtype=bool))
            drop = trend_ok & ~keep
            Sy[drop], So[drop], phi[drop] = Sy2[drop], So2[drop], phi2[drop]
    Y0, O0 = Sy[:, 0], So[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0 = ot * np.where(Y0 > 0, Y0, 0.5) / O0
        phi_eff = phi * (1.0 + mu0 / np.maximum(Y0, 0.5))
    avail = avail & (O0 > 0) & np.isfinite(mu0)
    mu0 = np.where(avail, mu0, np.nan)
    p = np.where(avail, _nb_sf(yt, np.where(avail, mu0, 1.0), np.where(avail, phi_eff, 1.0)), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = yt / mu0
        se = np.minimum(np.sqrt(phi / np.maximum(yt, 0.5) + phi / np.maximum(Y0, 0.5)), 50.0)
        lo = np.where(yt > 0, ratio * np.exp(-Z975 * se), 0.0)
        hi = np.where(Y0 > 0, np.maximum(ratio, 0.5 / mu0) * np.exp(Z975 * se), np.inf)
    out.update(available=avail, mu0=mu0, p=p, lo=lo, hi=hi)
    return out


def _cusum(y, o, clean, t, alpha, P: SurgeParams) -> dict:
    """Negative binomial CUSUM over the last ``cusum_window`` periods, in-control rate from the
    ``cusum_ref_periods`` usable periods before the window."""
    C = y.shape[0]
    m = P.cusum_window
    ws = t - m + 1
    out = {"stat": np.zeros(C), "run_start": np.full(C, t), "alarm": np.zeros(C, dtype=bool)}
    if ws < P.min_baseline_periods or C == 0:
        return out
    ref = _last_n(clean[:, :ws], P.cusum_ref_periods)
    n_ref = ref.sum(axis=1)
    Yr = (y[:, :ws] * ref).sum(axis=1)
    Or = (o[:, :ws] * ref).sum(axis=1)
    ok = (n_ref >= P.min_baseline_periods) & (Or > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r0 = np.where(ok, np.maximum(Yr, 0.5) / np.where(Or > 0, Or, 1.0), 0.0)
    phi = 1.0 + alpha * Yr / np.maximum(n_ref, 1)
    adj, adj_var = _year_ago_adjust(y, o, clean, ref, ws, t, P)
    # + relative variance of the in-control mean (rate estimate and seasonal correction)
    a_eff = alpha + phi / np.maximum(Yr, 0.5) + phi * adj_var
    size = 1.0 / a_eff
    kap = P.cusum_k
    Sc = np.zeros(C)
    start = np.full(C, t)
    run_y = np.zeros(C)
    run_mu = np.zeros(C)
    for s in range(ws, t + 1):
        mu0 = r0 * o[:, s] * adj[:, s - ws]
        v = (o[:, s] > 0) & ok
        with np.errstate(divide="ignore", invalid="ignore"):
            llr = y[:, s] * np.log(kap * (size + mu0) / (size + kap * mu0)) + size * np.log(
                (size + mu0) / (size + kap * mu0)
            )
        llr = np.where(v & (mu0 > 0), llr, 0.0)
        new = np.maximum(0.0, Sc + llr)
        starting = (Sc <= 0) & (new > 0)
        start = np.where(starting, s, start)
        run_y = np.where(new > 0, np.where(starting, 0, run_y) + y[:, s], 0.0)
        run_mu = np.where(new > 0, np.where(starting, 0, run_mu) + mu0, 0.0)
        Sc = new
    with np.errstate(divide="ignore", invalid="ignore"):
        run_ratio = np.where(run_mu > 0, run_y / run_mu, 0.0)
    out["stat"] = Sc
    out["run_start"] = start
    out["alarm"] = ok & (Sc > P.cusum_h) & (run_ratio >= P.cusum_min_ratio)
    return out


def _year_ago_adjust(y, o, clean, ref, ws, t, P: SurgeParams) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal correction of the CUSUM's in-control mean where a year of history exists: last year's
    rate around s (+-w) over last year's rate in the reference periods, shrunk towards 1 when counts
    are small. (C, window) multipliers; 1 where last year is not available."""
    C = y.shape[0]
    S, w = P.season_length, P.farrington_window
    m = t - ws + 1
    adj = np.ones((C, m))
    var = np.zeros(C)
    if ws - S < 0 or t - S - w < 0:
        return adj, var
    rs = ref[:, S:ws] & clean[:, : ws - S]
    Yr = (y[:, : ws - S] * rs).sum(axis=1)
    Or = (o[:, : ws - S] * rs).sum(axis=1)
    for j, s in enumerate(range(ws, t + 1)):
        lo, hi = max(0, s - S - w), s - S + w + 1
        cm = clean[:, lo:hi]
        Ya = (y[:, lo:hi] * cm).sum(axis=1)
        Oa = (o[:, lo:hi] * cm).sum(axis=1)
        ok = (Or > 0) & (Oa > 0) & (Yr > 0) & (Ya > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            la = np.log((Ya / Oa) / (Yr / Or))
            n = np.minimum(Ya, Yr)
            adj[:, j] = np.where(ok, np.exp(la * n / (n + 20.0)), 1.0)
            var = np.maximum(var, np.where(ok, 1.0 / np.maximum(Ya, 0.5) + 1.0 / np.maximum(Yr, 0.5), 0.0))
    return adj, var
