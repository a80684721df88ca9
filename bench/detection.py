"""End-to-end detection benchmark on real text: inject surges into real baseline weeks, run the pipeline.

    python bench/detection.py [--sources zh_shop,jd_aircon,cfpb,tweets,mixed] [--seeds 0-9]
                              [--scenarios a,b,c,d,e] [--weeks 20] [--per-week 300] [--jobs 1]
                              [--out results.json] [--tune]

Outbreak detectors are evaluated by injecting synthetic outbreaks into real baseline series; here
the baseline is real ticket *text* (``bench/detection_sources.py``: which rows, which themes, which
made-up products) and every run goes through the whole pipeline as called by the weekly flow,
without Prefect: ingest (canonical CSV) -> understand -> update_topics -> rebuild_counts ->
detect_week, on a SQLite store.

Timeline (``--weeks`` W, default 20): weeks 1..W-6 are the baseline, built once per (source, seed):
ingest, understand, the first topic fit at week W-8 and weekly topic updates, counts and detection
for W-7 and W-6, saved as a SQLite file. Each scenario copies that file and runs only its weeks:
(a), (b), (d), (e) week W-5 (the *target week*, after W-6 weeks of history); (c) weeks W-5..W.

Every week has ordinary traffic (Poisson ``--per-week``, capped by the pool) plus the seed's theme
at its base rate ``b`` (Poisson) and, where the source has one, the safety theme at ``s`` (Poisson).
Theme rows are real rows matching the theme's rule, held back from the ordinary traffic; injected
tickets are further real rows of the same theme never used in the baseline (not copies).

Scenarios (seeds 0-9 are evaluation seeds; ``--tune`` runs seeds 100-104 instead, labelled as tuning
runs and never as results):
- (a) ``theme``: b ~ U(8, 15) a week (capped where the theme has too few rows, reported), target week
  + round(1.5 b) injected tickets (2.5x on average), 75% of them (rounded) in one batch of the theme's
  product (a batch active in that week, chosen at random), the rest spread as the product's tickets are.
- (b) ``safety``: s ~ U(1, 2) a week; the target week's safety tickets total 6-8 (at least 3 injected),
  injected from one product (the theme's product with most rows). Only sources with safety complaints.
- (c) ``ramp``: the theme rises +30% a week compounded for 4 weeks (1.3, 1.69, 2.20, 2.86 b) and stays at
  2.86 b for 2 more weeks. Recall = a hit in any of the 6 weeks ("within 2 weeks" of the ramp's end);
  also reported: a hit by the ramp's end, and the first week hit.
- (d) ``null``: nothing injected.
- (e) ``spike``: the target week's volume x1.6: round(0.6 x the week's tickets) more ordinary rows
  (same mix, held back from the baseline). Expected: no theme/topic surge, one global note.

Scoring, from the store (the ``surges`` rows detect_week wrote, the tickets, their assignments and
topic -> theme membership); it does not depend on which levels exist:
- A flagged row's *cell tickets* C are the week's complaint tickets matching every key its level names
  (the level name split on "×": topic -> the ticket's topic, merges resolved; theme -> the topic's
  theme; product / model / batch -> the normalised values; safety -> severity 'safety'; the row's own
  values). A level with an unknown key is reported as unscorable (never a hit).
- T = the week's tickets of the scenario's theme (base rate + injected), I = the injected ones.
- HIT: a flagged, non-global row of a scored week with |C ∩ T| >= 0.5 |C| (the cell is mostly the
  theme) or |C ∩ I| >= 0.5 |I| (the cell holds at least half of the injected tickets; this is how a
  product, product × batch, model × batch or product × safety cell counts: it is the theme's
  product/batch and holds most of the rise).
- Recall: share of runs with at least one hit in the target week ((c): in any of its 6 weeks).
- Batch named ((a) and (c)): a hit row whose ``batch`` or ``conc_batch`` is the injected batch.
- False surges per week: flagged non-global rows with C ∩ T empty ((d), (e): every flagged non-global
  row, as T is empty); rows touching the theme without being a hit are counted as *partial*.
- (e) also reports the share of runs with a global note.

Miss diagnostics (every run with no hit; (c): its last week): the topics the theme's tickets of the
week landed in (topic id, share, intent, status, label) and the intents/severities they were given;
the best-matching cell over every level (maximising |C ∩ T|^2 / (|C| |T|), grouped from the theme's
tickets) with observed / expected / p / q / ratio from ``flows.surge_stage.assess_week`` (or the same
computation where that function does not exist) and the conditions that stopped it: not tested (new
cell or too little history), new cell, emerging topic, observed < min_count, ratio < min_ratio,
q > fdr_q, flagged but below the hit rule.

Prints ``uptime`` at start and end, a table per source x scenario (runs, recall, batch named, false
surges per week, seconds per run) and the misses; writes everything to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if str(Path(__file__).resolve().parent) not in sys.path:  # detection_sources, after the repository (bench/
    sys.path.append(str(Path(__file__).resolve().parent))  # has surges.py and nlp.py shadowing the packages)
for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

import detection_sources as ds  # noqa: E402

from voc.config.settings import EXAMPLE_CONFIG, Mapping, VocConfig, load_config  # noqa: E402
from voc.surges.selection import group_surges  # noqa: E402
from voc.ticket import CANONICAL_FIELDS  # noqa: E402
from voc.weeks import Week  # noqa: E402

SCENARIOS = {"a": "theme", "b": "safety", "c": "ramp", "d": "null", "e": "spike"}
EVAL_SEEDS = list(range(10))
TUNE_SEEDS = list(range(100, 105))
END_WEEK = Week.parse("2026-W40")  # last week of the timeline
RAMP = (1.3, 1.3**2, 1.3**3, 1.3**4, 1.3**4, 1.3**4)  # 4 ramp weeks, then 2 at the top
WINDOW = len(RAMP)
WARM = 2  # weekly topic runs after the first fit, inside the baseline
SHARE_HIT = 0.5
SOURCE_NAME = "bench"


# ============================================================================= planning (pure)


@dataclass
class Plan:
    """Everything a (source, seed) needs: the baseline CSV rows, each scenario's week rows and truth."""

    source: str
    seed: int
    weeks: list[Week]
    baseline: list[dict[str, str]]
    window: list[list[dict[str, str]]]  # ordinary rows (+ base theme/safety rows) of the window weeks
    extras: dict[str, dict[int, list[dict[str, str]]]]  # scenario -> window week index -> injected rows
    theme_base: list[list[str]]  # window week index -> ticket ids of the theme at its base rate
    safety_base: list[list[str]]
    info: dict[str, Any] = field(default_factory=dict)
    products: list[Any] = field(default_factory=list)


