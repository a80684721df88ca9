"""The shipments file: units shipped per product (and batch) per week, read and validated.

When the config names a ``shipments`` file (CSV / TSV / XLSX / XLS / Parquet), complaints about a
product or batch are judged per unit in the field instead of per ticket, so a new batch with few units
sold is judged by its rate, and a batch whose sales ramp up does not look like a surge.

File columns: ``week`` (an ISO week or a date, taken as its ISO week), ``product`` (a catalogue
product's id, name, alias or model, or a code under ``shipments.skus``), optional ``batch``, ``units``
(a whole number >= 0); names case-insensitive, a file's own names under ``shipments.columns``, common
Chinese and English headers recognised (sources/shipment_file.py says which, and which week and date
forms). Rows add up: daily rows fall into their week, and a row without a batch is units of unknown
batch (not the product's total). A product the catalogue does not know is reported once (file, first
line, rows, units) and its rows are left out; a malformed row (bad week, negative units) stops the run
with the file, the line and the value.

``parse_shipments`` is pure (rows in, tidy DataFrame out); ``load_shipments`` reads the file.
``voc.surges.exposure.units_in_field`` turns weekly shipments into the exposure the surge stage uses.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from voc.config.settings import SHIPMENT_COLUMNS, Product, Shipments
from voc.errors import ConfigError, SourceError
from voc.sources.shipment_file import ProductNames, find_columns, week_of

log = logging.getLogger(__name__)

COLUMNS = SHIPMENT_COLUMNS
SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".parquet")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.0*)?$")
_MAX_LISTED = 5


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


def parse_shipments(
    rows: Iterable[tuple[str, dict[str, Any]]],
    name: str,
    products: Iterable[Product | str] | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    skus: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Validate raw rows ``(location, {column: value})`` of the shipments file ``name``.

    Returns the tidy table ``week`` (ISO week ordinal), ``product``, ``batch`` ('' when none),
    ``units``, one row per (week, product, batch) with rows adding up. Raises ``SourceError`` naming
    the file, the line and the bad value (unknown week format, negative units, missing column...).
    With ``products`` (catalogue ``Product``s, or ids), a row's product is matched by id, name, alias or
    model (and ``skus``); a product that matches none is reported once (a warning, and in
    ``df.attrs["skipped"]``) and its rows left out, unless no row is left."""
    errors: list[str] = []
    out: list[tuple[int, str, str, int]] = []
    names = ProductNames.of(products, skus) if products is not None else None
    unknown: dict[str, list[Any]] = {}  # file's product -> [first location, rows, units]
    col: dict[str, str] = {}
    seen_header = False
    for loc, raw in rows:
        data = {str(k).strip().lower(): v for k, v in raw.items() if not str(k).startswith("__")}
        if not seen_header:
            seen_header = True
            col = find_columns(data, columns)
            missing = [c for c in COLUMNS if c != "batch" and c not in col]
            if missing:
                how = [f"{c} = {columns[c]!r}" for c in missing if columns and c in columns]
                raise SourceError(
                    f"shipments file {name}: missing column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)}{' (shipments.columns: ' + ', '.join(how) + ')' if how else ''} "
                    f"(found: {', '.join(data) or 'none'}; needs week, product, units and optionally "
                    "batch: name your file's columns under shipments.columns)"
                )
        if raw.get("__broken__"):
            errors.append(f"{loc}: {raw['__broken__']}")
            continue
        if raw.get("__undecodable__"):
            errors.append(f"{loc}: undecodable bytes (save the file as UTF-8)")
            continue
        try:
            week = week_of(data.get(col["week"]))
            product = _text(data.get(col["product"]))
            if not product:
                raise ValueError("missing product")
            units = _units(data.get(col["units"]))
        except ValueError as e:
            errors.append(f"{loc}: {e}")
            continue
        if names is not None:
            pid = names(product)
            if pid is None:
                u = unknown.setdefault(product, [loc, 0, 0])
                u[1] += 1
                u[2] += units
                continue
            product = pid
        out.append((week, product, _text(data.get(col["batch"])) if "batch" in col else "", units))
    if errors:
        more = f" (and {len(errors) - _MAX_LISTED} more)" if len(errors) > _MAX_LISTED else ""
        raise SourceError(
            f"shipments file {name}: {len(errors)} bad row{'s' if len(errors) > 1 else ''}: "
            + "; ".join(errors[:_MAX_LISTED])
            + more
        )
    notes = [_unknown_note(product, u, names) for product, u in unknown.items()]
    if not out:
        raise SourceError(f"shipments file {name}: no rows" + (": " + "; ".join(notes) if notes else ""))
    skipped = [f"shipments file {name}: {note}" for note in notes]
    for line in skipped:
        log.warning(line)
    df = pd.DataFrame(out, columns=list(COLUMNS))
    df = df.groupby(["week", "product", "batch"], as_index=False)["units"].sum()
    df["units"] = df["units"].astype("int64")
    df = df.sort_values(["week", "product", "batch"], ignore_index=True)
    df.attrs["skipped"] = skipped
    return df


def _unknown_note(product: str, u: list[Any], names: ProductNames | None) -> str:
    loc, rows, units = u
    where = f"{loc}" + (f" and {rows - 1} more row{'s' if rows > 2 else ''}" if rows > 1 else "")
    both = names.ambiguous_with(product) if names is not None else []
    why = (
        f"names more than one product ({', '.join(both)})"
        if both
        else "is not a catalogue product's id, name, alias or model"
    )
    return (
        f"product {product!r} ({where}, {units:,} units) {why}: left out of the "
        "units in the field; add it to the product's aliases or models, or under shipments.skus"
    )


def _located(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    from voc.sources.files import read_rows

    word = "line" if path.suffix.lower() in (".csv", ".tsv", ".txt") else "row"
    for r in read_rows(path):
        n = r.location.rsplit(":", 1)[-1]
        yield f"{word} {n}", r.data


def load_shipments(
    source: Path | str | Shipments, products: Iterable[Product | str] | None = None
) -> pd.DataFrame:
    """Read and validate the shipments file named in the config, a path or the config's ``Shipments``
    (its columns and skus); see ``parse_shipments``."""
    spec = source if isinstance(source, Shipments) else Shipments(path=str(source))
    if spec.path is None:
        raise ConfigError("shipments: no path given")
    p = Path(spec.path)
    if p.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"shipments: {p} is not a CSV, TSV, XLSX, XLS or Parquet file")
    if not p.is_file():
        raise ConfigError(f"shipments: file not found: {p}")
    try:
        return parse_shipments(_located(p), str(p), products, columns=spec.columns, skus=spec.skus)
    except SourceError:
        raise
    except Exception as e:  # noqa: BLE001 - a corrupt XLSX/Parquet: say which file
        raise SourceError(f"shipments file {p} cannot be read: {e}") from e
