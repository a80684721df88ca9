"""Shipments as exposure: the file is validated at the boundary, and product/batch cells are judged
per unit in the field (a new batch with few units by its rate, a sale that multiplies units is not a surge)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert

from voc import surges
from voc.config.settings import EXAMPLE_CONFIG, load_config
from voc.errors import ConfigError, SourceError
from voc.flows.surge_stage import count_table, detect_week, params_from
from voc.sources.shipments import load_shipments, parse_shipments
from voc.store.models import Topic, WeeklyCount, WeeklyVolume
from voc.surges.exposure import FIELD_WEEKS, units_in_field
from voc.weeks import Week

WEEK = Week.parse("2026-W47")
W = WEEK.ordinal()
HIST = 12  # weeks of complaint history, W36..W47
WEEKS = list(range(W - HIST + 1, W + 1))
DOOR, NOISE = 1, 2
# complaints per week of topic DOOR on oven KX-30A, by batch (the last value is WEEK)
OLD = [5, 7, 6, 6, 4, 8, 6, 5, 7, 6, 5, 6]  # B2401: ~800 units a week for a year, ~20,800 in the field
NEW = [0] * (HIST - 1) + [6]  # B2411: 50 units a week since W44 -> 200 in the field, 6 complaints now
# B2409: 500 units a week for a year (13,000 in the field), then a sale ships 26,000 in WEEK: units in
# the field triple (38,500) and so do complaints, at the usual ~8 per 10k
SALE = [9, 11, 10, 8, 12, 10, 9, 11, 10, 12, 9, 30]
SALE_FIELD = 25 * 500 + 26_000
KETTLE = [10, 12, 9, 11, 10, 10, 13, 9, 11, 10, 12, 11]  # topic NOISE, kettle: not in the shipments file
TICKETS = 1000  # all tickets a week (ticket-volume exposure)


# --------------------------------------------------------------------------- the file


def _csv(tmp_path: Path, text: str, name: str = "shipments.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_parser_reads_weeks_dates_batches_and_adds_rows_up(tmp_path: Path) -> None:
    p = _csv(
        tmp_path,
        "Week,Product,Batch,Units\n"
        "2026-W47,oven,B2411,120\n"
        "2026-11-18,oven,B2411,80\n"  # a date in the same ISO week: adds up
        '2026/11/10,oven,,"1,500"\n'  # W46, unknown batch, thousands separator
        "2026W45,kettle,,300\n",
    )
    df = load_shipments(p, {"oven", "kettle"})
    assert list(df.columns) == ["week", "product", "batch", "units"]
    got = {(str(Week.from_ordinal(r.week)), r.product, r.batch): r.units for r in df.itertuples()}
    assert got == {
        ("2026-W47", "oven", "B2411"): 200,
        ("2026-W46", "oven", ""): 1500,
        ("2026-W45", "kettle", ""): 300,
    }


def test_parser_reads_spreadsheets_and_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "week": [datetime(2026, 11, 16), datetime(2026, 11, 9)],
            "product": ["oven", "oven"],
            "units": [10, 20],
        }
    )
    frame.to_excel(tmp_path / "s.xlsx", index=False)
    df = load_shipments(tmp_path / "s.xlsx")
    assert sorted(zip(df.week, df.units, strict=True)) == [(W - 1, 20), (W, 10)]
    frame.assign(week=[date(2026, 11, 16), date(2026, 11, 9)]).to_parquet(tmp_path / "s.parquet")
    assert load_shipments(tmp_path / "s.parquet").equals(df)
    bad = frame.assign(units=[10, -3])
    bad.to_excel(tmp_path / "bad.xlsx", index=False)
    with pytest.raises(SourceError, match=r"bad\.xlsx.*row 3: negative units -3"):
        load_shipments(tmp_path / "bad.xlsx")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("week,product,units\n2026-W47,oven,10\n2026-47,oven,5\n", r"line 3: unknown week format '2026-47'"),
        ("week,product,units\n2026-W47,oven,-5\n", r"line 2: negative units '-5'"),
        ("week,product,units\n2026-W60,oven,5\n", r"line 2: week 60 does not exist in 2026"),
        ("week,product,units\n2026-W47,oven,lots\n", r"line 2: units is not a number: 'lots'"),
        ("week,product,units\n2026-W47,oven,2.5\n", r"line 2: units must be a whole number: '2.5'"),
        ("week,product,units\n2026-W47,,5\n", r"line 2: missing product"),
        # an unknown product is left out and reported (test_unknown_product_...); with no row left, an error
        (
            "week,product,units\n2026-W47,KX-31Z,5\n",
            r"no rows: product 'KX-31Z' \(line 2, 5 units\) is not a catalogue",
        ),
        ("week,product,units\n2026-13-01,oven,5\n", r"line 2: not a valid date '2026-13-01'"),
        ("week,product,pieces\n2026-W47,oven,5\n", r"missing column units \(found: week, product, pieces"),
    ],
)
def test_parser_errors_name_file_line_and_value(tmp_path: Path, body: str, message: str) -> None:
    p = _csv(tmp_path, body)
    with pytest.raises(SourceError, match=message) as e:
        load_shipments(p, {"oven", "kettle"})
    assert str(p) in str(e.value)


def test_parser_lists_several_bad_rows_and_counts_the_rest() -> None:
    rows = [(f"line {i}", {"week": "soon", "product": "oven", "units": 1}) for i in range(2, 12)]
    with pytest.raises(
        SourceError, match=r"x\.csv: 10 bad rows: line 2: .*line 6: unknown week.*\(and 5 more\)"
    ):
        parse_shipments(rows, "x.csv")


def test_config_field_and_missing_or_wrong_file(tmp_path: Path) -> None:
    assert load_config(EXAMPLE_CONFIG).shipments is None
    cfg = tmp_path / "voc.yaml"
    cfg.write_text("shipments: '  '\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="shipments"):
        load_config(cfg)
    with pytest.raises(ConfigError, match=r"shipments: file not found: .*nope\.csv"):
        load_shipments(tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match=r"not a CSV, TSV, XLSX, XLS or Parquet file"):
        load_shipments(_csv(tmp_path, "{}", "s.json"))


def test_units_in_field_is_a_trailing_window_and_missing_when_nothing_shipped() -> None:
    ship = pd.DataFrame(
        {"week": [W - 40, W - 3], "product": ["oven", "oven"], "batch": ["B1", "B2"], "units": [1000, 50]}
    )
    weeks = list(range(W - 45, W + 1))
    prod, batch = units_in_field(ship, weeks)
    p = prod.set_index("week")["units"]
    assert np.isnan(p[W - 41])  # before the file's first week: unknown
    assert p[W - 40] == p[W - 40 + FIELD_WEEKS - 1] == 1000  # in the field for FIELD_WEEKS weeks
    assert np.isnan(p[W - 40 + FIELD_WEEKS])  # ... then nothing shipped in the window: missing
    assert p[W] == 50
    b = batch.set_index(["batch", "week"])["units"]
    assert np.isnan(b["B2", W - 4]) and b["B2", W - 3] == b["B2", W] == 50


# --------------------------------------------------------------------------- detection


def _shipments_csv(tmp_path: Path) -> Path:
    lines = ["week,product,batch,units"]
    for wk in range(W - 51, W + 1):  # B2401: a year of steady shipments (20,800 in the field)
        lines.append(f"{Week.from_ordinal(wk)},oven,B2401,800")
    for wk in range(W - 51, W + 1):  # dates work too
        lines.append(f"{Week.from_ordinal(wk).start.isoformat()},oven,B2409,{26_000 if wk == W else 500}")
    for wk in range(W - 3, W + 1):
        lines.append(f"{Week.from_ordinal(wk)},oven,B2411,50")
    return _csv(tmp_path, "\n".join(lines) + "\n")


def _insert_history(engine) -> None:  # type: ignore[no-untyped-def]
    counts, volume = [], []
    for i, wk in enumerate(WEEKS):
        for batch, series in (("B2401", OLD), ("B2411", NEW), ("B2409", SALE)):
            if series[i]:
                counts.append(
                    {
                        "week": wk,
                        "intent": "complaint",
                        "topic_id": DOOR,
                        "product": "oven",
                        "model": "KX-30A",
                        "batch": batch,
                        "n": series[i],
                        "sev_max": 2,
                        "n_safety": 0,
                        "n_defect": series[i],
                        "n_service": 0,
                    }
                )
        counts.append(
            {
                "week": wk,
                "intent": "complaint",
                "topic_id": NOISE,
                "product": "kettle",
                "model": "KT-17",
                "batch": "",
                "n": KETTLE[i],
                "sev_max": 0,
                "n_safety": 0,
                "n_defect": 0,
                "n_service": 0,
            }
        )
        oven = OLD[i] + NEW[i] + SALE[i]
        volume += [
            {"week": wk, "product": "", "batch": "", "n": TICKETS},
            {"week": wk, "product": "oven", "batch": "", "n": oven + 40},
            {"week": wk, "product": "kettle", "batch": "", "n": KETTLE[i] + 30},
        ]
        volume += [
            {"week": wk, "product": "oven", "batch": b, "n": s[i]}
            for b, s in (("B2401", OLD), ("B2411", NEW), ("B2409", SALE))
            if s[i]
        ]
    with engine.begin() as c:
        for tid, label in ((DOOR, "门关不紧"), (NOISE, "噪音大")):
            c.execute(
                insert(Topic).values(
                    id=tid,
                    intent="complaint",
                    label=label,
                    human_label=False,
                    keywords="",
                    status="active",
                    merged_into=None,
                    centroid=None,
                    created_week=WEEKS[0],
                    updated_at=datetime(2026, 11, 23),
                )
            )
        c.execute(insert(WeeklyCount), counts)
        c.execute(insert(WeeklyVolume), volume)


def _batch_cells(rows: list[dict]) -> dict[str, dict]:
    """Flagged batches: a batch's complaints over all topics (the product×batch level)."""
    return {r["batch"]: r for r in rows if r["level"] == "product×batch"}


