"""Rendering of briefs, reviews and alerts: golden files, escaping, overrides, ordering, formatting.

Golden files live in tests/golden/; rewrite them after an intended change with
``pytest tests/test_reports.py --update-golden`` and review the diff.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest

from tests import reports_fixtures as fx
from voc.reports.render import render_alert, render_brief, render_review

GOLDEN = Path(__file__).parent / "golden"

CASES: dict[str, Callable[[], str]] = {
    "brief.zh.html": lambda: render_brief(fx.brief("zh"), "zh", "html"),
    "brief.en.html": lambda: render_brief(fx.brief("en"), "en", "html"),
    "brief.zh.md": lambda: render_brief(fx.brief("zh"), "zh", "md"),
    "brief.en.md": lambda: render_brief(fx.brief("en"), "en", "md"),
    "brief_empty.en.html": lambda: render_brief(fx.empty_brief("en"), "en", "html"),
    "brief_empty.zh.md": lambda: render_brief(fx.empty_brief("zh"), "zh", "md"),
    "review.zh.html": lambda: render_review(fx.review("zh"), "zh", "html"),
    "review.en.html": lambda: render_review(fx.review("en"), "en", "html"),
    "review.zh.md": lambda: render_review(fx.review("zh"), "zh", "md"),
    "review.en.md": lambda: render_review(fx.review("en"), "en", "md"),
    "review_empty.en.md": lambda: render_review(fx.empty_review("en"), "en", "md"),
    "alert.zh.txt": lambda: render_alert(fx.alert("zh"), "text"),
    "alert.zh.html": lambda: render_alert(fx.alert("zh"), "html"),
    "alert.zh.md": lambda: render_alert(fx.alert("zh"), "md"),
    "alert_digest.en.txt": lambda: render_alert(fx.digest("en"), "text"),
    "alert_digest.en.html": lambda: render_alert(fx.digest("en"), "html"),
    "alert_digest.en.md": lambda: render_alert(fx.digest("en"), "md"),
}

HTML_CASES = [k for k in CASES if k.endswith(".html")]
MD_CASES = [k for k in CASES if k.endswith(".md")]


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, request: pytest.FixtureRequest) -> None:
    out = CASES[name]()
    path = GOLDEN / name
    if request.config.getoption("--update-golden"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(out, encoding="utf-8", newline="")
        return
    assert path.exists(), f"{path} missing: run pytest {__file__} --update-golden"
    expected = path.read_text(encoding="utf-8")
    assert out == expected, f"{name} differs from the golden file; if intended, rerun with --update-golden"


def test_rendering_is_deterministic() -> None:
    for make in CASES.values():
        assert make() == make()


# ---- escaping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HTML_CASES)
def test_html_escapes_planted_script(name: str) -> None:
    out = CASES[name]()
    assert "<script" not in out.lower()
    if name.startswith(("brief.", "review.", "alert_digest.")):  # the cases that carry the quote
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_html_escapes_markup_in_topic_labels_and_keywords() -> None:
    out = render_brief(fx.brief("zh"), "zh", "html")
    assert "<b>刷头</b>" not in out
    assert "&lt;b&gt;刷头&lt;/b&gt;" in out


@pytest.mark.parametrize("name", MD_CASES)
def test_markdown_neutralises_planted_markup(name: str) -> None:
    out = CASES[name]()
    assert "<" not in out, "Markdown output must not contain a single raw '<' (no tags, no autolinks)"
    if "empty" in name:
        return
    if name.startswith(("brief", "alert_digest")):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
        assert r"\| pipes \|" in out
    if name.startswith("brief"):
        assert r"\[点这里\](javascript:alert(1))" in out  # no link
        assert r"\# 标题 \*\*加粗\*\*" in out  # no heading, no bold
        assert r"\`code\`" in out  # no code span


def _cells(row: str) -> int:
    """Table cells in a Markdown row, counting only unescaped pipes."""
    return len(re.findall(r"(?<!\\)\|", row)) - 1


@pytest.mark.parametrize("name", MD_CASES)
def test_markdown_tables_keep_their_shape(name: str) -> None:
    lines = CASES[name]().splitlines()
    for i, line in enumerate(lines):
        if re.fullmatch(r"\|(\s*-+:?\s*\|)+|\|(---:?\|)+", line.replace(":---", "---")):
            width = _cells(line)
            j = i + 1
            while j < len(lines) and lines[j].startswith("|"):
                assert _cells(lines[j]) == width, f"{name}: row {lines[j]!r} has the wrong number of cells"
                j += 1


def test_text_alert_keeps_quotes_verbatim_but_on_one_line() -> None:
    out = render_alert(fx.digest("en"), "text")
    assert "“屏幕一直闪 <script>alert(1)</script> 根本没法看”" in out  # plain text is not markup
    a = fx.digest("en")
    s = a.surges[0]
    multi = type(s.quotes[0])(text="第一行\n# 第二行", language="zh")
    a2 = type(a)(**{**a.__dict__, "surges": (type(s)(**{**s.__dict__, "quotes": (multi,)}),)})
    assert "第一行 # 第二行" in render_alert(a2, "text")


def test_unsafe_brief_link_is_dropped() -> None:
    a = fx.alert("en")
    bad = type(a)(**{**a.__dict__, "brief_link": "javascript:alert(1)"})
    for fmt in ("html", "md"):
        out = render_alert(bad, fmt)
        assert "javascript:" not in out
    assert 'href="https://wiki.example.com/voc/2026-W47.zh.html"' in render_alert(a, "html")
    digest_md = render_alert(fx.digest("en"), "md")
    assert "(https://wiki.example.com/voc/brief%20%282026-W47%29.html?lang=en&v=1)" in digest_md


# ---- HTML page properties --------------------------------------------------------------------


class _TagChecker(HTMLParser):
    VOID = {"meta", "br", "hr", "img", "input", "link", "rect", "line", "circle", "polyline", "path"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()


@pytest.mark.parametrize("name", HTML_CASES)
def test_html_is_balanced_and_self_contained(name: str) -> None:
    out = CASES[name]()
    checker = _TagChecker()
    checker.feed(out)
    checker.close()
    assert not checker.errors, checker.errors[:3]
    assert checker.stack == []
    assert '<meta charset="utf-8">' in out
    assert not checker.tags & {"script", "link", "img", "iframe", "object", "embed"}
    for forbidden in ("src=", "@import", "url(", "@font-face", "<script"):
        assert forbidden not in out
    external = set(re.findall(r"https?://[^\s\"'<>)]+", out)) - {"http://www.w3.org/2000/svg"}
    assert all(u.startswith("https://wiki.example.com/") for u in external), external


def test_brief_html_page_setup() -> None:
    zh = render_brief(fx.brief("zh"), "zh", "html")
    en = render_brief(fx.brief("en"), "en", "html")
    assert '<html lang="zh-CN">' in zh
    assert '<html lang="en">' in en
    for out in (zh, en):
        assert "@page { size: A4;" in out
        assert "break-inside: avoid" in out
        assert '"Noto Sans CJK SC"' in out and '"Microsoft YaHei"' in out
        assert "<svg" in out
    assert "<title>客诉变商机 例会简报 · 2026-W47</title>" in zh
    assert "<h1>Complaints into Opportunities — weekly brief · 2026-W47</h1>" in en


# ---- structure and order ---------------------------------------------------------------------


@pytest.mark.parametrize("lang,fmt", [("zh", "html"), ("zh", "md"), ("en", "html"), ("en", "md")])
def test_safety_surge_comes_before_higher_ratio_defect(lang: str, fmt: str) -> None:
    b = fx.brief(lang)
    defect, safety = b.surges
    assert defect.ratio > safety.ratio and defect.q_value < safety.q_value  # input order is defect first
    out = render_brief(b, lang, fmt)
    surge_part = out[out.index(fx._TEXT[lang]["hot"] + " · ") :]
    assert surge_part.index(safety.topic_label) < surge_part.index(defect.topic_label)
    assert out.index(safety.explanation) < out.index(defect.explanation)


@pytest.mark.parametrize("fmt", ["text", "html", "md"])
def test_digest_alert_lists_safety_first(fmt: str) -> None:
    a = fx.digest("en")
    out = render_alert(a, fmt)
    assert out.index("Casing hot while charging") < out.index("Screen flicker")
    assert "2 complaint surges" in out
    assert "SAFETY" in out


def test_brief_first_page_content_zh() -> None:
    out = render_brief(fx.brief("zh"), "zh", "md")
    head = out.split("## 核心指标")[0]
    assert "# 客诉变商机 例会简报 · 2026-W47" in head
    assert "2026年11月16日至11月22日" in head
    assert "本周 2 个投诉激增，其中 1 个安全类" in head
    assert "1 条提醒发送失败" in head
    assert "80% 来自批次 B2409，而该批次只占该产品工单的 20%" in out
    assert "第四条不应显示" not in out  # at most three quotes per surge


def test_brief_first_page_content_en() -> None:
    out = render_brief(fx.brief("en"), "en", "html")
    assert "2 complaint surges this week, 1 safety-related" in out
    assert "Week of 16–22 Nov 2026" in out
    assert "80% from batch B2409 vs 20% of the product&#39;s tickets" in out
    assert "No action item yet — assign one in the meeting" in out  # safety surge without an owner
    for section in (
        "Headline figures",
        "Complaint surges",
        "Overall volume",
        "Emerging topics",
        "Opportunities: unmet needs",
        "Resolved after an action",
        "Action items",
        "Alert delivery problems",
        "Top complaint topics",
        "How this was computed",
    ):
        assert section in out, section
    assert "at least 5 complaints" in out and "previous 8 weeks" in out and "below 0.05" in out


def test_zh_numbers_and_dates_in_rendered_brief() -> None:
    out = render_brief(fx.brief("zh"), "zh", "html")
    assert "12,345" in out
    assert "+15%" in out
    assert "-2.3个百分点" in out
    assert "生成于 2026年11月23日" in out
    assert "2026年11月20日" in out  # due date of the overdue action
    assert "5.2×" in out and "95%区间 3.3–7.9" in out
    assert "q 值 &lt; 0.001" in out


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_empty_sections_say_so(fmt: str) -> None:
    en = render_brief(fx.empty_brief("en"), "en", fmt)
    for text in (
        "No surges this week.",
        "No emerging topics this week.",
        "No suggestion topics this week.",
        "No action items.",
        "No complaint topics this week.",
        "No figures this week.",
    ):
        assert text in en
    assert "Alert delivery problems" not in en  # shown only when something failed
    zh = render_brief(fx.empty_brief("zh"), "zh", fmt)
    assert "本周无激增。" in zh and "本周无投诉激增。" in zh


def test_review_effects_and_verdicts() -> None:
    out = render_review(fx.review("en"), "en", "md")
    assert "0.22× (0.12–0.55) | **worked**" in out
    assert "3 action items assessed: 1 worked, 1 no clear change, 1 too early to tell." in out
    zh = render_review(fx.review("zh"), "zh", "html")
    assert "有效" in zh and "为时尚早" in zh and "2026年10月28日" in zh


# ---- templates: overrides, StrictUndefined, arguments ----------------------------------------


def test_user_override_wins(tmp_path: Path) -> None:
    (tmp_path / "brief.md.j2").write_text("OVERRIDE {{ brief.week }} {{ t.t('sec.surges') }}\n", "utf-8")
    assert (
        render_brief(fx.brief("en"), "en", "md", templates_dir=tmp_path)
        == "OVERRIDE 2026-W47 Complaint surges\n"
    )
    # templates not overridden still come from the package
    assert "<html" in render_brief(fx.brief("en"), "en", "html", templates_dir=tmp_path)


def test_user_override_can_extend_the_packaged_template(tmp_path: Path) -> None:
    (tmp_path / "brief.html.j2").write_text(
        '{% extends "default/brief.html.j2" %}{% block title %}Custom · {{ brief.week }}{% endblock %}',
        "utf-8",
    )
    out = render_brief(fx.brief("en"), "en", "html", templates_dir=tmp_path)
    assert "<title>Custom · 2026-W47</title>" in out
    assert "Complaint surges" in out


def test_strict_undefined_in_user_template(tmp_path: Path) -> None:
    (tmp_path / "brief.html.j2").write_text("{{ brief.week }} {{ no_such_variable }}", "utf-8")
    with pytest.raises(jinja2.UndefinedError):
        render_brief(fx.brief("en"), "en", "html", templates_dir=tmp_path)
    (tmp_path / "brief.md.j2").write_text("{{ brief.no_such_field }}", "utf-8")
    with pytest.raises(jinja2.UndefinedError):
        render_brief(fx.brief("en"), "en", "md", templates_dir=tmp_path)


def test_user_templates_are_escaped_too(tmp_path: Path) -> None:
    (tmp_path / "brief.html.j2").write_text("{{ brief.surges[0].quotes[0].text }}", "utf-8")
    (tmp_path / "brief.md.j2").write_text("| {{ brief.surges[0].quotes[0].text }} |", "utf-8")
    html = render_brief(fx.brief("en"), "en", "html", templates_dir=tmp_path)
    md = render_brief(fx.brief("en"), "en", "md", templates_dir=tmp_path)
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<script" not in md and "&lt;script&gt;" in md


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        render_brief(fx.brief("en"), "en", "pdf")
    with pytest.raises(ValueError):
        render_brief(fx.brief("en"), "fr", "html")
    with pytest.raises(ValueError):
        render_alert(fx.alert("en"), "pdf")
    with pytest.raises(FileNotFoundError):
        render_brief(fx.brief("en"), "en", "html", templates_dir="/nonexistent/templates")
    assert 'lang="zh-CN"' in render_brief(fx.brief("zh"), "zh-CN", "html")


def test_render_module_is_pure() -> None:
    code = (
        "import sys, reports.render; "
        "bad = [m for m in ('sqlalchemy', 'prefect', 'httpx', 'psycopg', 'store', 'flows') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""