BATCH_RAMP_WEEKS = 4  # a new batch's share of its product's tickets grows over this many weeks
BATCH_FADE_WEEKS = 8.0  # an older batch's tickets fade with this time constant once the next one ships
BATCH_QUIET_WEEKS = 8  # no batch starts shipping in the last weeks before the target week


def _batches(rng: np.random.Generator, pid: str, n_weeks: int) -> list[tuple[int, str]]:
    """2-4 batches of a product: (first week index it ships in, code), the first before week 0 and the
    last at least BATCH_QUIET_WEEKS before the target week: a new batch ramping up inside the scored
    weeks is growth, not a defect (judging it needs the shipments file), and is not what is tested."""
    k = int(rng.integers(2, 5))
    s0 = -int(rng.integers(2, 8))
    last = n_weeks - WINDOW - BATCH_QUIET_WEEKS
    span = max(1, (last - s0) // max(1, k - 1))
    out = []
    for j in range(k):
        start = s0 + j * span
        wk = END_WEEK.shift(start - (n_weeks - 1))
        out.append((start, f"{pid[:2].upper()}{wk.year % 100:02d}{wk.week:02d}"))
    return out


def _batch_weights(batches: list[tuple[int, str]], w: int) -> tuple[list[str], np.ndarray]:
    """Each live batch's share of its product's tickets in week ``w``: ramping up over
    BATCH_RAMP_WEEKS after it starts shipping, fading once the next batch ships."""
    codes, wts = [], []
    for j, (s, c) in enumerate(batches):
        if s > w:
            continue
        up = min(1.0, (w - s + 1) / BATCH_RAMP_WEEKS)
        nxt = batches[j + 1][0] if j + 1 < len(batches) else None
        fade = math.exp(-max(0, w - nxt) / BATCH_FADE_WEEKS) if nxt is not None and nxt <= w else 1.0
        codes.append(c)
        wts.append(up * fade)
    arr = np.array(wts)
    return codes, arr / arr.sum()


class _Rows:
    """Turns corpus rows into canonical ticket rows with product/model/batch and a time in a week."""

    def __init__(self, rng: np.random.Generator, corpus: ds.Corpus, weeks: list[Week]) -> None:
        self.rng, self.corpus, self.weeks = rng, corpus, weeks
        self.names = {p.id: (p.name_zh, p.name_en) for p in corpus.products}
        self.batches = {p.id: _batches(rng, p.id, len(weeks)) for p in corpus.products}
        self.model_p = {}
        for p in corpus.products:
            w = rng.dirichlet(np.ones(len(p.models)) * 3) if p.models else np.array([])
            self.model_p[p.id] = w

    def batch_for(self, pid: str, w: int) -> str:
        codes, p = _batch_weights(self.batches[pid], w)
        return str(self.rng.choice(codes, p=p))

    def make(self, r: Any, w: int, product: str | None = None, batch: str | None = None) -> dict[str, str]:
        rng = self.rng
        pid = product or r.group
        model = self.corpus.model_of_key.get(r.model_key) if r.model_key else None
        if model is None and len(self.model_p[pid]):
            model = str(rng.choice(self.corpus.models[pid], p=self.model_p[pid]))
        if batch is None and rng.random() < 0.85:
            batch = self.batch_for(pid, w)
        week = self.weeks[w]
        # Monday 12:00 .. Sunday 12:00 local time: never near a week boundary in any time zone used
        closed = datetime.combine(week.start, datetime.min.time()) + timedelta(
            hours=12 + float(rng.uniform(0, 144))
        )
        created = closed - timedelta(hours=float(rng.uniform(1, 72)))
        zh, en = self.names[pid]
        return {
            "ticket_id": r.rid,
            "created_at": created.strftime("%Y-%m-%d %H:%M:%S"),
            "closed_at": closed.strftime("%Y-%m-%d %H:%M:%S"),
            "channel": "online",
            "product": zh if r.lang == "zh" else en,
            "model": model or "",
            "batch": batch or "",
            "body": r.body,
            "status": "closed",
            "intent_hint": r.hint,
        }


def make_plan(source: str, seed: int, n_weeks: int, per_week: int) -> Plan:
    corpus = ds.load(source)
    rng = np.random.default_rng([seed, ds.SOURCES.index(source)])
    weeks = [END_WEEK.shift(i - (n_weeks - 1)) for i in range(n_weeks)]
    B = n_weeks - WINDOW  # baseline weeks 0..B-1; window weeks B..B+5
    theme = corpus.themes[seed % len(corpus.themes)]
    safety = corpus.safety[seed % len(corpus.safety)] if corpus.safety else None
    info: dict[str, Any] = {
        "source": source,
        "seed": seed,
        "theme": theme.name,
        "theme_rule": theme.rule,
        "theme_pool": len(theme.rows),
        "notes": corpus.notes,
    }
    # the theme's product: its own, or (JD) one of the three biggest products by the seed
    if theme.product:
        theme_product = theme.product
    else:
        big = corpus.general["group"].value_counts().index[:3].tolist()
        theme_product = big[seed % len(big)]
    info["theme_product"] = theme_product
    # base rate: U(8, 15), capped so the baseline, the window and the ramp's extras fit in the pool
    need = n_weeks + sum(m - 1 for m in RAMP)
    b_cap = 0.92 * len(theme.rows) / need
    b = min(float(rng.uniform(8, 15)), b_cap)
    info.update(b=round(b, 2), b_capped=bool(b == b_cap))
    t_rows = theme.rows.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)
    excluded = set(theme.rows["rid"])
    s_rows = None
    if safety is not None:
        excluded |= set(safety.rows["rid"])
        s_rows = safety.rows[~safety.rows["rid"].isin(set(theme.rows["rid"]))]
        s_rows = s_rows.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)
        s_cap = 0.9 * (len(s_rows) - 8) / n_weeks
        s = min(float(rng.uniform(1, 2)), s_cap)
        info.update(safety=safety.name, safety_rule=safety.rule, safety_pool=len(s_rows), s=round(s, 2))
    general = corpus.general[~corpus.general["rid"].isin(excluded)]
    if corpus.weights:  # mixed: draw each language from its own shuffled pool at its share
        pools = {
            lang: g.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)
            for lang, g in general.groupby("lang")
        }
        per = min(
            per_week,
            int(min(0.93 * len(pools[lang]) / (n_weeks + 0.7) / wt for lang, wt in corpus.weights.items())),
        )
    else:
        pools = {"": general.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)}
        per = min(per_week, int(0.93 * len(pools[""]) / (n_weeks + 0.7)))
    info.update(per_week=per, per_week_capped=per < per_week)
    cursor = dict.fromkeys(pools, 0)

    def take_general(n: int) -> list[Any]:
        out: list[Any] = []
        if corpus.weights:
            langs = list(corpus.weights)
            k = rng.multinomial(n, [corpus.weights[x] for x in langs])
            parts = [(lang, int(m)) for lang, m in zip(langs, k, strict=True)]
        else:
            parts = [("", n)]
        for lang, m in parts:
            pool = pools[lang]
            m = min(m, len(pool) - cursor[lang])
            out += list(pool.iloc[cursor[lang] : cursor[lang] + m].itertuples())
            cursor[lang] += m
        return out

    mk = _Rows(rng, corpus, weeks)
    t_cur = 0
    s_cur = 0
    s_inject_group = None
    if s_rows is not None:  # safety extras come from one product: hold its first rows back
        s_inject_group = s_rows["group"].value_counts().index[0]
        reserve = s_rows[s_rows["group"] == s_inject_group].index[:8]
        s_extra_rows = s_rows.loc[reserve]
        s_rows = s_rows.drop(reserve).reset_index(drop=True)
        info["safety_product"] = s_inject_group
    baseline: list[dict[str, str]] = []
    window: list[list[dict[str, str]]] = []
    theme_base: list[list[str]] = []
    safety_base: list[list[str]] = []
    short: Counter[str] = Counter()
    for w in range(n_weeks):
        rows = [mk.make(r, w) for r in take_general(int(rng.poisson(per)))]
        nt = int(rng.poisson(b))
        if t_cur + nt > len(t_rows):
            short["theme base"] += t_cur + nt - len(t_rows)
            nt = len(t_rows) - t_cur
        trows = [mk.make(r, w, product=theme_product) for r in t_rows.iloc[t_cur : t_cur + nt].itertuples()]
        t_cur += nt
        srows: list[dict[str, str]] = []
        if s_rows is not None:
            ns = min(int(rng.poisson(s)), len(s_rows) - s_cur)
            srows = [mk.make(r, w) for r in s_rows.iloc[s_cur : s_cur + ns].itertuples()]
            s_cur += ns
        if w < B:
            baseline += rows + trows + srows
        else:
            window.append(rows + trows + srows)
            theme_base.append([r["ticket_id"] for r in trows])
            safety_base.append([r["ticket_id"] for r in srows])
    # --- injections (each scenario starts from the same unused rows: they run in separate stores)
    extras: dict[str, dict[int, list[dict[str, str]]]] = {k: {} for k in SCENARIOS.values()}
    avail = t_rows.iloc[t_cur:]
    n_a = round(1.5 * b)
    codes, wts = _batch_weights(mk.batches[theme_product], B)
    big = [c for c, x in zip(codes, wts, strict=True) if x >= 0.15]  # a batch with a real baseline
    inject_batch = str(rng.choice(big))
    k_batch = round(0.75 * n_a)
    rows_a = []
    for i, r in enumerate(avail.iloc[:n_a].itertuples()):
        rows_a.append(mk.make(r, B, product=theme_product, batch=inject_batch if i < k_batch else None))
    extras["theme"][0] = rows_a
    info.update(inject_a=len(rows_a), inject_batch=inject_batch, inject_batch_n=min(k_batch, len(rows_a)))
    if len(rows_a) < n_a:
        short["theme (a)"] += n_a - len(rows_a)
    pos = 0
    for j, m in enumerate(RAMP):
        n = round((m - 1) * b)
        chunk = avail.iloc[pos : pos + n]
        pos += len(chunk)
        k = round(0.75 * len(chunk))
        extras["ramp"][j] = [
            mk.make(r, B + j, product=theme_product, batch=inject_batch if i < k else None)
            for i, r in enumerate(chunk.itertuples())
        ]
        short["ramp"] += n - len(chunk)
    info["inject_c"] = [len(extras["ramp"][j]) for j in range(WINDOW)]
    if s_rows is not None:
        target = int(rng.integers(6, 9))
        n_b = max(target - len(safety_base[0]), 3)
        extras["safety"][0] = [mk.make(r, B) for r in s_extra_rows.iloc[:n_b].itertuples()]
        info.update(
            inject_b=len(extras["safety"][0]),
            safety_week_total=len(safety_base[0]) + len(extras["safety"][0]),
        )
    n_e = round(0.6 * len(window[0]))
    extras["spike"][0] = [mk.make(r, B) for r in take_general(n_e)]
    info["inject_e"] = len(extras["spike"][0])
    if len(extras["spike"][0]) < n_e:
        short["spike"] += n_e - len(extras["spike"][0])
    info["short"] = dict(short)
    info["baseline_tickets"] = len(baseline)
    info["window_tickets"] = [len(x) for x in window]
    return Plan(source, seed, weeks, baseline, window, extras, theme_base, safety_base, info, corpus.products)


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CANONICAL_FIELDS)
        for r in rows:
            w.writerow([r.get(f, "") for f in CANONICAL_FIELDS])


