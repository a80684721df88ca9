"""Surge explanations: every sentence a reader sees about a flagged cell, rendered from its numbers.

``surges`` judges and returns numbers only (a ``detect`` row, a ``Concentration``, a ``GlobalRise``);
this module words them, one catalogue entry per sentence and language (the ``explain.*`` keys of
``reports.i18n.MESSAGES``), e.g.

    zh '门关不紧：31 起投诉，预期约 12 起（2.6×，q=0.003）；80% 来自批次 B2409'
    en 'door not closing: 31 complaints vs ~12 expected (2.6×, q=0.003); 80% from batch B2409'

The surge stage stores the sentence of each language with the cell; the brief appends a batch clause
when another cell of the item carries the batch. A further language is a further catalogue.
Numbers inside the sentences (counts, ratios, q values) are written the same way in every language.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from voc.reports.i18n import Translator
from voc.surges import extras
from voc.surges.extras import Concentration


def _q(t: Translator, q: float) -> str:
    if not math.isfinite(q):
        return t("explain.q_na")
    if q < 0.001:
        return t("explain.q_lt", q="0.001")
    return t("explain.q", q=f"{q:.3f}" if q < 0.01 else f"{q:.2f}")


def _ratio(t: Translator, r: float) -> str:
    if not math.isfinite(r):
        return t("explain.ratio_new")
    return f"{r:.1f}×" if r < 10 else f"{r:.0f}×"


def _expected(x: float) -> str:
    if x < 1:
        return "<1"
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}".rstrip("0").rstrip(".")


def _per_10k(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 1 else f"{x:.2g}"


def cell_name(t: Translator, level: str, label: str, batch: Any = "") -> tuple[str, str]:
    """(name of the cell, noun counted) by level: a batch is named, safety cells count safety tickets."""
    if level == "product×batch":
        return t("explain.cell_batch", label=label, batch=batch), t("explain.noun_complaints")
    if level == "product×safety":
        return t("explain.cell_product_safety", label=label), t("explain.noun_safety")
    if level == "safety":
        return t("explain.cell_all_safety"), t("explain.noun_safety")
    return label, t("explain.noun_complaints")


def surge_sentence(
    lang: str,
    label: str,
    level: str,
    observed: int,
    expected: float,
    ratio: float,
    q: float,
    *,
    baseline_periods: int,
    batch: Any = "",
    new_cell: bool = False,
    since: str | None = None,
    batch_share: tuple[float, str] | None = None,
) -> str:
    """One sentence for a flagged cell from its numbers: ``label`` names the cell (a topic, theme or
    product) and ``level`` how (``product×batch``: its ``batch``; ``product×safety`` / ``safety``:
    safety tickets); a ``new_cell`` names the ``baseline_periods`` it had none in; ``since``: the
    period name a steady rise began; ``batch_share``: (share, batch) of the batch that carries it."""
    t = Translator(lang)
    name, noun = cell_name(t, level, label, batch)
    if new_cell:
        s = t("explain.new", name=name, observed=observed, noun=noun, n=baseline_periods, q=_q(t, q))
    else:
        s = t(
            "explain.rise",
            name=name,
            observed=observed,
            noun=noun,
            expected=_expected(expected),
            ratio=_ratio(t, ratio),
            q=_q(t, q),
        )
    if since is not None:
        s += t("explain.since", when=since)
    if batch_share is not None:
        s += batch_share_clause(*batch_share, lang)
    return s


def explain(
    row: Mapping,
    label: str,
    lang: str,
    concentration: Concentration | None = None,
    period_name: Callable[[int], str] | None = None,
) -> str:
    """:func:`surge_sentence` of a row of ``surges.detect``'s output (``observed``, ``expected``,
    ``ratio``, ``q``, ``level``, ``batch``, ``new_cell``, ``baseline_periods``, ``methods``, ``period``,
    ``first_period``); ``period_name`` names a period (default: its number)."""
    obs = int(row["observed"])
    exp_ = float(row["expected"])
    first = extras.rising_since(row)
    return surge_sentence(
        lang,
        label,
        str(row.get("level", "") or ""),
        obs,
        exp_,
        float(row.get("ratio", obs / exp_ if exp_ > 0 else math.inf)),
        float(row.get("q", math.nan)),
        baseline_periods=extras.baseline_periods(row),
        batch=row.get("batch", ""),
        new_cell=bool(row.get("new_cell", False)),
        since=None if first is None else period_name(first) if period_name else f"{first}",
        batch_share=None if concentration is None else (concentration.share, concentration.top_batch),
    )


def batch_share_clause(share: float, batch: str, lang: str) -> str:
    """'；80% 来自批次 B2409' / '; 80% from batch B2409': the clause an explanation ends with when
    one batch carries the surge (the one place this sentence is worded)."""
    return Translator(lang)("explain.batch_share", share=f"{share * 100:.0f}%", batch=batch)


def batch_count_clause(batch: str, observed: int, expected: float, lang: str) -> str:
    """'；批次 B2409 本周 12 件，预期约 3.1 件' / '; batch B2409: 12 vs ~3.1 expected': a flagged batch
    cell named inside its theme's or product's item."""
    return Translator(lang)("explain.batch_count", batch=batch, observed=observed, expected=f"{expected:.1f}")


def units_rate_note(
    lang: str, rate: float, expected_rate: float, units: float, new_cell: bool = False
) -> str:
    """'; 12.3 per 10k units vs 2.1 expected' for a cell judged against units in the field (rates per
    10,000 units); a new cell has no history, so its expectation is not a rate: it names the units."""
    t = Translator(lang)
    if new_cell:
        return t("explain.units_rate_new", rate=_per_10k(rate), units=f"{units:,.0f}")
    return t("explain.units_rate", rate=_per_10k(rate), expected=_per_10k(expected_rate))


def window_note(lang: str, days: int, end: datetime) -> str:
    """'; in the 7 days to 2026-11-20 09:00 UTC': the daily safety check's window (``end`` naive UTC)."""
    return Translator(lang)(
        "explain.window", days=days, date=f"{end:%Y-%m-%d}", month_day=f"{end:%m-%d}", time=f"{end:%H:%M}"
    )


def global_rise_sentence(lang: str, observed: float, expected: float, ratio: float) -> str:
    """The volume-wide rise, said once instead of flagging every topic (``surges.global_rise``)."""
    return Translator(lang)(
        "explain.global", observed=int(observed), expected=f"{expected:.0f}", ratio=f"{ratio:.1f}"
    )
