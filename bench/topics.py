"""Quality / speed / stability bench for the topic engine on the real data in ../shared/data.

    python bench/topics.py                      # quality table + stability (a few minutes)
    python bench/topics.py --scale 100000       # + assign_week / refit timings on 100k docs
    python bench/topics.py --with-bertopic-default   # + BERTopic defaults (MiniLM+UMAP+HDBSCAN; slow)

Every case runs in its own child process so "peak MB" is that case's max RSS.
Tokens come from a small local tokenizer (jieba for zh, a word regex for en), not nlp.tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
for k, v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(k, v)

ZH_STOP = set(
    "的 了 是 我 也 就 都 还 很 在 和 有 不 这 那 你 他 她 它 们 啊 吧 呢 吗 又 太 个 一个 没有 就是 但是 可以 因为 所以 而且 "
    "还是 感觉 真的 这个 那个 什么 自己 非常 比较 一下 一样 已经 不是 东西 觉得 知道 说 会 能 要 去 到 给 让 被 把 对 与 及 或 "
    "等 后 再 才 但 而 如果 虽然".split()
)
EN_STOP = set(
    "a an the and or but if of to in on at for with by from as is are was were be been being it its this that these "
    "those i me my we our you your he she they them their his her not no do does did have has had will would can could "
    "should may might am so than then there here about into out up down over just also very what which who when where "
    "why how all any some such only own same too xxxx xx don get got".split()
)


def tok_zh(t: str) -> tuple[str, ...]:
    import jieba

    jieba.setLogLevel(60)
    return tuple(w for w in jieba.lcut(t) if w.strip() and w not in ZH_STOP and re.search(r"\w", w))


def tok_en(t: str) -> tuple[str, ...]:
    return tuple(w for w in re.findall(r"[a-z][a-z']+", t.lower()) if w not in EN_STOP)


def load(name: str):
    """-> texts, tokens, {truth name: labels}, week (int per doc or None)"""
    import numpy as np
    import pandas as pd

    if name == "cfpb":
        d = pd.read_parquet(DATA / "cfpb_rows_2023-06_api_dump.parquet")
        d = d[d.complaint_what_happened.fillna("").str.strip() != ""].reset_index(drop=True)
        texts = d.complaint_what_happened.str.replace(r"X{2,}", " ", regex=True).tolist()
        week = pd.to_datetime(d.date_received, utc=True).dt.isocalendar().week.to_numpy()
        return (
            texts,
            [tok_en(t) for t in texts],
            {"issue": d.issue.to_numpy(), "product": d["product"].to_numpy()},
            week,
        )
    if name.startswith("zh"):
        d = pd.read_csv(DATA / "zh_online_shopping_10_cats.csv")
        d = d[(d.label == 0) & d.review.notna()].reset_index(drop=True)
        if name != "zh":  # "zh20k": a seeded sample of the 31,046 negatives (BERTopic defaults are slow)
            n = int(name[2:].rstrip("k")) * 1000
            d = d.iloc[np.sort(np.random.default_rng(0).choice(len(d), size=min(n, len(d)), replace=False))]
            d = d.reset_index(drop=True)
        texts = d.review.astype(str).str.strip().str.lstrip("\ufeff").tolist()
        week = np.random.default_rng(0).integers(0, 5, len(texts))  # no dates: 5 random "weeks"
        return texts, [tok_zh(t) for t in texts], {"cat": d.cat.to_numpy()}, week
    if name == "tweets":
        d = pd.read_csv(DATA / "twcs_support_tweets_labeled_600.csv")
        d = d[d.topic_labels.notna()].reset_index(drop=True)
        texts = d.text.str.replace(r"@\w+|https?://\S+", " ", regex=True).str.strip().tolist()
        return (
            texts,
            [tok_en(t) for t in texts],
            {"label": d.topic_labels.str.split("|").str[0].to_numpy()},
            None,
        )
    raise ValueError(name)


def embed(kind: str, texts, tokens):
    from voc.nlp.embedding import embedder_from_config

    e = embedder_from_config(kind)
    return e, e.fit(texts, tokens).transform(texts, tokens)


def case_quality(dataset: str, method: str) -> dict:
    import resource

    import numpy as np
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    texts, tokens, truths, _ = load(dataset)
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    if method == "bertopic-default":
        from bertopic import BERTopic
        from sentence_transformers import SentenceTransformer

        from voc.nlp.embedding import default_minilm_path

        model = BERTopic(embedding_model=SentenceTransformer(default_minilm_path(), device="cpu"))
        labels = np.asarray(model.fit_transform(texts)[0])
    else:
        from voc.nlp.topics import fit_topics

        _, x = embed("st" if method == "minilm+kmeans" else "tfidf", texts, tokens)
        found = fit_topics(texts, tokens, x, min_topic_size=max(8, len(texts) // 1000))
        labels = np.full(len(texts), -1)
        for f in found:
            labels[list(f.members)] = f.key
    secs, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    out = {
        "dataset": dataset,
        "method": method,
        "n": len(texts),
        "topics": int(len(set(labels) - {-1})),
        "outliers": float((labels < 0).mean()),
        "seconds": round(secs, 1),
        "cpu_s": round(cpu, 1),
        "load": os.getloadavg()[0],
    }
    for name, y in truths.items():
        out[f"nmi_{name}"] = round(float(normalized_mutual_info_score(y, labels)), 3)
        out[f"ari_{name}"] = round(float(adjusted_rand_score(y, labels)), 3)
    if method != "bertopic-default":
        out["labels"] = [f.label for f in found[:6]]
    return out


def case_stability(dataset: str, threshold: float) -> dict:
    """fit on weeks 1..n-1, assign_week on week n, refit on everything: share of docs keeping ids."""
    import numpy as np

    from voc.nlp.catalogue import assign_week, known_from_found, refit
    from voc.nlp.topics import fit_topics

    texts, tokens, _, week = load(dataset)
    weeks = sorted(set(week.tolist()))
    first, last = np.flatnonzero(week != weeks[-1]), np.flatnonzero(week == weeks[-1])
    emb, _ = embed("tfidf", [texts[i] for i in first], [tokens[i] for i in first])
    x = emb.transform(texts, tokens)
    found = fit_topics([texts[i] for i in first], [tokens[i] for i in first], x[first], min_topic_size=20)
    known = known_from_found(found, first_id=1, status="active")
    prior = {}
    for f, k in zip(found, known, strict=True):
        for j in f.members:
            prior[str(first[j])] = k.topic_id
    nxt = len(known) + 1
    t0 = time.perf_counter()
    w = assign_week(
        known,
        [texts[i] for i in last],
        [tokens[i] for i in last],
        x[last],
        threshold=threshold,
        min_new_topic_size=20,
        next_id=nxt,
    )
    t_assign = time.perf_counter() - t0
    for j, (tid, _) in zip(last, w.assignments, strict=True):
        prior[str(j)] = tid
    upd = {u.topic_id: u for u in w.updated}
    cat = [upd.get(k.topic_id, k) for k in known] + list(w.new_topics)
    doc_ids = [str(i) for i in range(len(texts))]
    t0 = time.perf_counter()
    r = refit(
        cat, prior, doc_ids, texts, tokens, x, next_id=max(k.topic_id for k in cat) + 1, min_topic_size=20
    )
    t_refit = time.perf_counter() - t0
    kept = float(np.mean([tid == prior[d] for d, (tid, _) in zip(doc_ids, r.assignments, strict=True)]))
    matched = float(np.mean([s >= threshold for _, s in w.assignments]))
    return {
        "dataset": dataset,
        "n_hist": len(first),
        "n_week": len(last),
        "topics_hist": len(known),
        "week_matched_share": round(matched, 3),
        "week_new_topics": len(w.new_topics),
        "refit_kept_ids": round(kept, 4),
        "refit_new": len(r.new_topics),
        "refit_lineage": len(r.lineage),
        "assign_s": round(t_assign, 1),
        "refit_s": round(t_refit, 1),
    }


def case_scale(n: int, threshold: float) -> dict:
    """assign_week and refit on ~n zh reviews (all 62k reviews, repeated with a suffix to reach n)."""
    import numpy as np
    import pandas as pd

    from voc.nlp.catalogue import assign_week, known_from_found, refit
    from voc.nlp.topics import fit_topics

    d = pd.read_csv(DATA / "zh_online_shopping_10_cats.csv")
    base = d.review.dropna().astype(str).tolist()
    t0 = time.perf_counter()
    base_tok = [tok_zh(t) for t in base]
    t_tok = time.perf_counter() - t0
    reps = -(-n // len(base))
    texts = [t + ("" if r == 0 else f" 第{r}次") for r in range(reps) for t in base][:n]
    tokens = [tk for _ in range(reps) for tk in base_tok][:n]
    t0 = time.perf_counter()
    emb = embed("tfidf", texts, tokens)[0]
    t_fit_emb = time.perf_counter() - t0
    t0 = time.perf_counter()
    x = emb.transform(texts, tokens)
    t_emb = time.perf_counter() - t0
    hist = np.arange(0, n, 2)
    t0 = time.perf_counter()
    found = fit_topics([texts[i] for i in hist], [tokens[i] for i in hist], x[hist], min_topic_size=50)
    t_fit = time.perf_counter() - t0
    known = known_from_found(found, first_id=1, status="active")
    t0 = time.perf_counter()
    w = assign_week(
        known, texts, tokens, x, threshold=threshold, min_new_topic_size=50, next_id=len(known) + 1
    )
    t_assign = time.perf_counter() - t0
    prior = {str(i): t for i, (t, _) in enumerate(w.assignments)}
    cat = [{u.topic_id: u for u in w.updated}.get(k.topic_id, k) for k in known] + list(w.new_topics)
    t0 = time.perf_counter()
    r = refit(
        cat,
        prior,
        [str(i) for i in range(n)],
        texts,
        tokens,
        x,
        next_id=max(k.topic_id for k in cat) + 1,
        min_topic_size=50,
    )
    t_refit = time.perf_counter() - t0
    kept = float(np.mean([t == prior[str(i)] for i, (t, _) in enumerate(r.assignments)]))
    return {
        "n": n,
        "tokenize_62k_s": round(t_tok, 1),
        "embedder_fit_s": round(t_fit_emb, 1),
        "embed_transform_s": round(t_emb, 1),
        "fit_topics_half_s": round(t_fit, 1),
        "assign_week_s": round(t_assign, 1),
        "refit_s": round(t_refit, 1),
        "refit_kept_ids": round(kept, 4),
        "new_topics": len(w.new_topics),
    }


def run_child(args: list[str]) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        res = {"case": " ".join(args), "error": f"exit status {status}"}
    res["peak_mb"] = round(usage.ru_maxrss / 1024)
    return res


def minilm_available() -> bool:
    try:
        from voc.nlp.embedding import default_minilm_path

        default_minilm_path()
        return True
    except Exception:
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs="+")
    ap.add_argument("--with-bertopic-default", action="store_true")
    ap.add_argument("--scale", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=0.25)
    ap.add_argument("--datasets", default="cfpb,zh,tweets", help="cfpb, zh (31k), zh20k (20k sample), tweets")
    ap.add_argument(
        "--methods", default="", help="comma-separated subset of the methods (default: all available)"
    )
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-stability", action="store_true")
    a = ap.parse_args()
    if a.child:
        kind, *rest = a.child
        if kind == "quality":
            res = case_quality(rest[0], rest[1])
        elif kind == "stability":
            res = case_stability(rest[0], float(rest[1]))
        else:
            res = case_scale(int(rest[0]), float(rest[1]))
        print(json.dumps(res, ensure_ascii=False))
        return
    if not DATA.is_dir():
        sys.exit(f"no data directory at {DATA}")
    datasets = a.datasets.split(",")
    methods = ["tfidf+kmeans(default)"]
    if minilm_available():
        methods.append("minilm+kmeans")
    if a.with_bertopic_default:
        methods.append("bertopic-default")
    if a.methods:
        methods = [m for m in methods if m in a.methods.split(",")]
    if not a.skip_quality:
        print(
            "| dataset | method | n | topics | outliers | NMI | ARI | seconds (wall) | CPU s | load | peak MB |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for ds in datasets:
            for m in methods:
                r = run_child(["quality", ds, m])
                if "error" in r:
                    print(f"| {ds} | {m} | error: {r['error']} |")
                    continue
                nmi = " ".join(f"{k[4:]} {v}" for k, v in r.items() if k.startswith("nmi_"))
                ari = " ".join(f"{k[4:]} {v}" for k, v in r.items() if k.startswith("ari_"))
                print(
                    f"| {ds} | {m} | {r['n']} | {r['topics']} | {r['outliers']:.0%} | {nmi} | {ari} | "
                    f"{r['seconds']} | {r['cpu_s']} | {r['load']:.1f} | {r['peak_mb']} |",
                    flush=True,
                )
                if "labels" in r:
                    print(f"|  | labels: {' ; '.join(r['labels'])} |||||||||", flush=True)
    if not a.skip_stability:
        for ds in [d for d in datasets if d in ("cfpb", "zh")]:
            print(
                "stability",
                json.dumps(run_child(["stability", ds, str(a.threshold)]), ensure_ascii=False),
                flush=True,
            )
    if a.scale:
        print("scale", json.dumps(run_child(["scale", str(a.scale), str(a.threshold)])), flush=True)


if __name__ == "__main__":
    main()
