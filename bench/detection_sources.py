"""Real baseline text for the detection benchmark (bench/detection.py): corpora, themes, catalogues.

Each source is a pool of real rows from ``../shared/data`` (nobody on this project wrote them) with a
made-up product catalogue correlated with the text as it would be in real life (a product per
shopping category / JD SKU group / CFPB product / support-tweet company), and candidate *themes*:
real rows chosen by a documented rule on the text or the labels, held back from the ordinary
traffic so that their weekly rate is under the benchmark's control.

Rules (``Theme.rule`` says it per theme):
- ``zh_shop`` (online_shopping_10_cats): ordinary traffic = the negative reviews of every category
  plus 10% positive reviews (non-complaint traffic; no intent hint: the pipeline classifies). A theme
  = the negative reviews of one category whose text matches a defect regex (e.g. 计算机 and
  发热|发烫|散热|温度|烫手). Safety theme = negative 水果/蒙牛 reviews naming a foreign object or food
  poisoning (虫|头发|异物|苍蝇|... |拉肚子|中毒|...). Electric hazards (漏电/冒烟/起火) in 热水器/计算机/
  平板/手机: 22 matching negatives, mostly figurative ("烂到爆炸") - too few for 1-2 a week, not used.
- ``jd_aircon`` (JD export, GB18030; "此用户未填写评价内容" placeholders and duplicate texts dropped):
  1-2 star reviews are complaints (intent hint 'complaint', as the shipped ``jd_reviews`` mapping
  derives from the rating), 3-5 stars are ordinary non-complaint traffic (no hint), ~30% of a week.
  A theme = 1-2 star reviews matching a regex (不制冷 ..., 噪音 ..., 安装费 ...); the defect is put on one
  product (the theme's product), whichever SKU the review came from. Safety: only ~10 genuine
  electrical-hazard complaints (most "漏电" rows are the 漏电保护器 part): no safety theme.
- ``cfpb`` (narratives of the API dump, English, intent hint 'complaint' as the ``cfpb`` mapping sets):
  a theme = one ``issue`` value of one ``product``. Models = codes per ``sub_product``. No safety.
- ``tweets`` (600 labelled support tweets): a theme = one ``topic_labels`` value of one company.
  600 rows only: ~25 tickets a week and themes of 1-3 a week; no safety theme.
- ``mixed``: ``zh_shop`` (75% of the traffic) and ``cfpb`` (25%) in one store; themes of both
  (even seeds a zh theme, odd seeds an English one), safety from ``zh_shop``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

from voc.config.settings import Product

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = ("zh_shop", "jd_aircon", "cfpb", "tweets", "mixed")
ROW_COLUMNS = ["rid", "body", "group", "lang", "hint", "model_key"]


@dataclass
class Theme:
    """Rows of one real theme. ``product``: the catalogue id its tickets carry (None = the row's own)."""

    name: str
    rule: str
    kind: str  # 'theme' | 'safety'
    rows: pd.DataFrame
    product: str | None = None


@dataclass
class Corpus:
    name: str
    general: pd.DataFrame  # ordinary traffic (ROW_COLUMNS), theme rows not yet removed
    themes: list[Theme]
    safety: list[Theme]
    products: list[Product]
    models: dict[str, list[str]] = field(default_factory=dict)  # product -> models (random when no model_key)
    model_of_key: dict[str, str] = field(default_factory=dict)  # row model_key -> model (text-correlated)
    weights: dict[str, float] = field(default_factory=dict)  # part of mixed: share of the traffic by lang
    notes: list[str] = field(default_factory=list)


def _frame(
    rid: pd.Series,
    body: pd.Series,
    group: pd.Series,
    lang: str,
    hint: pd.Series | str,
    model_key: pd.Series | str = "",
) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "rid": rid.astype(str).to_numpy(),
            "body": body.astype(str).to_numpy(),
            "group": group.astype(str).to_numpy(),
        }
    )
    df["lang"] = lang
    df["hint"] = hint if isinstance(hint, str) else hint.to_numpy()
    df["model_key"] = model_key if isinstance(model_key, str) else model_key.astype(str).to_numpy()
    return df


