"""Surge explanations (reports.explanations): the sentences stored with flagged cells, from plain numbers,
worded once per language in the catalogue (issue #18, "sentences in one place")."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from voc.reports.explanations import (
    explain,
    global_rise_sentence,
    surge_sentence,
    units_rate_note,
    window_note,
)
from voc.reports.i18n import MESSAGES
from voc.surges.extras import baseline_periods, rising_since


def test_every_sentence_has_an_entry_in_each_language() -> None:
    zh = {k for k in MESSAGES["zh"] if k.startswith("explain.")}
    assert zh and zh == {k for k in MESSAGES["en"] if k.startswith("explain.")}


def test_a_rise_from_plain_numbers() -> None:
    args = ("门关不紧", "theme", 31, 12.2, 2.55, 0.003)
    assert (
        surge_sentence("zh", *args, baseline_periods=8, since="2026-W45", batch_share=(0.8, "B2409"))
        == "门关不紧：31 起投诉，预期约 12 起（2.5×，q=0.003）；自 2026-W45 起持续上升；80% 来自批次 B2409"
    )
    assert (
        surge_sentence("en", *args, baseline_periods=8, since="2026-W45", batch_share=(0.8, "B2409"))
        == "门关不紧: 31 complaints vs ~12 expected (2.5×, q=0.003); rising steadily since 2026-W45; 80% from batch B2409"
    )


def test_numbers_are_written_alike_in_both_languages() -> None:
    def en(expected: float, ratio: float, q: float) -> str:
        return surge_sentence("en", "x", "topic", 5, expected, ratio, q, baseline_periods=8)

    assert en(0.4, math.inf, math.nan) == "x: 5 complaints vs ~<1 expected (new, q=n/a)"
    assert en(3.0, 12.4, 0.0004) == "x: 5 complaints vs ~3 expected (12×, q<0.001)"
    assert en(3.25, 1.54, 0.0123) == "x: 5 complaints vs ~3.2 expected (1.5×, q=0.01)"


def test_safety_and_batch_cells_are_named_by_level() -> None:
    row = {"observed": 6, "expected": 1.5, "ratio": 4.0, "q": 0.05, "level": "safety"}
    assert explain(row, "HD2", "zh") == "全部产品安全问题：6 起安全类工单，预期约 1.5 起（4.0×，q=0.05）"
    assert explain({**row, "level": "product×safety"}, "HD2", "en").startswith(
        "HD2, safety: 6 safety tickets"
    )
    assert explain({**row, "level": "product×batch", "batch": "B9"}, "oven", "en").startswith(
        "oven, batch B9: 6 "
    )


def test_the_numbers_come_from_surges() -> None:
    assert baseline_periods({"baseline_periods": 5}) == 5
    assert (
        baseline_periods({}) == baseline_periods({"baseline_periods": math.nan}) == 8
    )  # the default baseline
    row = {"methods": "baseline+cusum", "first_period": 3010, "period": 3019}
    assert rising_since(row) == 3010
    assert rising_since({**row, "methods": "baseline"}) is None
    assert rising_since({**row, "first_period": 3019}) is None
    assert (
        explain({**row, "observed": 9, "expected": 3.0}, "x", "en", period_name=lambda p: f"W{p}")
        == "x: 9 complaints vs ~3 expected (3.0×, q=n/a); rising steadily since W3010"
    )


def test_notes_of_units_windows_and_volume_wide_rises() -> None:
    assert units_rate_note("en", 300.0, 0.5, 200.0, new_cell=True) == "; 300 per 10k units (200 in the field)"
    assert (
        units_rate_note("zh", 0.0123, 0.0, 1_234_567.0, new_cell=True)
        == "；每万台 0.012 起（在用 1,234,567 台）"
    )
    assert units_rate_note("en", 15.0, 2.5, 20_000.0) == "; 15.0 per 10k units vs 2.5 expected"
    end = datetime(2026, 11, 26, 10, 5)
    assert window_note("zh", 7, end) == "；近 7 天（截至 11-26 10:05 UTC）"
    assert window_note("en", 7, end) == "; in the 7 days to 2026-11-26 10:05 UTC"
    assert (
        global_rise_sentence("zh", 1840.0, 612.4, 3.004)
        == "本周总工单量 1840 件, 约为常态 612 件的 3.0 倍 (整体上升, 不计为单个主题激增)"
    )
    assert (
        global_rise_sentence("en", 1840.0, 612.4, 3.004)
        == "Total volume 1840 tickets, 3.0× the usual ~612 (a volume-wide rise, not counted as a topic surge)"
    )


def test_a_language_without_a_catalogue_is_refused() -> None:
    with pytest.raises(ValueError):
        global_rise_sentence("fr", 1.0, 1.0, 1.0)
