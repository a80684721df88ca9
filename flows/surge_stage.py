"""Surge stage: build the weekly count table at every level and let ``surges`` judge week W.

The cells, their exposure and their false-discovery families are defined in ``surges.cells`` (pure);
this stage reads the counts and volumes from the store and stores the verdict. Exposure is total
ticket volume per week, so a volume-wide rush (a sale, 3·15) raises the expectation of every cell
and is reported once as a global rise instead of flagging every topic; a batch's complaints and a
product's safety tickets are judged against the product's own ticket volume.

With a ``shipments`` file in the config (read by sources/shipments.py, units in the field by surges/exposure.py), cells at the product levels are judged
against units in the field instead (units shipped in the trailing 26 weeks): the product's units for
``product``, ``topic×product``, ``topic×product×model`` (shipments carry no model), ``theme×product``
and ``product×safety``, the batch's for ``topic×product×batch``, ``theme×product×batch`` and
``product×batch``; NaN (missing, never tested) where nothing was shipped in the window. Products
absent from the file, and batches of products the file names no batches for, keep ticket volume; the
``topic`` level always does. Every cell-period has a row (full grid), so ``surges`` never borrows
another cell's exposure. Explanations of unit-judged cells add the rate per 10k units.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from voc import surges
from voc.config.settings import VocConfig
from voc.reports import explanations
from voc.sources.shipments import load_shipments
from voc.store import analysis, themes
from voc.surges import cells
from voc.surges.cells import young_topics
from voc.surges.exposure import PER_UNITS, units_in_field
from voc.surges.rolling import SAFETY_LEVELS, detect_window
from voc.weeks import Week

HISTORY_WEEKS = 104
LEVELS: dict[str, tuple[str, ...]] = {lv: keys for lv, (keys, _, _) in cells.LEVELS.items()}
PRODUCT_LEVELS = cells.PRODUCT_LEVELS  # exposure: the product's units
BATCH_LEVELS = cells.BATCH_LEVELS  # exposure: the batch's units
COUNT_COLUMNS = ["week", "topic_id", "product", "model", "batch", "n", "n_safety", "n_defect", "n_service"]


def params_from(cfg: VocConfig) -> surges.SurgeParams:
    th = cfg.thresholds
    return surges.SurgeParams(
        baseline_weeks=th.baseline_weeks,
        min_count=th.min_count,
        fdr_q=th.fdr_q,
        min_ratio=th.min_ratio,
        safety_fdr_q=th.safety_fdr_q,
        safety_p=th.safety_p,
        safety_min_count=th.safety_min_count,
        safety_min_ratio=th.safety_min_ratio,
        product_min_ratio=th.product_min_ratio,
    )


def count_table(
    counts: pd.DataFrame,
    total: pd.Series,
    weeks: list[int],
    units: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    *,
    theme_of: Mapping[int, int] | None = None,
    product_total: pd.DataFrame | None = None,
    new_topics: Collection[int] = (),
) -> pd.DataFrame:
    """Long count table of every level (see ``surges.cells.count_table``)."""
    return cells.count_table(
        counts, total, weeks, units, theme_of=theme_of, product_total=product_total, new_topics=new_topics
    )


def _shipments(cfg: VocConfig) -> pd.DataFrame | None:
    """The config's shipments file (units in the field), or None when it names none."""
    return load_shipments(cfg.shipments, cfg.products or None) if cfg.shipments else None


def _intent_frames(rows_of: Callable[[str], Any]) -> list[pd.DataFrame]:
    """Count frames (COUNT_COLUMNS + intent) of the intents the levels count: complaints and questions."""
    return [
        pd.DataFrame(rows_of(intent), columns=COUNT_COLUMNS).assign(intent=intent)
        for intent in ("complaint", "question")
    ]


ASSESS_COLUMNS = [
    "level",
    "cell",
    "family",
    "topic_id",
    "product",
    "model",
    "batch",
    "observed",
    "expected",
    "ratio",
    "p",
    "q",
    "flagged",
]


