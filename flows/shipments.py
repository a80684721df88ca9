"""Units shipped per product (and batch) per week: the surge stage's exposure at product levels.

When the config names a ``shipments`` file (CSV / TSV / XLSX / Parquet), complaints about a product
or batch are judged per unit in the field instead of per ticket, so a new batch with few units sold
is judged by its rate, and a batch whose sales ramp up does not look like a surge.

File columns (names case-insensitive): ``week`` (ISO week ``2026-W47``, or a date ``2026-11-16`` /
``2026/11/16`` / a spreadsheet date, taken as its ISO week), ``product`` (catalogue product id),
optional ``batch``, ``units`` (a whole number >= 0). Rows add up: daily rows fall into their week,
and a row without a batch is units of unknown batch (not the product's total).

``parse_shipments`` is pure (rows in, tidy DataFrame out); ``load_shipments`` reads the file.
``units_in_field`` turns weekly shipments into the exposure used by the surge stage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from voc.errors import ConfigError, SourceError, WeekError
from voc.weeks import Week

# Units shipped in the trailing FIELD_WEEKS weeks (this week included) are "in the field": the units
# whose owners can complain now. Weekly shipments alone would be wrong (a batch shipped in two weeks
# keeps drawing complaints for months); all units ever shipped would dilute recent batches with
# long-retired ones. 26 weeks covers the return window and most early-life failures.
FIELD_WEEKS = 26
PER_UNITS = 10_000  # rates are reported per 10k units
COLUMNS = ("week", "product", "batch", "units")
SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".parquet")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.0*)?$")
_MAX_LISTED = 5


def _week_of(v: Any) -> int:
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
        raise ValueError(f"unknown week format {v!r} (expected an ISO week like 2026-W47 or a date like 2026-11-16)")
    s = v.strip()
    if not s:
        raise ValueError("missing week")
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
    raise ValueError(f"unknown week format {v!r} (expected an ISO week like 2026-W47 or a date like 2026-11-16)")


def _units(v: Any) -> int:
    if v is None or isinstance(v, bool) or (isinstance(v, float) and math.isnan(v)):
        raise ValueError("missing units")
    x: float
    if isinstance(v, str):
        s = v.strip()
        if not s:
            raise ValueError("missing units")
        if _THOUSANDS.match(s):
            s = s.replace(",", "")
        try:
            x = float(s)
        except ValueError:
            raise ValueError(f"units is not a number: {v!r}") from None
    elif isinstance(v, int | float | np.integer | np.floating):
        x = float(v)
    else:
        raise ValueError(f"units is not a number: {v!r}")
    if not math.isfinite(x):
        raise ValueError(f"units is not a number: {v!r}")
    if x < 0:
        raise ValueError(f"negative units {v!r}")
    if x != int(x):
        raise ValueError(f"units must be a whole number: {v!r}")
    return int(x)


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():  # a spreadsheet's numeric id 1001 arrives as 1001.0
        v = int(v)
    return str(v).strip()


def parse_shipments(rows: Iterable[tuple[str, dict[str, Any]]], name: str,
                    products: Collection[str] | None = None) -> pd.DataFrame:
    """Validate raw rows ``(location, {column: value})`` of the shipments file ``name``.

    Returns the tidy table ``week`` (ISO week ordinal), ``product``, ``batch`` ('' when none),
    ``units``, one row per (week, product, batch) with rows adding up. Raises ``SourceError`` naming
    the file, the line and the bad value (unknown week format, negative units, missing column...);
    with ``products`` given, a product id outside the catalogue is an error too."""
    errors: list[str] = []
    out: list[tuple[int, str, str, int]] = []
    seen_header = False
    for loc, raw in rows:
        data = {str(k).strip().lower(): v for k, v in raw.items() if not str(k).startswith("__")}
        if not seen_header:
            seen_header = True
            missing = [c for c in COLUMNS if c != "batch" and c not in data]
            if missing:
                raise SourceError(f"shipments file {name}: missing column{'s' if len(missing) > 1 else ''} "
                                  f"{', '.join(missing)} (found: {', '.join(data) or 'none'}; "
                                  "needs week, product, units and optionally batch)")
        if raw.get("__broken__"):
            errors.append(f"{loc}: {raw['__broken__']}")
            continue
        if raw.get("__undecodable__"):
            errors.append(f"{loc}: undecodable bytes (save the file as UTF-8)")
            continue
        try:
            week = _week_of(data.get("week"))
            product = _text(data.get("product"))
            if not product:
                raise ValueError("missing product")
            if products is not None and product not in products:
                raise ValueError(f"unknown product {product!r} (catalogue ids: {', '.join(sorted(products))})")
            units = _units(data.get("units"))
        except ValueError as e:
            errors.append(f"{loc}: {e}")
            continue
        out.append((week, product, _text(data.get("batch")), units))
    if errors:
        more = f" (and {len(errors) - _MAX_LISTED} more)" if len(errors) > _MAX_LISTED else ""
        raise SourceError(f"shipments file {name}: {len(errors)} bad row{'s' if len(errors) > 1 else ''}: "
                          + "; ".join(errors[:_MAX_LISTED]) + more)
    if not out:
        raise SourceError(f"shipments file {name}: no rows")
    df = pd.DataFrame(out, columns=list(COLUMNS))
    df = df.groupby(["week", "product", "batch"], as_index=False)["units"].sum()
    df["units"] = df["units"].astype("int64")
    return df.sort_values(["week", "product", "batch"], ignore_index=True)


def _located(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    from sources.files import read_rows

    word = "line" if path.suffix.lower() in (".csv", ".tsv", ".txt") else "row"
    for r in read_rows(path):
        n = r.location.rsplit(":", 1)[-1]
        yield f"{word} {n}", r.data


def load_shipments(path: Path | str, products: Collection[str] | None = None) -> pd.DataFrame:
    """Read and validate the shipments file named in the config (see ``parse_shipments``)."""
    p = Path(path)
    if p.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"shipments: {p} is not a CSV, TSV, XLSX or Parquet file")
    if not p.is_file():
        raise ConfigError(f"shipments: file not found: {p}")
    try:
        return parse_shipments(_located(p), str(p), products)
    except SourceError:
        raise
    except Exception as e:  # noqa: BLE001 - a corrupt XLSX/Parquet: say which file
        raise SourceError(f"shipments file {p} cannot be read: {e}") from e


def units_in_field(shipments: pd.DataFrame, weeks: list[int],
                   window: int = FIELD_WEEKS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units in the field per (product, week) and per (product, batch, week) over ``weeks``.

    Units in the field at week w = units shipped in weeks w-window+1 .. w (the file's rows before its
    first week are unknown, so early weeks count what the file has). NaN (missing data: the cell is
    neither tested nor a baseline that week) where nothing was shipped in the window or the week is
    before the file's first week. Batch rows only for batches named in the file."""
    lo, hi = int(shipments["week"].min()), max(weeks)
    span = list(range(lo, hi + 1))

    def roll(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        if df.empty:
            return pd.DataFrame(columns=[*keys, "week", "units"])
        wide = df.pivot_table(index=keys, columns="week", values="units", aggfunc="sum", fill_value=0)
        wide = wide.reindex(columns=span, fill_value=0)
        field = wide.T.rolling(window, min_periods=1).sum().T
        field = field.reindex(columns=weeks)  # weeks before the file's first week -> NaN
        field = field.where(field > 0)
        field.columns.name = "week"
        return field.stack(future_stack=True).rename("units").reset_index()

    s = shipments[shipments["week"] <= hi]
    by_product = roll(s.groupby(["product", "week"], as_index=False)["units"].sum(), ["product"])
    by_batch = roll(s[s["batch"] != ""], ["product", "batch"])
    return by_product, by_batch
