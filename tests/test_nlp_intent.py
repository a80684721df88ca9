"""Intent rules and severity (rules + classifier) against hand-written labelled sets.

tests/data/intent_labelled.csv (695 rows: 383, then 175 written on 2026-12-03 without looking at the
held-out file, to widen safety/praise/suggestion phrasing, then 137 on 2026-12-15, also without looking at
it: food / electrics / injury / child safety language, negated and figurative uses, complaints that ask
a question, everyday complaints about food, clothes, rooms and devices) is what the rules were developed on and what
the severity classifier trains on (nlp/data/severity_train.csv is the same rows); tests/data/severity_holdout.csv
(132 rows) was written and committed before the classifier was built or any rule changed. Severity
on the training rows is reported 5-fold cross-validated (the classifier never sees the row it labels).

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

from voc.nlp.intent import INTENTS, classify_intent, classify_intents, intent_and_flags
from voc.nlp.normalize import normalize
from voc.nlp.severity import (
    SEVERITIES,
    SeverityModel,
    classify_severities,
    classify_severity,
    rule_severity,
    training_rows,
)

DATA = Path(__file__).parent / "data" / "intent_labelled.csv"
HOLDOUT = Path(__file__).parent / "data" / "severity_holdout.csv"


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


def _cv_severity(texts, intents, labels, folds=5):
    from sklearn.model_selection import StratifiedKFold

    pred = [""] * len(texts)
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(texts, labels):
        m = SeverityModel([texts[i] for i in tr], [labels[i] for i in tr])
        for i, p in zip(
            te, classify_severities([texts[i] for i in te], [intents[i] for i in te], model=m), strict=True
        ):
            pred[i] = p
    return pred


def _cv_intent(texts, labels, folds=5):
    """Intent (rules + a classifier trained without the fold) for each training row."""
    from sklearn.model_selection import StratifiedKFold

    pred = [""] * len(texts)
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(texts, labels):
        m = SeverityModel([texts[i] for i in tr], [labels[i] for i in tr])
        for i, (intent, _, _) in zip(te, classify_intents([texts[i] for i in te], model=m), strict=True):
            pred[i] = intent
    return pred


@pytest.fixture(scope="module")
def rows():
    rows = list(csv.DictReader(DATA.open(encoding="utf-8")))
    texts = [normalize(r["text"])[0] for r in rows]
    intents = _cv_intent(texts, [r["intent"] for r in rows])
    for r, text, intent in zip(rows, texts, intents, strict=True):
        r["pred_intent"] = intent
        r["rule_intent"] = intent_and_flags(text)[0]
        r["rule_severity"] = rule_severity(text, r["pred_intent"])
        r.setdefault("split", "dev")
    cv = _cv_severity(texts, [r["pred_intent"] for r in rows], [r["severity"] for r in rows])
    for r, p in zip(rows, cv, strict=True):
        r["pred_severity"] = p
    return rows


@pytest.fixture(scope="module")
def holdout():
    rows = list(csv.DictReader(HOLDOUT.open(encoding="utf-8")))
    texts = [normalize(r["text"])[0] for r in rows]
    intents = [classify_intent(t) for t in texts]
    for r, t, i, p in zip(rows, texts, intents, classify_severities(texts, intents), strict=True):
        r["pred_intent"], r["pred_severity"], r["rule_severity"] = i, p, rule_severity(t, i)
        r["rule_intent"] = intent_and_flags(t)[0]
    return rows


def test_training_file_is_the_labelled_set():
    labelled = [(r["text"], r["intent"], r["severity"]) for r in csv.DictReader(DATA.open(encoding="utf-8"))]
    assert [(r["text"], r["intent"], r["severity"]) for r in training_rows()] == labelled
    held = {r["text"] for r in csv.DictReader(HOLDOUT.open(encoding="utf-8"))}
    assert not held & {t for t, _, _ in labelled}, "held-out rows must not be training rows"


def _report(rows, title):
    print(f"\n== {title}: {len(rows)} tickets")
    macro = {}
    for key, gold, pred, classes in (
        ("intent", "intent", "pred_intent", INTENTS),
        ("int-rule", "intent", "rule_intent", INTENTS),
        ("severity", "severity", "pred_severity", SEVERITIES),
        ("rules", "severity", "rule_severity", SEVERITIES),
    ):
        stats = _prf(rows, gold, pred, classes)
        macro[key] = sum(v[2] for v in stats.values() if v[3]) / max(
            1, sum(1 for v in stats.values() if v[3])
        )
        for c, (p, rc, f, n) in stats.items():
            print(f"  {key:<8} {c:<10} n={n:<4d} P={p:.2f} R={rc:.2f} F1={f:.2f}")
        print(f"  {key:<8} macro-F1 {macro[key]:.3f}")
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
    assert sev["safety"][1] >= 0.95, "safety recall (5-fold CV)"
    assert macro["intent"] >= 0.80
    assert macro["severity"] >= 0.88
    for lang in ("zh", "en"):
        m = _report(by_lang[lang], f"floor check {lang}")
        assert m["intent"] >= 0.75 and m["severity"] >= 0.75


def test_holdout_floors(rows):
    hold = [r for r in rows if r["split"] == "holdout"]
    assert len(hold) == 50, "the first held-out rows are part of tests/data/intent_labelled.csv"
    # these 50 rows are now training rows too; severity here is the cross-validated prediction
    macro = _report(hold, "first holdout (written after the rules were frozen; severity 5-fold CV)")
    # rules only, when frozen: safety recall 0.88 (7/8), intent macro-F1 0.83, severity macro-F1 0.73
    assert macro["intent"] >= 0.75 and macro["severity"] >= 0.80


def test_second_holdout(holdout):
    """The 132-ticket set written before the classifier. Measured (first and only evaluation of this
    configuration): severity rules only safety R .58, defect R .53; rules + classifier safety R .92
    (24/26), defect .86, service .93, other .95; macro-F1 intent .84, severity .92. After 175 more
    training rows written without looking at this file (2026-12-03): safety R .96 (25/26) P .96,
    defect R .86, severity macro-F1 .935, intent macro-F1 .824 (intent is rules: unchanged). Floors =
    measured minus a small margin; safety recall is held at the 0.95 target. Intent with the
    classifier combined (nlp.intent.classify_intents, chosen by CV on the training rows): macro-F1
    .824 -> .922, praise recall .43 -> .71, suggestion .73 -> 1.00."""
    macro = _report(holdout, "second holdout (written before the classifier)")
    for lang in ("zh", "en"):
        _report([r for r in holdout if r["language"] == lang], f"second holdout language={lang}")
    sev = _prf(holdout, "severity", "pred_severity", SEVERITIES)
    rules = _prf(holdout, "severity", "rule_severity", SEVERITIES)
    assert sev["safety"][1] >= 0.95 and sev["safety"][0] >= 0.90
    assert sev["defect"][1] >= 0.80 and sev["defect"][1] > rules["defect"][1] + 0.2
    assert macro["severity"] >= 0.88 and macro["intent"] >= 0.88
    intent = _prf(holdout, "intent", "pred_intent", INTENTS)
    assert intent["praise"][1] >= 0.6 and intent["suggestion"][1] >= 0.85


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


def test_fast_proba_equals_sklearn():
    from voc.nlp.severity import default_model

    m = default_model()
    texts = [r["text"] for r in training_rows()][:120] + ["", "  a  b ", "😀烤箱\tKX-30A 冒烟了", "x" * 3000]
    for a, b in zip(m.sk_proba(texts), m.proba(texts), strict=True):
        assert a.keys() == b.keys() and max(abs(a[k] - b[k]) for k in a) < 1e-9


@pytest.mark.parametrize(
    "text,intent",
    [
        ("RV-2老是卡在沙发底下出不来。希望能退货。", "complaint"),  # a demand for redress, not a wish
        ("希望尽快处理，给个说法", "complaint"),
        ("希望能出一款带定时的", "suggestion"),
        ("Keeps shutting off after a minute. I want a refund.", "complaint"),
        ("Would be great if it came with a second basket", "suggestion"),
    ],
)
def test_demand_is_not_a_suggestion(text, intent):
    assert classify_intent(text) == intent
