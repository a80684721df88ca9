"""Tiny inline charts: SVG for HTML (no JS, no external resources) and unicode for Markdown/text.

Every number written into the SVG is formatted from a ``float``; every piece of text goes through
``markupsafe.escape``; colours must be ``#rgb``/``#rrggbb`` (or ``currentColor``). The SVG
functions return ``markupsafe.Markup`` so autoescaping templates embed them as markup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from markupsafe import Markup, escape

FONT_STACK = (
    "'Noto Sans CJK SC', 'WenQuanYi Micro Hei', 'Source Han Sans SC', 'PingFang SC', "
    "'Microsoft YaHei', sans-serif"
)

LINE = "#2563eb"
MUTED = "#94a3b8"
HIGHLIGHT = "#dc2626"
INK = "#334155"
BLOCKS = "▁▂▃▄▅▆▇█"

_COLOUR = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|currentColor)$")


def _colour(c: str) -> str:
    if not isinstance(c, str) or not _COLOUR.match(c):
        raise ValueError(f"not an allowed colour: {c!r}")
    return c


def _size(x: float, name: str) -> float:
    v = float(x)
    if not math.isfinite(v) or v <= 0 or v > 10_000:
        raise ValueError(f"{name} must be a positive number, got {x!r}")
    return v


def _f(x: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros, never 'nan'."""
    v = float(x)
    if not math.isfinite(v):
        v = 0.0
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _clean(values: Sequence[float | int | None]) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        if v is None or isinstance(v, bool):
            out.append(None)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            out.append(None)
            continue
        out.append(f if math.isfinite(f) else None)
    return out


def _svg_open(width: float, height: float, label: str | None) -> str:
    aria = f' role="img" aria-label="{escape(label)}"' if label else ' aria-hidden="true"'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}"{aria}>'
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: float = 9,
    anchor: str = "start",
    fill: str = INK,
    weight: str = "normal",
) -> str:
    if anchor not in ("start", "middle", "end"):
        raise ValueError(anchor)
    if weight not in ("normal", "bold"):
        raise ValueError(weight)
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" font-size="{_f(size)}" text-anchor="{anchor}" '
        f'font-weight="{weight}" fill="{_colour(fill)}" font-family="{FONT_STACK}">'
        f"{escape(text)}</text>"
    )


