"""Unit tests for report formatting: i18n numbers/dates, Markdown escaping, URLs, charts."""

from __future__ import annotations

import re
from datetime import date

import pytest
from markupsafe import Markup

from voc.reports import charts
from voc.reports.i18n import MESSAGES, Translator, normalize_lang
from voc.reports.model import Kpi
from voc.reports.render import ReportText, md_escape, safe_url, weeks_back


def test_zh_formats() -> None:
    t = Translator("zh")
    assert t.date(date(2026, 11, 16)) == "2026年11月16日"
    assert t.integer(12345) == "12,345"
    assert t.change(0.15) == "+15%"
    assert t.change(-0.084) == "-8%"
    assert t.change(0.001) == "0%"
    assert t.points(0.031) == "+3.1个百分点"
    assert t.ratio(2.6) == "2.6×"
    assert t.pct(0.8) == "80%"
    assert t.pct(0.7125, 1) == "71.2%" or t.pct(0.7125, 1) == "71.3%"
    assert t.date_range(date(2026, 11, 16), date(2026, 11, 22)) == "2026年11月16日至11月22日"
    assert t.date_range(date(2025, 12, 29), date(2026, 1, 4)) == "2025年12月29日至2026年1月4日"
    assert t.kpi_name("fcr_rate") == "一次解决率"
    assert t.kpi_name("closed_24h") == "24小时内结案率"
    assert t.severity("safety") == "安全" and t.severity("defect") == "质量缺陷"
    assert t.verdict("worked") == "有效"
    assert t.intent("suggestion") == "建议"
    assert t.q(0.0004) == "<0.001" and t.q(0.0123) == "0.012"
    assert t.days(1) == "1 天"


def test_en_formats() -> None:
    t = Translator("en")
    assert t.date(date(2026, 11, 16)) == "16 Nov 2026"
    assert t.integer(12345) == "12,345"
    assert t.change(0.15) == "+15%"
    assert t.points(-0.023) == "-2.3 pts"
    assert t.ratio(2.6) == "2.6×"
    assert t.date_range(date(2026, 11, 16), date(2026, 11, 22)) == "16–22 Nov 2026"
    assert t.date_range(date(2026, 11, 30), date(2026, 12, 6)) == "30 Nov – 6 Dec 2026"
    assert t.date_range(date(2025, 12, 29), date(2026, 1, 4)) == "29 Dec 2025 – 4 Jan 2026"
    assert t.days(1) == "1 day" and t.days(3) == "3 days"
    assert t.n("sum.surges", 1) == "1 complaint surge this week"
    assert t.severity("unknown_value") == "unknown_value"  # unknown codes pass through


def test_missing_values_show_a_dash() -> None:
    for lang in ("zh", "en"):
        t = Translator(lang)
        assert t.integer(None) == t.change(None) == t.points(float("nan")) == t.ratio(None) == "—"
        assert t.date(None) == "—"


def test_language_aliases() -> None:
    assert normalize_lang("zh-CN") == normalize_lang("zh_cn") == normalize_lang("zh-Hans") == "zh"
    assert normalize_lang("en-US") == "en"
    with pytest.raises(ValueError):
        normalize_lang("fr")


def test_catalogues_have_the_same_keys() -> None:
    zh, en = set(MESSAGES["zh"]), set(MESSAGES["en"])
    assert {k for k in en if not k.endswith("_one")} == zh
    for table in MESSAGES.values():
        for text in table.values():
            re.sub(r"\{[a-z_]+\}", "", text).format()  # only simple named fields; no stray braces


def test_kpi_formatting() -> None:
    t = ReportText("zh")
    rate = Kpi("reopen_rate", 0.041, 0.035, is_rate=True)
    count = Kpi("complaints", 2345, 2100)
    assert t.kpi_value(rate) == "4.1%" and t.kpi_change(rate) == "+0.6个百分点"
    assert t.kpi_tone(rate) == "bad" and t.kpi_arrow(rate) == "▲"
    assert t.kpi_value(count) == "2,345" and t.kpi_change(count) == "+12%"
    assert t.kpi_tone(Kpi("fcr_rate", 0.8, 0.7, is_rate=True)) == "good"
    assert t.kpi_tone(Kpi("tickets", 10, 5)) == "neutral"
    assert t.kpi_change(Kpi("tickets", 10, 0)) == "—"
    assert t.kpi_change(Kpi("tickets", 10, None)) == "—"


