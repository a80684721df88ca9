"""Understander end to end: interface, field precedence, entities, tokens, bad input."""

from __future__ import annotations

import dataclasses

import pytest

from voc.nlp.understanding import CatalogueEntry, TicketText, Understander, Understanding

PRODUCTS = (
    CatalogueEntry("oven", "烤箱", "Oven", ("电烤箱", "toaster oven"), ("KX-30A", "KX-45B")),
    CatalogueEntry("air_fryer", "空气炸锅", "Air fryer", ("炸锅", "airfryer"), ("AF-5L",)),
)


@pytest.fixture(scope="module")
def u() -> Understander:
    return Understander(PRODUCTS, order_patterns=[r"SO-\d{8}"])


def one(u: Understander, body: str, **kw) -> Understanding:
    return u.understand([TicketText(body=body, **kw)])[0]


def test_interface_fields(u):
    names = [f.name for f in dataclasses.fields(Understanding)]
    assert names == [
        "language",
        "text",
        "tokens",
        "product",
        "model",
        "batch",
        "product_source",
        "model_source",
        "batch_source",
        "intent",
        "severity",
        "flags",
        "redactions",
    ]
    assert u.understand([]) == []


def test_zh_ticket_full(u):
    r = one(u, "我是张伟，电话13812345678，烤箱KX-30A批次B2409门关不紧，有焦味")
    assert r.language == "zh"
    assert "13812345678" not in r.text and "张伟" not in r.text
    assert "[PHONE]" in r.text and "[NAME]" in r.text and r.redactions == 2
    assert "KX-30A" in r.text and "B2409" in r.text
    assert (r.product, r.product_source) == ("oven", "text")
    assert (r.model, r.model_source) == ("KX-30A", "text")
    assert (r.batch, r.batch_source) == ("B2409", "text")
    assert r.severity == "safety" and r.intent == "complaint"
    assert "KX-30A" in r.tokens and "关不紧" in r.tokens
    assert not any(t in r.tokens for t in ("，", "我", "的", "PHONE", "[PHONE]", "NAME"))


def test_en_ticket_lemmas_and_model_token(u):
    r = one(
        u,
        "My airfryer AF-5L stopped heating after 2 weeks. Order #A12345678. Refund please.",
        subject="Broken fryer",
    )
    assert r.language == "en"
    assert r.text.startswith("Broken fryer. ")
    assert "[ORDER]" in r.text
    assert r.product == "air_fryer" and r.model == "AF-5L"
    assert "AF-5L" in r.tokens and "stop" in r.tokens and "heat" in r.tokens
    assert "my" not in r.tokens and "please" not in r.tokens
    assert r.severity == "defect"


def test_model_spelling_variants(u):
    r = one(u, "请问kx30a的烤盘可以放洗碗机吗？")
    assert r.model == "KX-30A" and r.product == "oven"
    assert "KX-30A" in r.tokens and "烤盘" in r.tokens
    assert r.intent == "question"


def test_field_precedence(u):
    r = one(u, "The KX-45B door is broken, lot 24A17", product="Air Fryer", model="kx-30a", batch="B9999")
    assert (r.product, r.product_source) == ("air_fryer", "field")
    assert (r.model, r.model_source) == ("KX-30A", "field")
    assert (r.batch, r.batch_source) == ("B9999", "field")
    r = one(u, "坏了", product="blender")
    assert (r.product, r.product_source) == ("blender", "field")  # unknown product kept as given
    r = one(u, "我的AF-5L坏了")
    assert (r.product, r.product_source) == ("air_fryer", "text")


def test_intent_hint_wins(u):
    r = one(u, "Love it, works great!", intent_hint="complaint")
    assert r.intent == "complaint"
    r = one(u, "Love it, works great!", intent_hint="nonsense")
    assert r.intent == "praise"


def test_language_field_and_mixed(u):
    assert one(u, "我的air fryer用了两周就不heat了，display一直显示E3").language == "mixed"
    assert one(u, "hello", language="zh").language == "zh"


def test_traditional_and_fullwidth(u):
    r = one(u, "烤箱門關不緊，請問怎麼辦？ＫＸ－３０Ａ")
    assert "门关不紧" in r.text and "请问怎么办" in r.text
    assert r.model == "KX-30A"
    assert "，" in r.text  # Chinese punctuation kept


