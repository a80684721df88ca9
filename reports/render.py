"""Pure rendering of briefs, reviews and alerts: model objects in, text out.

No database, no network, no clock: everything shown comes from the objects passed in, so the same
input always renders byte-identical output (the golden tests rely on it).

Templates are looked up in ``templates_dir`` first (user overrides), then in this package's
``templates/``. A user template can also extend a packaged one as ``default/<name>``.

Escaping:

* ``*.html.j2``: Jinja autoescape is on. Charts are ``Markup`` built from numbers and escaped text.
* ``*.md.j2``: every ``{{ expression }}`` is passed through :func:`md_escape` by the environment's
  ``finalize`` hook, so ticket text cannot inject HTML, links, table cells or headings even in a
  user template that forgets to escape. Use ``|safe`` only for text you built yourself.
* ``*.txt.j2``: plain text, not escaped (not rendered as markup anywhere).

In every format, each ``{{ expression }}`` loses control characters and bidi overrides/isolates
(U+202A-E, U+2066-9, U+200E/F, U+061C) on its way out (the ``finalize`` hook, :func:`plain`): a ticket
cannot make its quote, or the text around it, display reversed or as something else. Names shown in
headings (topic labels, product, model, batch) go through :func:`clip`, so a 2,000-character product
name is cut to ``NAME_MAX`` characters with an ellipsis.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)
from markupsafe import Markup

from voc.reports import charts
from voc.reports.i18n import KPI_GOOD_DIRECTION, VERDICT_ORDER, Translator, normalize_lang
from voc.reports.links import surge_url, week_url
from voc.reports.model import ActionItem, Alert, Brief, Kpi, Review, SurgeItem, TopicItem

TEMPLATES_DIR = Path(__file__).parent / "templates"

_EXT = {"html": "html", "md": "md", "text": "txt", "txt": "txt"}

# --------------------------------------------------------------------------------------------
# Escaping helpers
# --------------------------------------------------------------------------------------------

_NEWLINES = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")
# C0/C1 controls and bidi overrides/isolates (which can make a quote display as something else).
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
NAME_MAX = 80  # characters of a topic label / product / model / batch name shown in a heading


def plain(value: object) -> str:
    """``value`` as text without control characters or bidi overrides (newlines and tabs kept)."""
    return _CONTROLS.sub("", str(value))


def clip(value: object, limit: int = NAME_MAX) -> str:
    """A name cut to ``limit`` characters, the cut marked with an ellipsis."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plain_finalize(value: object) -> object:
    return value if isinstance(value, Markup) else plain(value)


_MD_PUNCT = re.compile(r"([\\`*_\[\]|~])")
_MD_LEADING_MARK = re.compile(r"^([-+=])(?=\s|$|\1)")
_MD_LEADING_NUMBER = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")


def md_escape(value: object) -> str:
    """Neutralise text for Markdown (GFM/CommonMark) as rendered by wikis and chat tools.

    One line (newlines become spaces, so a value can't start a heading, list or new table row);
    ``& < >`` become entities (no raw HTML, no autolinks); ``\\ ` * _ [ ] | ~`` are
    backslash-escaped (no code spans, emphasis, links, table cells, strikethrough); a leading
    ``#``, list marker or ordered-list number is escaped. Renders back as the original characters.
    """
    if isinstance(value, Markup):
        return str(value)
    s = _CONTROLS.sub("", str(value))
    s = _NEWLINES.sub(" ", s).strip()
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_PUNCT.sub(r"\\\1", s)
    if s.startswith("#"):
        s = "\\" + s
    s = _MD_LEADING_MARK.sub(r"\\\1", s)
    s = _MD_LEADING_NUMBER.sub(r"\1\\\2", s)
    return s


def _md_filter(value: object) -> Markup:
    return Markup(md_escape(value))


def _md_finalize(value: object) -> object:
    if isinstance(value, Markup):
        return value
    return md_escape(value)