def test_new_batch_with_few_units_is_judged_by_its_rate(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _insert_history(engine)
    cfg = load_config(EXAMPLE_CONFIG).model_copy(update={"shipments": str(_shipments_csv(tmp_path))})
    flagged = _batch_cells(detect_week(engine, cfg, WEEK))
    # B2411: 6 complaints on 200 units in the field = 300 per 10k
    assert "B2411" in flagged
    assert flagged["B2411"]["explanation_en"].endswith("; 300 per 10k units (200 in the field)")
    assert flagged["B2411"]["explanation_zh"].endswith("；每万台 300 起（在用 200 台）")
    # B2401: the same 6 complaints on 20,800 units, its usual ~3 per 10k: not a surge
    assert "B2401" not in flagged
    # B2409: complaints tripled, but so did its units in the field: not a surge
    assert "B2409" not in flagged


def test_without_shipments_the_sale_looks_like_a_surge(engine) -> None:  # type: ignore[no-untyped-def]
    _insert_history(engine)
    rows = detect_week(engine, load_config(EXAMPLE_CONFIG), WEEK)
    flagged = _batch_cells(rows)
    assert "B2409" in flagged and "B2401" not in flagged
    # without units, a batch's first complaints are its birth, not a surge (judged once it has a history)
    assert "B2411" not in flagged and not any(r["batch"] == "B2411" for r in rows)
    assert not any("10k" in r["explanation_en"] or "每万台" in r["explanation_zh"] for r in rows)


def _counts_frame() -> pd.DataFrame:
    recs = []
    for i, wk in enumerate(WEEKS):
        for batch, series in (("B2401", OLD), ("B2411", NEW), ("B2409", SALE)):
            if series[i]:
                recs.append((wk, DOOR, "oven", "KX-30A", batch, series[i]))
        recs.append((wk, NOISE, "kettle", "KT-17", "", KETTLE[i]))
        recs.append((wk, DOOR, "oven", "KX-30A", "B9999", 1 if i % 3 == 0 else 0))  # a batch nobody shipped
    return pd.DataFrame(recs, columns=["week", "topic_id", "product", "model", "batch", "n"])


def test_each_cell_keeps_its_own_exposure(tmp_path: Path) -> None:
    ship = load_shipments(_shipments_csv(tmp_path))
    total = pd.Series(float(TICKETS), index=WEEKS)
    table = count_table(_counts_frame(), total, WEEKS, units_in_field(ship, WEEKS))
    res = surges.detect(table, W, params_from(load_config(EXAMPLE_CONFIG))).set_index(["level", "cell"])
    e = res["exposure"]
    oven = 26 * 800 + SALE_FIELD + 200
    assert e["topic×product×batch", f"{DOOR}|oven|B2411"] == 200
    assert e["topic×product×batch", f"{DOOR}|oven|B2401"] == 26 * 800
    assert e["topic×product×batch", f"{DOOR}|oven|B2409"] == SALE_FIELD
    assert e["topic×product", f"{DOOR}|oven"] == e["topic×product×model", f"{DOOR}|oven|KX-30A"] == oven
    assert e["product", "oven"] == oven
    # ticket volume where the file says nothing: the topic level, and products it does not list
    assert e["topic", str(DOOR)] == e["product", "kettle"] == e["topic×product", f"{NOISE}|kettle"] == TICKETS
    assert not res.loc[("product", "kettle"), "per_units"] and res.loc[("product", "oven"), "per_units"]
    # a batch of a covered product with no shipments is missing data: never tested
    assert ("topic×product×batch", f"{DOOR}|oven|B9999") not in res.index
    b9 = table[table["cell"] == f"{DOOR}|oven|B9999"]
    assert b9["exposure"].isna().all()
    # B2411 before its first shipment (W44) is missing too, not a zero-complaint baseline week
    b11 = table[table["cell"] == f"{DOOR}|oven|B2411"].set_index("period")["exposure"]
    assert b11.loc[: W - 4].isna().all() and list(b11.loc[W - 3 :]) == [50, 100, 150, 200]


def test_without_shipments_the_count_table_is_unchanged() -> None:
    total = pd.Series(float(TICKETS), index=WEEKS)
    table = count_table(_counts_frame(), total, WEEKS)
    assert "per_units" not in table.columns
    assert (table["exposure"] == TICKETS).all()


def test_rate_note_only_for_cells_judged_per_unit() -> None:
    from voc.reports.surge_rows import rate_note as _rate_note

    rec = {"observed": 30, "expected": 5.0, "exposure": 20_000.0, "per_units": True, "new_cell": False}
    assert _rate_note(rec, "en") == "; 15.0 per 10k units vs 2.5 expected"
    assert _rate_note(rec, "zh") == "；每万台 15.0 起，预期 2.5 起"
    assert _rate_note({**rec, "per_units": False}, "en") == _rate_note({**rec, "per_units": None}, "zh") == ""


# --------------------------------------------------------------------------- names as files have them (#19)


def test_chinese_headers_and_product_names_aliases_models(tmp_path: Path) -> None:
    """周/产品/批次/数量 are recognised; a product is found by its id, Chinese or English name, an alias or a
    model (case, spaces and hyphens aside); Chinese week and date forms are weeks."""
    products = load_config(EXAMPLE_CONFIG).products
    p = _csv(
        tmp_path,
        "周,产品,批次,数量\n"
        "2026年第47周,烤箱,B2411,100\n"  # name_zh
        "2026年11月17日,电烤箱,B2411,20\n"  # an alias, a Chinese date in W47
        "2026-W47,kx 30a,B2409,5\n"  # a model, written loosely
        "2026-W46,Air Fryer,,7\n"  # name_en, case aside
        "2026-W46,kettle,,3\n",
    )  # the id
    df = load_shipments(p, products)
    got = {(str(Week.from_ordinal(r.week)), r.product, r.batch): r.units for r in df.itertuples()}
    assert got == {
        ("2026-W47", "oven", "B2411"): 120,
        ("2026-W47", "oven", "B2409"): 5,
        ("2026-W46", "airfryer", ""): 7,
        ("2026-W46", "kettle", ""): 3,
    }
    assert df.attrs["skipped"] == []


def test_configured_columns_and_skus(tmp_path: Path) -> None:
    f = tmp_path / "出货.xls"
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("出货")
    for i, row in enumerate(
        [
            ["出货周次", "物料编码", "生产批", "出货台数", "备注"],
            ["2026-W47", "KX30A-WH-01", "B2411", 50, ""],
            ["2026-W47", "AF5L-BK", "", 8, "黑色"],
        ]
    ):
        for j, v in enumerate(row):
            ws.write(i, j, v)
    wb.save(str(f))
    cfg_file = tmp_path / "voc.yaml"
    cfg_file.write_text(
        EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
            "shipments:\n  path: null",
            f"shipments:\n  path: '{f}'\n  columns: {{week: 出货周次, product: 物料编码, "
            "batch: 生产批, units: 出货台数}\n  skus: {KX30A-WH-01: oven, AF5L-BK: airfryer}",
        ),
        encoding="utf-8",
    )
    cfg = load_config(cfg_file)
    assert cfg.shipments is not None and not isinstance(cfg.shipments, str)
    df = load_shipments(cfg.shipments, cfg.products)
    assert sorted(zip(df["product"], df["batch"], df["units"], strict=True)) == [
        ("airfryer", "", 8),
        ("oven", "B2411", 50),
    ]
    # a configured column the file lacks is named as such
    bad = cfg.shipments.model_copy(update={"columns": {**cfg.shipments.columns, "units": "发货数"}})
    with pytest.raises(SourceError, match=r"missing column units \(shipments.columns: units = '发货数'\)"):
        load_shipments(bad, cfg.products)


