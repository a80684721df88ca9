"""Exports that people open in Excel, WPS or LibreOffice: cells can never run as formulas.

A text cell starting with ``= + - @`` (or a tab, carriage return or line feed, which some programs
skip before looking for ``=``) is read as a formula by spreadsheet programs, so a ticket id or topic
label like ``=HYPERLINK(...)`` would run on opening (CSV injection). Following OWASP, such a cell is
written with a leading single quote, which spreadsheets show as plain text. Full-width lookalikes
(``＝ ＋ － ＠``) are treated the same, since some programs fold them. Numbers stay numbers.

:func:`write_csv` is the one way the pipeline writes a CSV/TSV export; it writes atomically.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from voc.atomic import atomic_open, make_folder

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will show it and never evaluate it: text that would start a formula
    gets a leading ``'``; ints, floats, ``None`` and booleans pass unchanged."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], *, delimiter: str = ","
) -> int:
    """Write a UTF-8 CSV (BOM-less) with every cell made safe; atomic. Returns the number of data rows."""
    n = 0
    make_folder(path.parent, for_file=path)
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow([safe_cell(h) for h in header])
        for row in rows:
            w.writerow([safe_cell(c) for c in row])
            n += 1
    return n
