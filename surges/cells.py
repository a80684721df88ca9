"""The cells a week is judged on, and the false-discovery families they are tested in (pure pandas).

``count_table`` turns weekly counts per (week, intent, topic, product, model, batch) into the long
table ``detect`` reads, one row per cell and period on a full grid, with the structure ``detect``
uses for its verdict:

- ``family``: the false-discovery family of the level (``FAMILY``): ``topics`` (themes, topics and
  their product / model / batch cells), ``products`` (a product's or a batch's complaints, whatever
  their topic), ``safety`` (safety-severity tickets, judged by a recall-favouring rule).
- ``parent``: ``"level\\tcell"`` of the cell that must have moved (been flagged) before this cell is
  tested at all (hierarchical testing, Yekutieli 2008), or None for the family's top level. With a
  theme map: theme -> topic / theme×product -> theme×product×batch, topic -> topic×product ->
  topic×product×model / ×batch; topics without a theme are top level.
- ``emerging``: the cell's topic is young - born after the first fit, less than
  ``SurgeParams.topic_maturity_periods`` weeks ago - (or every topic of its theme is): it is reported
  as emerging, never as a surge. A topic is born in the week its tickets cluster, i.e. in a week that
  is high for it, and the history rebuilt for it (flows.topic_stage.split_history) takes only the
  earlier tickets closest to it: judged in its first weeks it looks like a surge (bench/detection.py,
  zh_shop tuning seeds 100-104, null weeks: all 29 false topic and theme flags were on topics and
  themes born that very week, e.g. 15 vs 1.2 expected).
- ``flag_new``: False where a cell's birth is not news (a new batch entering the field, judged by
  ticket volume: its complaints ramp up with its sales); such cells are flagged only once they have
  ``SurgeParams.maturity_periods`` of history of their own (before that the batch is named by the
  concentration of a theme's or topic's surge).
- ``short_memory``: True for the batch levels: a batch's share of its product's tickets drifts with
  its life cycle (ramping up as it ships, fading as the next batch replaces it), so its expectation
  comes from its last ``SurgeParams.short_memory_weeks`` periods, not from ``baseline_weeks``.

Levels and what they count (``intent`` column: complaint unless given):
- topic levels: complaint tickets of the (complaint) topic;
- theme levels (``theme_of`` given): complaint and question tickets whose topic maps to the theme (a
  question about a defect is evidence of it); young topics (``new_topics``) are left out of their
  theme until they mature, their rebuilt history is not the theme's, and out of the theme levels'
  exposure too (total volume less their tickets);
- ``product``: a product's complaints; ``product×batch``: a batch's complaints, against the
  product's ticket volume (``product_total``) or the batch's units in the field;
- ``product×safety`` / ``safety``: safety-severity complaint and question tickets (``n_safety``) of
  a product (against its ticket volume or units) / of all products (against total volume).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import pandas as pd

from voc.ticket import EVIDENCE_INTENTS

# level -> (key columns, counted intents, count column)
COMPLAINT = ("complaint",)
EVIDENCE = EVIDENCE_INTENTS
LEVELS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "theme": (("theme_id",), EVIDENCE, "n"),
    "theme×product": (("theme_id", "product"), EVIDENCE, "n"),
    "theme×product×batch": (("theme_id", "product", "batch"), EVIDENCE, "n"),
    "topic": (("topic_id",), COMPLAINT, "n"),
    "topic×product": (("topic_id", "product"), COMPLAINT, "n"),
    "topic×product×model": (("topic_id", "product", "model"), COMPLAINT, "n"),
    "topic×product×batch": (("topic_id", "product", "batch"), COMPLAINT, "n"),
    "product": (("product",), COMPLAINT, "n"),
    "product×batch": (("product", "batch"), COMPLAINT, "n"),
    "product×safety": (("product",), EVIDENCE, "n_safety"),
    "safety": ((), EVIDENCE, "n_safety"),
}
THEME_LEVELS = ("theme", "theme×product", "theme×product×batch")
TOPIC_KEYED = ("topic", "topic×product", "topic×product×model", "topic×product×batch")
FAMILY = {
    **{lv: "topics" for lv in (*THEME_LEVELS, *TOPIC_KEYED)},
    "product": "products",
    "product×batch": "products",
    "product×safety": "safety",
    "safety": "safety",
}
SAFETY_LEVELS: tuple[str, ...] = tuple(lv for lv, fam in FAMILY.items() if fam == "safety")
# level -> parent level (the topic level's parent is the topic's theme, when it has one)
PARENT = {
    "theme×product": "theme",
    "theme×product×batch": "theme×product",
    "topic": "theme",
    "topic×product": "topic",
    "topic×product×model": "topic×product",
    "topic×product×batch": "topic×product",
    "product×batch": "product",
}
# a batch entering the field is not a surge by mere birth (unless judged per unit in the field: its
# units then exist before its complaints, and a birth is tested against them)
NO_BIRTH_FLAG = ("product×batch", "topic×product×batch", "theme×product×batch")
# exposure when a shipments file covers the product: the product's units / the batch's units
PRODUCT_LEVELS = ("topic×product", "topic×product×model", "product", "theme×product", "product×safety")
BATCH_LEVELS = ("topic×product×batch", "theme×product×batch", "product×batch")
PRODUCT_VOLUME_LEVELS = ("product×batch", "product×safety")  # else the total ticket volume
ALL = "all"
SEP = "\t"
DESC = ["topic_id", "theme_id", "product", "model", "batch"]
COLUMNS = [
    "level",
    "cell",
    "period",
    "count",
    "exposure",
    *DESC,
    "family",
    "parent",
    "emerging",
    "flag_new",
    "short_memory",
]


def young_topics(created: Iterable[tuple[int, int]], week: int, maturity: int) -> set[int]:
    """Topics (id, created week) born after the first fit and less than ``maturity`` weeks before
    ``week``: emerging, never a surge (the first fit's topics have their whole history)."""
    created = list(created)
    if not created:
        return set()
    first_fit = min(c for _, c in created)
    return {int(t) for t, c in created if first_fit < c <= week and c > week - maturity}


def count_table(
    counts: pd.DataFrame,
    total: pd.Series,
    weeks: list[int],
    units: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    *,
    theme_of: Mapping[int, int] | None = None,
    product_total: pd.DataFrame | None = None,
    new_topics: Collection[int] = (),
) -> pd.DataFrame:
    """Long table (level, cell, period, count, exposure, descriptive and structure columns).

    ``counts``: week, topic_id, product, model, batch, n (+ n_safety for the safety levels, + intent;
    rows without an intent column are complaints). ``total``: ticket volume per week. ``units``:
    units in the field per (product, week) and (product, batch, week) (``surges.exposure``); the
    product and batch levels of covered products then take them as exposure and a boolean
    ``per_units`` column says which cells did. ``product_total``: week, product, n - each product's
    ticket volume, the exposure of ``product×batch`` and ``product×safety`` (total volume if None).
    ``theme_of``: topic id -> theme id, adds the theme levels. ``new_topics``: young topics (created
    after the first fit, within ``SurgeParams.topic_maturity_periods`` weeks): emerging."""
    c = counts.copy()
    if "intent" not in c.columns:
        c["intent"] = "complaint"
    for k in ("product", "model", "batch"):
        c[k] = c[k].fillna("").astype(str)
    c["topic_id"] = c["topic_id"].astype("Int64")
    new = {int(t) for t in new_topics}
    themes_on = bool(theme_of)
    if themes_on:
        assert theme_of is not None
        tmap = {int(k): int(v) for k, v in theme_of.items()}
        c["theme_id"] = c["topic_id"].map(tmap).astype("Int64")
        # a young topic is not part of its theme yet: its history was rebuilt from the earlier tickets
        # closest to it only, so counting it would give the theme a step this week that is not news
        # (bench/detection.py, mixed tuning seeds, null weeks: 3 of 4 false theme flags were themes
        # that had taken a topic born that week); it is reported as emerging on its own
        unborn = set(new)
        c.loc[c["topic_id"].isin(unborn), "theme_id"] = pd.NA
        members: dict[int, set[int]] = {}
        for t, th in tmap.items():
            members.setdefault(th, set()).add(t)
        new_themes = {th for th, ts in members.items() if ts and ts <= new}
        theme_eff = {t: th for t, th in tmap.items() if t not in unborn}
    else:
        theme_eff = {}
        c["theme_id"] = pd.Series(pd.NA, index=c.index, dtype="Int64")
        new_themes = set()
        unborn = set()
    frames = []
    for level, (keys, intents, col) in LEVELS.items():
        if level in THEME_LEVELS and not themes_on:
            continue
        if col not in c.columns:
            continue
        sub = c[c["intent"].isin(intents)]
        for k in keys:
            sub = sub[sub[k].notna()] if k in ("topic_id", "theme_id") else sub[sub[k] != ""]
        if sub.empty:
            continue
        g = _grid(sub, keys, col, weeks)
        g["level"] = level
        g["cell"] = _join(g, keys) if keys else ALL
        for k in DESC:
            if k not in keys:
                g[k] = None
        if themes_on and level in TOPIC_KEYED:
            g["theme_id"] = g["topic_id"].map(theme_eff).astype("Int64")
        g["family"] = FAMILY[level]
        g["parent"] = _parent(g, level, themes_on)
        if level in TOPIC_KEYED:
            g["emerging"] = g["topic_id"].isin(new)
        elif level in THEME_LEVELS:
            g["emerging"] = g["theme_id"].isin(new_themes)
        else:
            g["emerging"] = False
        g["flag_new"] = level not in NO_BIRTH_FLAG
        g["short_memory"] = level in BATCH_LEVELS
        frames.append(g)
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.concat(frames, ignore_index=True).rename(columns={"week": "period", "n": "count"})
    table["count"] = table["count"].astype(int)
    table["exposure"] = table["period"].map(total).astype(float)
    if product_total is not None and len(product_total):
        pv = product_total.groupby(["product", "week"])["n"].sum().astype(float)
        m = table["level"].isin(PRODUCT_VOLUME_LEVELS)
        idx = pd.MultiIndex.from_arrays([table.loc[m, "product"].astype(str), table.loc[m, "period"]])
        table.loc[m, "exposure"] = pv.reindex(idx).to_numpy()
    if themes_on and unborn:
        # the theme levels' exposure leaves out the young topics' tickets too: they are in no theme
        # (above), and a week holds more of them than its history (a topic is born in a week that is
        # high for its tickets), so against the whole volume every theme's week looks low
        young_n = c[c["topic_id"].isin(unborn)].groupby("week")["n"].sum()
        m = table["level"].isin(THEME_LEVELS)
        table.loc[m, "exposure"] = table.loc[m, "exposure"] - table.loc[m, "period"].map(young_n).fillna(0.0)
    if units is not None:
        _units_exposure(table, *units)
        table.loc[table["per_units"], "flag_new"] = True
    for k in ("topic_id", "theme_id"):
        table[k] = table[k].astype(object).where(table[k].notna(), None)
    return table[[*COLUMNS, *(["per_units"] if "per_units" in table.columns else [])]]


def _grid(sub: pd.DataFrame, keys: tuple[str, ...], col: str, weeks: list[int]) -> pd.DataFrame:
    """Counts of the cells on the full week grid (0 where a cell has no row)."""
    if not keys:
        g = sub.groupby("week")[col].sum().reindex(weeks, fill_value=0)
        return pd.DataFrame({"week": weeks, "n": g.to_numpy()})
    g = sub.groupby([*keys, "week"], as_index=False)[col].sum().rename(columns={col: "n"})
    cells = g[list(keys)].drop_duplicates()
    if col != "n":  # a series only for cells that ever had one
        cells = g[g["n"] > 0][list(keys)].drop_duplicates()
    grid = cells.merge(pd.DataFrame({"week": weeks}), how="cross")
    return grid.merge(g, on=[*keys, "week"], how="left").fillna({"n": 0})


def _parent(g: pd.DataFrame, level: str, themes_on: bool) -> pd.Series:
    """'level<TAB>cell' of the parent of each row (None at a family's top level)."""
    pl = PARENT.get(level)
    if pl is None or (pl in THEME_LEVELS and not themes_on):
        return pd.Series(None, index=g.index, dtype=object)
    pkeys = LEVELS[pl][0]
    ok = g[list(pkeys)].notna().all(axis=1)
    key = pl + SEP + _join(g, pkeys)
    return key.where(ok, None).astype(object)


def _join(g: pd.DataFrame, keys: tuple[str, ...]) -> pd.Series:
    """'a|b|c' cell keys, vectorised (ids as plain integers)."""
    parts = [
        g[k].astype("Int64").astype(str) if k in ("topic_id", "theme_id") else g[k].astype(str) for k in keys
    ]
    out = parts[0]
    for part in parts[1:]:
        out = out + "|" + part
    return out


def _units_exposure(table: pd.DataFrame, by_product: pd.DataFrame, by_batch: pd.DataFrame) -> None:
    """Replace ticket volume by units in the field where the shipments file covers the cell."""
    table["per_units"] = False
    product = table["product"].fillna("").astype(str)
    batch = table["batch"].fillna("").astype(str)
    for levels, lookup, keys in (
        (PRODUCT_LEVELS, by_product, [product]),
        (BATCH_LEVELS, by_batch, [product, batch]),
    ):
        names = ["product", "batch"][: len(keys)]
        covered = table["level"].isin(levels) & product.isin(set(lookup["product"]))
        if not covered.any():
            continue
        series = lookup.set_index([*names, "week"])["units"].astype(float)
        idx = pd.MultiIndex.from_arrays(
            [k[covered] for k in keys] + [table.loc[covered, "period"]], names=[*names, "week"]
        )
        table.loc[covered, "exposure"] = series.reindex(idx).to_numpy()
        table.loc[covered, "per_units"] = True


def cell_severity(n: int, n_safety: int, n_defect: int, n_service: int) -> str:
    """A cell is 'safety' when safety tickets are a real part of it (≥ 2 and ≥ 20%), not one stray
    mention; otherwise the most common of defect / service / other."""
    if n_safety >= 2 and n_safety >= 0.2 * n:
        return "safety"
    other = n - n_safety - n_defect - n_service
    return max((("defect", n_defect), ("service", n_service), ("other", other)), key=lambda kv: kv[1])[0]