def assess_week(
    engine: Engine,
    cfg: VocConfig,
    week: Week,
    theme_of: Mapping[int, int] | None = None,
    theme_labels: Mapping[int, str] | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Judge ``week`` without storing anything: (every tested cell of the week - level, cell, family,
    topic_id, theme_id, product, model, batch, observed, expected, ratio, p, q, flagged, methods and
    the detector's extra columns -, the rows :func:`detect_week` stores). ``theme_of``: topic id ->
    theme id (adds the theme levels); ``theme_labels``: theme id -> label for their explanations."""
    w = week.ordinal()
    start = w - HISTORY_WEEKS
    shipments = _shipments(cfg)
    with engine.connect() as conn:
        frames = _intent_frames(lambda intent: analysis.counts_frame_rows(conn, intent, start, w))
        vols = analysis.volumes(conn, start, w)
        topics = analysis.load_topics(conn)
    labels = {t.id: t.label for t in topics}
    params = params_from(cfg)
    new_topics = young_topics([(t.id, t.created_week) for t in topics], w, params.topic_maturity_periods)
    counts = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    vol = pd.DataFrame(vols, columns=["week", "product", "batch", "n"])
    total = vol[(vol["product"] == "") & (vol["batch"] == "")].set_index("week")["n"]
    out: list[dict[str, Any]] = []
    if not (counts["intent"] == "complaint").any() or w not in total.index:
        return pd.DataFrame(columns=ASSESS_COLUMNS), out
    weeks = [x for x in range(int(total.index.min()), w + 1)]
    total = total.reindex(weeks)  # a week with no tickets at all is missing data (NaN exposure)
    product_total = vol[(vol["product"] != "") & (vol["batch"] == "")][["week", "product", "n"]]
    units = units_in_field(shipments, weeks) if shipments is not None else None
    table = count_table(
        counts, total, weeks, units, theme_of=theme_of, product_total=product_total, new_topics=new_topics
    )
    result = surges.detect(table, w, params)
    flagged = result[result["flagged"]]
    this_week = counts[counts["week"] == w].copy()
    if theme_of:
        tmap = {int(k): int(v) for k, v in theme_of.items()}
        this_week["theme_id"] = this_week["topic_id"].map(lambda t: tmap.get(int(t)))
    # a batch's expected share comes from the product's tickets in the baseline weeks: this week's
    # own tickets would already carry the surge and hide the concentration
    base = vol[
        (vol["week"] >= w - params.baseline_weeks)
        & (vol["week"] < w)
        & (vol["product"] != "")
        & (vol["batch"] != "")
    ]
    prod_batch = base.groupby(["product", "batch"], as_index=False)["n"].sum()
    names = {
        **{("t", k): v for k, v in labels.items()},
        **{("h", int(k)): v for k, v in (theme_labels or {}).items()},
    }
    for rec in flagged.to_dict("records"):
        out.append(_surge_row(rec, w, this_week, prod_batch, names))
    g = surges.global_rise(total.dropna(), w, params)
    if g is not None:
        out.append(_global_row(g, w))
    return result.reset_index(drop=True), out


def detect_week(engine: Engine, cfg: VocConfig, week: Week) -> list[dict[str, Any]]:
    """Run detection for ``week`` (with the theme levels of the live theme catalogue), store the
    flagged cells (replacing the week's rows), return them."""
    with engine.connect() as conn:
        theme_of = themes.topic_theme_map(conn)
        labels = {t.id: t.label for t in themes.load_themes(conn)}
    _, out = assess_week(engine, cfg, week, theme_of=theme_of or None, theme_labels=labels)
    with engine.begin() as conn:
        analysis.replace_surges(conn, week.ordinal(), out)
    return out


SAFETY_WINDOW_DAYS = 7


@dataclass
class SafetyWindow:
    """The daily safety check's verdict: the rolling window [start, end) (naive UTC, as tickets'
    ``event_at``), the week it is stored under (the week ``end`` falls in), the last complete week
    of its baseline, every tested safety cell and the flagged rows (``surges`` table rows)."""

    start: datetime
    end: datetime
    week: Week
    baseline_until: Week
    tested: pd.DataFrame
    rows: list[dict[str, Any]] = field(default_factory=list)


def assess_safety_window(
    engine: Engine, cfg: VocConfig, now: datetime, days: int = SAFETY_WINDOW_DAYS
) -> SafetyWindow:
    """Judge the safety cells (``product×safety``, ``safety``) over the ``days`` days before ``now``
    (naive UTC) against the complete weeks before the window (``surges.rolling``); stores nothing.

    The window's counts are read from the tickets and their topic assignments (counted as
    ``analysis.rebuild_counts`` counts a week), the baseline from the weekly counts."""
    start = now - timedelta(days=days)
    week = Week.of(now)
    p = week.ordinal()
    b = Week.of(start).ordinal() - 1  # the last week that ended before the window began
    first = b - HISTORY_WEEKS
    shipments = _shipments(cfg)
    with engine.connect() as conn:
        frames = _intent_frames(lambda intent: analysis.counts_frame_rows(conn, intent, first, b))
        window = [
            f.assign(week=p)
            for f in _intent_frames(lambda intent: analysis.window_counts_rows(conn, intent, start, now))
        ]
        vols = [
            *analysis.volumes(conn, first, b),
            *[(p, *r[1:]) for r in analysis.window_volumes(conn, start, now)],
        ]
    verdict = SafetyWindow(start, now, week, Week.from_ordinal(b), pd.DataFrame(columns=ASSESS_COLUMNS))
    counts = pd.concat([f for f in [*frames, *window] if len(f)] or frames[:1], ignore_index=True)
    this_window = pd.concat([f for f in window if len(f)] or window[:1], ignore_index=True)
    vol = pd.DataFrame(vols, columns=["week", "product", "batch", "n"])
    total = vol[(vol["product"] == "") & (vol["batch"] == "") & (vol["n"] > 0)].set_index("week")["n"]
    if not len(this_window) or p not in total.index:
        return verdict  # nothing in the window
    weeks = list(range(int(total.index.min()), p + 1))
    total = total.reindex(weeks)
    product_total = vol[(vol["product"] != "") & (vol["batch"] == "")][["week", "product", "n"]]
    units = units_in_field(shipments, weeks) if shipments is not None else None
    table = count_table(counts, total, weeks, units, product_total=product_total)
    params = params_from(cfg)
    result = detect_window(table, p, b, params, days=days)
    base = vol[
        (vol["week"] > b - params.baseline_weeks)
        & (vol["week"] <= b)
        & (vol["product"] != "")
        & (vol["batch"] != "")
    ]
    prod_batch = base.groupby(["product", "batch"], as_index=False)["n"].sum()
    verdict.tested = result.reset_index(drop=True)
    for rec in result[result["flagged"]].to_dict("records"):
        row = _surge_row(rec, p, this_window, prod_batch, {})
        for lang in ("zh", "en"):
            row[f"explanation_{lang}"] += explanations.window_note(lang, days, now)
        verdict.rows.append(row)
    return verdict


def store_safety_window(engine: Engine, verdict: SafetyWindow) -> None:
    """Store the flagged safety cells under the window's week, replacing that week's safety rows
    only (the week's full detection replaces them all once the week is complete)."""
    with engine.begin() as conn:
        analysis.replace_surges_of_levels(conn, verdict.week.ordinal(), SAFETY_LEVELS, verdict.rows)


def _week_name(ordinal: int) -> str:
    return str(Week.from_ordinal(ordinal))


def _cell_mask(df: pd.DataFrame, rec: dict[str, Any]) -> pd.Series:
    keys, intents, _ = cells.LEVELS[rec["level"]]
    mask = df["intent"].isin(intents) if "intent" in df.columns else pd.Series(True, index=df.index)
    for k in keys:
        v = rec[k]
        mask &= df[k] == (int(v) if k in ("topic_id", "theme_id") else v)
    return mask


def _int_or_none(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


def _text_or_none(v: Any) -> str | None:
    """A product / model / batch key of an assessed cell: pandas leaves NaN where the cell has none,
    which SQLite stores as NULL but PostgreSQL as the text 'NaN' (and the brief then counted a batch
    'NaN' that no ticket has: an empty history)."""
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _surge_row(
    rec: dict[str, Any],
    w: int,
    this_week: pd.DataFrame,
    prod_batch: pd.DataFrame,
    labels: Mapping[tuple[str, int], str],
) -> dict[str, Any]:
    level = rec["level"]
    cell_rows = this_week[_cell_mask(this_week, rec)]
    sums = cell_rows[["n", "n_safety", "n_defect", "n_service"]].sum()
    if cells.LEVELS[level][2] == "n_safety":
        sev = "safety"
        cell_rows = cell_rows[cell_rows["n_safety"] > 0].assign(n=lambda d: d["n_safety"])
    else:
        sev = analysis.cell_severity(*(int(sums[k]) for k in ("n", "n_safety", "n_defect", "n_service")))
    conc = None
    if level in cells.PRODUCT_LEVELS and rec.get("product"):  # a product's cells, not a batch's
        by_batch = cell_rows[cell_rows["batch"] != ""].groupby("batch")["n"].sum().to_dict()
        pb = prod_batch[prod_batch["product"] == rec["product"]].set_index("batch")["n"].to_dict()
        if by_batch and pb:
            conc = surges.batch_concentration(by_batch, pb)
    topic_id = _int_or_none(rec.get("topic_id"))
    theme_id = _int_or_none(rec.get("theme_id"))
    if topic_id is not None:
        label = labels.get(("t", topic_id), "")
    elif theme_id is not None:
        label = labels.get(("h", theme_id), "") or f"#{theme_id}"
    else:
        label = rec.get("product") or ""
    return {
        "week": w,
        "level": level,
        "cell": rec["cell"],
        "topic_id": topic_id,
        "theme_id": theme_id,
        "product": _text_or_none(rec.get("product")),
        "model": _text_or_none(rec.get("model")),
        "batch": _text_or_none(rec.get("batch")),
        "observed": int(rec["observed"]),
        "expected": float(rec["expected"]),
        "ratio": float(rec["ratio"]),
        "ratio_lo": float(rec["ratio_lo"]),
        "ratio_hi": float(rec["ratio_hi"]),
        "p": float(rec["p"]),
        "q": float(rec["q"]),
        "methods": str(rec["methods"]),
        "first_week": int(rec["first_period"]),
        "new_cell": bool(rec["new_cell"]),
        "severity": sev,
        "conc_batch": conc.top_batch if conc else None,
        "conc_share": conc.share if conc else None,
        "conc_expected": conc.expected_share if conc else None,
        "conc_ratio": conc.ratio if conc else None,
        "explanation_zh": explanations.explain(rec, label, "zh", conc, _week_name) + _rate_note(rec, "zh"),
        "explanation_en": explanations.explain(rec, label, "en", conc, _week_name) + _rate_note(rec, "en"),
    }


def _rate_note(rec: dict[str, Any], lang: str) -> str:
    """'; 12.3 per 10k units vs 2.1 expected' for cells judged against units in the field."""
    units = rec.get("exposure")
    if not rec.get("per_units") or units is None or not units > 0:
        return ""
    rate = int(rec["observed"]) / float(units) * PER_UNITS
    exp_ = float(rec["expected"]) / float(units) * PER_UNITS
    # a new cell has no history: its expectation is a placeholder, not a rate
    return explanations.units_rate_note(lang, rate, exp_, float(units), new_cell=bool(rec.get("new_cell")))


def _global_row(g: Any, w: int) -> dict[str, Any]:
    return {
        "week": w,
        "level": "global",
        "cell": "all",
        "topic_id": None,
        "theme_id": None,
        "product": None,
        "model": None,
        "batch": None,
        "observed": int(g.observed),
        "expected": float(g.expected),
        "ratio": float(g.ratio),
        "ratio_lo": float(getattr(g, "ratio_lo", g.ratio)),
        "ratio_hi": float(getattr(g, "ratio_hi", g.ratio)),
        "p": float(getattr(g, "p", 0.0)),
        "q": float(getattr(g, "p", 0.0)),
        "methods": "global",
        "first_week": w,
        "new_cell": False,
        "severity": "other",
        "conc_batch": None,
        "conc_share": None,
        "conc_expected": None,
        "conc_ratio": None,
        "explanation_zh": explanations.global_rise_sentence("zh", g.observed, g.expected, g.ratio),
        "explanation_en": explanations.global_rise_sentence("en", g.observed, g.expected, g.ratio),
    }