def test_html_quotes_boilerplate(u):
    body = (
        "<p>您好，很高兴为您服务！</p><div>The fryer&nbsp;<b>stopped</b> working &amp; smells.</div>"
        "<br>On Mon, Nov 3, 2025 at 10:00 AM Support <s@x.com> wrote:<br>&gt; old text 13912345678"
    )
    r = one(u, body)
    assert "<" not in r.text and "&nbsp;" not in r.text and "&amp;" not in r.text
    assert "old text" not in r.text and "很高兴为您服务" not in r.text
    assert "stopped working & smells" in r.text
    assert "html" in r.flags


def test_redact_method(u):
    out = u.redact("回访电话 010-12345678，邮箱 a.b@qq.com，型号 KX-45B")
    assert out == "回访电话 [PHONE]，邮箱 [EMAIL]，型号 KX-45B"


@pytest.mark.parametrize(
    "body,flag",
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("😀😀👍", "emoji_only"),
        ("[图片]", "placeholder_only"),
        ("abc\x00\x01\x02\xff\xfe" * 50, "binary"),
        ("烤箱门关不紧，有焦味，客服态度差".encode().decode("latin-1"), "mojibake"),
        ("烤箱门关不紧，有焦味，客服态度差".encode().decode("gbk", errors="replace"), "mojibake"),
        ("שלום, התנור שלי לא עובד", "rtl"),
        ("<b>bold</b> text", "html"),
    ],
)
def test_bad_input_flags(u, body, flag):
    r = one(u, body)
    assert flag in r.flags
    assert r.intent in ("complaint", "question", "suggestion", "praise")
    assert r.severity in ("safety", "defect", "service", "other")


def test_mojibake_repaired(u):
    r = one(u, "烤箱门关不紧，有焦味".encode().decode("latin-1"))
    assert r.text == "烤箱门关不紧，有焦味"
    assert r.language == "zh" and r.severity == "safety"


def test_huge_body_truncated_and_order_kept(u):
    big = "烤箱坏了。" * 250_000  # ~1.25M chars
    items = [
        TicketText(""),
        TicketText(big),
        TicketText("😡"),
        TicketText(None),
        TicketText("最后一条：很好用"),
    ]
    out = u.understand(items)
    assert len(out) == 5
    assert "truncated" in out[1].flags and len(out[1].text) <= 20_000
    assert out[0].flags == ("empty",)
    assert out[3].flags == ("empty",)
    assert out[4].text == "最后一条：很好用" and out[4].intent == "praise"


def test_subject_only(u):
    r = u.understand([TicketText(body="", subject="Oven door broken")])[0]
    assert r.text == "Oven door broken" and "empty" not in r.flags
    assert r.product == "oven"


def test_no_catalogue():
    bare = Understander()
    r = bare.understand([TicketText("型号: ZX-9000 冒烟了")])[0]
    assert r.model == "ZX-9000" and r.model_source == "text" and r.product is None
    assert r.severity == "safety"


def test_zh_words_match_the_spacy_pipeline(u):
    """The Doc-free zh path gives the same content tokens, first MODEL and first PRODUCT as building
    spaCy Docs with the pipeline's tokenizer and EntityRuler (on every labelled ticket text)."""
    import csv
    from pathlib import Path

    from voc.nlp.normalize import normalize
    from voc.nlp.tokens import content_tokens, content_words, token_text
    from voc.nlp.understanding import _first_ent, _first_product

    rows = list(
        csv.DictReader((Path(__file__).parent / "data" / "intent_labelled.csv").open(encoding="utf-8"))
    )
    texts = [r["text"] for r in rows] + [
        "烤箱kx 30a的门把手和炸锅 Air fryer 都坏了",
        "电烤箱 toaster oven AF-5L 炸篮",
    ]
    differ = []
    for t in texts:
        tt = token_text(u.redactor.redact(normalize(t)[0])[0], u.index)
        doc = u.zh(tt)
        ref = (content_tokens(doc, u._lemmas), _first_ent(doc, "MODEL"), _first_product(doc, u.index))
        words = u.zh_words.words(tt)
        ents = u.zh_words.entities(words)
        # (Doc indices also count whitespace tokens, which the word list drops: compare texts)
        assert [(e.text.replace(" ", ""), e.label_) for e in doc.ents] == [
            ("".join(words[s:e]), lab) for s, e, lab, _ in ents
        ]
        models = {s: (e, eid) for s, e, lab, eid in ents if lab == "MODEL"}
        got = (
            content_words(words, models, u._lemmas),
            next(iter(models.values()))[1] if models else None,
            next((eid for s, e, lab, eid in ents if lab == "PRODUCT"), None),
        )
        if got != ref:
            differ.append((t, ref, got))
    assert not differ
    assert one(u, "烤箱kx 30a的门把手坏了").model == "KX-30A"