def _oneline(value: object) -> str:
    """For plain text: drop control characters and fold newlines (keeps one item per line)."""
    return _NEWLINES.sub(" ", _CONTROLS.sub("", str(value))).strip()


_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


def safe_url(value: object) -> str | None:
    """The URL, percent-encoded where needed (spaces, quotes, brackets, parentheses), if it is
    http(s), mailto or relative; ``None`` for anything else (``javascript:``, ``data:``...)."""
    if value is None:
        return None
    url = str(value).strip()
    if not url or _CONTROLS.search(url) or _NEWLINES.search(url):
        return None
    m = _SCHEME.match(url)
    if m and m.group(1).lower() not in ("http", "https", "mailto"):
        return None
    return quote(url, safe=":/?#@!$&*+,;=%~-._")


def _md_url(value: object) -> Markup:
    url = safe_url(value)
    return Markup(url) if url else Markup("")


# --------------------------------------------------------------------------------------------
# Model-aware formatting, exposed to templates as ``t``
# --------------------------------------------------------------------------------------------


def week_start(week: str) -> date:
    """'2026-W47' -> the Monday of that ISO week."""
    m = re.fullmatch(r"(\d{4})-W(\d{1,2})", week.strip())
    if not m:
        raise ValueError(f"not an ISO week like 2026-W47: {week!r}")
    return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)


