"""A flagged cell's stored row (reports.surge_rows), over plain values."""

from __future__ import annotations

import pandas as pd

from voc.reports import surge_rows
from voc.reports.assembly import Catalogue, ProductInfo
from voc.surges.frames import COUNT_COLUMNS

W = 105705


def _safety_rec() -> dict[str, object]:
    return {
        "level": "product×safety",
        "cell": "airfryer",
        "topic_id": None,
        "theme_id": None,
        "product": "airfryer",
        "model": None,
        "batch": None,
        "observed": 7,
        "expected": 2.3,
        "ratio": 3.0,
        "ratio_lo": 1.1,
        "ratio_hi": 7.5,
        "p": 0.01,
        "q": 0.1,
        "methods": "baseline",
        "first_period": W,
        "new_cell": False,
    }


def test_a_cell_named_by_its_product_alone_is_worded_with_the_catalogues_name() -> None:
    week = pd.DataFrame(
        [[W, 3, "airfryer", "AF-5L", "B2402", 7, 7, 0, 0, "complaint"]], columns=[*COUNT_COLUMNS, "intent"]
    )
    batches = pd.DataFrame(columns=["product", "batch", "n"])
    names = Catalogue({"airfryer": ProductInfo("空气炸锅", "air fryer", None)})
    row = surge_rows.surge_row(_safety_rec(), W, week, batches, {}, str, names)
    assert row["severity"] == "safety" and row["product"] == "airfryer"
    assert row["explanation_en"].startswith("air fryer") and "airfryer" not in row["explanation_en"]
    assert row["explanation_zh"].startswith("空气炸锅")
    # a product the catalogue does not know keeps its id
    row = surge_rows.surge_row(_safety_rec(), W, week, batches, {}, str, Catalogue())
    assert row["explanation_en"].startswith("airfryer")
