"""Benchmark the nlp understanding stage.

    python bench/nlp.py                # 100k tickets from the templates below (zh / en / mixed, ~120 chars)
    python bench/nlp.py --generated    # the mix bench/generate.py writes (voc.sample; ~42-char bodies)
    python bench/nlp.py --n 20000 --batch 1000 --hmm

Prints tickets per CPU-second of this process per stage (the per-core figure: the machine is shared,
so wall time is inflated by other load; wall figures are printed too) and for the whole
``Understander.understand`` on subject + body + the ticket's fields, as the understand flow calls it;
the peak RSS (resource.getrusage) after each stage and the tracemalloc peak per stage on a subset.
Single process: the figures are per core. No result cache is involved anywhere.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voc.nlp.intent import classify_intents  # noqa: E402
from voc.nlp.language import detect_language  # noqa: E402
from voc.nlp.normalize import normalize  # noqa: E402
from voc.nlp.severity import classify_severities, default_model, rule_severity  # noqa: E402
from voc.nlp.tokens import content_tokens, content_words, token_text  # noqa: E402
from voc.nlp.understanding import CatalogueEntry, TicketText, Understander  # noqa: E402

PRODUCTS = [
    CatalogueEntry("oven", "烤箱", "Oven", ("电烤箱", "toaster oven"), ("KX-30A", "KX-45B")),
    CatalogueEntry("air_fryer", "空气炸锅", "Air fryer", ("炸锅", "airfryer"), ("AF-5L", "AF-3L")),
    CatalogueEntry("kettle", "电水壶", "Kettle", ("烧水壶",), ("EK-17",)),
]

ZH = [
    "上周买的{p}{m}用了三次就不加热了，屏幕显示E3，重启也没用。联系客服一直不回复，物流也很慢，等了五天才到货。现在要求退货退款，"
    "请尽快处理，不然我就去投诉了。",
    "{p}的门关不紧，烤东西的时候热气一直往外冒，门边缘烫手，还有一股很重的焦味，担心有安全问题。批次{b}，买了还不到一个月，"
    "家里有小孩，不敢再用了，请给个说法。",
    "请问{m}的烤盘和烤架可以直接放进洗碗机清洗吗？说明书上没写清楚，另外第一次使用前需要空烧多久？预热到多少度比较合适？"
    "谢谢你们的解答。",
    "建议下一代{p}增加预约定时功能和可视窗口，现在每次都要打开看里面的情况，热气一下就跑了。另外要是容量能再大一点就好了，"
    "一家四口做饭不太够用。",
    "{p}非常好用，做鸡翅和薯条特别香脆，几乎不用放油，清洗也方便。家里老人小孩都说好，已经推荐给好几个朋友了，五星好评！"
    "客服小姐姐也很耐心。",
    "我是李娜，电话13912345678，订单号2024112300123456。{p}今天收到时外壳有明显凹痕，包装箱也破了，怀疑运输途中摔过，"
    "麻烦尽快安排换货，谢谢。",
    "用了一个月，{p}{m}加热管附近突然冒烟了，还有噼啪的响声和火花，吓得赶紧拔了插头。插头也烫得厉害，这个太危险了，"
    "必须给我一个解释并且全额退款。",
    "快递送到北京市朝阳区建国路88号5号楼1203，可是箱子破了，{p}的玻璃门也碎了，碎片散在盒子里。快递员说不关他的事，"
    "让我自己联系商家，这服务太差了。",
]
EN = [
    "My {p} {m} stopped heating after two weeks of normal use. The display just shows E3 and resetting it does nothing. "
    "Support hasn't replied in 5 days. I want a refund.",
    "The door of the {p} won't close properly and there is a strong burning smell every time I use it. Batch {b}. "
    "Is this safe? I have small kids at home.",
    "How do I reset the timer on the {m}? The manual doesn't explain it and the display keeps showing the wrong time. "
    "Also, can the tray go in the dishwasher?",
    "Would be great if the next {p} had a glass window and a quieter fan. Otherwise very happy with it, but a bigger basket "
    "would also help for a family of four.",
    "Love this {p}! Crispy fries in 15 minutes, easy to clean, and it looks great on the counter. Highly recommend it to "
    "everyone. Fast delivery too.",
    "Hi, my name is John Smith, call me at +1 415 555 0134. Order #A12345678 arrived yesterday with a dented lid and a cracked "
    "handle. Please send a replacement.",
    "The cord of my {p} melted and sparks came out of the plug while it was on the counter. My kid almost got burned. This is "
    "unacceptable and dangerous.",
]
MIXED = [
    "我的{p} {m} 不工作了, 屏幕一直显示 error E3, customer service 没人回复, 已经等了一个星期了, please refund ASAP, 谢谢",
    "{p}很好用 but the basket coating is peeling after only 1 month, 批次{b}, 担心涂层掉进食物里, 希望能换一个新的 basket",
]


def make_tickets(n: int, seed: int = 7) -> list[TicketText]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prod = rng.choice(PRODUCTS)
        r = rng.random()
        tpl, name = (
            (rng.choice(ZH), prod.name_zh)
            if r < 0.6
            else (rng.choice(EN), prod.name_en.lower())
            if r < 0.9
            else (rng.choice(MIXED), prod.name_zh)
        )
        body = tpl.format(p=name, m=rng.choice(prod.models), b=f"B{rng.randint(2301, 2452)}")
        body += rng.choice(["", "", " 谢谢。", " Thanks.", f" 第{rng.randint(2, 9)}次联系了。"])
        out.append(TicketText(body=body))
    return out


def generated_tickets(n: int, seed: int = 1) -> tuple[list[TicketText], list[CatalogueEntry]]:
    """The rows bench/generate.py writes (same generator, 52 weeks), with the example config's catalogue."""
    from voc.config.settings import EXAMPLE_CONFIG, load_config
    from voc.sample import iter_weeks
    from voc.weeks import Week

    cfg = load_config(EXAMPLE_CONFIG)
    products = [
        CatalogueEntry(p.id, p.name_zh, p.name_en, tuple(p.aliases), tuple(p.models)) for p in cfg.products
    ]
    out: list[TicketText] = []
    for rows in iter_weeks(Week.parse("2026-W47"), 52, max(50, n // 52), seed, total=n):
        out += [
            TicketText(
                body=r["body"],
                subject=r.get("subject") or None,
                product=r.get("product") or None,
                model=r.get("model") or None,
                batch=r.get("batch") or None,
                language=r.get("language") or None,
            )
            for r in rows
        ]
    return out[:n], products


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, n: int, fn) -> object:
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    res = fn()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    print(
        f"{label:<28} {n / dt:>9,.0f}/s wall {n / dc:>9,.0f}/s CPU  {dt:7.2f} s   peak RSS {rss_mb():7.1f} MB"
    )
    return res


def traced(label: str, fn) -> object:
    gc.collect()
    tracemalloc.start()
    res = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<28} tracemalloc peak {peak / 2**20:8.1f} MB")
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=2_000, help="tickets per understand() call")
    ap.add_argument("--mem-n", type=int, default=5_000, help="subset for tracemalloc")
    ap.add_argument("--hmm", action="store_true", help="jieba with HMM new-word discovery (slower)")
    ap.add_argument(
        "--generated", action="store_true", help="bench/generate.py's rows and the example catalogue"
    )
    args = ap.parse_args(argv)

    print(f"start peak RSS {rss_mb():.1f} MB")
    if args.generated:
        tickets, products = generated_tickets(args.n)
    else:
        tickets, products = make_tickets(args.n), PRODUCTS
    t = time.perf_counter()
    u = Understander(products, hmm=args.hmm)
    print(f"Understander() build {time.perf_counter() - t:.2f} s   peak RSS {rss_mb():.1f} MB")
    avg = sum(len(x.body) for x in tickets) / len(tickets)
    uniq = len({x.body for x in tickets})
    print(f"{len(tickets):,} tickets, mean {avg:.0f} chars, {uniq:,} distinct bodies\n")

    n = len(tickets)
    norm = timed("normalize", n, lambda: [normalize(x.body)[0] for x in tickets])
    red = timed("redact", n, lambda: [u.redactor.redact(x)[0] for x in norm])
    langs = timed("language", n, lambda: [detect_language(x) for x in red])
    zh = [x for x, lg in zip(red, langs, strict=True) if lg != "en"]
    en = [x for x, lg in zip(red, langs, strict=True) if lg == "en"]
    zw, lem = u.zh_words, u._lemmas

    def zh_tokens() -> list:
        out = []
        for x in zh:
            words = zw.words(token_text(x, u.index))
            ents = zw.entities(words)
            out.append(
                content_words(words, {s: (e, i or "") for s, e, lab, i in ents if lab == "MODEL"}, lem)
            )
        return out

    timed(f"zh tokens+entities ({len(zh)})", len(zh), zh_tokens)
    with u.en.select_pipes(disable=["lemmatizer"]):
        timed(
            f"en spaCy pipe+tokens ({len(en)})",
            len(en),
            lambda: [
                content_tokens(d, lem)
                for d in u.en.pipe([token_text(x, u.index) for x in en], batch_size=512)
            ],
        )
    intents = timed(
        "intent (rules + classifier)",
        n,
        lambda: [i for k in range(0, n, args.batch) for i, _, _ in classify_intents(red[k : k + args.batch])],
    )
    timed("severity rules", n, lambda: [rule_severity(x, i) for x, i in zip(red, intents, strict=True)])
    default_model()
    timed(
        "severity rules+classifier",
        n,
        lambda: [
            s
            for k in range(0, n, args.batch)
            for s in classify_severities(red[k : k + args.batch], intents[k : k + args.batch])
        ],
    )
    c = time.process_time()
    default_model.cache_clear()
    default_model()
    print(f"severity classifier training {time.process_time() - c:.2f} CPU-s (once per process)")

    def whole() -> int:
        k = 0
        for i in range(0, n, args.batch):
            k += len(u.understand(tickets[i : i + args.batch]))
        return k

    print()
    timed("understand() whole", n, whole)
    print(f"peak RSS {rss_mb():.1f} MB")
    print()
    sub = tickets[: args.mem_n]
    sub_norm = traced(f"normalize x{len(sub)}", lambda: [normalize(x.body)[0] for x in sub])
    traced(f"redact x{len(sub)}", lambda: [u.redactor.redact(x)[0] for x in sub_norm])
    traced(f"understand() x{len(sub)}", lambda: u.understand(sub))


if __name__ == "__main__":
    main()
