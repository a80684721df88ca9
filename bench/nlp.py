"""Benchmark the nlp understanding stage.

    python bench/nlp.py                # 100k synthetic tickets (zh / en / mixed, ~120 chars)
    python bench/nlp.py --n 20000 --batch 1000 --no-hmm

Prints tickets/s per stage and for the whole ``Understander.understand``, the process peak RSS
(resource.getrusage) after each stage and the tracemalloc peak per stage on a subset.
Single process: the figures are per core.
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

from nlp.intent import classify_intent  # noqa: E402
from nlp.language import detect_language  # noqa: E402
from nlp.normalize import normalize  # noqa: E402
from nlp.severity import classify_severity  # noqa: E402
from nlp.tokens import token_text  # noqa: E402
from nlp.understanding import CatalogueEntry, TicketText, Understander  # noqa: E402

PRODUCTS = [
    CatalogueEntry("oven", "烤箱", "Oven", ("电烤箱", "toaster oven"), ("KX-30A", "KX-45B")),
    CatalogueEntry("air_fryer", "空气炸锅", "Air fryer", ("炸锅", "airfryer"), ("AF-5L", "AF-3L")),
    CatalogueEntry("kettle", "电水壶", "Kettle", ("烧水壶",), ("EK-17",)),
]

ZH = [
    "上周买的{p}{m}用了三次就不加热了，客服一直不回复，物流也很慢，要求退货退款。",
    "{p}的门关不紧，烤东西的时候热气往外冒，有一股焦味，担心安全问题，批次{b}。",
    "请问{m}的烤盘可以放进洗碗机吗？说明书上没写清楚，谢谢。",
    "建议下一代{p}增加预约功能和可视窗口，现在每次都要打开看，不太方便。",
    "{p}很好用，做鸡翅特别香，家里人都说好，已经推荐给朋友了，五星好评！",
    "我是李娜，电话13912345678，订单号2024112300123456，{p}收到时外壳有凹痕，麻烦换货。",
    "用了一个月，{p}加热管附近冒烟了，还有噼啪声，吓得赶紧拔了插头，这个太危险了。",
    "快递送到北京市朝阳区建国路88号5号楼1203，可是箱子破了，{p}玻璃门也碎了。",
]
EN = [
    "My {p} {m} stopped heating after two weeks. Support hasn't replied in 5 days. I want a refund.",
    "The door of the {p} won't close properly and there is a burning smell. Batch {b}. Is this safe?",
    "How do I reset the timer on the {m}? The manual doesn't explain it and the display shows E3.",
    "Would be great if the next {p} had a glass window and a quieter fan. Otherwise very happy.",
    "Love this {p}! Crispy fries in 15 minutes and easy to clean. Highly recommend to everyone.",
    "Hi, my name is John Smith, call me at +1 415 555 0134. Order #A12345678 arrived damaged.",
    "The cord of my {p} melted and sparks came out of the plug. My kid almost got burned. Unacceptable.",
]
MIXED = [
    "我的{p} {m} 不工作了, error E3, customer service 没人回复, please refund ASAP 谢谢",
    "{p}很好用 but the basket coating is peeling after 1 month, 批次{b}, 希望能换一个",
]


def make_tickets(n: int, seed: int = 7) -> list[TicketText]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prod = rng.choice(PRODUCTS)
        r = rng.random()
        tpl, name = (
            (rng.choice(ZH), prod.name_zh) if r < 0.6 else (rng.choice(EN), prod.name_en.lower()) if r < 0.9
            else (rng.choice(MIXED), prod.name_zh)
        )
        body = tpl.format(p=name, m=rng.choice(prod.models), b=f"B{rng.randint(2301, 2452)}")
        body += rng.choice(["", "", " 谢谢。", " Thanks.", f" 第{rng.randint(2, 9)}次联系了。"])
        out.append(TicketText(body=body))
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, n: int, fn) -> object:
    gc.collect()
    t = time.perf_counter()
    res = fn()
    dt = time.perf_counter() - t
    print(f"{label:<28} {n / dt:>10,.0f} tickets/s  {dt:7.2f} s   peak RSS {rss_mb():7.1f} MB")
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
    ap.add_argument("--no-hmm", action="store_true", help="jieba without HMM (faster, fewer new words)")
    args = ap.parse_args(argv)

    print(f"start peak RSS {rss_mb():.1f} MB")
    t = time.perf_counter()
    u = Understander(PRODUCTS, hmm=not args.no_hmm)
    print(f"Understander() build {time.perf_counter() - t:.2f} s   peak RSS {rss_mb():.1f} MB")
    tickets = make_tickets(args.n)
    avg = sum(len(x.body) for x in tickets) / len(tickets)
    print(f"{args.n:,} tickets, mean {avg:.0f} chars\n")

    n = len(tickets)
    norm = timed("normalize", n, lambda: [normalize(x.body)[0] for x in tickets])
    red = timed("redact", n, lambda: [u.redactor.redact(x)[0] for x in norm])
    langs = timed("language", n, lambda: [detect_language(x) for x in red])
    zh = [token_text(x, u.index) for x, lg in zip(red, langs, strict=True) if lg != "en"]
    en = [token_text(x, u.index) for x, lg in zip(red, langs, strict=True) if lg == "en"]
    timed(f"spaCy zh pipe ({len(zh)})", len(zh), lambda: list(u.zh.pipe(zh, batch_size=512)))
    timed(f"spaCy en pipe ({len(en)})", len(en), lambda: list(u.en.pipe(en, batch_size=512)))
    timed("intent+severity", n, lambda: [classify_severity(x, classify_intent(x)) for x in red])

    def whole() -> int:
        k = 0
        for i in range(0, n, args.batch):
            k += len(u.understand(tickets[i : i + args.batch]))
        return k

    print()
    timed("understand() whole", n, whole)
    print()
    sub = tickets[: args.mem_n]
    sub_norm = traced(f"normalize x{len(sub)}", lambda: [normalize(x.body)[0] for x in sub])
    traced(f"redact x{len(sub)}", lambda: [u.redactor.redact(x)[0] for x in sub_norm])
    traced(f"understand() x{len(sub)}", lambda: u.understand(sub))


if __name__ == "__main__":
    main()
