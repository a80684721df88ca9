"""Cells that do not depend on clustering (product×batch, safety), theme levels, structured
false-discovery families and emerging topics (surges.cells + surges.detect, plain values)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voc.reports.explanations import explain
from voc.surges import SurgeParams, build_panel, count_table, detect, detect_panel
from voc.surges.cells import BATCH_LEVELS, young_topics
from voc.surges.sim import simulate_tickets

WEEKS = list(range(3000, 3020))  # 20 weeks, the last one is judged
W = WEEKS[-1]
TOTAL = pd.Series(2000.0, index=WEEKS)


def _rows(rng, topic, product, batch, mean, intent="complaint", safety_mean=0.0, model="M1"):
    out = []
    for wk in WEEKS:
        n = int(rng.poisson(mean))
        s = int(rng.poisson(safety_mean))
        if n or s:
            out.append(
                {
                    "week": wk,
                    "intent": intent,
                    "topic_id": topic,
                    "product": product,
                    "model": model,
                    "batch": batch,
                    "n": n + s,
                    "n_safety": s,
                }
            )
    return out


def _frame(rows) -> pd.DataFrame:
    return (
        pd.DataFrame(rows)
        .groupby(["week", "intent", "topic_id", "product", "model", "batch"], as_index=False)[
            ["n", "n_safety"]
        ]
        .sum()
    )


def _add(df: pd.DataFrame, week, topic, product, batch, n, n_safety=0, intent="complaint") -> pd.DataFrame:
    row = {
        "week": week,
        "intent": intent,
        "topic_id": topic,
        "product": product,
        "model": "M1",
        "batch": batch,
        "n": n,
        "n_safety": n_safety,
    }
    return pd.concat([df, pd.DataFrame([row])], ignore_index=True)


def _flagged(res: pd.DataFrame) -> pd.DataFrame:
    return res[res["flagged"]]


# --- product × batch --------------------------------------------------------------------------------
def test_batch_surge_spread_over_fine_topics_is_flagged_at_product_batch_with_the_batch_named():
    rng = np.random.default_rng(1)
    rows = []
    for topic in range(1, 7):  # six fine topics of the purifier, ~2 a week each, over three batches
        for batch in ("WP5-2408", "WP5-2409", "WP5-2410"):
            rows += _rows(rng, topic, "WP5", batch, 0.7)
    for topic in range(7, 40):  # other products' topics
        rows += _rows(rng, topic, f"X{topic % 4}", "", 2.0)
    counts = _frame(rows)
    for topic in range(1, 6):  # +4 in each of five fine topics, all from batch WP5-2410 (+20)
        counts = _add(counts, W, topic, "WP5", "WP5-2410", 4)
    product_total = pd.DataFrame({"week": WEEKS, "product": "WP5", "n": 60})
    # at a strict level (BH 0.05) no fine topic carries it; the product and its batch do
    res = detect(count_table(counts, TOTAL, WEEKS, product_total=product_total), W, SurgeParams(fdr_q=0.05))
    hot = _flagged(res)
    assert "product" in set(hot["level"])  # the batch's cell is looked at under its product
    batch_rows = hot[hot["level"] == "product×batch"]
    assert list(batch_rows["batch"]) == ["WP5-2410"]
    row = batch_rows.iloc[0]
    assert row["exposure"] == 60 and row["family"] == "products"
    # no single fine topic carries it, nor any topic × product × batch cell on its own
    assert not hot["level"].str.startswith("topic").any()
    en = explain(row, "WP5", "en")
    assert en.startswith("WP5, batch WP5-2410: ") and "complaints vs ~" in en
    assert explain(row, "WP5", "zh").startswith("WP5 批次 WP5-2410：")


def test_a_new_batch_is_not_a_surge_by_birth_but_judged_once_it_has_a_history():
    rng = np.random.default_rng(2)
    rows = _rows(rng, 1, "oven", "B1", 6.0) + _rows(rng, 2, "kettle", "K1", 6.0)
    counts = _frame(rows)
    for i, wk in enumerate(WEEKS[-4:]):  # B2 enters the field: ramping complaints, first at W-3
        counts = _add(counts, wk, 1, "oven", "B2", [4, 8, 12, 16][i])
    res = detect(count_table(counts, TOTAL, WEEKS), W).set_index(["level", "cell"])
    b2 = res.loc[("product×batch", "oven|B2")]
    assert not b2["flagged"] and b2["methods"] == "young"
    # older than maturity_periods, the same jump is judged
    young = SurgeParams(maturity_periods=2)
    res2 = detect(count_table(counts, TOTAL, WEEKS), W, young).set_index(["level", "cell"])
    assert res2.loc[("product×batch", "oven|B2"), "methods"] != "young"


# --- safety ------------------------------------------------------------------------------------------
def _safety_panel(seed: int = 3) -> pd.DataFrame:
    """A hair dryer whose 'airflow' topic (~1 a week) hides ~1 safety complaint a week, among 300
    other topics; in the last week 6 safety complaints (one mis-classed as a question)."""
    rng = np.random.default_rng(seed)
    rows = []
    for topic in range(1, 301):
        rows += _rows(rng, topic, f"P{topic % 5}", "", float(rng.choice([0.5, 1.0, 3.0, 8.0])))
    hist = [1, 0, 2, 1, 1, 0, 1, 2, 1, 1, 0, 1, 1, 2, 1, 0, 1, 1, 1]
    counts = _frame(rows)
    for wk, s in zip(WEEKS[:-1], hist, strict=True):
        if s:
            counts = _add(counts, wk, 500, "HD2", "", s + 3, n_safety=s)
        else:
            counts = _add(counts, wk, 500, "HD2", "", 3)
    counts = _add(counts, W, 500, "HD2", "", 8, n_safety=5)
    return _add(counts, W, 900, "HD2", "", 1, n_safety=1, intent="question")


def test_safety_rise_from_one_to_six_is_flagged_in_its_own_family():
    counts = _safety_panel()
    res = detect(count_table(counts, TOTAL, WEEKS), W).set_index(["level", "cell"])
    row = res.loc[("product×safety", "HD2")]
    assert row["observed"] == 6  # complaint and question intents both count
    assert row["flagged"] and row["family"] == "safety"
    assert row["expected"] < 2
    # the same rise among all ~800 cells of every level would not survive one correction
    flat = detect(count_table(counts, TOTAL, WEEKS).drop(columns=["family", "parent"]), W)
    flat = flat.set_index(["level", "cell"])
    assert flat.loc[("product×safety", "HD2"), "q"] > 0.2
    s = explain({**row.to_dict(), "level": "product×safety"}, "HD2", "en")
    assert s.startswith("HD2, safety: 6 safety tickets vs ~")


def test_safety_rule_needs_a_handful():
    counts = _safety_panel()
    counts = counts[~((counts["week"] == W) & (counts["topic_id"].isin([500, 900])))]
    counts = _add(counts, W, 500, "HD2", "", 7, n_safety=4)  # 4: not yet a handful
    res = detect(count_table(counts, TOTAL, WEEKS), W).set_index(["level", "cell"])
    assert not res.loc[("product×safety", "HD2"), "flagged"]


def _safety_products(last: int) -> pd.DataFrame:
    """12 products with ~2 safety complaints a week each (fixed histories); in the last week product
    S0 has ``last`` and the others their usual count."""
    hist = [2, 1, 3, 2, 1, 2, 2, 3, 1, 2, 2, 1, 3, 2, 2, 1, 2, 3, 2]
    rows = []
    for i in range(12):
        h = hist[i:] + hist[:i]
        for wk, s in zip(WEEKS, [*h, last if i == 0 else h[-1]], strict=True):
            rows.append(
                {
                    "week": wk,
                    "intent": "complaint",
                    "topic_id": 1,
                    "product": f"S{i}",
                    "model": "",
                    "batch": "",
                    "n": 20 + s,
                    "n_safety": s,
                }
            )
    return pd.DataFrame(rows)


def test_safety_cells_are_judged_one_by_one_not_diluted_by_the_other_products():
    counts = _safety_products(last=6)
    res = detect(count_table(counts, TOTAL, WEEKS), W).set_index(["level", "cell"])
    row = res.loc[("product×safety", "S0")]
    assert row["flagged"] and 0.01 < row["p"] <= 0.1  # p alone: a false-discovery correction over the
    assert row["q"] > 0.2  # products would have kept it below the line (q over the family)
    bh = detect(count_table(counts, TOTAL, WEEKS), W, SurgeParams(safety_p=0.0)).set_index(["level", "cell"])
    assert not bh.loc[("product×safety", "S0"), "flagged"]
    usual = detect(count_table(_safety_products(last=3), TOTAL, WEEKS), W)
    assert not usual[usual["level"] == "product×safety"]["flagged"].any()


# --- structured families ----------------------------------------------------------------------------
def test_families_flag_a_theme_that_one_global_correction_dilutes():
    """A cell holding exactly a theme (~10 -> 23) among 1,000 null topic cells: top-level family of 20
    themes flags it; one BH over every cell does not."""
    rng = np.random.default_rng(4)
    rows = []
    theme_of = {}
    for topic in range(1, 1001):
        theme_of[topic] = topic % 20
        rows += _rows(rng, topic, f"P{topic % 7}", "", float(rng.choice([0.3, 1.0, 2.0])))
    counts = _frame(rows)
    theme_of[5000] = 99  # theme 99: one topic, ~10 a week, 23 in the last week
    for wk, n in zip(
        WEEKS, [9, 11, 10, 12, 8, 10, 11, 9, 10, 12, 9, 10, 11, 8, 10, 11, 9, 10, 12, 23], strict=True
    ):
        counts = _add(counts, wk, 5000, "WP5", "", n)
    table = count_table(counts, TOTAL, WEEKS, theme_of=theme_of)
    res = detect(table, W).set_index(["level", "cell"])
    assert res.loc[("theme", "99"), "flagged"] and res.loc[("theme", "99"), "q"] <= 0.05
    assert res.loc[("topic", "5000"), "flagged"]  # its topic, tested under the theme that moved
    flat = detect(table.drop(columns=["family", "parent"]), W).set_index(["level", "cell"])
    assert flat.loc[("theme", "99"), "p"] == pytest.approx(res.loc[("theme", "99"), "p"])
    assert not flat.loc[("theme", "99"), "flagged"] and flat.loc[("theme", "99"), "q"] > 0.05


def test_children_are_tested_only_under_a_parent_that_moved():
    rng = np.random.default_rng(5)
    rows = []
    for topic in range(1, 41):
        for p in ("A", "B", "C", "D", "E", "F"):
            rows += _rows(rng, topic, p, "", 3.0)
    counts = _frame(rows)
    counts = _add(counts, W, 7, "A", "", 9)  # topic 7 on product A: +9 on ~3 (topic 7: ~27 on ~18)
    res = detect(count_table(counts, TOTAL, WEEKS), W).set_index(["level", "cell"])
    top = res.loc[("topic", "7")]
    child = res.loc[("topic×product", "7|A")]
    assert not top["flagged"]
    assert child["gated"] and np.isnan(child["q"]) and not child["flagged"]
    assert (res.xs("topic×product", level="level")["gated"]).all()


def test_without_family_columns_one_bh_over_all_cells_as_before():
    counts = _safety_panel()
    table = count_table(counts, TOTAL, WEEKS).drop(columns=["family", "parent", "emerging", "flag_new"])
    res = detect(table, W)
    assert (res["family"] == "all").all() and not res["gated"].any()


# --- theme levels and emerging topics ------------------------------------------------------------------
def test_theme_levels_count_complaints_and_questions_of_their_topics():
    counts = pd.DataFrame(
        [
            {
                "week": W,
                "intent": "complaint",
                "topic_id": 1,
                "product": "WP5",
                "model": "M",
                "batch": "B1",
                "n": 4,
                "n_safety": 0,
            },
            {
                "week": W,
                "intent": "complaint",
                "topic_id": 2,
                "product": "WP5",
                "model": "M",
                "batch": "B2",
                "n": 3,
                "n_safety": 1,
            },
            {
                "week": W,
                "intent": "question",
                "topic_id": 3,
                "product": "WP5",
                "model": "M",
                "batch": "B1",
                "n": 2,
                "n_safety": 1,
            },
            {
                "week": W,
                "intent": "complaint",
                "topic_id": 4,
                "product": "KT",
                "model": "K",
                "batch": "",
                "n": 5,
                "n_safety": 0,
            },
        ]
    )
    t = count_table(counts, TOTAL, WEEKS, theme_of={1: 10, 2: 10, 3: 10, 4: 11})
    now = t[t["period"] == W].set_index(["level", "cell"])
    assert now.loc[("theme", "10"), "count"] == 9  # complaint + question topics of the theme
    assert now.loc[("theme×product", "10|WP5"), "count"] == 9
    assert now.loc[("theme×product×batch", "10|WP5|B1"), "count"] == 6
    assert now.loc[("topic", "1"), "parent"] == "theme\t10"
    assert now.loc[("topic×product", "1|WP5"), "parent"] == "topic\t1"
    assert now.loc[("theme×product×batch", "10|WP5|B1"), "parent"] == "theme×product\t10|WP5"
    assert ("topic", "3") not in now.index  # topic levels hold complaint topics only
    assert now.loc[("product×safety", "WP5"), "count"] == 2 and now.loc[("safety", "all"), "count"] == 2
    assert now.loc[("product", "WP5"), "count"] == 7  # the product level: complaints
    assert set(now["family"]) == {"topics", "products", "safety"}
    no_themes = count_table(counts, TOTAL, WEEKS)
    assert not no_themes["level"].str.startswith("theme").any() and no_themes["parent"].isna().sum() > 0
    assert no_themes[no_themes["level"] == "topic"]["parent"].isna().all()


def test_a_topic_created_this_week_is_emerging_never_a_surge():
    rng = np.random.default_rng(6)
    rows = []
    for topic in range(1, 30):
        rows += _rows(rng, topic, "P", "", 2.0)
    counts = _add(_frame(rows), W, 77, "P", "", 20)  # born this week from leftovers: 20 tickets
    theme_of = {t: 1 for t in range(1, 30)} | {77: 1}
    table = count_table(counts, TOTAL, WEEKS, theme_of=theme_of, new_topics={77})
    res = detect(table, W).set_index(["level", "cell"])
    for key in (("topic", "77"), ("topic×product", "77|P"), ("topic×product×model", "77|P|M1")):
        assert res.loc[key, "methods"] == "emerging" and not res.loc[key, "flagged"]
    # its tickets have no history: not added to its theme yet (the theme is not raised by them)
    assert table[(table["level"] == "theme") & (table["period"] == W)]["count"].iloc[0] < 100
    assert not res.loc[("theme", "1"), "flagged"]
    # without the emerging mark the same cell would be flagged as a new cell
    plain = detect(count_table(counts, TOTAL, WEEKS), W).set_index(["level", "cell"])
    assert plain.loc[("topic", "77"), "flagged"] and plain.loc[("topic", "77"), "new_cell"]


def test_a_young_topic_is_emerging_even_with_a_rebuilt_history():
    """A topic split off a broader one this week gets its earlier tickets (split_history), but it was
    born in a week that is high for it: it stays emerging for its first weeks (topic_maturity_periods)."""
    rng = np.random.default_rng(7)
    rows = []
    for topic in range(1, 30):
        rows += _rows(rng, topic, "P", "", 2.0)
    rows += [r for r in _rows(rng, 78, "P", "", 3.0) if r["week"] < W]  # its rebuilt history: ~3 a week
    counts = _add(_frame(rows), W, 78, "P", "", 20)
    res = detect(count_table(counts, TOTAL, WEEKS, new_topics={78}), W).set_index(["level", "cell"])
    assert res.loc[("topic", "78"), "methods"] == "emerging" and not res.loc[("topic", "78"), "flagged"]
    # once mature, the same counts are judged: 20 against ~3 is a surge
    mature = detect(count_table(counts, TOTAL, WEEKS), W).set_index(["level", "cell"])
    assert mature.loc[("topic", "78"), "flagged"]


def test_young_topics_are_those_born_after_the_first_fit_within_the_maturity_window():
    created = [(1, 100), (2, 100), (3, 105), (4, 107), (5, 108)]
    assert young_topics(created, 108, 3) == {4, 5}  # born at 106..108, after the first fit (100)
    assert young_topics(created, 111, 3) == set()
    assert young_topics([(1, 108), (2, 108)], 108, 3) == set()  # the first fit's topics have their history


def test_new_cell_explanation_names_its_own_baseline_length():
    row = {
        "observed": 7,
        "expected": 0.2,
        "ratio": 35.0,
        "q": 0.001,
        "new_cell": True,
        "baseline_periods": 5,
        "level": "product×batch",
        "batch": "B9",
    }
    assert "previous 5 periods" in explain(row, "oven", "en")
    assert "此前 5 期为零" in explain(row, "oven", "zh")


# --- null simulation ------------------------------------------------------------------------------------
def test_null_brand_gives_few_false_surges_per_week():
    """A simulated brand (~8,000 cells of every level, 26 weeks, no event): the structured families
    flag few cells per week (seed not used for choosing any parameter)."""
    s = simulate_tickets(seed=31, scenario="null")
    panel = build_panel(s.table())
    assert panel.n_cells > 5000
    per_week = []
    for ti in range(12, len(s.weeks)):
        r = detect_panel(panel, ti, SurgeParams())
        panel.flags[r.index.to_numpy(), ti] = r["flagged"].to_numpy()
        if ti >= 16:
            per_week.append(int(r["flagged"].sum()))
    assert np.mean(per_week) <= 0.5, per_week


def test_a_young_topic_with_a_rebuilt_history_is_left_out_of_its_theme():
    """A topic split off this week pulls tickets into its theme that the theme's history never had:
    counted, the theme jumps (a false surge); left out until it matures, the theme is judged on the
    topics it always had."""
    rng = np.random.default_rng(8)
    rows = []
    for topic in range(1, 30):
        rows += _rows(rng, topic, "P", "", 2.0)
    rows += [r for r in _rows(rng, 78, "P", "", 0.5) if r["week"] < W]  # thin rebuilt history
    counts = _add(_frame(rows), W, 78, "P", "", 15)
    theme_of = {1: 1, 2: 1, 78: 1} | {t: t + 100 for t in range(3, 30)}
    young = count_table(counts, TOTAL, WEEKS, theme_of=theme_of, new_topics={78})
    now = young[(young["level"] == "theme") & (young["period"] == W)].set_index("cell")
    assert now.loc["1", "count"] < 15  # topics 1 and 2 only
    assert not detect(young, W).set_index(["level", "cell"]).loc[("theme", "1"), "flagged"]
    mature = detect(count_table(counts, TOTAL, WEEKS, theme_of=theme_of), W).set_index(["level", "cell"])
    assert mature.loc[("theme", "1"), "flagged"]  # the same counts, the topic counted: a jump


def test_the_themes_exposure_leaves_out_the_young_topics_tickets():
    """Young topics' tickets are in no theme, so they are not in the themes' exposure either: a week
    holding many of them (a topic is born in a week high for it) would otherwise make every theme's
    week look low (bench/detection.py tuning null weeks: themes at 86-92% of their expectation)."""
    rng = np.random.default_rng(9)
    rows = []
    for topic in range(1, 6):
        rows += _rows(rng, topic, "P", "", 5.0)
    rows += [r for r in _rows(rng, 78, "P", "", 1.0) if r["week"] < W]
    counts = _add(_frame(rows), W, 78, "P", "", 40)
    theme_of = {1: 1, 2: 1, 3: 2, 4: 2, 5: 2, 78: 1}
    table = count_table(counts, TOTAL, WEEKS, theme_of=theme_of, new_topics={78}).set_index(
        ["level", "cell", "period"]
    )
    young = counts[counts["topic_id"] == 78].groupby("week")["n"].sum()
    for wk in (WEEKS[3], W):
        assert table.loc[("theme", "2", wk), "exposure"] == TOTAL[wk] - young.get(wk, 0)
        assert table.loc[("topic", "3", wk), "exposure"] == TOTAL[wk]  # the topic levels keep the volume
    assert table.loc[("theme", "2", W), "exposure"] == TOTAL[W] - 40


def test_a_cell_holding_most_of_the_volume_is_no_test_and_no_gate():
    """A catch-all theme (most of the week's tickets) is compared with a 'rest' of a handful: not
    tested; the topics under it are judged as top-level cells."""
    rng = np.random.default_rng(9)
    rows = []
    for topic in range(1, 6):
        rows += _rows(rng, topic, "P", "", 30.0)
    counts = _add(_frame(rows), W, 1, "P", "", 40)  # topic 1: ~30 -> ~70
    total = pd.Series(160.0, index=WEEKS)  # the five topics are ~94% of the volume
    theme_of = {t: 1 for t in range(1, 6)}
    res = detect(count_table(counts, total, WEEKS, theme_of=theme_of), W).set_index(["level", "cell"])
    theme = res.loc[("theme", "1")]
    assert theme["methods"] == "dominant" and not theme["flagged"] and np.isnan(theme["q"])
    assert res.loc[("topic", "1"), "flagged"] and not res.loc[("topic", "1"), "gated"]
    assert not res.loc[("topic", "2"), "flagged"]


def test_a_batch_is_looked_at_under_its_product():
    rng = np.random.default_rng(10)
    rows = (
        _rows(rng, 1, "oven", "B1", 6.0)
        + _rows(rng, 2, "oven", "B2", 6.0)
        + _rows(rng, 3, "kettle", "K1", 6.0)
    )
    counts = _add(_frame(rows), W, 1, "oven", "B1", 14)
    product_total = pd.DataFrame({"week": WEEKS * 2, "product": ["oven"] * 20 + ["kettle"] * 20, "n": 40})
    table = count_table(counts, TOTAL, WEEKS, product_total=product_total)
    assert set(table[table["level"] == "product×batch"]["parent"]) == {"product\toven", "product\tkettle"}
    res = detect(table, W).set_index(["level", "cell"])
    assert res.loc[("product", "oven"), "flagged"] and res.loc[("product×batch", "oven|B1"), "flagged"]
    assert res.loc[("product×batch", "kettle|K1"), "gated"]  # its product did not move


def _life_cycle(rng, rise: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An oven whose ~60 complaints a week move from batch B1 to B2 as B2 ships (B2's share 0 -> 45%
    over the weeks before the last six, B1 fading), other products beside it; ``rise`` more
    complaints from B2 in the judged week."""
    rows = []
    share = np.r_[np.zeros(6), np.linspace(0.05, 0.45, 8), np.full(6, 0.45)]  # B2's share of the oven
    for i, wk in enumerate(WEEKS):
        n = int(rng.poisson(60))
        b2 = int(rng.binomial(n, share[i]))
        for batch, k in (("B1", n - b2), ("B2", b2)):
            if k:
                rows.append(
                    {
                        "week": wk,
                        "intent": "complaint",
                        "topic_id": 1,
                        "product": "oven",
                        "model": "M1",
                        "batch": batch,
                        "n": k,
                        "n_safety": 0,
                    }
                )
    for topic in range(2, 30):
        rows += _rows(rng, topic, f"X{topic % 3}", "", 4.0)
    counts = _add(_frame(rows), W, 1, "oven", "B2", rise)
    oven = (
        counts[counts["product"] == "oven"].groupby("week", as_index=False)["n"].sum().assign(product="oven")
    )
    return counts, oven


def test_a_batch_is_judged_against_its_last_weeks_not_its_whole_life_cycle():
    """A batch's share of its product drifts with its life cycle: judged on 8 weeks, the ramp counts as
    noise (over-dispersion) and a real rise of the batch hides in it; judged on its last weeks
    (``short_memory``), the rise shows and the ramp alone is no surge."""
    for seed in range(5):
        counts, oven = _life_cycle(np.random.default_rng(100 + seed), rise=30)
        table = count_table(counts, TOTAL, WEEKS, product_total=oven)
        batch_level = table["level"].isin(BATCH_LEVELS)
        assert (
            table.loc[batch_level, "short_memory"].all() and not table.loc[~batch_level, "short_memory"].any()
        )
        short = detect(table, W).set_index(["level", "cell"]).loc[("product×batch", "oven|B2")]
        whole = (
            detect(table, W, SurgeParams(short_memory_weeks=0))
            .set_index(["level", "cell"])
            .loc[("product×batch", "oven|B2")]
        )
        assert short["baseline_periods"] == 3 and whole["baseline_periods"] == 8
        assert short["dispersion"] < whole["dispersion"] and short["p"] < whole["p"]
        assert short["p"] < 0.05  # the rise shows (flagged when its product moved too)
        # no rise: the ramp that ended is not a surge
        counts0, oven0 = _life_cycle(np.random.default_rng(100 + seed), rise=0)
        res0 = detect(count_table(counts0, TOTAL, WEEKS, product_total=oven0), W).set_index(["level", "cell"])
        assert not res0.loc[("product×batch", "oven|B2"), "flagged"]


def _batch_in_a_big_theme(seed: int) -> tuple[pd.DataFrame, dict[int, int]]:
    """A purifier theme of ~40 complaints a week over three batches and eight fine topics, among 30
    other themes; in the last week +18 complaints from batch P3 (~5 a week) spread over the topics."""
    rng = np.random.default_rng(seed)
    rows = []
    theme_of = {}
    for topic in range(1, 9):
        theme_of[topic] = 1
        for batch, mean in (("P1", 2.5), ("P2", 2.0), ("P3", 0.6)):
            rows += _rows(rng, topic, "WP", batch, mean)
    for topic in range(9, 200):
        theme_of[topic] = 2 + topic % 30
        rows += _rows(rng, topic, f"X{topic % 6}", f"X{topic % 6}-1", float(rng.choice([0.5, 1.0, 3.0])))
    counts = _frame(rows)
    for topic in range(1, 7):
        counts = _add(counts, W, topic, "WP", "P3", 3)
    return counts, theme_of


def test_a_batch_carrying_a_defect_is_judged_even_when_its_theme_did_not_move():
    """The batch's cell (≈5 -> ≈23) is judged on its own (``free_levels``): its theme on the product
    (≈41 -> ≈59, 1.4x) does not move, and under the strict hierarchy the batch was never tested."""
    found = gated_found = 0
    for seed in range(5):
        counts, theme_of = _batch_in_a_big_theme(seed)
        table = count_table(counts, TOTAL, WEEKS, theme_of=theme_of)
        res = detect(table, W).set_index(["level", "cell"])
        assert not res.loc[("theme×product", "1|WP"), "flagged"]
        row = res.loc[("theme×product×batch", "1|WP|P3")]
        found += bool(row["flagged"])
        strict = detect(table, W, SurgeParams(free_levels=())).set_index(["level", "cell"])
        gated_found += bool(strict.loc[("theme×product×batch", "1|WP|P3"), "flagged"])
        hot = res[res["flagged"]]
        assert set(hot.index.get_level_values("level")) <= {"theme×product×batch", "product", "product×batch"}
    assert found >= 4 and gated_found == 0


def test_a_handful_of_safety_tickets_over_two_a_week_is_a_surge():
    """Safety series are judged as Poisson counts (``safety_dispersion`` False): 6 safety tickets on a
    product that has ~2 a week is flagged; its usual week is not."""
    counts = _safety_products(last=6)
    res = detect(count_table(counts, TOTAL, WEEKS), W).set_index(["level", "cell"])
    assert res.loc[("product×safety", "S0"), "flagged"]
    assert not res.drop(index=("product×safety", "S0"))["flagged"].any()
