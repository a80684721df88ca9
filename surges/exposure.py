"""Units in the field: the exposure of a product's or a batch's cells when shipments are given (pure).

Complaints about a product or batch are then judged per unit in the field instead of per ticket, so a
new batch with few units sold is judged by its rate, and a batch whose sales ramp up does not look
like a surge. The shipments file itself is read by ``voc.sources.shipments``.
"""

from __future__ import annotations

import pandas as pd

# Units shipped in the trailing FIELD_WEEKS weeks (this week included) are "in the field": the units
# whose owners can complain now. Weekly shipments alone would be wrong (a batch shipped in two weeks
# keeps drawing complaints for months); all units ever shipped would dilute recent batches with
# long-retired ones. 26 weeks covers the return window and most early-life failures.
FIELD_WEEKS = 26
PER_UNITS = 10_000  # rates are reported per 10k units


def units_in_field(
    shipments: pd.DataFrame, weeks: list[int], window: int = FIELD_WEEKS
) -> tuple[pd.DataFrame, pd.DataFrame]:
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