def test_unknown_product_is_reported_once_and_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    products = load_config(EXAMPLE_CONFIG).products
    p = _csv(
        tmp_path,
        "week,product,batch,units\n"
        "2026-W47,oven,B2411,100\n"
        "2026-W47,KX-99Z,B2411,30\n"
        "2026-W46,KX-99Z,,12\n"
        "2026-W46,KX-99Z,,1000\n"
        "2026-W46,kettle,,3\n",
    )
    with caplog.at_level("WARNING", logger="voc.sources.shipments"):
        df = load_shipments(p, products)
    assert sorted(df["product"]) == ["kettle", "oven"] and df["units"].sum() == 103
    (note,) = df.attrs["skipped"]
    assert note == (
        f"shipments file {p}: product 'KX-99Z' (line 3 and 2 more rows, 1,042 units) is not a catalogue "
        "product's id, name, alias or model: left out of the units in the field; add it to the product's "
        "aliases or models, or under shipments.skus"
    )
    assert [r.getMessage() for r in caplog.records] == [note]


def test_a_name_two_products_share_is_not_guessed(tmp_path: Path) -> None:
    from voc.config.settings import Product

    products = [
        Product(id="oven", name_zh="烤箱", name_en="oven", aliases=["暖厨"]),
        Product(id="kettle", name_zh="电热水壶", name_en="kettle", aliases=["暖厨"]),
    ]
    p = _csv(tmp_path, "week,product,units\n2026-W47,暖厨,5\n2026-W47,oven,1\n")
    df = load_shipments(p, products)
    assert list(df["product"]) == ["oven"]
    assert (
        "product '暖厨' (line 2, 5 units) names more than one product (kettle, oven)"
        in df.attrs["skipped"][0]
    )