def bench_config(products: list[Any], thresholds: dict[str, str] | None = None) -> VocConfig:
    """The example config with the made-up catalogue instead of its products (thresholds untouched
    but for ``--embedder`` and ``--set``, validated as the config file's would be)."""
    cfg = load_config(EXAMPLE_CONFIG)
    th = type(cfg.thresholds).model_validate({**cfg.thresholds.model_dump(), **(thresholds or {})})
    return cfg.model_copy(
        update={"products": list(products), "sources": [], "shipments": None, "thresholds": th}
    )


# ============================================================================= running the pipeline


def _stages():  # type: ignore[no-untyped-def]
    """The pipeline's stages, imported late (heavy imports; worker processes import them once)."""
    from voc.flows import surge_stage
    from voc.flows.topic_stage import update_topics
    from voc.flows.understand import understand_pending
    from voc.sources.ingest import ingest_path
    from voc.store import analysis
    from voc.store.db import make_engine, migrate

    return surge_stage, update_topics, understand_pending, ingest_path, analysis, make_engine, migrate


def _run_week(engine, cfg: VocConfig, week: Week, csv_path: Path | None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    surge_stage, update_topics, understand_pending, ingest_path, analysis, _, _ = _stages()
    t: dict[str, float] = {}

    def timed(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        fn()
        t[name] = t.get(name, 0.0) + time.perf_counter() - t0

    if csv_path is not None:
        timed("ingest", lambda: ingest_path(engine, csv_path, SOURCE_NAME, Mapping()))
        timed("understand", lambda: understand_pending(engine, cfg))
    timed("topics", lambda: update_topics(engine, cfg, week))

    def counts() -> None:
        with engine.begin() as conn:
            analysis.rebuild_counts(conn, week.ordinal())

    timed("counts", counts)
    timed("surges", lambda: surge_stage.detect_week(engine, cfg, week))
    return t


def build_baseline(plan: Plan, cfg: VocConfig, workdir: Path) -> tuple[Path, dict[str, Any]]:
    _, _, understand_pending, ingest_path, _, make_engine, migrate = _stages()
    db = workdir / "baseline.sqlite3"
    csv_path = workdir / "baseline.csv"
    write_csv(csv_path, plan.baseline)
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    B = len(plan.weeks) - WINDOW
    t0 = time.perf_counter()
    ingest_path(engine, csv_path, SOURCE_NAME, Mapping())
    t1 = time.perf_counter()
    understand_pending(engine, cfg)
    t2 = time.perf_counter()
    warm_flags = []
    for w in range(B - 1 - WARM, B):  # first fit on history, then weekly runs
        _run_week(engine, cfg, plan.weeks[w], None)
        warm_flags.append(_flag_count(engine, plan.weeks[w]))
    t3 = time.perf_counter()
    _close(engine, db)
    return db, {
        "ingest_s": t1 - t0,
        "understand_s": t2 - t1,
        "topics_weeks_s": t3 - t2,
        "total_s": t3 - t0,
        "warm_flagged_nonglobal": warm_flags,
    }


def _close(engine, db: Path) -> None:  # type: ignore[no-untyped-def]
    engine.dispose()
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def _copy_db(src: Path, dst: Path) -> None:
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    a.backup(b)
    a.close()
    b.close()


def _flag_count(engine, week: Week) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "select count(*) from surges where week = ? and level != 'global'", (week.ordinal(),)
            ).scalar_one()
        )


