"""Surge detection: statistics on seeded simulations, BH by hand, missing data, CFPB Sept 2017."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from voc.reports.explanations import explain
from voc.surges import (
    SurgeParams,
    backtest,
    batch_concentration,
    bh,
    build_panel,
    detect,
    detect_panel,
    global_rise,
)
from voc.surges.backtest import find_missing_periods, parse_periods
from voc.surges.sim import simulate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CFPB = DATA / "cfpb_monthly_by_product.csv"


def _grid(n_cells=200, n_weeks=40, base=10.0, seed=0, level="topic", p0=2800):
    """Poisson counts on a full grid, exposure = total volume (incl. other tickets)."""
    rng = np.random.default_rng(seed)
    y = rng.poisson(base, (n_cells, n_weeks)).astype(float)
    expo = y.sum(axis=0) + 5000.0
    return y, expo, _long(y, expo, level=level, p0=p0)


def _long(y, expo, level="topic", p0=2800):
    C, T = y.shape
    return pd.DataFrame(
        {
            "level": level,
            "cell": np.repeat([f"c{i}" for i in range(C)], T),
            "period": np.tile(np.arange(T) + p0, C),
            "count": y.ravel().astype(int),
            "exposure": np.tile(expo, C),
        }
    )


@pytest.fixture(scope="module")
def sim():
    return simulate(n_cells=1200, n_weeks=80, onset_range=(40, 70), spike_week=50, seed=7)


@pytest.fixture(scope="module")
def sim_results(sim):
    panel = build_panel(sim.long())
    out = {}
    for ti in range(12, sim.y.shape[1]):
        r = detect_panel(panel, ti, SurgeParams())
        panel.flags[r.index.to_numpy(), ti] = r["flagged"].to_numpy()
        out[ti] = r
    return out


# --- BH -------------------------------------------------------------------------------------------
def test_bh_matches_hand_computation():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    # sorted: 0.005(1) 0.01(2) 0.03(3) 0.04(4) 0.2(5); p*m/rank: .025 .025 .05 .05 .2 ; monotone from top
    expected = np.array([0.025, 0.05, 0.05, 0.025, 0.2])
    np.testing.assert_allclose(bh(p), expected)
    assert np.isnan(bh(np.array([np.nan, 0.01]))[0]) and bh(np.array([np.nan, 0.01]))[1] == pytest.approx(
        0.01
    )


def test_bh_q_column_is_bh_of_p_across_levels():
    y, expo, a = _grid(n_cells=60, seed=1, level="topic")
    y[3, -1] = 40
    a = _long(y, expo, level="topic")
    b = _long(y[:30] + 1, expo, level="topic×product")
    r = detect(pd.concat([a, b]), int(a["period"].max()))
    assert set(r["level"]) == {"topic", "topic×product"}
    np.testing.assert_allclose(r["q"].to_numpy(), bh(r["p"].to_numpy()))


# --- planted surge, null, global spike -------------------------------------------------------------
def test_planted_surge_flagged_with_interval_and_methods():
    y, expo, _ = _grid(seed=2)
    y[5, -1] = 35  # baseline 10/week -> 3.5x
    r = detect(_long(y, expo), 2800 + y.shape[1] - 1).set_index("cell")
    row = r.loc["c5"]
    assert row["flagged"] and "baseline" in row["methods"]
    assert row["ratio_lo"] < row["ratio"] < row["ratio_hi"] and row["ratio_lo"] > 1.5
    assert row["expected"] == pytest.approx(10, rel=0.3)
    assert row["first_period"] == row["period"] and not row["new_cell"]
    assert r["flagged"].sum() <= 2


def test_surge_below_min_ratio_or_count_not_flagged():
    y, expo, _ = _grid(base=2.0, seed=3)
    y[1, -1] = 4  # 2x but below min_count
    r = detect(_long(y, expo), 2800 + y.shape[1] - 1).set_index("cell")
    assert not r.loc["c1", "flagged"]


def test_null_simulation_false_alarm_rate_bounded(sim, sim_results):
    null = sim.event == ""
    n = fa = 0
    for ti, r in sim_results.items():
        if ti == sim.spike_week:
            continue
        m = null[r.index.to_numpy()]
        n += int(m.sum())
        fa += int(r["flagged"].to_numpy()[m].sum())
    assert n > 50_000
    assert fa / n < 0.002, f"{fa} false alarms in {n} null cell-weeks"


def test_planted_events_recalled(sim, sim_results):
    """Large steps on a busy cell are caught in their first week (smaller ones are often not
    detectable at all at a tolerable false-alarm rate: see bench/surges.py's oracle ceiling)."""
    big = np.nonzero((sim.event == "step") & (sim.size >= 1.0) & (sim.base >= 50))[0]
    hits = [bool(sim_results[sim.onset[c]].loc[c, "flagged"]) for c in big]
    assert len(big) >= 15 and np.mean(hits) >= 0.8
    # and a +200% step at 10/week is caught within its 4 weeks most of the time
    mid = np.nonzero((sim.event == "step") & (sim.size >= 2.0) & (sim.base == 10))[0]
    any_hit = [any(sim_results[sim.onset[c] + d].loc[c, "flagged"] for d in range(4)) for c in mid]
    assert len(mid) >= 10 and np.mean(any_hit) >= 0.3


def test_global_spike_week_does_not_flag_topics(sim, sim_results):
    r = sim_results[sim.spike_week]
    assert r["flagged"].sum() <= 2, r[r["flagged"]]
    # a naive week-over-week rule would drown in it
    y = sim.y
    naive = ((y[:, sim.spike_week] >= 5) & (y[:, sim.spike_week] >= 1.15 * y[:, sim.spike_week - 1])).sum()
    assert naive > 200
    # ... and the volume-wide rise is reported once, by global_rise
    totals = pd.Series(sim.exposure, index=sim.periods)
    g = global_rise(totals, int(sim.periods[sim.spike_week]))
    assert g is not None and g.ratio > 1.5
    assert global_rise(totals, int(sim.periods[sim.spike_week - 3])) is None


def test_spike_without_exposure_adjustment_would_flag():
    """The exposure is what protects topic cells: with a constant exposure the spike flags them."""
    rng = np.random.default_rng(5)
    y = rng.poisson(20.0, (100, 30)).astype(float)
    y[:, -1] = rng.poisson(40.0, 100)
    expo_total = y.sum(axis=0) + 3000 * np.r_[np.ones(29), 2.0]
    r_ok = detect(_long(y, expo_total), 2829)
    r_const = detect(_long(y, np.full(30, 1e5)), 2829)
    assert r_ok["flagged"].sum() <= 1
    assert r_const["flagged"].sum() > 50


def test_cusum_catches_slow_rise():
    """+8%/week for 8 weeks: never 1.5x the trailing 8 weeks, but a sustained rise."""
    rng = np.random.default_rng(11)
    T = 70
    mult = np.ones(T)
    mult[-8:] = 1.08 ** np.arange(1, 9)
    y = rng.poisson(30.0, (50, T)).astype(float)
    y[0] = rng.poisson(30.0 * mult)
    r = detect(_long(y, y.sum(axis=0) + 5000), 2800 + T - 1).set_index("cell")
    row = r.loc["c0"]
    assert row["ratio"] < 1.5  # the one-week verdict alone would not flag it
    assert row["flagged"] and "cusum" in row["methods"], row
    assert row["first_period"] <= row["period"] - 3
    assert r["flagged"].sum() == 1


# --- missing data ---------------------------------------------------------------------------------
def test_missing_exposure_period_is_skipped_and_not_a_baseline():
    y, expo, _ = _grid(seed=4)
    T = y.shape[1]
    long = _long(y, expo)
    long.loc[long["period"] == 2800 + T - 1, "exposure"] = np.nan
    assert len(detect(long, 2800 + T - 1)) == 0  # nothing tested in a missing period
    # a broken (huge) period before the tested one, marked missing, does not drown the baseline
    y2 = y.copy()
    y2[:, T - 3] = 500
    y2[7, -1] = 35
    long2 = _long(y2, expo)
    long2.loc[long2["period"] == 2800 + T - 3, "exposure"] = np.nan
    r = detect(long2, 2800 + T - 1).set_index("cell")
    assert r.loc["c7", "flagged"] and r.loc["c7", "expected"] < 15


def test_absent_rows_mean_zero_and_take_the_level_exposure():
    y, expo, long = _grid(seed=6)
    y[9, -1] = 40
    long = _long(y, expo)
    sparse = long[(long["count"] > 0) | (long["cell"] == "c0")]  # drop zero rows
    a = detect(long, 2839).set_index("cell")
    b = detect(sparse, 2839).set_index("cell")
    assert b.loc["c9", "flagged"]
    common = a.index.intersection(b.index)
    np.testing.assert_allclose(a.loc[common, "p"], b.loc[common, "p"])


def test_descriptive_columns_carried_and_new_cell():
    y, expo, long = _grid(n_cells=30, seed=8)
    long["product"] = "oven-X"
    long["batch"] = "B2409"
    new = pd.DataFrame(
        {
            "level": "topic",
            "cell": ["brand-new"],
            "period": [2839],
            "count": [25],
            "exposure": [expo[-1]],
            "product": ["oven-Y"],
            "batch": ["B1"],
        }
    )
    r = detect(pd.concat([long, new]), 2839).set_index("cell")
    assert r.loc["c3", "product"] == "oven-X" and r.loc["brand-new", "product"] == "oven-Y"
    assert r.loc["brand-new", "new_cell"] and r.loc["brand-new", "flagged"]
    assert list(r.columns[:3]) == ["level", "product", "batch"]


def test_backtest_tiny_periods_are_missing_not_flagged():
    rng = np.random.default_rng(9)
    months = pd.period_range("2020-01", "2023-12", freq="M").astype(str)
    rows = []
    for m in months:
        broken = "2022-04" <= m <= "2022-09"
        for prod, lam in (("cards", 400), ("loans", 300), ("mortgage", 800)):
            n = int(rng.integers(1, 5)) if broken else int(rng.poisson(lam * rng.gamma(50, 1 / 50)))
            rows.append((m, prod, n))
    df = pd.DataFrame(rows, columns=["month", "product", "n"])
    res = backtest(df, "month", ["product"], "n", freq="M")
    miss = res.attrs["missing_periods"]
    assert miss == [f"2022-{m:02d}" for m in range(4, 10)]
    assert not res["period_label"].isin(miss).any()
    assert find_missing_periods(pd.Series([100.0, 110, 90, 3, 95]), SurgeParams()) == [3]


def test_parse_periods():
    w = parse_periods(pd.Series(["2026-W47", "2026-11-16", "2026-11-22"]), "W")
    assert w[0] == w[1] == w[2]
    from datetime import date

    assert w[0] == date(2026, 11, 16).toordinal() // 7
    m = parse_periods(pd.Series(["2017-09", "2017-10"]), "M")
    assert m[1] - m[0] == 1


# --- batch concentration, explanation --------------------------------------------------------------
def test_batch_concentration_finds_planted_batch():
    product = {"B2407": 3000, "B2408": 3000, "B2409": 2000, "B2410": 2000}
    topic = {"B2407": 3, "B2408": 2, "B2409": 25, "B2410": 1}
    c = batch_concentration(topic, product)
    assert c is not None and c.top_batch == "B2409"
    assert c.share == pytest.approx(25 / 31) and c.expected_share == pytest.approx(0.2)
    assert 1 < c.ratio < (25 / 31) / 0.2 and c.p < 1e-6
    # proportional to the product mix -> no concentration
    assert batch_concentration({"B2407": 9, "B2408": 10, "B2409": 6, "B2410": 6}, product) is None
    # one complaint in a tiny batch is not a concentration
    assert batch_concentration({"B2407": 5, "Bx": 1}, {"B2407": 1000, "Bx": 1}) is None


def test_explain_formats():
    row = {
        "observed": 31,
        "expected": 12.2,
        "ratio": 2.55,
        "q": 0.003,
        "methods": "baseline",
        "new_cell": False,
        "period": 10,
        "first_period": 10,
    }
    conc = batch_concentration({"B2409": 25, "B2408": 6}, {"B2409": 100, "B2408": 400})
    zh = explain(row, "门关不紧", "zh", conc)
    en = explain(row, "door not closing", "en", conc)
    assert zh == "门关不紧：31 起投诉，预期约 12 起（2.5×，q=0.003）；81% 来自批次 B2409"
    assert en == "door not closing: 31 complaints vs ~12 expected (2.5×, q=0.003); 81% from batch B2409"


# --- real data --------------------------------------------------------------------------------------
def test_cfpb_september_2017_credit_reporting_flagged():
    from tests.conftest import shared_data

    df = pd.read_csv(shared_data(CFPB.name))  # skips locally without ../shared, fails on CI
    res = backtest(df, "month", ["product"], "n", freq="M")
    eq = res[(res["period_label"] == "2017-09") & res["product"].str.startswith("Credit reporting")]
    assert len(eq) == 1 and eq["ratio"].iloc[0] > 1.8
    assert res.attrs["missing_periods"] == [f"2023-{m:02d}" for m in range(4, 11)]
    assert not res["period_label"].between("2023-04", "2023-10").any()


def test_batch_clauses_are_worded_in_one_place_per_language():
    from voc.reports.explanations import batch_count_clause, batch_share_clause

    assert batch_share_clause(0.8, "B2409", "zh") == "；80% 来自批次 B2409"
    assert batch_share_clause(0.8, "B2409", "en") == "; 80% from batch B2409"
    assert batch_count_clause("B2409", 12, 3.14, "zh") == "；批次 B2409 本周 12 件，预期约 3.1 件"
    assert batch_count_clause("B2409", 12, 3.14, "en") == "; batch B2409: 12 vs ~3.1 expected"
