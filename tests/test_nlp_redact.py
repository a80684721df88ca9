"""Redaction: recall on the planted set, codes survive, checksums, no over-redaction of plain text."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from voc.nlp.normalize import normalize
from voc.nlp.redact import Redactor, cn_id_ok, luhn_ok

DATA = Path(__file__).parent / "data" / "pii_planted.csv"
MODELS = ["KX-30A", "KX-45B", "AF-5L"]


@pytest.fixture(scope="module")
def r() -> Redactor:
    return Redactor(MODELS, order_patterns=[r"SO-\d{8}"])


def _leaked(typ: str, val: str, out: str) -> bool:
    """An identifier leaks if it survives verbatim, or a 4+ digit run of it, or (names) any part of it."""
    if val in out:
        return True
    if typ == "NAME":
        return any(
            len(p) >= 3 and re.search(r"\b" + re.escape(p) + r"\b", out) for p in re.split(r"[\s'\-]+", val)
        )
    if typ == "ADDRESS":
        m = re.search(
            r"[\u4e00-\u9fff]{1,6}(?:路|街|大道)\d+号|\d+ [A-Z][a-z]+ (?:[A-Z][a-z]+ )?(?:St|Street|Avenue|Road|Drive)",
            val,
        )
        return bool(m and m.group(0) in out)
    flat = re.sub(r"[ \-().]", "", out)
    return any(run in flat for run in re.findall(r"\d{4,}", re.sub(r"[ \-().]", "", val)))


def test_planted_recall(r):
    rows = list(csv.DictReader(DATA.open(encoding="utf-8")))
    total = missed = 0
    per_type: dict[str, list[int]] = {}
    kept_fail = []
    for row in rows:
        out = r.redact(normalize(row["text"])[0])[0]
        for typ, val in json.loads(row["identifiers"]):
            total += 1
            leak = _leaked(typ, val, out)
            missed += leak
            per_type.setdefault(typ, [0, 0])
            per_type[typ][0] += 1
            per_type[typ][1] += leak
        for code in filter(None, row["keep"].split("|")):
            if code not in out:
                kept_fail.append((code, out))
    recall = 1 - missed / total
    print(f"\nredaction recall {recall:.4f} on {total} planted identifiers in {len(rows)} texts")
    for typ, (n, m) in sorted(per_type.items()):
        print(f"  {typ:<8} {n:4d} planted, {m} leaked")
    assert total >= 200
    assert recall >= 0.99
    assert not kept_fail, kept_fail[:5]


@pytest.mark.parametrize(
    "text",
    [
        "KX-30A 批次B2409 lot 24A17 batch B2311 AF-5L",
        "我买了3台，花了1299元，2024-11-23下单，温度调到200度烤了15分钟",
        "The oven reached 220C after 12 minutes, 3 of 5 trays were fine.",
        "我是高三学生，烤箱很好用",
        "I am very happy with it, this is great",
        "Hi Support, the KX-45B is broken",
        "型号KX30A，生产日期20240915",
        "客服小姐姐态度很好",
    ],
)
def test_no_over_redaction(r, text):
    out, n = r.redact(text)
    assert n == 0 and out == text


def test_types(r):
    cases = {
        "电话 138-1234-5678": "[PHONE]",
        "call +1 415 555 0134": "[PHONE]",
        "tel (020) 7946 0958": "[PHONE]",
        "0086 13912345678": "[PHONE]",
        "身份证 11010519491231002X": "[ID]",
        "card 4111 1111 1111 1111": "[CARD]",
        "卡号6222021234567890128": None,  # Luhn decides CARD vs ORDER; either way removed
        "mail me: li.na88@163.com": "[EMAIL]",
        "订单号：SO-12345678": "[ORDER]",
        "order #A12345678": "[ORDER]",
        "地址：上海市浦东新区世纪大道100号1201室": "[ADDRESS]",
        "I live at 12 Baker Street, London": "[ADDRESS]",
        "我叫李娜": "[NAME]",
        "王先生您好": "[NAME]",
        "Dear Mrs. Watson,": "[NAME]",
    }
    for text, ph in cases.items():
        out, n = r.redact(text)
        assert n >= 1, text
        if ph:
            assert ph in out, (text, out)
        assert not re.search(r"\d{5,}", out), out


def test_checksums():
    assert cn_id_ok("11010519491231002X")
    assert not cn_id_ok("110105194912310021")
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


def test_placeholders_not_rematched(r):
    once, n1 = r.redact("电话13812345678")
    twice, n2 = r.redact(once)
    assert once == twice and n2 == 0


def test_private_use_chars_in_input(r):
    out, _ = r.redact("\ue000 KX-30A 13812345678")
    assert out.strip() == "KX-30A [PHONE]"


@pytest.mark.parametrize(
    "text",
    [
        "我的电话一三八一二三四五六七八，请回电",
        "电话：幺三八 一二三四 五六七八",
        "打一三九〇〇〇〇一二三四找我",
        "手机１３８１２３４５６７８谢谢",  # full-width digits, not normalised first
        "联系138一二三四5678",  # mixed
        "号码是一五零-零零零零-一二三四",
        "+八六一三八一二三四五六七八",
        "座机零二一 六二三四 五六七八",
        "电话壹叁捌壹贰叁肆伍陆柒捌",
        "一三八一二三四五六七八微信同号 call me",
    ],
)
def test_phone_in_chinese_numerals(r, text):
    out, n = r.redact(text)
    assert n == 1 and "[PHONE]" in out, out
    assert not re.search(r"[〇零幺一二三四五六七八九壹贰叁肆伍陆柒捌０-９\d]{4}", out), out


def test_phone_in_chinese_numerals_survives_normalize(r):
    out, _ = r.redact(normalize("客户电话：一三八一二三四五六七八，KX-30A 门关不紧")[0])
    assert "[PHONE]" in out and "KX-30A" in out and "一三八" not in out


@pytest.mark.parametrize(
    "text",
    [
        "用了三个月就坏了",
        "一二年买的，二〇二四年十一月又买了一台",
        "一二三四五六七八九十都试过了",
        "两个小时响了三次",
        "等了一个星期零三天",
        "第一二三批都有问题",
        "一九九八年的老顾客",
    ],
)
def test_ordinary_chinese_numbers_are_kept(r, text):
    out, n = r.redact(text)
    assert n == 0 and out == text
