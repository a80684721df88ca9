"""A flagged cell as the ``surges`` table stores it: its numbers, severity, batch concentration and
the zh/en sentence that explains it (pure: values in, a row out).

``flows.surge_stage`` (the weekly verdict) and the daily safety check both call :func:`surge_row` for
every flagged cell and :func:`global_row` for a volume-wide rise; what a cell's severity is
(:func:`voc.surges.cells.cell_severity`), which batch carries it (``surges.batch_concentration`` over
the cell's tickets of the period by batch, against the batch shares of the product's tickets in the
baseline weeks) and how it is worded (``reports.explanations``) are decided here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from voc import surges
from voc.reports import explanations
from voc.reports.assembly import Catalogue
from voc.surges import cells
from voc.surges.exposure import PER_UNITS

__all__ = ["cell_mask", "global_row", "rate_note", "surge_row"]


def cell_mask(df: pd.DataFrame, rec: dict[str, Any]) -> pd.Series:
    """The rows of a count frame (this period's, by topic / product / model / batch) in the cell of an
    assessed row: its level's counted intents and key values."""
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


def surge_row(
    rec: dict[str, Any],
    w: int,
    this_week: pd.DataFrame,
    prod_batch: pd.DataFrame,
    labels: Mapping[tuple[str, int], str],
    week_name: Callable[[int], str],
    catalogue: Catalogue | None = None,
) -> dict[str, Any]:
    """The stored row of a flagged cell ``rec`` (a row of ``surges.detect``'s result) of period ``w``.
    ``this_week``: the period's count rows (COUNT_COLUMNS + intent); ``prod_batch``: product, batch, n -
    the product's tickets per batch in the baseline weeks; ``labels``: ("t", topic id) / ("h", theme id)
    -> label; ``week_name``: period -> its name in sentences ("2026-W40"); ``catalogue``: the
    configured products' names, for the cells named by their product alone."""
    level = rec["level"]
    cell_rows = this_week[cell_mask(this_week, rec)]
    sums = cell_rows[["n", "n_safety", "n_defect", "n_service"]].sum()
    if cells.LEVELS[level][2] == "n_safety":
        sev = "safety"
        cell_rows = cell_rows[cell_rows["n_safety"] > 0].assign(n=lambda d: d["n_safety"])
    else:
        sev = cells.cell_severity(*(int(sums[k]) for k in ("n", "n_safety", "n_defect", "n_service")))
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
    label_zh = label_en = label
    if catalogue is not None and topic_id is None and theme_id is None:  # named by its product alone
        label_zh, label_en = (catalogue.name(label, lang) or label for lang in ("zh", "en"))
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
        "explanation_zh": explanations.explain(rec, label_zh, "zh", conc, week_name) + rate_note(rec, "zh"),
        "explanation_en": explanations.explain(rec, label_en, "en", conc, week_name) + rate_note(rec, "en"),
    }


def rate_note(rec: dict[str, Any], lang: str) -> str:
    """'; 12.3 per 10k units vs 2.1 expected' for cells judged against units in the field."""
    units = rec.get("exposure")
    if not rec.get("per_units") or units is None or not units > 0:
        return ""
    rate = int(rec["observed"]) / float(units) * PER_UNITS
    exp_ = float(rec["expected"]) / float(units) * PER_UNITS
    # a new cell has no history: its expectation is a placeholder, not a rate
    return explanations.units_rate_note(lang, rate, exp_, float(units), new_cell=bool(rec.get("new_cell")))


def global_row(g: Any, w: int) -> dict[str, Any]:
    """The stored row of a volume-wide rise (``surges.global_rise``) in period ``w``."""
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