def _truth(plan: Plan, scenario: str, j: int) -> tuple[set[str], set[str], str | None]:
    """What week ``j`` of a scenario is scored against: (the theme's ticket ids - base rate and
    injected -, the injected ids, the injected batch)."""
    extra = plan.extras.get(scenario, {}).get(j, [])
    injected = {r["ticket_id"] for r in extra} if scenario in ("theme", "ramp", "safety") else set()
    if scenario == "safety":
        return set(plan.safety_base[j]) | injected, injected, None
    if scenario in ("theme", "ramp"):
        return set(plan.theme_base[j]) | injected, injected, plan.info.get("inject_batch")
    return set(), set(), None


def run_scenario(plan: Plan, cfg: VocConfig, base_db: Path, scenario: str, workdir: Path) -> dict[str, Any]:
    _, _, _, _, _, make_engine, _ = _stages()
    sdir = workdir / scenario
    sdir.mkdir(exist_ok=True)
    db = sdir / "store.sqlite3"
    _copy_db(base_db, db)
    engine = make_engine(f"sqlite:///{db}")
    B = len(plan.weeks) - WINDOW
    n = WINDOW if scenario == "ramp" else 1
    t0 = time.perf_counter()
    weeks_out: list[dict[str, Any]] = []
    stage_t: Counter[str] = Counter()
    score_t = 0.0
    for j in range(n):
        week = plan.weeks[B + j]
        extra = plan.extras.get(scenario, {}).get(j, [])
        path = sdir / f"week-{j}.csv"
        write_csv(path, plan.window[j] + extra)
        stage_t.update(_run_week(engine, cfg, week, path))
        ts = time.perf_counter()
        last = j == n - 1 and not any(x["hit"] for x in weeks_out)
        weeks_out.append(score_week(engine, cfg, week, *_truth(plan, scenario, j), diagnose_miss=last))
        score_t += time.perf_counter() - ts
    seconds = time.perf_counter() - t0 - score_t
    engine.dispose()
    return summarise(scenario, weeks_out, seconds, dict(stage_t), score_t)


# ============================================================================= scoring

KEYS = {"topic": "topic", "theme": "theme", "product": "product_n", "model": "model_n", "batch": "batch_n"}