def sparkline(
    values: Sequence[float | int | None],
    width: float = 120,
    height: float = 28,
    *,
    colour: str = LINE,
    zero_based: bool = False,
    label: str | None = None,
) -> Markup:
    """A line through ``values`` (oldest first) with the last point marked; ``None`` leaves a gap.

    ``zero_based`` scales from 0 (honest for counts); otherwise from the minimum (for rates that
    move within a narrow band).
    """
    w, h = _size(width, "width"), _size(height, "height")
    col = _colour(colour)
    vals = _clean(values)
    nums = [v for v in vals if v is not None]
    pad = 3.0
    parts = [_svg_open(w, h, label)]
    if not nums:
        parts.append(
            f'<line x1="{_f(pad)}" y1="{_f(h / 2)}" x2="{_f(w - pad)}" y2="{_f(h / 2)}" '
            f'stroke="{MUTED}" stroke-width="1" stroke-dasharray="2 2"/>'
        )
        parts.append("</svg>")
        return Markup("".join(parts))
    lo = 0.0 if zero_based and min(nums) >= 0 else min(nums)
    hi = max(nums)
    span = hi - lo
    n = len(vals)
    step = (w - 2 * pad) / (n - 1) if n > 1 else 0.0

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + i * step if n > 1 else w / 2
        y = h / 2 if span == 0 else pad + (h - 2 * pad) * (1 - (v - lo) / span)
        return x, y

    segment: list[tuple[float, float]] = []
    segments: list[list[tuple[float, float]]] = []
    for i, v in enumerate(vals):
        if v is None:
            if segment:
                segments.append(segment)
            segment = []
        else:
            segment.append(xy(i, v))
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) == 1:
            x, y = seg[0]
            parts.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="1.2" fill="{col}"/>')
        else:
            pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in seg)
            parts.append(
                f'<polyline fill="none" stroke="{col}" stroke-width="1.5" '
                f'stroke-linejoin="round" stroke-linecap="round" points="{pts}"/>'
            )
    last = next(((i, v) for i, v in reversed(list(enumerate(vals))) if v is not None))
    x, y = xy(*last)
    parts.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="2.2" fill="{col}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    values: Sequence[float | int | None],
    width: float = 260,
    height: float = 80,
    *,
    labels: Sequence[str] | None = None,
    reference: float | None = None,
    highlight_last: bool = True,
    show_last_value: bool = True,
    label: str | None = None,
) -> Markup:
    """Bars from zero, the last one highlighted (this week); an optional dashed reference line
    (e.g. the expected count) and optional x labels (only the first and last are written)."""
    w, h = _size(width, "width"), _size(height, "height")
    vals = _clean(values)
    nums = [v for v in vals if v is not None]
    ref = _clean([reference])[0] if reference is not None else None
    top_pad = 12.0 if show_last_value else 4.0
    bottom_pad = 12.0 if labels else 2.0
    plot_h = h - top_pad - bottom_pad
    hi = max([*nums, ref or 0.0, 0.0])
    parts = [_svg_open(w, h, label)]
    n = len(vals)
    if n == 0:
        parts.append("</svg>")
        return Markup("".join(parts))
    slot = w / n
    bar_w = max(1.0, slot * 0.72)
    base_y = top_pad + plot_h
    parts.append(
        f'<line x1="0" y1="{_f(base_y)}" x2="{_f(w)}" y2="{_f(base_y)}" stroke="#cbd5e1" stroke-width="1"/>'
    )
    for i, v in enumerate(vals):
        if v is None:
            continue
        bh = 0.0 if hi <= 0 else plot_h * max(v, 0.0) / hi
        x = i * slot + (slot - bar_w) / 2
        fill = HIGHLIGHT if highlight_last and i == n - 1 else MUTED
        parts.append(
            f'<rect x="{_f(x)}" y="{_f(base_y - bh)}" width="{_f(bar_w)}" '
            f'height="{_f(max(bh, 0.5))}" rx="1" fill="{fill}"/>'
        )
        if show_last_value and i == n - 1:
            parts.append(
                _text(x + bar_w / 2, base_y - bh - 3, _f(v), anchor="middle", fill=HIGHLIGHT, weight="bold")
            )
    if ref is not None and hi > 0:
        ry = base_y - plot_h * max(ref, 0.0) / hi
        parts.append(
            f'<line x1="0" y1="{_f(ry)}" x2="{_f(w)}" y2="{_f(ry)}" stroke="{INK}" '
            f'stroke-width="1" stroke-dasharray="3 2"/>'
        )
    if labels:
        labs = list(labels)
        if labs:
            parts.append(_text(0, h - 2, str(labs[0]), size=8, fill=MUTED))
            if len(labs) > 1:
                parts.append(_text(w, h - 2, str(labs[-1]), size=8, anchor="end", fill=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars(
    totals: Sequence[float | int | None],
    parts_: Sequence[float | int | None],
    width: float = 560,
    height: float = 150,
    *,
    labels: Sequence[str] | None = None,
    label: str | None = None,
) -> Markup:
    """Weekly totals as grey bars with the part (complaints) drawn in red from the bottom;
    the max total is written at the top left; first and last labels under the axis. The legend
    belongs in the surrounding HTML (it needs wrapping text)."""
    w, h = _size(width, "width"), _size(height, "height")
    tot = _clean(totals)
    sub = _clean(parts_)
    n = max(len(tot), len(sub))
    tot += [None] * (n - len(tot))
    sub += [None] * (n - len(sub))
    top_pad = 18.0
    bottom_pad = 14.0 if labels else 2.0
    plot_h = h - top_pad - bottom_pad
    hi = max([v for v in tot + sub if v is not None] + [0.0])
    out = [_svg_open(w, h, label)]
    if n == 0:
        out.append("</svg>")
        return Markup("".join(out))
    slot = w / n
    bar_w = max(1.0, slot * 0.7)
    base_y = top_pad + plot_h
    out.append(
        f'<line x1="0" y1="{_f(base_y)}" x2="{_f(w)}" y2="{_f(base_y)}" stroke="#cbd5e1" stroke-width="1"/>'
    )
    for i in range(n):
        x = i * slot + (slot - bar_w) / 2
        for v, fill in ((tot[i], "#cbd5e1"), (sub[i], HIGHLIGHT)):
            if v is None or hi <= 0:
                continue
            bh = plot_h * max(v, 0.0) / hi
            out.append(
                f'<rect x="{_f(x)}" y="{_f(base_y - bh)}" width="{_f(bar_w)}" '
                f'height="{_f(max(bh, 0.5))}" fill="{fill}"/>'
            )
    out.append(_text(0, 10, f"{hi:,.0f}", size=9, fill=MUTED))
    if labels:
        labs = list(labels)
        if labs:
            out.append(_text(0, h - 2, str(labs[0]), size=9, fill=MUTED))
            if len(labs) > 1:
                out.append(_text(w, h - 2, str(labs[-1]), size=9, anchor="end", fill=MUTED))
    out.append("</svg>")
    return Markup("".join(out))


def unicode_sparkline(values: Sequence[float | int | None], *, zero_based: bool = False) -> str:
    """'▁▂▃▅█' for Markdown and text; a gap (None) is '·'. Flat series sit in the middle."""
    vals = _clean(values)
    nums = [v for v in vals if v is not None]
    if not nums:
        return "·" * len(vals)
    lo = 0.0 if zero_based and min(nums) >= 0 else min(nums)
    hi = max(nums)
    out = []
    for v in vals:
        if v is None:
            out.append("·")
        elif hi == lo:
            out.append(BLOCKS[0] if hi == 0 else BLOCKS[3])
        else:
            out.append(BLOCKS[min(7, int((v - lo) / (hi - lo) * 7 + 0.5))])
    return "".join(out)
