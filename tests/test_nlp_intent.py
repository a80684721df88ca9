"""Intent and severity rules against the hand-written labelled set (tests/data/intent_labelled.csv).

Labelling policy (written down so labels are reproducible): intent is what the customer mainly does
(a failure report with a question is a complaint; a rhetorical question is a complaint). Severity is the
kind of issue: safety (fire, smoke, shock, burns, burning smell, injury) > defect > service > other;
praise is always 'other'; a suggestion is 'safety' if it is about a hazard, else 'other'.
The 'split' column separates rows the rules were developed against ('dev') from rows written after the
rules were frozen ('holdout'); both are reported, floors are asserted on both.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from nlp.intent import INTENTS, classify_intent
from nlp.normalize import normalize
from nlp.severity import SEVERITIES, classify_severity

DATA = Path(__file__).parent / "data" / "intent_labelled.csv"


def _prf(rows, gold, pred, classes):
    out = {}
    for c in classes:
        tp = sum(1 for r in rows if r[gold] == c and r[pred] == c)
        fp = sum(1 for r in rows if r[gold] != c and r[pred] == c)
        fn = sum(1 for r in rows if r[gold] == c and r[pred] != c)
        p = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * rc / (p + rc) if p + rc else 0.0
        out[c] = (p, rc, f, tp + fn)
    return out


@pytest.fixture(scope="module")
def rows():
    rows = list(csv.DictReader(DATA.open(encoding="utf-8")))
    for r in rows:
        text = normalize(r["text"])[0]
        r["pred_intent"] = classify_intent(text)
        r["pred_severity"] = classify_severity(text, r["pred_intent"])
        r.setdefault("split", "dev")
    return rows


def _report(rows, title):
    print(f"\n== {title}: {len(rows)} tickets")
    macro = {}
    for gold, pred, classes in (("intent", "pred_intent", INTENTS), ("severity", "pred_severity", SEVERITIES)):
        stats = _prf(rows, gold, pred, classes)
        macro[gold] = sum(v[2] for v in stats.values() if v[3]) / max(1, sum(1 for v in stats.values() if v[3]))
        for c, (p, rc, f, n) in stats.items():
            print(f"  {gold:<8} {c:<10} n={n:<4d} P={p:.2f} R={rc:.2f} F1={f:.2f}")
        print(f"  {gold:<8} macro-F1 {macro[gold]:.3f}")
    return macro


def test_dataset_shape(rows):
    assert len(rows) >= 300
    langs = {r["language"] for r in rows}
    assert {"zh", "en"} <= langs
    assert {r["intent"] for r in rows} == set(INTENTS)
    assert {r["severity"] for r in rows} == set(SEVERITIES)


def test_precision_recall_floors(rows):
    macro = _report(rows, "all")
    by_lang = defaultdict(list)
    for r in rows:
        by_lang[r["language"]].append(r)
    for lang, rs in sorted(by_lang.items()):
        _report(rs, f"language={lang}")
    sev = _prf(rows, "severity", "pred_severity", SEVERITIES)
    assert sev["safety"][1] >= 0.95, "safety recall"
    assert macro["intent"] >= 0.80
    assert macro["severity"] >= 0.80
    for lang in ("zh", "en"):
        m = _report(by_lang[lang], f"floor check {lang}")
        assert m["intent"] >= 0.75 and m["severity"] >= 0.75


def test_holdout_floors(rows):
    hold = [r for r in rows if r["split"] == "holdout"]
    if not hold:
        pytest.skip("no holdout rows")
    macro = _report(hold, "holdout (written after the rules were frozen)")
    sev = _prf(hold, "severity", "pred_severity", SEVERITIES)
    # measured when frozen: safety recall 0.88 (7/8), intent macro-F1 0.83, severity macro-F1 0.73
    # (defect recall only 0.20: the defect lexicon does not generalise well). Regression guards:
    assert sev["safety"][1] >= 0.85
    assert macro["intent"] >= 0.75 and macro["severity"] >= 0.65


@pytest.mark.parametrize(
    "text,intent,severity",
    [
        ("没有冒烟也没有异味，就是不加热", "complaint", "defect"),
        ("The fries came out burnt, timer seems off", "complaint", "defect"),
        ("用了半年一点毛病没有，推荐", "praise", "other"),
        ("Is it normal that it smells a bit the first time?", "question", "other"),
        ("建议出一款大容量的", "suggestion", "other"),
        ("", "complaint", "other"),
    ],
)
def test_rule_cases(text, intent, severity):
    got = classify_intent(text)
    assert got == intent
    assert classify_severity(text, got) == severity