def test_shipments_config_long_form(tmp_path: Path) -> None:
    f = tmp_path / "voc.yaml"
    f.write_text("shipments: {path: null, columns: {units: 数量}}\n", encoding="utf-8")
    assert load_config(f).shipments is None  # no path: no shipments file
    f.write_text("shipments: {path: s.csv, columns: {amount: 数量}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"shipments.Shipments.columns: unknown shipments column amount"):
        load_config(f)
    f.write_text(
        "products: [{id: oven, name_zh: 烤箱, name_en: oven}]\nshipments: {path: s.csv, skus: {X1: ovens}}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError, match=r"shipments.skus: 'ovens' is not a catalogue product id \(ids: oven\)"
    ):
        load_config(f)


def test_an_unknown_sku_does_not_stop_the_surge_stage(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _insert_history(engine)
    path = _shipments_csv(tmp_path)
    with path.open("a", encoding="utf-8") as f:
        f.write(f"{WEEK},KX-99Z,B2411,40\n")
    cfg = load_config(EXAMPLE_CONFIG).model_copy(update={"shipments": str(path)})
    flagged = _batch_cells(detect_week(engine, cfg, WEEK))
    assert "B2411" in flagged and "B2401" not in flagged and "B2409" not in flagged
    assert flagged["B2411"]["explanation_en"].endswith("; 300 per 10k units (200 in the field)")