def week_label(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def weeks_back(week: str, n: int) -> tuple[str, ...]:
    """The n ISO weeks ending with ``week``, oldest first."""
    end = week_start(week)
    return tuple(week_label(end - timedelta(weeks=k)) for k in range(n - 1, -1, -1))


class ReportText(Translator):
    """Translator plus the formatting of model objects (KPIs, surges, actions)."""

    def __init__(self, lang: str, today: date | None = None) -> None:
        super().__init__(lang)
        self.today = today

    # KPIs
    def kpi_value(self, k: Kpi, value: float | None = None) -> str:
        v = k.value if value is None else value
        return self.pct(v, 1) if k.is_rate else self.integer(v)

    def kpi_previous(self, k: Kpi) -> str:
        return self.kpi_value(k, k.previous) if k.previous is not None else self.t("none")

    def _kpi_delta(self, k: Kpi) -> float | None:
        if k.value is None or k.previous is None:
            return None
        if k.is_rate:
            return k.value - k.previous
        if k.previous == 0:
            return None
        return k.value / k.previous - 1

    def kpi_change(self, k: Kpi) -> str:
        d = self._kpi_delta(k)
        if d is None:
            return self.t("none")
        return self.points(d) if k.is_rate else self.change(d)

    def kpi_direction(self, k: Kpi) -> int:
        d = self._kpi_delta(k)
        if d is None:
            return 0
        shown = round(d * 100, 1) if k.is_rate else round(d * 100)
        return (shown > 0) - (shown < 0)

    def kpi_arrow(self, k: Kpi) -> str:
        return {1: "▲", -1: "▼", 0: ""}[self.kpi_direction(k)]

    def kpi_tone(self, k: Kpi) -> str:
        """'good' | 'bad' | 'neutral' — for colouring the change."""
        d = self.kpi_direction(k)
        good = KPI_GOOD_DIRECTION.get(k.key, 0)
        if d == 0 or good == 0:
            return "neutral"
        return "good" if d == good else "bad"

    # topics
    def topic_change(self, item: TopicItem) -> str:
        if item.previous == 0:
            return self.t("none")
        return self.change(item.count / item.previous - 1)

    # surges
    def where(self, s: SurgeItem) -> list[str]:
        parts = []
        if s.product:
            parts.append(clip(s.product))
        if s.model:
            parts.append(f"{self.t('surge.model')} {clip(s.model)}")
        if s.batch:
            parts.append(f"{self.t('surge.batch')} {clip(s.batch)}")
        return parts

    def subject(self, s: SurgeItem) -> str:
        """What rose: 'topic · product · model X · batch Y'."""
        parts = [clip(s.topic_label)] if s.level != "product" or not s.product else []
        parts += self.where(s)
        return " · ".join(p for p in parts if p) or clip(s.topic_label)

    def observed_expected(self, s: SurgeItem) -> str:
        return self.t(
            "surge.observed_expected", observed=self.integer(s.observed), expected=self.num(s.expected)
        )

    def wow(self, s: SurgeItem) -> str:
        if s.wow_change is None:
            return self.t("surge.wow_from_zero")
        return self.t("surge.wow", change=self.change(s.wow_change))

    def concentration(self, s: SurgeItem) -> str | None:
        c = s.concentration
        if c is None:
            return None
        return self.t(
            "surge.concentration",
            share=self.pct(c.share),
            batch=c.batch,
            expected=self.pct(c.expected_share),
            ratio=self.ratio(c.ratio),
        )

    def history_weeks(self, s: SurgeItem, week: str) -> tuple[str, ...]:
        return weeks_back(week, len(s.history)) if s.history else ()

    def alert_kind(self, kind: str) -> str:
        key = f"alert.kind.{kind}"
        return self.t(key) if self.has(key) else kind

    # actions
    def overdue(self, a: ActionItem) -> bool:
        return bool(self.today and a.due and a.status != "done" and a.due < self.today)

    def action_line(self, a: ActionItem) -> str:
        bits = [f"#{a.action_id}", a.owner, self.status(a.status)]
        if a.due:
            bits.append(self.t("action.due", date=self.date(a.due)))
        if self.overdue(a):
            bits.append(self.t("overdue"))
        line = " · ".join(bits)
        return f"{line} — {a.note}" if a.note else line

    def action_where(self, a: ActionItem, empty: str | None = None) -> str:
        """'product · batch X'; ``empty`` (default '—') when the action names neither."""
        bits = [
            b
            for b in (
                a.product and clip(a.product),
                f"{self.t('surge.batch')} {clip(a.batch)}" if a.batch else None,
            )
            if b
        ]
        return " · ".join(bits) if bits else (self.t("none") if empty is None else empty)

    def action_title(self, a: ActionItem) -> str:
        """'#19 topic · product · batch X' for the review table."""
        bits = [f"#{a.action_id}", clip(a.topic_label or ""), self.action_where(a, "")]
        head = f"{bits[0]} {bits[1]}".strip()
        return f"{head} · {bits[2]}" if bits[2] else head


# --------------------------------------------------------------------------------------------
# Sentences written from the data
# --------------------------------------------------------------------------------------------


def order_surges(surges: Sequence[SurgeItem]) -> tuple[SurgeItem, ...]:
    """Safety surges first; otherwise the order given (the flow sorts by q value)."""
    return tuple(s for s in surges if s.severity == "safety") + tuple(
        s for s in surges if s.severity != "safety"
    )


def brief_summary(brief: Brief, t: ReportText) -> list[str]:
    """The opening paragraph, as sentences in ``t``'s language."""
    out: list[str] = []
    surges = order_surges(brief.surges)
    if not surges:
        out.append(t.t("sum.no_surges"))
    else:
        safety = [s for s in surges if s.severity == "safety"]
        text = t.n("sum.surges", len(surges))
        if safety:
            text += t.t(
                "sum.surges_safety_other", s=len(safety), labels=t.join([t.subject(s) for s in safety])
            )
        out.append(text + t.t("sum.surges_end"))
        top = max(surges, key=lambda s: s.ratio)
        out.append(
            t.t(
                "sum.top_ratio",
                label=t.subject(top),
                observed=t.integer(top.observed),
                expected=t.num(top.expected),
                ratio=t.ratio(top.ratio),
            )
        )
    complaints = next((k for k in brief.kpis if k.key == "complaints"), None)
    if complaints is not None and complaints.value is not None:
        if t.kpi_change(complaints) != t.t("none"):
            out.append(t.t("sum.complaints", value=t.kpi_value(complaints), change=t.kpi_change(complaints)))
        else:
            out.append(t.t("sum.complaints_no_change", value=t.kpi_value(complaints)))
    if brief.global_rise:
        out.append(t.t("sum.global_rise"))
    if brief.emerging:
        out.append(t.n("sum.emerging", len(brief.emerging)))
    if brief.opportunities:
        out.append(t.n("sum.opportunities", len(brief.opportunities)))
    open_actions = [a for a in brief.actions if a.status != "done"]
    if open_actions:
        text = t.n("sum.actions_open", len(open_actions))
        overdue = sum(1 for a in open_actions if t.overdue(a))
        if overdue:
            text += t.t("sum.actions_overdue_other", n=overdue)
        out.append(text + t.t("sentence_end"))
    if brief.delivery_problems:
        out.append(t.n("sum.delivery", len(brief.delivery_problems)))
    return out


def review_summary(review: Review, t: ReportText) -> list[str]:
    out: list[str] = []
    tickets, complaints = sum(review.totals), sum(review.complaints)
    if tickets:
        out.append(
            t.t(
                "rsum.volume",
                tickets=t.integer(tickets),
                complaints=t.integer(complaints),
                share=t.pct(complaints / tickets, 1),
            )
        )
    else:
        out.append(t.t("rsum.no_data"))
    if len(review.complaints) >= 2:
        first, last = review.complaints[0], review.complaints[-1]
        change = t.change(last / first - 1) if first else t.t("none")
        out.append(t.t("rsum.complaints_trend", first=t.integer(first), last=t.integer(last), change=change))
    if review.effects:
        counts = {v: sum(1 for e in review.effects if e.verdict == v) for v in VERDICT_ORDER}
        others = sorted({e.verdict for e in review.effects} - set(VERDICT_ORDER))
        parts = [
            t.t("rsum.verdict_part", verdict=t.verdict(v), n=n)
            for v, n in [
                *counts.items(),
                *((o, sum(1 for e in review.effects if e.verdict == o)) for o in others),
            ]
            if n
        ]
        out.append(
            t.n("rsum.effects", len(review.effects)) + t.t("part_sep").join(parts) + t.t("sentence_end")
        )
    else:
        out.append(t.t("rsum.no_effects"))
    if review.emerging:
        out.append(t.n("rsum.emerging", len(review.emerging)))
    return out


def alert_subject(alert: Alert) -> str:
    """A one-line subject for e-mail/chat: '[SAFETY] Complaint surge alert · 2026-W47 · topic'."""
    t = ReportText(alert.language)
    surges = order_surges(alert.surges)
    tag = t.t("alert.safety_tag") if any(s.severity == "safety" for s in surges) else ""
    bits = [tag + t.alert_kind(alert.kind), alert.week]
    if len(surges) == 1:
        bits.append(t.subject(surges[0]))
    elif surges:
        bits.append(t.n("alert.digest", len(surges)))
    return _oneline(" · ".join(bits))


# --------------------------------------------------------------------------------------------
# Environments
# --------------------------------------------------------------------------------------------


def _resolve_dir(templates_dir: str | Path | None) -> str | None:
    if templates_dir is None:
        return None
    p = Path(templates_dir).expanduser().resolve()
    if not p.is_dir():
        raise FileNotFoundError(f"templates_dir is not a directory: {p}")
    return str(p)


@lru_cache(maxsize=16)
def _environment(kind: str, templates_dir: str | None) -> Environment:
    return _make_environment(kind, (templates_dir,) if templates_dir else ())


def html_environment(*template_dirs: str | Path | None) -> Environment:
    """The HTML environment the brief is rendered in (autoescape, the same filters, charts and
    ``finalize``), looking in ``template_dirs`` first (None entries skipped), then the packaged
    templates: pages built around the brief's own templates and macros (the web workbench) render
    its parts exactly as the file does."""
    return _make_environment("html", tuple(d for d in (_resolve_dir(x) for x in template_dirs) if d))


def _make_environment(kind: str, template_dirs: tuple[str, ...]) -> Environment:
    package = FileSystemLoader(str(TEMPLATES_DIR))
    loaders: list[Any] = [
        *(FileSystemLoader(d) for d in template_dirs),
        package,
        PrefixLoader({"default": package}),
    ]
    env = Environment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=select_autoescape(
            enabled_extensions=("html.j2", "html", "htm", "xml"),
            disabled_extensions=("md.j2", "txt.j2"),
            default_for_string=False,
            default=False,
        ),
        finalize=_md_finalize if kind == "md" else _plain_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md_filter
    env.filters["url"] = _md_url if kind == "md" else safe_url
    env.filters["oneline"] = _oneline
    env.filters["name"] = clip
    env.filters["spark"] = charts.unicode_sparkline
    env.globals.update(
        sparkline=charts.sparkline,
        bar_chart=charts.bar_chart,
        stacked_bars=charts.stacked_bars,
        unicode_sparkline=charts.unicode_sparkline,
        font_stack=charts.FONT_STACK,
    )
    return env


def _render(
    name: str, fmt: str, allowed: tuple[str, ...], templates_dir: str | Path | None, context: dict[str, Any]
) -> str:
    if fmt not in allowed:
        raise ValueError(f"unsupported format {fmt!r} for {name}; use one of {', '.join(allowed)}")
    ext = _EXT[fmt]
    kind = "html" if ext == "html" else "md" if ext == "md" else "text"
    env = _environment(kind, _resolve_dir(templates_dir))
    return env.get_template(f"{name}.{ext}.j2").render(fmt=fmt, **context)


def _base_context(t: ReportText) -> dict[str, Any]:
    return {"t": t, "lang": t.lang, "html_lang": t.html_lang}


def render_brief(
    brief: Brief, lang: str, fmt: str, templates_dir: str | Path | None = None, web_base: str | None = None
) -> str:
    """The weekly brief as one self-contained HTML page (``fmt='html'``) or Markdown (``'md'``).
    ``web_base`` (``web.base_url``): each surge's title links to its page in the web workbench."""
    lang = normalize_lang(lang)
    t = ReportText(lang, today=brief.generated_on)
    extra: dict[str, Any] = {}
    if web_base:
        extra["surge_href"] = lambda s: (
            surge_url(web_base, brief.week, s.surge_identity, lang)
            if s.surge_identity
            else week_url(web_base, brief.week, lang)
        )
    return _render(
        "brief",
        fmt,
        ("html", "md"),
        templates_dir,
        {
            **_base_context(t),
            "brief": brief,
            "surges": order_surges(brief.surges),
            "summary": brief_summary(brief, t),
            **extra,
        },
    )


def render_review(review: Review, lang: str, fmt: str, templates_dir: str | Path | None = None) -> str:
    """The quarterly improvement review as HTML or Markdown."""
    t = ReportText(normalize_lang(lang), today=review.generated_on)
    return _render(
        "review",
        fmt,
        ("html", "md"),
        templates_dir,
        {**_base_context(t), "review": review, "summary": review_summary(review, t)},
    )


def render_alert(alert: Alert, fmt: str, templates_dir: str | Path | None = None) -> str:
    """One alert message (a digest when it carries several surges) in ``alert.language``."""
    t = ReportText(alert.language)
    return _render(
        "alert",
        fmt,
        ("text", "html", "md"),
        templates_dir,
        {
            **_base_context(t),
            "alert": alert,
            "surges": order_surges(alert.surges),
            "subject": alert_subject(alert),
            "is_digest": len(alert.surges) > 1,
            "has_safety": any(s.severity == "safety" for s in alert.surges),
        },
    )