def test_fast_segmenter_is_jiebas_cut(u):
    """Both no-HMM cuts (rjieba, and the Python re-write it falls back to) give exactly jieba's words
    over the same dictionary: user dictionary, parts, catalogue names and models included."""
    import csv
    from pathlib import Path

    from voc.nlp.entities import PARTS_ZH
    from voc.nlp.tokens import token_text, user_words

    seg = u.zh.tokenizer.jieba_seg
    assert [t.text for t in u.zh("门关不紧了")] == seg.cut("门关不紧了") == ["门", "关不紧", "了"]
    assert seg._rs, "rjieba is a dependency: the Rust cut should be in use"
    rows = csv.DictReader((Path(__file__).parent / "data" / "intent_labelled.csv").open(encoding="utf-8"))
    texts = [token_text(r["text"], u.index) for r in rows]
    texts += [
        "  a  b\n\r\nc",
        "",
        "烤箱KX-30A炸锅 abc123 ＃& x",
        "门把手把手门关不紧电烤箱toaster oven",
        "\u3000中文\x1c\xa0\u2028测试\r\r\n",
        "emoji😀烤箱🔥漏水",
        "a.b_c%d-e+f#g&h中文1.5kg",
    ]
    # every added word alone, between words it could join, and run together (ties and overlaps)
    added = [*user_words(), *PARTS_ZH, *(name for name, _ in u.index.names), *u.index.models]
    texts += added + [f"我的{w}坏了，{w}的{w}问题" for w in added] + ["".join(added), "的".join(added)]
    # ideographs only jieba-rs counts as Han: those texts take the Python cut, still jieba's words
    texts += ["烤箱\u3400门关不紧", "漏水\u9fd6\u9fff滤芯", "\uf900电水壶", "门\U00020000把手"]
    ref = [list(seg.tk.cut(t, HMM=False)) for t in texts]
    assert [seg.cut(t) for t in texts] == ref
    assert [seg._cut_py(t) for t in texts] == ref


def test_segmenter_without_rjieba_cuts_in_python(monkeypatch):
    """rjieba missing: the segmenter keeps working on its Python cut (same words, tested above)."""
    import sys

    from voc.nlp.tokens import _JiebaSegmenter, _rust_jieba

    monkeypatch.setitem(sys.modules, "rjieba", None)  # import rjieba -> ImportError
    seg = _JiebaSegmenter(hmm=False)
    assert _rust_jieba(seg.tk) is None
    assert seg.cut("烤箱的门关不紧") == list(seg.tk.cut("烤箱的门关不紧", HMM=False))
    assert seg._rs is False


def test_one_product_spelled_two_ways_is_one_product():
    """Product identity: the model code first, catalogue aliases second."""
    bare = Understander()
    zh, en = bare.understand(
        [
            TicketText("滤芯接口漏水", product="净水器 WP5"),
            TicketText("The filter housing leaks", product="Water purifier WP5"),
        ]
    )
    assert zh.product == en.product == "WP5"
    assert (
        (zh.model, zh.model_source) == (en.model, en.model_source) == ("WP5", "field")
    )  # filled from the product
    assert bare._field_product("净水器 WP5") == bare._field_product("Water purifier WP5")
    assert bare._field_product("净水器 WP-5") == bare._field_product("Water purifier WP 5") == "WP5"
    # a short code is not an identity: two unrelated products sharing "V2" stay apart
    assert bare._field_product("Hair dryer V2") != bare._field_product("Toothbrush V2")
    # no code: kept as given; a size is not a code
    assert bare._field_product("Air fryer 5L") == "Air fryer 5L"
    assert bare.understand([TicketText("坏了", product="Air fryer 5L")])[0].model is None
    # a model field wins over the code in the product field
    assert bare.understand([TicketText("坏了", product="净水器 WP5", model="WP7")])[0].model == "WP7"

    cat = Understander(
        PRODUCTS + (CatalogueEntry("purifier", "净水器", "Water purifier", ("净水机",), ("WP5",)),)
    )
    got = cat.understand(
        [
            TicketText("漏水", product="净水器 WP5"),
            TicketText("leaks", product="Water purifier WP5"),
            TicketText("漏水", product="净水机"),
            TicketText("leaks", product="wp5"),
            TicketText("door", product="Oven KX-99"),
        ]
    )
    assert [u.product for u in got] == ["purifier"] * 4 + ["oven"]  # known code / alias -> catalogue id
    assert [u.model for u in got] == ["WP5", "WP5", None, "WP5", "KX-99"]
    assert cat.understand([TicketText("坏了", product="blender")])[0].product == "blender"  # unknown kept
