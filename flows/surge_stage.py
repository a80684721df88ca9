"""Surge stage: build the weekly count table at every level and let ``surges`` judge week W.

Exposure is total ticket volume per week, so a volume-wide rush (a sale, 3·15) raises the
expectation of every cell and is reported once as a global rise instead of flagging every topic.

With a ``shipments`` file in the config (flows/shipments.py), cells at the product levels are judged
against units in the field instead (units shipped in the trailing 26 weeks): the product's units for
``product``, ``topic×product`` and ``topic×product×model`` (shipments carry no model), the batch's for
``topic×product×batch``; NaN (missing, never tested) where nothing was shipped in the window. Products
absent from the file, and batches of products the file names no batches for, keep ticket volume; the
``topic`` level always does. Every cell-period has a row (full grid), so ``surges`` never borrows
another cell's exposure. Explanations of unit-judged cells add the rate per 10k units.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine

import surges
from config.settings import VocConfig
from flows.shipments import PER_UNITS, load_shipments, units_in_field
from store import analysis
from voc.weeks import Week

HISTORY_WEEKS = 104
LEVELS: dict[str, tuple[str, ...]] = {
    "topic": ("topic_id",),
    "topic×product": ("topic_id", "product"),
    "topic×product×model": ("topic_id", "product", "model"),
    "topic×product×batch": ("topic_id", "product", "batch"),
    "product": ("product",),
}
PRODUCT_LEVELS = ("topic×product", "topic×product×model", "product")  # exposure: the product's units
BATCH_LEVELS = ("topic×product×batch",)  # exposure: the batch's units


def params_from(cfg: VocConfig) -> surges.SurgeParams:
    th = cfg.thresholds
    return surges.SurgeParams(baseline_weeks=th.baseline_weeks, min_count=th.min_count, fdr_q=th.fdr_q,
                              min_ratio=th.min_ratio)


def count_table(counts: pd.DataFrame, total: pd.Series, weeks: list[int],
                units: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Long table (level, cell, period, count, exposure, descriptive cols) on a full week grid.

    ``units``: units in the field per (product, week) and (product, batch, week) from
    ``flows.shipments.units_in_field``; then product-level cells covered by the file take them as
    exposure and a boolean ``per_units`` column says which cells did."""
    frames = []
    for level, keys in LEVELS.items():
        sub = counts
        for k in keys:
            if k != "topic_id":
                sub = sub[sub[k] != ""]
        if sub.empty:
            continue
        g = sub.groupby([*keys, "week"], as_index=False)["n"].sum()
        cells = g[list(keys)].drop_duplicates()
        grid = cells.merge(pd.DataFrame({"week": weeks}), how="cross")
        g = grid.merge(g, on=[*keys, "week"], how="left").fillna({"n": 0})
        g["level"] = level
        g["cell"] = g[list(keys)].astype(str).agg("|".join, axis=1)
        for k in ("topic_id", "product", "model", "batch"):
            if k not in keys:
                g[k] = None
        frames.append(g)
    if not frames:
        return pd.DataFrame(columns=["level", "cell", "period", "count", "exposure", "topic_id", "product",
                                     "model", "batch"])
    table = pd.concat(frames, ignore_index=True).rename(columns={"week": "period", "n": "count"})
    table["count"] = table["count"].astype(int)
    table["exposure"] = table["period"].map(total).astype(float)
    if units is not None:
        _units_exposure(table, *units)
    return table


def _units_exposure(table: pd.DataFrame, by_product: pd.DataFrame, by_batch: pd.DataFrame) -> None:
    """Replace ticket volume by units in the field where the shipments file covers the cell."""
    table["per_units"] = False
    product = table["product"].fillna("").astype(str)
    batch = table["batch"].fillna("").astype(str)
    for levels, lookup, keys in ((PRODUCT_LEVELS, by_product, [product]),
                                 (BATCH_LEVELS, by_batch, [product, batch])):
        names = ["product", "batch"][:len(keys)]
        covered = table["level"].isin(levels) & product.isin(set(lookup["product"]))
        if not covered.any():
            continue
        series = lookup.set_index([*names, "week"])["units"].astype(float)
        idx = pd.MultiIndex.from_arrays([k[covered] for k in keys] + [table.loc[covered, "period"]],
                                        names=[*names, "week"])
        table.loc[covered, "exposure"] = series.reindex(idx).to_numpy()
        table.loc[covered, "per_units"] = True


def detect_week(engine: Engine, cfg: VocConfig, week: Week) -> list[dict[str, Any]]:
    """Run detection for ``week``, store the flagged cells (replacing the week's rows), return them."""
    w = week.ordinal()
    start = w - HISTORY_WEEKS
    shipments = None
    if cfg.shipments:
        shipments = load_shipments(cfg.shipments, {p.id for p in cfg.products} or None)
    with engine.connect() as conn:
        rows = analysis.counts_frame_rows(conn, "complaint", start, w)
        vols = analysis.volumes(conn, start, w)
        labels = {t.id: t.label for t in analysis.load_topics(conn)}
    counts = pd.DataFrame(rows, columns=["week", "topic_id", "product", "model", "batch", "n", "n_safety",
                                         "n_defect", "n_service"])
    vol = pd.DataFrame(vols, columns=["week", "product", "batch", "n"])
    total = vol[(vol["product"] == "") & (vol["batch"] == "")].set_index("week")["n"]
    out: list[dict[str, Any]] = []
    if counts.empty or w not in total.index:
        with engine.begin() as conn:
            analysis.replace_surges(conn, w, out)
        return out
    weeks = [x for x in range(int(total.index.min()), w + 1)]
    total = total.reindex(weeks)  # a week with no tickets at all is missing data (NaN exposure)
    params = params_from(cfg)
    units = units_in_field(shipments, weeks) if shipments is not None else None
    result = surges.detect(count_table(counts, total, weeks, units), w, params)
    flagged = result[result["flagged"]]
    this_week = counts[counts["week"] == w]
    # a batch's expected share comes from the product's tickets in the baseline weeks: this week's
    # own tickets would already carry the surge and hide the concentration
    base = vol[(vol["week"] >= w - params.baseline_weeks) & (vol["week"] < w) & (vol["product"] != "")
               & (vol["batch"] != "")]
    prod_batch = base.groupby(["product", "batch"], as_index=False)["n"].sum()
    for rec in flagged.to_dict("records"):
        out.append(_surge_row(rec, w, this_week, prod_batch, labels))
    g = surges.global_rise(total.dropna(), w, params)
    if g is not None:
        out.append(_global_row(g, w))
    with engine.begin() as conn:
        analysis.replace_surges(conn, w, out)
    return out


