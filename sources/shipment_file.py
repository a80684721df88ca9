"""How a shipments file reads (sources/shipments.py reads it, surges/exposure.py turns it into units in the field): its column
headers, its week cells and its product names, as ERP and sales exports write them.

Headers: the canonical ``week, product, batch, units``, the config's ``shipments.columns``, or one of
the common Chinese and English headers below. Weeks: an ISO week (``2026-W47``, ``2026W47``,
``2026年第47周``) or a date (``2026-11-16``, ``2026/11/16``, ``2026年11月16日``, a spreadsheet date), taken
as its ISO week. Products: a catalogue product's id, Chinese or English name, alias or model (case,
spaces and hyphens aside: ``kx30a`` is ``KX-30A``), or a code the config lists under ``shipments.skus``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from voc.config.settings import SHIPMENT_COLUMNS, Product
from voc.errors import WeekError
from voc.weeks import Week

# headers recognised without ``shipments.columns`` (after the canonical name itself), in this order
HEADERS: dict[str, tuple[str, ...]] = {
    "week": (
        "周",
        "周次",
        "出货周",
        "iso week",
        "日期",
        "出货日期",
        "发货日期",
        "出库日期",
        "date",
        "ship date",
        "ship_date",
    ),
    "product": (
        "产品",
        "产品id",
        "产品线",
        "品类",
        "商品",
        "商品名称",
        "product id",
        "product_id",
        "sku",
        "型号",
        "model",
        "item",
    ),
    "batch": ("批次", "批号", "批次号", "生产批次", "lot", "batch no", "batch_no"),
    "units": (
        "数量",
        "出货量",
        "出货数量",
        "发货量",
        "发货数量",
        "台数",
        "销量",
        "件数",
        "qty",
        "quantity",
        "units shipped",
        "units_shipped",
        "shipped",
    ),
}
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_ZH_WEEK = re.compile(r"^(\d{4})\s*年?\s*第\s*(\d{1,2})\s*周$")


def find_columns(header: Iterable[str], configured: Mapping[str, str] | None = None) -> dict[str, str]:
    """canonical column -> the file's (lower-cased, stripped) column: the ``configured`` name when one is
    given for it (absent from the file: left out, so the caller says it is missing), else the first of
    the canonical name and ``HEADERS`` the file has."""
    have = list(header)
    out: dict[str, str] = {}
    for col in SHIPMENT_COLUMNS:
        if configured and col in configured:
            want = str(configured[col]).strip().lower()
            if want in have:
                out[col] = want
            continue
        hit = next((c for c in (col, *HEADERS[col]) if c in have), None)
        if hit is not None:
            out[col] = hit
    return out


def week_of(v: Any) -> int:
    """ISO week ordinal of a cell value; ValueError with a short reason otherwise."""
    if isinstance(v, pd.Timestamp):
        if pd.isna(v):
            raise ValueError("missing week")
        v = v.to_pydatetime()
    if isinstance(v, datetime | date):
        return Week.of(v).ordinal()
    if v is None or (isinstance(v, float) and math.isnan(v)):
        raise ValueError("missing week")
    if not isinstance(v, str):
        raise ValueError(
            f"unknown week format {v!r} (expected an ISO week like 2026-W47 or a date like 2026-11-16)"
        )
    s = v.strip()
    if not s:
        raise ValueError("missing week")
    zh = _ZH_WEEK.match(s)
    if zh:
        s = f"{zh.group(1)}-W{zh.group(2)}"
    if "W" in s.upper():
        try:
            return Week.parse(s).ordinal()
        except WeekError as e:
            raise ValueError(str(e)) from None
    m = _DATE.match(s)
    if m:
        try:
            return Week.of(date(int(m.group(1)), int(m.group(2)), int(m.group(3)))).ordinal()
        except ValueError:
            raise ValueError(f"not a valid date {v!r}") from None
    raise ValueError(
        f"unknown week format {v!r} (expected an ISO week like 2026-W47 or a date like 2026-11-16)"
    )


def _key(name: Any) -> str:
    """How product names are compared: case, spaces, hyphens and underscores aside (KX-30A = kx30a)."""
    return re.sub(r"[\s\-_]+", "", str(name)).casefold()


@dataclass
class ProductNames:
    """A product name in a shipments file -> catalogue product id: by id, name (zh/en), alias or model,
    and the config's ``shipments.skus`` (which win). A name that fits two products is not guessed."""

    ids: dict[str, str]
    ambiguous: dict[str, list[str]]

    @classmethod
    def of(cls, products: Iterable[Product | str], skus: Mapping[str, str] | None = None) -> ProductNames:
        found: dict[str, set[str]] = {}
        for p in products:
            pid = p if isinstance(p, str) else p.id
            names = [p] if isinstance(p, str) else [p.id, p.name_zh, p.name_en, *p.aliases, *p.models]
            for n in names:
                if str(n).strip():
                    found.setdefault(_key(n), set()).add(pid)
        for code, pid in (skus or {}).items():
            found[_key(code)] = {pid}
        ids = {k: next(iter(v)) for k, v in found.items() if len(v) == 1}
        ambiguous = {k: sorted(v) for k, v in found.items() if len(v) > 1}
        return cls(ids, ambiguous)

    def __call__(self, name: str) -> str | None:
        return self.ids.get(_key(name))

    def ambiguous_with(self, name: str) -> list[str]:
        """The products ``name`` fits when it fits more than one, else []."""
        return self.ambiguous.get(_key(name), [])