def _models(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{10 + 5 * i}{'ABCD'[i % 4]}" for i in range(n)]


# ------------------------------------------------------------------------------------------ zh_shop

SHOP_PRODUCTS = {  # category -> (id, model prefix, English name)
    "书籍": ("books", "BK", "book store"),
    "平板": ("tablet", "TB", "tablet"),
    "手机": ("phone", "PH", "phone"),
    "水果": ("fruit", "FR", "fresh fruit"),
    "洗发水": ("shampoo", "SH", "shampoo"),
    "热水器": ("heater", "WH", "water heater"),
    "蒙牛": ("milk", "MK", "milk"),
    "衣服": ("apparel", "AP", "apparel"),
    "计算机": ("laptop", "LT", "laptop"),
    "酒店": ("hotel", "HT", "hotel stay"),
}
SHOP_THEMES = [  # (category, regex, name)
    ("计算机", r"发热|发烫|散热|温度|烫手", "laptop overheating"),
    ("手机", r"电池|待机|续航|耗电", "phone battery"),
    ("酒店", r"隔音|噪音|吵", "hotel noise"),
    ("衣服", r"色差|褪色|掉色|颜色", "apparel colour"),
    ("洗发水", r"头皮屑|头痒|过敏", "shampoo dandruff / itch"),
    ("平板", r"充电|充不进", "tablet charging"),
    ("水果", r"腐烂|发霉|霉|烂了|坏了", "rotten fruit"),
]
FOOD_SAFETY = (
    r"虫|头发|异物|苍蝇|蟑螂|毛发|玻璃|铁丝|钉子|塑料片|小强|拉肚子|腹泻|肚子疼|中毒|呕吐|吃坏|"
    r"上吐下泻"
)


@cache
def zh_shop() -> Corpus:
    z = pd.read_csv(DATA / "zh_online_shopping_10_cats.csv").dropna(subset=["review"])
    z = z[z["review"].str.strip().str.len() > 0].drop_duplicates("review").reset_index(drop=True)
    z["rid"] = "ZS" + z.index.astype(str)
    z["group"] = z["cat"].map(lambda c: SHOP_PRODUCTS[c][0])
    neg = z[z["label"] == 0]
    pos = z[z["label"] == 1].sample(n=len(neg) // 9, random_state=0)  # ~10% of the traffic
    general = _frame(
        pd.concat([neg["rid"], pos["rid"]]),
        pd.concat([neg["review"], pos["review"]]),
        pd.concat([neg["group"], pos["group"]]),
        "zh",
        "",
    )
    negf = _frame(neg["rid"], neg["review"], neg["group"], "zh", "")
    themes = []
    for cat, rx, name in SHOP_THEMES:
        pid = SHOP_PRODUCTS[cat][0]
        m = (negf["group"] == pid) & negf["body"].str.contains(rx) & ~negf["body"].str.contains(FOOD_SAFETY)
        themes.append(
            Theme(
                name,
                f"zh_shop negative reviews of {cat} matching /{rx}/ (not the safety rule)",
                "theme",
                negf[m].reset_index(drop=True),
                pid,
            )
        )
    food = negf["group"].isin(["fruit", "milk"]) & negf["body"].str.contains(FOOD_SAFETY)
    safety = [
        Theme(
            "food foreign object / poisoning",
            f"zh_shop negative reviews of 水果/蒙牛 matching /{FOOD_SAFETY}/",
            "safety",
            negf[food].reset_index(drop=True),
            None,
        )
    ]
    products = [
        Product(id=pid, name_zh=cat, name_en=en, models=_models(pre, 2))
        for cat, (pid, pre, en) in SHOP_PRODUCTS.items()
    ]
    return Corpus(
        "zh_shop",
        general.reset_index(drop=True),
        themes,
        safety,
        products,
        models={p.id: p.models for p in products},
        notes=["electric hazards: 22 matching negatives, mostly figurative: no electric safety theme"],
    )


# ------------------------------------------------------------------------------------------ jd_aircon

JD_THEMES = [
    (r"不制冷|制冷效果差|制冷差|不凉|制冷慢|制冷效果不好", "aircon not cooling"),
    (r"噪音|声音大|异响|响声|嗡嗡|吵", "aircon noise"),
    (r"安装费|收费|乱收费|材料费|加钱|收钱|高空费", "installation charges"),
]
JD_SERIES = [
    ("云悦挂机", "Yunyue wall unit", "YW"),
    ("风畅挂机", "Fengchang wall unit", "FC"),
    ("清风挂机", "Qingfeng wall unit", "QF"),
    ("静享挂机", "Jingxiang wall unit", "JX"),
    ("凌云柜机", "Lingyun floor unit", "LY"),
    ("悦家柜机", "Yuejia floor unit", "YJ"),
]


@cache
def jd_aircon() -> Corpus:
    j = pd.read_csv(DATA / "zh_jd_aircon_comments_ORIGINAL_gb18030.csv", encoding="gb18030")
    j = j.dropna(subset=["评论内容"])
    j = j[~j["评论内容"].str.contains("此用户未")].drop_duplicates("评论内容").reset_index(drop=True)
    # a product per SKU for the 5 SKUs with the most reviews, the other SKUs share the sixth
    top = j["商品ID"].value_counts().index[:5].tolist()
    ids = [f"ac_{c.lower()}" for _, _, c in JD_SERIES]
    sku_product = {sku: ids[i] for i, sku in enumerate(top)}
    j["group"] = j["商品ID"].map(lambda s: sku_product.get(s, ids[5]))
    j["rid"] = "JD" + j.index.astype(str)
    j["hint"] = (j["打分"] <= 2).map({True: "complaint", False: ""})
    neg = j[j["打分"] <= 2]
    pos = j[j["打分"] >= 3].sample(n=min((j["打分"] >= 3).sum(), int(len(neg) * 0.43)), random_state=0)
    general = _frame(
        pd.concat([neg["rid"], pos["rid"]]),
        pd.concat([neg["评论内容"], pos["评论内容"]]),
        pd.concat([neg["group"], pos["group"]]),
        "zh",
        pd.concat([neg["hint"], pos["hint"]]),
    )
    negf = _frame(neg["rid"], neg["评论内容"], neg["group"], "zh", neg["hint"])
    themes = [
        Theme(
            name,
            f"jd_aircon 1-2 star reviews (any SKU) matching /{rx}/, put on one product",
            "theme",
            negf[negf["body"].str.contains(rx)].reset_index(drop=True),
            None,
        )
        for rx, name in JD_THEMES
    ]
    products = [
        Product(id=ids[i], name_zh=zh, name_en=en, models=[f"KF-{p}35", f"KF-{p}51"])
        for i, (zh, en, p) in enumerate(JD_SERIES)
    ]
    return Corpus(
        "jd_aircon",
        general.reset_index(drop=True),
        themes,
        [],
        products,
        models={p.id: p.models for p in products},
        notes=["no safety theme: ~10 genuine electrical-hazard complaints in 4,851 1-2 star reviews"],
    )


# ------------------------------------------------------------------------------------------ cfpb

CFPB_PRODUCTS = {  # CFPB product -> (id, name_zh, name_en, model prefix)
    "Credit reporting, credit repair services, or other personal consumer reports": (
        "credit_report",
        "信用报告服务",
        "CreditView report",
        "CR",
    ),
    "Credit card or prepaid card": ("card", "信用卡", "Horizon card", "CC"),
    "Debt collection": ("collections", "催收服务", "collections desk", "DC"),
    "Checking or savings account": ("account", "储蓄账户", "Everyday account", "AC"),
    "Mortgage": ("mortgage", "房贷", "HomeKey mortgage", "MG"),
    "Money transfer, virtual currency, or money service": ("transfer", "转账服务", "SendIt transfer", "MT"),
    "Vehicle loan or lease": ("auto_loan", "车贷", "DriveOn loan", "VL"),
    "Payday loan, title loan, or personal loan": ("personal_loan", "个人贷款", "QuickCash loan", "PL"),
    "Student loan": ("student_loan", "助学贷款", "Campus loan", "SL"),
}
CFPB_THEMES = [
    (
        "Credit reporting, credit repair services, or other personal consumer reports",
        "Improper use of your report",
    ),
    (
        "Credit reporting, credit repair services, or other personal consumer reports",
        "Incorrect information on your report",
    ),
    (
        "Credit reporting, credit repair services, or other personal consumer reports",
        "Problem with a credit reporting company's investigation into an existing problem",
    ),
    ("Debt collection", "Attempts to collect debt not owed"),
]


@cache
def cfpb() -> Corpus:
    c = pd.read_parquet(DATA / "cfpb_rows_2023-06_api_dump.parquet")
    c = c[c["complaint_what_happened"].fillna("").str.strip().str.len() > 0]
    c = c.drop_duplicates("complaint_what_happened").reset_index(drop=True)
    c["group"] = c["product"].map(lambda p: CFPB_PRODUCTS[p][0])
    c["rid"] = "CF" + c["complaint_id"].astype(str)
    c["model_key"] = c["product"] + "|" + c["sub_product"].fillna("")
    general = _frame(c["rid"], c["complaint_what_happened"], c["group"], "en", "complaint", c["model_key"])
    themes = []
    for prod, issue in CFPB_THEMES:
        m = (c["product"] == prod) & (c["issue"] == issue)
        themes.append(
            Theme(
                f"{CFPB_PRODUCTS[prod][0]}: {issue}",
                f"cfpb narratives with product={prod!r} and issue={issue!r}",
                "theme",
                general[m.to_numpy()].reset_index(drop=True),
                CFPB_PRODUCTS[prod][0],
            )
        )
    model_of_key: dict[str, str] = {}
    models: dict[str, list[str]] = {}
    for prod, (pid, _, _, pre) in CFPB_PRODUCTS.items():
        subs = sorted(c.loc[c["product"] == prod, "sub_product"].fillna("").unique())
        for i, s in enumerate(subs):
            model_of_key[f"{prod}|{s}"] = f"{pre}-{i + 1:02d}"
        models[pid] = [model_of_key[f"{prod}|{s}"] for s in subs]
    products = [
        Product(id=pid, name_zh=zh, name_en=en, models=models[pid])
        for pid, zh, en, _ in CFPB_PRODUCTS.values()
    ]
    return Corpus(
        "cfpb",
        general,
        themes,
        [],
        products,
        models=models,
        model_of_key=model_of_key,
        notes=["no safety theme (financial complaints)"],
    )


# ------------------------------------------------------------------------------------------ tweets

TWEET_PRODUCTS = {
    "AmazonHelp": ("shop", "商城订单", "ShopNow order", "SN"),
    "AppleSupport": ("handset", "手机终端", "Pomme handset", "PM"),
    "SpotifyCares": ("music", "音乐会员", "Tune music app", "TM"),
}
TWEET_THEMES = [
    ("AmazonHelp", "Delivery"),
    ("AppleSupport", "iPhone"),
    ("AppleSupport", "Update"),
    ("SpotifyCares", "Billing/Payment"),
]


@cache
def tweets() -> Corpus:
    t = pd.read_csv(DATA / "twcs_support_tweets_labeled_600.csv").dropna(subset=["text"])
    t = t.drop_duplicates("text").reset_index(drop=True)
    t["group"] = t["company"].map(lambda c: TWEET_PRODUCTS[c][0])
    t["rid"] = "TW" + t["tweet_id"].astype(str)
    general = _frame(t["rid"], t["text"], t["group"], "en", "")
    labels = t["topic_labels"].fillna("").str.split("|")
    themes = []
    for comp, lab in TWEET_THEMES:
        m = (t["company"] == comp) & labels.map(lambda ls, lab=lab: lab in ls)
        themes.append(
            Theme(
                f"{TWEET_PRODUCTS[comp][0]}: {lab}",
                f"tweets to {comp} labelled {lab!r}",
                "theme",
                general[m.to_numpy()].reset_index(drop=True),
                TWEET_PRODUCTS[comp][0],
            )
        )
    products = [
        Product(id=pid, name_zh=zh, name_en=en, models=_models(pre, 2))
        for pid, zh, en, pre in TWEET_PRODUCTS.values()
    ]
    return Corpus(
        "tweets",
        general,
        themes,
        [],
        products,
        models={p.id: p.models for p in products},
        notes=["600 tweets: ~25 tickets a week, themes of 1-3 a week (8-15 impossible); no safety theme"],
    )


# ------------------------------------------------------------------------------------------ mixed


@cache
def mixed() -> Corpus:
    zs, cf = zh_shop(), cfpb()
    themes = [t for pair in zip(zs.themes, cf.themes, strict=False) for t in pair]  # even: zh, odd: en
    return Corpus(
        "mixed",
        pd.concat([zs.general, cf.general], ignore_index=True),
        themes,
        zs.safety,
        [*zs.products, *cf.products],
        models={**zs.models, **cf.models},
        model_of_key=cf.model_of_key,
        weights={"zh": 0.75, "en": 0.25},
        notes=["zh_shop 75% + cfpb 25% of the traffic; themes alternate zh (even seeds) / en (odd)"],
    )


def load(name: str) -> Corpus:
    if not DATA.exists():
        raise SystemExit(f"{DATA} is missing: the benchmark needs ../shared/data beside the repository")
    return {"zh_shop": zh_shop, "jd_aircon": jd_aircon, "cfpb": cfpb, "tweets": tweets, "mixed": mixed}[
        name
    ]()