def _week_name(ordinal: int) -> str:
    return str(Week.from_ordinal(ordinal))


def _cell_mask(df: pd.DataFrame, rec: dict[str, Any]) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    for k in LEVELS[rec["level"]]:
        v = rec[k]
        mask &= df[k] == (int(v) if k == "topic_id" else v)
    return mask


def _surge_row(rec: dict[str, Any], w: int, this_week: pd.DataFrame, prod_batch: pd.DataFrame,
               labels: dict[int, str]) -> dict[str, Any]:
    cell_rows = this_week[_cell_mask(this_week, rec)]
    sums = cell_rows[["n", "n_safety", "n_defect", "n_service"]].sum()
    sev = analysis.cell_severity(*(int(sums[k]) for k in ("n", "n_safety", "n_defect", "n_service")))
    conc = None
    if rec["level"] in ("topic×product", "topic×product×model", "product") and rec.get("product"):
        by_batch = cell_rows[cell_rows["batch"] != ""].groupby("batch")["n"].sum().to_dict()
        pb = prod_batch[prod_batch["product"] == rec["product"]].set_index("batch")["n"].to_dict()
        if by_batch and pb:
            conc = surges.batch_concentration(by_batch, pb)
    topic_id = None if rec.get("topic_id") is None or pd.isna(rec.get("topic_id")) else int(rec["topic_id"])
    label = labels.get(topic_id, "") if topic_id is not None else (rec.get("product") or "")
    return {
        "week": w, "level": rec["level"], "cell": rec["cell"], "topic_id": topic_id,
        "product": rec.get("product"), "model": rec.get("model"), "batch": rec.get("batch"),
        "observed": int(rec["observed"]), "expected": float(rec["expected"]), "ratio": float(rec["ratio"]),
        "ratio_lo": float(rec["ratio_lo"]), "ratio_hi": float(rec["ratio_hi"]), "p": float(rec["p"]),
        "q": float(rec["q"]), "methods": str(rec["methods"]), "first_week": int(rec["first_period"]),
        "new_cell": bool(rec["new_cell"]), "severity": sev,
        "conc_batch": conc.top_batch if conc else None, "conc_share": conc.share if conc else None,
        "conc_expected": conc.expected_share if conc else None, "conc_ratio": conc.ratio if conc else None,
        "explanation_zh": surges.explain(rec, label, "zh", conc, _week_name) + _rate_note(rec, "zh"),
        "explanation_en": surges.explain(rec, label, "en", conc, _week_name) + _rate_note(rec, "en"),
    }


def _per_10k(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 1 else f"{x:.2g}"


def _rate_note(rec: dict[str, Any], lang: str) -> str:
    """'; 12.3 per 10k units vs 2.1 expected' for cells judged against units in the field."""
    units = rec.get("exposure")
    if not rec.get("per_units") or units is None or not units > 0:
        return ""
    rate = _per_10k(int(rec["observed"]) / float(units) * PER_UNITS)
    exp_ = float(rec["expected"]) / float(units) * PER_UNITS
    if rec.get("new_cell"):  # no history: the expectation is a placeholder, not a rate
        n = f"{float(units):,.0f}"
        return f"；每万台 {rate} 起（在用 {n} 台）" if lang == "zh" else f"; {rate} per 10k units ({n} in the field)"
    if lang == "zh":
        return f"；每万台 {rate} 起，预期 {_per_10k(exp_)} 起"
    return f"; {rate} per 10k units vs {_per_10k(exp_)} expected"


def _global_row(g: Any, w: int) -> dict[str, Any]:
    return {
        "week": w, "level": "global", "cell": "all", "topic_id": None, "product": None, "model": None,
        "batch": None, "observed": int(g.observed), "expected": float(g.expected), "ratio": float(g.ratio),
        "ratio_lo": float(getattr(g, "ratio_lo", g.ratio)), "ratio_hi": float(getattr(g, "ratio_hi", g.ratio)),
        "p": float(getattr(g, "p", 0.0)), "q": float(getattr(g, "p", 0.0)), "methods": "global",
        "first_week": w, "new_cell": False, "severity": "other", "conc_batch": None, "conc_share": None,
        "conc_expected": None, "conc_ratio": None,
        "explanation_zh": f"本周总工单量 {int(g.observed)} 件, 约为常态 {g.expected:.0f} 件的 {g.ratio:.1f} 倍 (整体上升, 不计为单个主题激增)",
        "explanation_en": f"Total volume {int(g.observed)} tickets, {g.ratio:.1f}× the usual ~{g.expected:.0f} "
                          "(a volume-wide rise, not counted as a topic surge)",
    }