def test_weeks_back() -> None:
    assert weeks_back("2026-W47", 3) == ("2026-W45", "2026-W46", "2026-W47")
    assert weeks_back("2026-W01", 2) == ("2025-W52", "2026-W01")
    with pytest.raises(ValueError):
        weeks_back("2026/47", 2)


# ---- Markdown escaping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("a | b", r"a \| b"),
        ("# heading", r"\# heading"),
        ("1. item", r"1\. item"),
        ("- item", r"\- item"),
        ("---", r"\---"),
        ("-8%", "-8%"),
        ("+15%", "+15%"),
        ("`code` *em* _em_ ~~s~~", r"\`code\` \*em\* \_em\_ \~\~s\~\~"),
        ("[x](javascript:alert(1))", r"\[x\](javascript:alert(1))"),
        ("line one\n# line two\r\n| cell", r"line one # line two \| cell"),
        ("AT&T", "AT&amp;T"),
        ("back\\slash", "back\\\\slash"),
        ("right\u202eleft", "rightleft"),
        ("客户说：“很烫”", "客户说：“很烫”"),
    ],
)
def test_md_escape(raw: str, expected: str) -> None:
    assert md_escape(raw) == expected


def test_md_escape_leaves_markup_alone() -> None:
    assert md_escape(Markup("**bold**")) == "**bold**"


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://x.example/a b?q=1&r=(2)", "https://x.example/a%20b?q=1&r=%282%29"),
        ("http://x.example/", "http://x.example/"),
        ("mailto:a@example.com", "mailto:a@example.com"),
        ("briefs/2026-W47.zh.html", "briefs/2026-W47.zh.html"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("https://x.example/\nfoo", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


# ---- charts ----------------------------------------------------------------------------------


def _numbers_only(svg: str) -> None:
    """Every attribute value in the SVG is a number, a list of numbers, or a fixed keyword."""
    for name, value in re.findall(r'\s([a-z:-]+)="([^"]*)"', svg):
        if name in (
            "xmlns",
            "font-family",
            "aria-label",
            "role",
            "aria-hidden",
            "text-anchor",
            "font-weight",
            "fill",
            "stroke",
            "stroke-linejoin",
            "stroke-linecap",
        ):
            continue
        assert re.fullmatch(r"[-0-9., ]*", value), (name, value)


def test_sparkline() -> None:
    svg = charts.sparkline([1, 2, None, 4, 3], 100, 20)
    assert isinstance(svg, Markup)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2  # the gap splits the line
    assert "nan" not in svg.lower()
    _numbers_only(svg)
    for values in ([], [None, None], [5], [3, 3, 3], [float("nan"), 1, float("inf")], [0, 0]):
        out = charts.sparkline(values, 80, 16)
        assert out.startswith("<svg") and "nan" not in out.lower() and "inf" not in out.lower()


def test_chart_text_is_escaped_and_colours_checked() -> None:
    svg = charts.bar_chart([1, 2, 3], labels=["<b>W1</b>", "W3"], label='"><script>')
    assert "<script" not in svg and "<b>" not in svg
    assert "&lt;b&gt;W1&lt;/b&gt;" in svg
    assert "Noto Sans CJK SC" in svg and "Microsoft YaHei" in svg
    with pytest.raises(ValueError):
        charts.sparkline([1, 2], colour='red" onload="x')
    with pytest.raises(ValueError):
        charts.sparkline([1, 2], width=-1)


def test_bar_chart_highlights_last_bar() -> None:
    svg = charts.bar_chart([3, 4, 2, 9], 120, 40, reference=3.5)
    rects = re.findall(r'<rect [^>]*fill="(#[0-9a-f]+)"', svg)
    assert rects == [charts.MUTED] * 3 + [charts.HIGHLIGHT]
    assert 'stroke-dasharray="3 2"' in svg  # expected level
    assert ">9</text>" in svg
    _numbers_only(svg)


def test_stacked_bars() -> None:
    svg = charts.stacked_bars([100, 120], [10, 30], 200, 80, labels=["2026-W46", "2026-W47"])
    assert svg.count("<rect") == 4
    assert ">2026-W47</text>" in svg and ">120</text>" in svg


def test_unicode_sparkline() -> None:
    assert charts.unicode_sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert charts.unicode_sparkline([1, None, 1]) == "▄·▄"
    assert charts.unicode_sparkline([0, 0]) == "▁▁"
    assert charts.unicode_sparkline([]) == ""
    assert charts.unicode_sparkline([10, 10, 20], zero_based=True) == "▅▅█"
