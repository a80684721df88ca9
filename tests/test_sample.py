"""The demo/test data generator: deterministic, and the planted facts are really in the rows."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from voc.sample import PRODUCTS, Planted, generate, id_checksum, iter_weeks, write_csv
from voc.ticket import CANONICAL_FIELDS, parse_ticket
from voc.weeks import Week

ROOT = Path(__file__).resolve().parents[1]
END = Week(2026, 47)


@pytest.fixture(scope="module")
def sample() -> tuple[list[dict[str, str]], Planted]:
    return generate(END)


def _digest(rows: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def test_deterministic_for_a_seed(sample):
    rows, planted = sample
    again, planted2 = generate(END)
    assert again == rows
    assert planted2.pii == planted.pii and planted2.surge_counts == planted.surge_counts
    other, _ = generate(END, seed=8)
    assert other != rows


def test_deterministic_across_processes(sample):
    """No dependence on hash randomisation or the clock."""
    code = (
        "import hashlib, json; from voc.sample import generate; from voc.weeks import Week; "
        "rows, _ = generate(Week(2026, 47)); "
        "print(hashlib.sha256(json.dumps(rows, ensure_ascii=False, sort_keys=True).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == _digest(sample[0])


def test_every_row_parses_and_is_closed_in_its_week(sample):
    rows, planted = sample
    assert len({r["ticket_id"] for r in rows}) == len(rows)
    weeks = set(map(str, planted.weeks))
    per_week: Counter[str] = Counter()
    for r in rows:
        assert set(r) == set(CANONICAL_FIELDS)
        assert all(isinstance(v, str) for v in r.values())
        assert re.fullmatch(r"HC-\d{6}", r["ticket_id"])
        assert r["created_at"].endswith("+08:00") and r["closed_at"].endswith("+08:00")
        t = parse_ticket(r, "demo")
        assert t.created_at <= t.closed_at <= t.created_at + timedelta(days=5)
        wk = str(Week.of(t.closed_at))  # naive UTC ...
        assert wk == str(Week.of(t.closed_at + timedelta(hours=8)))  # ... and Beijing time agree
        assert wk == planted.labels[t.ticket_id].week
        per_week[wk] += 1
        assert r["status"] in ("closed", "solved")
        assert r["csat"] == "" or 1 <= int(r["csat"]) <= 5
        assert r["reopened"] in ("0", "1") and r["transfers"] in ("0", "1", "2")
    assert set(per_week) == weeks
    assert dict(per_week) == dict(planted.weekly_volume)


def test_surge_is_in_the_counts(sample):
    rows, planted = sample
    last, prev = planted.weeks[-1], planted.weeks[-2]
    assert planted.surge_weeks == (prev, last)
    base_weeks = [w for w in planted.weeks[:-2] if w != planted.global_spike_week]
    cell = {"model": "KX-30A"}
    base = statistics.mean(planted.count("door", w, **cell) for w in base_weeks)
    now = planted.count("door", last, **cell)
    assert 2 <= base <= 4
    assert planted.count("door", prev, **cell) == 12 and now == 30
    assert now >= 2 * base and planted.count("door", prev, **cell) >= 2 * base
    hot = planted.count("door", last, model="KX-30A", batch="B2409")
    assert hot / now >= 0.75
    assert planted.surge_counts[str(last)] == now and planted.surge_batch_counts[str(last)] == hot

    # the signal is also visible in the text/fields a pipeline sees, not only in the ground truth
    def visible(week: Week) -> tuple[int, int]:
        n = b = 0
        for r in rows:
            lab = planted.labels[r["ticket_id"]]
            if lab.week != str(week) or not re.search("门|door", r["body"], re.I):
                continue
            if r["model"] == "KX-30A" or "KX-30A" in r["body"]:
                n += 1
                b += r["batch"] == "B2409" or "B2409" in r["body"]
        return n, b

    n_last, b_last = visible(last)
    n_base = statistics.mean(visible(w)[0] for w in base_weeks)
    assert n_last >= 3 * max(n_base, 1)
    assert b_last / n_last >= 0.6
    # surge tickets carry the workaround as resolution
    surge_res = Counter(r["resolution"] for r in rows if planted.labels[r["ticket_id"]].planted == "surge")
    assert "门铰链校准视频" in surge_res.most_common(1)[0][0]


def test_global_spike_week(sample):
    _, planted = sample
    spike = planted.global_spike_week
    assert spike is not None and spike not in planted.surge_weeks
    others = [
        v
        for w, v in planted.weekly_volume.items()
        if w != str(spike) and w not in map(str, planted.surge_weeks)
    ]
    ratio = planted.weekly_volume[str(spike)] / statistics.mean(others)
    assert 1.65 <= ratio <= 1.95
    assert all(300 <= v <= 400 for v in others)


def test_safety_is_steady_and_unmet_need_present(sample):
    _, planted = sample
    safety = [planted.safety_counts[str(w)] for w in planted.weeks]
    assert all(1 <= n <= 8 for n in safety)
    assert max(safety[-2:]) <= max(safety[:-2])
    assert sum(planted.unmet_need_counts.values()) >= 100
    assert all(
        lab.intent == "suggestion" and lab.product == "oven"
        for lab in planted.labels.values()
        if lab.theme == planted.unmet_need_theme
    )


def test_mix_of_languages_intents_and_missing_fields(sample):
    rows, planted = sample
    n = len(rows)
    lang = Counter(lab.language for lab in planted.labels.values())
    assert 0.80 <= lang["zh"] / n <= 0.90 and 0.10 <= lang["en"] / n <= 0.20 and lang["mixed"] >= 20
    intent = Counter(lab.intent for lab in planted.labels.values())
    for key, share in {"complaint": 0.55, "question": 0.20, "suggestion": 0.10, "praise": 0.15}.items():
        assert abs(intent[key] / n - share) < 0.04, (key, intent[key] / n)
    assert len({lab.theme for lab in planted.labels.values() if lab.intent == "complaint"}) >= 12
    blank = [r for r in rows if not r["product"]]
    assert 0.35 <= len(blank) / n <= 0.45
    terms = {p["id"]: [p["name_zh"], p["name_en"], *p["aliases"], *p["models"]] for p in PRODUCTS}
    for r in blank:  # the product can always be recovered from the text
        pid = planted.labels[r["ticket_id"]].product
        assert any(t.lower() in r["body"].lower() for t in terms[pid]), r["body"]
    assert len({r["body"] for r in rows}) > 0.8 * n  # varied phrasing, not one template per topic
    assert {r["channel"] for r in rows} >= {
        "电话",
        "在线客服",
        "邮件",
        "京东",
        "天猫",
        "phone",
        "chat",
        "email",
    }


def test_planted_pii_is_in_the_bodies(sample):
    rows, planted = sample
    by_id = {r["ticket_id"]: r for r in rows}
    kinds = Counter(p.kind for p in planted.pii)
    assert set(kinds) == {"phone", "email", "id_number", "order"}
    for item in planted.pii:
        assert item.value in by_id[item.ticket_id]["body"]
        if item.kind == "id_number":
            assert re.fullmatch(r"\d{17}[\dX]", item.value) and id_checksum(item.value[:17]) == item.value[-1]
        if item.kind == "phone":
            assert re.fullmatch(r"1[3-9]\d{9}", re.sub(r"^\+86|[ -]", "", item.value))
    share = len({p.ticket_id for p in planted.pii}) / len(rows)
    assert 0.07 <= share <= 0.13
    assert "<script>alert(1)</script>" in by_id[planted.script_ticket_id]["body"]
    assert by_id[planted.html_ticket_id]["body"].startswith("<p>")
    assert sum("<script>" in r["body"] for r in rows) == 1


def test_id_checksum_known_value():
    assert id_checksum("11010519491231002") == "X"  # the textbook example from GB 11643


def test_products_match_the_config_schema():
    from voc.config.settings import Product

    products = [Product.model_validate(p) for p in PRODUCTS]
    assert [p.id for p in products] == ["oven", "airfryer", "kettle", "blender", "vacuum"]
    assert products[0].models == ["KX-30A", "KX-45B"]


def test_write_csv_round_trip(sample, tmp_path):
    rows = sample[0][:300]
    path = tmp_path / "t.csv"
    write_csv(path, rows)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == CANONICAL_FIELDS
        back = list(reader)
    assert back == rows


def test_streaming_exact_total():
    weeks = list(iter_weeks(END, weeks=6, per_week=400, seed=2, total=2500))
    rows = [r for wk in weeks for r in wk]
    assert len(rows) == 2500 and len(weeks) == 6
    for r in rows[::50]:
        parse_ticket(r, "demo")


def test_bench_script(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "b.csv"
    assert mod.main(["--n", "3000", "--out", str(out), "--weeks", "8", "--end-week", "2026-W47"]) == 0
    with out.open(encoding="utf-8", newline="") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == 3000
    assert "rows/s" in capsys.readouterr().out
