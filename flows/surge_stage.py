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

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from voc import surges
from voc.config.settings import VocConfig
from voc.flows.brief_stage import catalogue
from voc.reports import explanations, surge_rows
from voc.sources.shipments import load_shipments
from voc.store import analysis, themes
from voc.surges import cells, frames
from voc.surges.cells import young_topics
from voc.surges.exposure import units_in_field
from voc.surges.rolling import SAFETY_LEVELS, detect_window
from voc.ticket import EVIDENCE_INTENTS
from voc.weeks import Week

HISTORY_WEEKS = 104
INTENTS = EVIDENCE_INTENTS  # the intents the levels count (surges.cells.LEVELS)


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
        counts = frames.counts_frame({i: analysis.counts_frame_rows(conn, i, start, w) for i in INTENTS})
        vol = frames.volume_frame(analysis.volumes(conn, start, w))
        topics = analysis.load_topics(conn)
    labels = {t.id: t.label for t in topics}
    params = params_from(cfg)
    new_topics = young_topics([(t.id, t.created_week) for t in topics], w, params.topic_maturity_periods)
    total = frames.week_totals(vol)
    out: list[dict[str, Any]] = []
    if not (counts["intent"] == "complaint").any() or w not in total.index:
        return pd.DataFrame(columns=ASSESS_COLUMNS), out
    weeks = [x for x in range(int(total.index.min()), w + 1)]
    total = total.reindex(weeks)  # a week with no tickets at all is missing data (NaN exposure)
    units = units_in_field(shipments, weeks) if shipments is not None else None
    table = count_table(
        counts,
        total,
        weeks,
        units,
        theme_of=theme_of,
        product_total=frames.product_totals(vol),
        new_topics=new_topics,
    )
    result = surges.detect(table, w, params)
    flagged = result[result["flagged"]]
    this_week = frames.with_themes(counts[counts["week"] == w], theme_of)
    prod_batch = frames.batch_baseline(vol, w - params.baseline_weeks, w - 1)
    names = {
        **{("t", k): v for k, v in labels.items()},
        **{("h", int(k)): v for k, v in (theme_labels or {}).items()},
    }
    products = catalogue(cfg)
    for rec in flagged.to_dict("records"):
        out.append(surge_rows.surge_row(rec, w, this_week, prod_batch, names, _week_name, products))
    g = surges.global_rise(total.dropna(), w, params)
    if g is not None:
        out.append(surge_rows.global_row(g, w))
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
        history = frames.counts_frame({i: analysis.counts_frame_rows(conn, i, first, b) for i in INTENTS})
        this_window = frames.counts_frame(
            {i: analysis.window_counts_rows(conn, i, start, now) for i in INTENTS}
        )
        vol = frames.volume_frame(
            [
                *analysis.volumes(conn, first, b),
                *[(p, *r[1:]) for r in analysis.window_volumes(conn, start, now)],
            ]
        )
    this_window["week"] = p
    verdict = SafetyWindow(start, now, week, Week.from_ordinal(b), pd.DataFrame(columns=ASSESS_COLUMNS))
    counts = pd.concat([f for f in (history, this_window) if len(f)] or [history], ignore_index=True)
    total = frames.week_totals(vol, positive=True)
    if not len(this_window) or p not in total.index:
        return verdict  # nothing in the window
    weeks = list(range(int(total.index.min()), p + 1))
    total = total.reindex(weeks)
    units = units_in_field(shipments, weeks) if shipments is not None else None
    table = count_table(counts, total, weeks, units, product_total=frames.product_totals(vol))
    params = params_from(cfg)
    result = detect_window(table, p, b, params, days=days)
    prod_batch = frames.batch_baseline(vol, b - params.baseline_weeks + 1, b)
    verdict.tested = result.reset_index(drop=True)
    products = catalogue(cfg)
    for rec in result[result["flagged"]].to_dict("records"):
        row = surge_rows.surge_row(rec, p, this_window, prod_batch, {}, _week_name, products)
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