def week_tickets(conn, w: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The week's tickets with intent, severity, entities, their topic (merges resolved) and theme."""
    q = (
        "select t.id, t.source_id, t.intent, t.severity, coalesce(t.product_n, '') product_n, "
        "coalesce(t.model_n, '') model_n, coalesce(t.batch_n, '') batch_n, "
        "coalesce(tp.merged_into, a.topic_id) topic from tickets t "
        "left join assignments a on a.ticket_id = t.id left join topics tp on tp.id = a.topic_id "
        "where t.week = ?"
    )
    df = pd.DataFrame(
        conn.exec_driver_sql(q, (w,)).fetchall(),
        columns=["id", "source_id", "intent", "severity", "product_n", "model_n", "batch_n", "topic"],
    )
    theme_of = _theme_of(conn)
    df["theme"] = df["topic"].map(lambda t: theme_of.get(int(t)) if pd.notna(t) else None)
    return df


def _theme_of(conn) -> dict[int, int]:  # type: ignore[no-untyped-def]
    tables = {r[0] for r in conn.exec_driver_sql("select name from sqlite_master where type='table'")}
    if "topic_themes" not in tables:
        return {}
    return {int(a): int(b) for a, b in conn.exec_driver_sql("select topic_id, theme_id from topic_themes")}


def _topics(conn) -> dict[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    rows = conn.exec_driver_sql("select id, intent, status, label, created_week from topics").fetchall()
    return {int(r[0]): {"intent": r[1], "status": r[2], "label": r[3], "created_week": r[4]} for r in rows}


def _val(x: Any) -> Any:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return x


def cell_mask(df: pd.DataFrame, rec: dict[str, Any]) -> pd.Series | None:
    """The complaint tickets of ``df`` in the cell of a surge/assessment row; None if the level has a key
    this benchmark does not know."""
    mask = df["intent"] == "complaint"
    toks = [t.strip() for t in str(rec["level"]).split("×")]
    parts = str(rec.get("cell") or "").split("|")
    from_cell = dict(zip(toks, parts, strict=False)) if len(parts) == len(toks) else {}
    for tok in toks:
        if tok == "safety":
            mask &= df["severity"] == "safety"
            continue
        if tok not in KEYS:
            return None
        v = _val(rec.get({"theme": "theme_id", "topic": "topic_id"}.get(tok, tok)))
        if v is None:  # e.g. a stored surge row without a theme_id column: the cell string names it
            v = from_cell.get(tok) or None
        if v is None:
            return None
        col = KEYS[tok]
        if tok in ("topic", "theme"):
            mask &= df[col].map(lambda x, v=int(float(v)): x is not None and pd.notna(x) and int(x) == v)
        else:
            mask &= df[col] == str(v)
    return mask


def score_week(
    engine,
    cfg: VocConfig,
    week: Week,
    theme_ids: set[str],
    injected: set[str],  # type: ignore[no-untyped-def]
    inject_batch: str | None,
    diagnose_miss: bool = True,
) -> dict[str, Any]:
    w = week.ordinal()
    with engine.connect() as conn:
        df = week_tickets(conn, w)
        topics = _topics(conn)
        rows = [dict(r._mapping) for r in conn.exec_driver_sql("select * from surges where week = ?", (w,))]
    in_t = df["source_id"].isin(theme_ids)
    in_i = df["source_id"].isin(injected)
    n_t, n_i = int(in_t.sum()), int(in_i.sum())
    flagged = []
    for r in rows:
        if r["level"] == "global":
            continue
        m = cell_mask(df, r)
        rec = {
            k: r.get(k)
            for k in (
                "level",
                "cell",
                "topic_id",
                "theme_id",
                "product",
                "model",
                "batch",
                "observed",
                "expected",
                "ratio",
                "q",
                "severity",
                "conc_batch",
                "new_cell",
            )
        }
        if m is None:
            rec.update(kind="unscorable")
        else:
            c, ct, ci = int(m.sum()), int((m & in_t).sum()), int((m & in_i).sum())
            hit = bool(c and (ct >= SHARE_HIT * c or (n_i and ci >= SHARE_HIT * n_i)))
            rec.update(
                cell_n=c, theme_n=ct, injected_n=ci, kind="hit" if hit else "partial" if ct else "false"
            )
            rec["batch_named"] = bool(
                hit and inject_batch and inject_batch in (r.get("batch"), r.get("conc_batch"))
            )
        flagged.append(rec)
    # what a meeting sees: one brief item per theme (surges.selection, as the brief groups them); an
    # item is false when none of its cells touches the theme, and names the batch when any of its
    # cells (or the batch row it shows) is the injected batch
    with engine.connect() as conn:
        theme_map = _theme_of(conn)
    objs = [
        SimpleNamespace(**{**r, "kind": f["kind"]})
        for r, f in zip([r for r in rows if r["level"] != "global"], flagged, strict=True)
    ]
    items = group_surges(objs, theme_map)
    hit_items = [g for g in items if any(x.kind == "hit" for x in g.rows)]
    item_batch = any(
        inject_batch and any(inject_batch in (x.batch, x.conc_batch) for x in g.rows) for g in hit_items
    )
    out: dict[str, Any] = {
        "week": str(week),
        "theme_tickets": n_t,
        "injected": n_i,
        "hit": any(f["kind"] == "hit" for f in flagged),
        "batch_named": any(f.get("batch_named") for f in flagged) or bool(item_batch),
        "items": len(items),
        "false_items": sum(all(x.kind == "false" for x in g.rows) for g in items),
        "false": sum(f["kind"] == "false" for f in flagged),
        "partial": sum(f["kind"] == "partial" for f in flagged),
        "unscorable": sum(f["kind"] == "unscorable" for f in flagged),
        "global_note": any(r["level"] == "global" for r in rows),
        "flagged": flagged,
    }
    if n_t and not out["hit"] and diagnose_miss:
        out["miss"] = diagnose(engine, cfg, week, df, in_t, topics)
    return out


def diagnose(
    engine,
    cfg: VocConfig,
    week: Week,
    df: pd.DataFrame,
    in_t: pd.Series,  # type: ignore[no-untyped-def]
    topics: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """Where the theme's tickets went and why the best-matching cell was not flagged."""
    th = df[in_t]
    n = len(th)
    landed = []
    for tid, k in th["topic"].value_counts(dropna=False).head(5).items():
        t = topics.get(int(tid)) if pd.notna(tid) else None
        landed.append(
            {
                "topic": None if t is None else int(tid),
                "share": round(k / n, 3),
                "intent": t["intent"] if t else "(no topic)",
                "status": t["status"] if t else None,
                "label": t["label"] if t else None,
            }
        )
    # the themes (L1) they went to: share of the theme's tickets, and how much of the L1 theme's week
    # the theme is (its purity; complaint and question tickets, as the theme levels count)
    themes_landed = []
    ev = df["intent"].isin(["complaint", "question"])
    for thid, k in th["theme"].value_counts(dropna=False).head(4).items():
        size = int((ev & (df["theme"] == thid)).sum()) if pd.notna(thid) else 0
        themes_landed.append(
            {
                "theme": None if pd.isna(thid) else int(thid),
                "share": round(k / n, 3),
                "purity": round(int((ev & in_t & (df["theme"] == thid)).sum()) / size, 3) if size else None,
            }
        )
    assessed = _assess(engine, cfg, week)
    levels = sorted(set(assessed["level"])) if len(assessed) else []
    best: dict[str, Any] | None = None
    for level in levels or ["topic", "topic×product", "product"]:
        toks = [x.strip() for x in level.split("×")]
        keys = [KEYS[x] for x in toks if x in KEYS]
        if any(x not in KEYS and x != "safety" for x in toks) or not keys:
            continue
        sub = th[th["intent"] == "complaint"]
        if "safety" in toks:
            sub = sub[sub["severity"] == "safety"]
        sub = sub.dropna(subset=[k for k in keys if k in ("topic", "theme")])
        for vals, _g in sub.groupby(keys):
            vals = vals if isinstance(vals, tuple) else (vals,)
            if any(v == "" for v in vals):
                continue
            rec: dict[str, Any] = {"level": level}
            for tok, v in zip([x for x in toks if x in KEYS], vals, strict=True):
                if tok in ("topic", "theme"):
                    rec[f"{tok}_id"] = int(v)
                else:
                    rec[tok] = v
            m = cell_mask(df, rec)
            if m is None:
                continue
            c, ct = int(m.sum()), int((m & in_t).sum())
            score = ct * ct / (c * n) if c and n else 0.0
            if best is None or score > best["match"]:
                best = {**rec, "match": round(score, 3), "cell_n": c, "theme_n": ct}
    if best is not None:
        best.update(_judge(best, assessed, cfg, topics, week.ordinal()))
    return {
        "theme_tickets": n,
        "landed": landed,
        "themes_landed": themes_landed,
        "intents": {str(k): int(v) for k, v in th["intent"].value_counts().items()},
        "severities": {str(k): int(v) for k, v in th["severity"].value_counts().items()},
        "best_cell": _plain(best),
    }


def _plain(d: dict[str, Any] | None) -> dict[str, Any] | None:
    if d is None:
        return None
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float):
            v = None if math.isnan(v) else round(v, 4)
        out[k] = v
    return out


def _judge(
    best: dict[str, Any], assessed: pd.DataFrame, cfg: VocConfig, topics: dict[int, dict[str, Any]], w: int
) -> dict[str, Any]:
    th = cfg.thresholds
    if len(assessed) == 0:
        return {"stopped_by": ["not tested (no cell tested this week)"]}
    m = assessed["level"] == best["level"]
    for k in ("topic_id", "theme_id", "product", "model", "batch"):
        if k in best:
            if k in ("topic_id", "theme_id"):
                col = k if k in assessed.columns else "topic_id"
                m &= pd.to_numeric(assessed[col], errors="coerce") == float(best[k])
            else:
                m &= assessed[k].astype(str) == str(best[k])
    rows = assessed[m]
    stopped = []
    tid = best.get("topic_id")
    if tid is not None and topics.get(int(tid), {}).get("status") == "emerging":
        stopped.append("emerging topic (born this week)")
    if rows.empty:
        stopped.append("not tested (new cell or too little history)")
        return {"stopped_by": stopped}
    r = rows.iloc[0].to_dict()
    res = {
        k: _val(r.get(k))
        for k in ("observed", "expected", "p", "q", "ratio", "family", "flagged", "new_cell")
    }
    if bool(r.get("new_cell")):
        stopped.append("new cell")
    if bool(_val(r.get("emerging"))) and not stopped[:1] == ["emerging topic (born this week)"]:
        stopped.append("emerging (the detector's own flag)")
    # the floors of the cell's own family (surges.SurgeParams: safety and products have their own)
    from voc.flows import surge_stage

    sp = surge_stage.params_from(cfg)
    fam = str(r.get("family"))
    floor_n = sp.safety_min_count if fam == sp.safety_family else sp.min_count
    floor_r = (
        sp.safety_min_ratio
        if fam == sp.safety_family
        else sp.product_min_ratio
        if fam == sp.product_family
        else sp.min_ratio
    )
    if int(r["observed"]) < floor_n:
        stopped.append(f"observed {int(r['observed'])} < min_count {floor_n}")
    if float(r["ratio"]) < floor_r:
        stopped.append(f"ratio {float(r['ratio']):.2f} < min_ratio {floor_r}")
    q = float(r["q"]) if _val(r.get("q")) is not None else None
    if q is None:
        stopped.append("no q: not tested in its false-discovery family (e.g. its parent cell did not move)")
    elif q > th.fdr_q:
        stopped.append(f"q {q:.3f} > fdr_q {th.fdr_q}")
    if bool(r.get("flagged")):
        stopped.append("flagged, but below the hit rule")
    res["stopped_by"] = stopped or ["(none of the listed conditions: family rule / vetoes)"]
    return res


def _assess(engine, cfg: VocConfig, week: Week) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Every tested cell of the week: ``surge_stage.assess_week`` where it exists, else the same
    computation detect_week makes (count table + surges.detect), for runs on older code."""
    from voc.flows import surge_stage

    if hasattr(surge_stage, "assess_week"):
        theme_of = None
        with engine.connect() as conn:
            t = _theme_of(conn)
        if t:
            theme_of = t
        try:
            table, _ = surge_stage.assess_week(engine, cfg, week, theme_of=theme_of)
        except TypeError:
            table, _ = surge_stage.assess_week(engine, cfg, week)
        return table
    from voc.store import analysis
    from voc.surges.detect import detect as detect_cells

    w = week.ordinal()
    start = w - surge_stage.HISTORY_WEEKS
    with engine.connect() as conn:
        rows = analysis.counts_frame_rows(conn, "complaint", start, w)
        vols = analysis.volumes(conn, start, w)
    counts = pd.DataFrame(
        rows,
        columns=["week", "topic_id", "product", "model", "batch", "n", "n_safety", "n_defect", "n_service"],
    )
    vol = pd.DataFrame(vols, columns=["week", "product", "batch", "n"])
    total = vol[(vol["product"] == "") & (vol["batch"] == "")].set_index("week")["n"]
    if counts.empty or w not in total.index:
        return pd.DataFrame(columns=["level", "topic_id", "product", "model", "batch"])
    weeks = list(range(int(total.index.min()), w + 1))
    res = detect_cells(
        surge_stage.count_table(counts, total.reindex(weeks), weeks), w, surge_stage.params_from(cfg)
    )
    return res.reset_index(drop=True)


def summarise(
    scenario: str, weeks: list[dict[str, Any]], seconds: float, stages: dict[str, float], score_seconds: float
) -> dict[str, Any]:
    """``seconds``: the pipeline's time for the run (copying the store, writing the CSVs, the stages);
    scoring and diagnostics are timed apart (``score_seconds``)."""
    hits = [wk["hit"] for wk in weeks]
    out: dict[str, Any] = {
        "scenario": scenario,
        "seconds": round(seconds, 2),
        "score_seconds": round(score_seconds, 2),
        "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
        "weeks": weeks,
        "hit": any(hits),
        "batch_named": any(wk["batch_named"] for wk in weeks),
        "false": sum(wk["false"] for wk in weeks),
        "partial": sum(wk["partial"] for wk in weeks),
        "false_items": sum(wk.get("false_items", 0) for wk in weeks),
        "unscorable": sum(wk["unscorable"] for wk in weeks),
        "n_weeks": len(weeks),
        "global_note": any(wk["global_note"] for wk in weeks),
    }
    if scenario == "ramp":
        out["hit_by_ramp_end"] = any(hits[:4])
        out["first_hit_week"] = hits.index(True) + 1 if any(hits) else None
    if not out["hit"] and weeks and weeks[-1].get("miss"):
        out["miss"] = weeks[-1]["miss"]
    return out


# ============================================================================= one (source, seed)


def run_one(
    source: str,
    seed: int,
    n_weeks: int,
    per_week: int,
    scenarios: list[str],
    root: str,
    keep: bool,
    thresholds: dict[str, str] | None = None,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=f"{source}-{seed}-", dir=root))
    try:
        plan = make_plan(source, seed, n_weeks, per_week)
        cfg = bench_config(plan.products, thresholds)
        base_db, base_t = build_baseline(plan, cfg, workdir)
        runs = {}
        for sc in scenarios:
            if sc == "safety" and not plan.extras["safety"]:
                continue
            runs[sc] = run_scenario(plan, cfg, base_db, sc, workdir)
        return {
            "source": source,
            "seed": seed,
            "info": plan.info,
            "baseline": base_t,
            "runs": runs,
            "seconds": round(time.perf_counter() - t0, 1),
        }
    except Exception as e:  # noqa: BLE001 - one failed run must not lose the others
        return {
            "source": source,
            "seed": seed,
            "error": f"{type(e).__name__}: {e}",
            "trace": traceback.format_exc(),
        }
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def rescore_one(
    run_dir: str, n_weeks: int, per_week: int, scenarios: list[str], thresholds: dict[str, str] | None = None
) -> dict[str, Any]:
    """Re-run only the surge stage (and the scoring) on the stores a ``--keep`` run left in ``run_dir``
    (``<source>-<seed>-*``): each scenario's weeks are detected again in order on a copy of its final
    store, with this checkout's code. Topics and counts stay as that run left them (for the ramp:
    the counts of every week as they were computed that week, the topic catalogue of its last week),
    so a change to cells, families or the verdict is measured in seconds instead of re-running the
    pipeline - a tuning aid; results to report come from full runs."""
    surge_stage, _, _, _, _, make_engine, _ = _stages()
    d = Path(run_dir)
    source, seed_s = d.name.rsplit("-", 2)[:2]
    seed = int(seed_s)
    t0 = time.perf_counter()
    try:
        plan = make_plan(source, seed, n_weeks, per_week)
        cfg = bench_config(plan.products, thresholds)
        B = len(plan.weeks) - WINDOW
        runs = {}
        for sc in scenarios:
            kept = d / sc / "store.sqlite3"
            if not kept.exists():
                continue
            with tempfile.TemporaryDirectory(dir=d) as tmp:
                db = Path(tmp) / "store.sqlite3"
                _copy_db(kept, db)
                engine = make_engine(f"sqlite:///{db}")
                n = WINDOW if sc == "ramp" else 1
                weeks_out: list[dict[str, Any]] = []
                ts = time.perf_counter()
                with engine.begin() as conn:
                    conn.exec_driver_sql("delete from surges where week >= ?", (plan.weeks[B].ordinal(),))
                for j in range(n):
                    week = plan.weeks[B + j]
                    surge_stage.detect_week(engine, cfg, week)
                    last = j == n - 1 and not any(x["hit"] for x in weeks_out)
                    weeks_out.append(score_week(engine, cfg, week, *_truth(plan, sc, j), diagnose_miss=last))
                engine.dispose()
                runs[sc] = summarise(sc, weeks_out, time.perf_counter() - ts, {}, 0.0)
        return {
            "source": source,
            "seed": seed,
            "info": plan.info,
            "baseline": {"total_s": 0.0},
            "runs": runs,
            "seconds": round(time.perf_counter() - t0, 1),
            "rescored": str(d),
        }
    except Exception as e:  # noqa: BLE001 - one failed run must not lose the others
        return {
            "source": source,
            "seed": seed,
            "error": f"{type(e).__name__}: {e}",
            "trace": traceback.format_exc(),
        }


# ============================================================================= report


def table(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for src in dict.fromkeys(r["source"] for r in results):
        for sc in SCENARIOS.values():
            runs = [r["runs"][sc] for r in results if r["source"] == src and sc in r.get("runs", {})]
            if not runs:
                continue
            n = len(runs)
            weeks = sum(x["n_weeks"] for x in runs)
            row = {
                "source": src,
                "scenario": sc,
                "runs": n,
                "recall": None if sc in ("null", "spike") else round(sum(x["hit"] for x in runs) / n, 2),
                "batch_named": round(sum(x["batch_named"] for x in runs) / n, 2)
                if sc in ("theme", "ramp")
                else None,
                "false_per_week": round(sum(x["false"] for x in runs) / weeks, 2),
                "partial_per_week": round(sum(x["partial"] for x in runs) / weeks, 2),
                "false_items_per_week": round(sum(x.get("false_items", 0) for x in runs) / weeks, 2),
                "seconds_per_run": round(sum(x["seconds"] for x in runs) / n, 1),
            }
            if sc == "ramp":
                row["recall_by_ramp_end"] = round(sum(x["hit_by_ramp_end"] for x in runs) / n, 2)
            if sc == "spike":
                row["global_note"] = round(sum(x["global_note"] for x in runs) / n, 2)
            if sc == "null":
                row["weeks_with_false"] = round(sum(x["false"] > 0 for x in runs) / n, 2)
            rows.append(row)
    return rows


def print_report(results: list[dict[str, Any]], rows: list[dict[str, Any]], tune: bool) -> None:
    if tune:
        print("\n*** TUNING SEEDS (100-104): not results ***")
    hdr = (
        f"{'source':10} {'scenario':8} {'runs':>4} {'recall':>6} {'batch':>6} {'false/wk':>8} {'items/wk':>8} "
        f"{'partial/wk':>10} {'s/run':>7}  notes"
    )
    print("\n" + hdr)
    print("-" * len(hdr))
    for r in rows:
        notes = []
        if "recall_by_ramp_end" in r:
            notes.append(f"by ramp end {r['recall_by_ramp_end']:.2f}")
        if "global_note" in r:
            notes.append(f"global note {r['global_note']:.2f}")
        if "weeks_with_false" in r:
            notes.append(f"weeks with a false surge {r['weeks_with_false']:.2f}")

        def f(x: Any) -> str:
            return "-" if x is None else f"{x:.2f}"

        print(
            f"{r['source']:10} {r['scenario']:8} {r['runs']:>4} {f(r['recall']):>6} {f(r['batch_named']):>6} "
            f"{r['false_per_week']:>8.2f} {r['false_items_per_week']:>8.2f} {r['partial_per_week']:>10.2f} {r['seconds_per_run']:>7.1f}  {'; '.join(notes)}"
        )
    errors = [r for r in results if "error" in r]
    for r in errors:
        print(f"\nERROR {r['source']} seed {r['seed']}: {r['error']}\n{r['trace']}")
    print("\nMisses (where the theme's tickets went; the best-matching cell and what stopped it):")
    for r in results:
        for sc, run in r.get("runs", {}).items():
            if sc in ("null", "spike") or run["hit"] or "miss" not in run:
                continue
            m = run["miss"]
            info = r["info"]
            theme = info["safety"] if sc == "safety" else info["theme"]
            print(
                f"- {r['source']} seed {r['seed']} {sc} [{theme}] {m['theme_tickets']} theme tickets; intents "
                f"{m['intents']}; severities {m['severities']}"
            )
            print(
                "    landed: "
                + ", ".join(
                    f"{x['topic']}({x['intent']},{x['status']}) {x['share']:.0%}" for x in m["landed"]
                )
            )
            if m.get("themes_landed"):
                print(
                    "    themes: "
                    + ", ".join(
                        f"{x['theme']} {x['share']:.0%} (purity {_fmt(x['purity'])})"
                        for x in m["themes_landed"]
                    )
                )
            b = m["best_cell"]
            if b:
                keys = ",".join(
                    f"{k}={b[k]}" for k in ("topic_id", "theme_id", "product", "model", "batch") if k in b
                )
                print(
                    f"    best cell {b['level']} {keys}: match {b['match']}, {b['theme_n']}/{b['cell_n']} theme; "
                    f"obs {b.get('observed')} exp {_fmt(b.get('expected'))} p {_fmt(b.get('p'))} q {_fmt(b.get('q'))} "
                    f"ratio {_fmt(b.get('ratio'))} -> {'; '.join(b.get('stopped_by', []))}"
                )


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3g}"


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _git() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.split("\n")
        if not head:
            return f"{root} is not a git checkout (an export: say which commit)"
        return f"{head}{' + uncommitted changes in ' + str(len([d for d in dirty if d])) + ' files' if any(dirty) else ''}"
    except OSError:
        return "unknown (not a git checkout)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default=",".join(ds.SOURCES))
    ap.add_argument("--seeds", default="0-9", help="evaluation seeds, e.g. 0-9 or 0,1 (ignored with --tune)")
    ap.add_argument(
        "--tune", action="store_true", help="run tuning seeds: 100-104, or --seeds >= 100 (never report them)"
    )
    ap.add_argument("--scenarios", default="a,b,c,d,e", help="a theme, b safety, c ramp, d null, e spike")
    ap.add_argument(
        "--weeks", type=int, default=20, help="timeline length, 16-26 (the last 6 are the window)"
    )
    ap.add_argument("--per-week", type=int, default=300, help="ordinary tickets a week (capped by the pool)")
    ap.add_argument("--jobs", type=int, default=1, help="(source, seed) runs in parallel processes")
    ap.add_argument("--out", type=Path, default=Path("detection-results.json"))
    ap.add_argument("--workdir", default=tempfile.gettempdir())
    ap.add_argument("--keep", action="store_true", help="keep the stores and CSVs (in --workdir)")
    ap.add_argument(
        "--embedder",
        choices=["tfidf", "hybrid"],
        default="tfidf",
        help="thresholds.embedder for every run (hybrid needs the 'multilingual' extra)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config threshold for every run, e.g. theme_similarity=0.3 (repeatable; a tuning aid)",
    )
    ap.add_argument(
        "--rescore",
        metavar="DIR",
        help="re-run only the surge stage and the scoring on the stores a --keep run left in DIR "
        "(a tuning aid for changes to cells and the verdict; --sources/--seeds still select)",
    )
    args = ap.parse_args()
    if not 16 <= args.weeks <= 26:
        ap.error("--weeks must be 16-26")
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    for s in sources:
        if s not in ds.SOURCES:
            ap.error(f"unknown source {s!r} (one of {', '.join(ds.SOURCES)})")
    given = "--seeds" in sys.argv or any(a.startswith("--seeds=") for a in sys.argv)
    seeds = (_seeds(args.seeds) if given else TUNE_SEEDS) if args.tune else _seeds(args.seeds)
    if args.tune and any(s < 100 for s in seeds):
        ap.error("--tune runs tuning seeds (>= 100) only")
    if not args.tune and any(s >= 100 for s in seeds):
        ap.error("seeds >= 100 are tuning seeds: use --tune")
    scenarios = [SCENARIOS[x.strip()] for x in args.scenarios.split(",") if x.strip()]
    thresholds = {"embedder": args.embedder}
    for kv in args.set:
        key, sep, value = kv.partition("=")
        if not sep:
            ap.error(f"--set {kv!r}: expected KEY=VALUE")
        thresholds[key.strip()] = value.strip()
    try:
        bench_config([], thresholds)
    except Exception as exc:  # noqa: BLE001 - a bad --set is a usage error
        ap.error(f"--set: {exc}")
    start = _uptime()
    shown = ", ".join(f"{k} {v}" for k, v in thresholds.items())
    print(f"start: {start}\ncode: {_git()} at {datetime.now():%Y-%m-%d %H:%M}, {shown}")
    jobs = [(src, seed) for src in sources for seed in seeds]
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    call = (args.weeks, args.per_week, scenarios, args.workdir, args.keep, thresholds)
    if args.rescore:
        dirs = sorted(
            str(x)
            for x in Path(args.rescore).iterdir()
            if x.is_dir() and tuple(x.name.rsplit("-", 2)[:2]) in {(s, str(n)) for s, n in jobs}
        )
        for x in dirs:
            results.append(rescore_one(x, args.weeks, args.per_week, scenarios, thresholds))
            _progress(results[-1])
    elif args.jobs > 1:
        import multiprocessing

        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
            futs = [ex.submit(run_one, src, seed, *call) for src, seed in jobs]
            for f in futs:
                results.append(f.result())
                _progress(results[-1])
    else:
        for src, seed in jobs:
            results.append(run_one(src, seed, *call))
            _progress(results[-1])
    wall = time.perf_counter() - t0
    rows = table([r for r in results if "runs" in r])
    print_report(results, rows, args.tune)
    end = _uptime()
    print(f"\nwall time {wall:.0f} s for {len(jobs)} (source, seed) runs with --jobs {args.jobs}\nend: {end}")
    doc = {
        "tuning": args.tune,
        "code": _git(),
        "started": start,
        "ended": end,
        "wall_seconds": round(wall, 1),
        "args": {k: str(v) for k, v in vars(args).items()},
        "table": rows,
        "results": results,
    }
    args.out.write_text(
        json.dumps(doc, ensure_ascii=False, indent=1, default=_json_default), encoding="utf-8"
    )
    print(f"wrote {args.out}")
    return 0


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (set, tuple)):
        return list(x)
    return str(x)


def _progress(r: dict[str, Any]) -> None:
    if "error" in r:
        print(f"  {r['source']} seed {r['seed']}: ERROR {r['error']}", flush=True)
        return
    parts = [
        f"{sc} {'' if sc in ('null', 'spike') else 'hit' if x['hit'] else 'miss'}"
        f"{' +batch' if x['batch_named'] else ''}{' global' if x['global_note'] else ''} false {x['false']} "
        f"{x['seconds']:.0f}s"
        for sc, x in r["runs"].items()
    ]
    print(
        f"  {r['source']} seed {r['seed']}: baseline {r['baseline']['total_s']:.0f}s "
        f"({r['info']['baseline_tickets']} tickets); " + "; ".join(parts),
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
