"""surges.selection: one brief item per theme, over plain records (no database)."""

from __future__ import annotations

from dataclasses import dataclass

from voc.surges.selection import group_surges


@dataclass
class Row:
    level: str
    topic_id: int | None = None
    theme_id: int | None = None
    product: str | None = None
    batch: str | None = None
    q: float = 0.01
    observed: int = 10
    severity: str = "defect"
    conc_batch: str | None = None


def test_theme_topics_and_batch_of_one_defect_are_one_item() -> None:
    rows = [
        Row("theme", theme_id=7, q=0.001, observed=40),
        Row("theme×product", theme_id=7, product="purifier", conc_batch="WP5-2410"),
        Row("topic", topic_id=11, observed=15),
        Row("topic×product", topic_id=12, product="purifier", observed=9),
        Row("product×batch", product="purifier", batch="WP5-2410", observed=19),
        Row("global", q=0.0),
    ]
    groups = group_surges(rows, {11: 7, 12: 7})
    assert len(groups) == 1
    g = groups[0]
    assert g.theme_id == 7 and g.primary.level == "theme×product"
    assert g.batch_row is not None and g.batch_row.batch == "WP5-2410"
    assert g.topic_ids == (11, 12)


def test_topics_of_different_themes_stay_apart_and_topics_without_theme_are_their_own_item() -> None:
    rows = [Row("topic", topic_id=1), Row("topic", topic_id=2), Row("topic", topic_id=3)]
    groups = group_surges(rows, {1: 5, 2: 6})
    assert sorted((g.theme_id, g.primary.topic_id) for g in groups if g.theme_id) == [(5, 1), (6, 2)]
    assert [g.primary.topic_id for g in groups if g.theme_id is None] == [3]


def test_safety_is_never_hidden_in_a_non_safety_item_but_joins_a_safety_theme() -> None:
    safety = Row("product×safety", product="dryer", severity="safety", observed=7)
    plain = group_surges([Row("theme×product", theme_id=1, product="dryer"), safety], {})
    assert len(plain) == 2 and any(g.primary is safety for g in plain)
    joined = group_surges([Row("theme×product", theme_id=1, product="dryer", severity="safety"), safety], {})
    assert len(joined) == 1 and safety in joined[0].rows


def test_product_cells_without_a_theme_on_the_product_are_their_own_item() -> None:
    rows = [
        Row("theme×product", theme_id=1, product="oven"),
        Row("product×batch", product="kettle", batch="K1"),
        Row("product", product="kettle", q=0.02),
    ]
    groups = group_surges(rows, {})
    kettle = next(g for g in groups if g.primary.product == "kettle")
    assert (
        kettle.primary.level == "product" and kettle.batch_row is not None and kettle.batch_row.batch == "K1"
    )
    assert len(groups) == 2


def test_one_safety_rise_is_one_item_even_with_the_all_products_cell() -> None:
    rows = [
        Row("theme×product", theme_id=7, product="HD", severity="safety"),
        Row("product×safety", product="HD", severity="safety"),
        Row("safety", severity="safety"),
    ]
    groups = group_surges(rows, {})
    assert len(groups) == 1 and len(groups[0].rows) == 3


def test_a_batch_cell_joins_only_an_item_that_names_that_batch() -> None:
    batch = Row("product×batch", product="oven", batch="B2409", observed=20)
    unrelated = group_surges([Row("theme×product", theme_id=3, product="oven", observed=3), batch], {})
    assert len(unrelated) == 2, "a late-delivery theme on the oven does not take the door batch"
    related = group_surges(
        [
            Row("theme×product", theme_id=3, product="oven", observed=3),
            Row("theme×product×batch", theme_id=3, product="oven", batch="B2409", observed=3),
            batch,
        ],
        {},
    )
    assert len(related) == 1 and related[0].batch_row is not None


def test_identity_is_the_theme_whatever_row_speaks_for_it() -> None:
    a = group_surges([Row("theme", theme_id=7)], {})[0]
    b = group_surges([Row("theme×product", theme_id=7, product="P"), Row("topic", topic_id=3)], {3: 7})[0]
    assert a.identity == b.identity == "h7"
    assert group_surges([Row("topic", topic_id=3, product="P")], {})[0].identity == "3|P"
    assert group_surges([Row("product×safety", product="P")], {})[0].identity == "s|P"
    assert group_surges([Row("product×batch", product="P", batch="B")], {})[0].identity == "0|P"


def test_a_cell_without_a_topic_is_about_the_theme_holding_most_of_its_tickets():
    from voc.surges.selection import item_theme

    recs = {7: "door theme", 8: "noise theme"}
    theme, under, top = item_theme({1: 3, 2: 5, 3: 6}, {1: 7, 2: 7, 3: 8}, recs)
    assert theme == "door theme" and under == [2, 1] and top == 2  # 8 door tickets against 6 noise
    theme, under, top = item_theme({4: 2, 5: 9}, {}, recs)  # no theme: its topics, most first
    assert theme is None and under == [5, 4] and top == 5


def test_an_item_names_the_model_carrying_most_of_the_rise_and_its_batch_row():
    from types import SimpleNamespace as R

    from voc.surges.selection import item_model

    primary = R(level="topic×product", topic_id=1, product="oven", model=None, observed=20, conc_batch=None)
    a = R(
        level="topic×product×model",
        topic_id=1,
        product="oven",
        model="KX-30A",
        observed=14,
        conc_batch="B2409",
    )
    b = R(level="topic×product×model", topic_id=1, product="oven", model="KX-20", observed=4, conc_batch=None)
    assert item_model(primary, [primary, a, b]) == ("KX-30A", a)
    a.observed = 10  # half the rise: no model is named, and no batch row either
    assert item_model(primary, [primary, a, b]) == (None, None)


def test_an_item_holding_a_product_safety_cell_is_a_safety_item_whatever_its_primary_row_says() -> None:
    # the brief shows it as safety and the alerts compare this severity week to week: were it the
    # primary row's ("service"), every alert run would see the item "become safety" and re-send it
    rows = [
        Row("theme", theme_id=1, q=0.001, observed=41, severity="service", product=None),
        Row("topic×product", topic_id=2, product="oven", severity="safety", observed=8),
        Row("product×safety", product="oven", severity="safety", observed=5),
    ]
    groups = group_surges(rows, {2: 1})
    [g] = groups
    assert [r.level for r in g.rows] == ["theme", "topic×product", "product×safety"]
    assert g.primary.severity == "service" and g.severity == "safety"


def test_an_item_without_a_safety_cell_has_its_primary_rows_severity() -> None:
    [g] = group_surges([Row("topic", topic_id=3, severity="defect")], {})
    assert g.severity == "defect"
