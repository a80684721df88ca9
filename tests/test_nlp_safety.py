"""Severity knows the safety language of every product kind; intent keeps complaints that ask questions.

Hand-written cases (none from the held-out file): food (foreign objects, spoiled food eaten, food
poisoning), electrics (smoke, shocks, a hot plug), injuries, children (swallowing, choking), each in
Chinese and English, next to negated and figurative uses of the same words that must not count.
"""

from __future__ import annotations

import pytest

from voc.nlp.intent import classify_intent, classify_intents
from voc.nlp.normalize import normalize
from voc.nlp.severity import classify_severities, has_safety


def _sev(texts: list[str]) -> list[str]:
    texts = [normalize(t)[0] for t in texts]
    return classify_severities(texts, [i for i, _, _ in classify_intents(texts)])


SAFETY = [
    # food
    "有虫子",
    "面包里吃出一根头发",
    "酸奶里发现了碎玻璃",
    "粽子里吃到铁丝",
    "吃了发霉的月饼，全家拉肚子",
    "孩子喝完牛奶就呕吐，医生说是食物中毒",
    "There was a bug in the bread",
    "Found a hair in my soup",
    "The cheese was moldy and we had already eaten half",
    "罐子里有好多小虫在爬",
    "孩子喝了以后头晕想吐",
    "建议大家不要购买，里面有几只虫",
    "Got food poisoning from the salad, vomiting all night",
    # electrics
    "吹风机插头发烫冒烟",
    "插头很烫，还有烧焦味",
    "电动牙刷充电座起火了",
    "净水器漏电，手一碰就麻手",
    "The hair dryer plug got hot and started smoking",
    "Sparks came out of the socket and the cord melted",
    "I got a shock from the tap",
    "Burning smell from the charger",
    "I was shocked when I touched the kettle's handle",
    "The toaster keeps shocking me",
    "It came as a shock, literally: the plug sparked",
    # injuries
    "刀片飞出来把手指割伤了，流了很多血",
    "开水溅出来把手烫伤了",
    "The blade cut my finger, I needed stitches",
    "The lid flew off and hurt my hand",
    "My son was taken to hospital after the heater burned his arm",
    # children
    "宝宝把小零件吞下去了",
    "孩子误食了电池",
    "小孩吃果冻卡住喉咙差点窒息",
    "My toddler choked on a small part",
    "Choking hazard: the cap comes off",
]
NOT_SAFETY = [
    "没有冒烟也没有焦味，就是不出热风",
    "No smoke, no sparks, it just won't turn on",
    "气得我冒烟，客服一直不回",
    "快递慢得我都急得冒火",
    "充电到100%要三个小时",
    "屏幕有划伤",
    "昨晚睡着了也被吵醒",
    "洗完头发很痒",
    "苹果有虫眼，个头也小",
    "这个手机吃了我一个月工资，难受",
    "内心也很受伤",
    "真理的火花",
    "垃圾到爆炸",
    "冰淇淋化了一半",
    "I got sick of waiting for the refund",
    # English figures of speech about feelings, money or records
    "I was shocked to see a second charge on my card",
    "Honestly shocked at how slow the refund was",
    "Shocking customer service, nobody called back",
    "The price increase came as a complete shock to us",
    "This late fee will hurt my credit score",
    "The delay hurt our business badly",
    "The wrong report caused me financial injury",
    "They protect against threats or hazards to the security of such records",
    "I was charged twice for the hospital bill",
    "My hopes for a quick fix were shattered",
    "没有虫子，就是不太新鲜",
]


@pytest.mark.parametrize("text", SAFETY)
def test_safety_language_is_safety(text):
    assert has_safety(normalize(text)[0]), text


@pytest.mark.parametrize("text", NOT_SAFETY)
def test_negated_and_figurative_are_not_safety_rules(text):
    assert not has_safety(normalize(text)[0]), text


def test_rules_plus_classifier():
    assert _sev(SAFETY) == ["safety"] * len(SAFETY)
    got = _sev(NOT_SAFETY)
    wrong = [t for t, s in zip(NOT_SAFETY, got, strict=True) if s == "safety"]
    assert not wrong


@pytest.mark.parametrize(
    "text",
    [
        "漏水怎么办?",
        "净水器漏水怎么办？",
        "散热不怎么样",
        "why does it leak again?",
        "Why does it keep leaking?",
        "滤芯接口漏水，怎么处理？",
        "插头冒烟了，还能用吗？",
        "房间地毯很脏",
        "质量不怎么样",
        "衣服洗了一次就掉色",
    ],
)
def test_complaint_that_asks_is_a_complaint(text):
    assert classify_intent(normalize(text)[0]) == "complaint"


@pytest.mark.parametrize(
    "text",
    [
        "How do I replace the filter?",
        "请问滤芯多久换一次？",
        "怎么设置定时？",
        "Is it normal that it smells a bit the first time?",
        "第一次用有点塑料味，这个正常吗？",
        "炸锅的锅篮可以用钢丝球刷吗？怕刮坏涂层。",
    ],
)
def test_how_to_question_stays_a_question(text):
    assert classify_intent(normalize(text)[0]) == "question"


@pytest.mark.parametrize(
    "text",
    [
        "建议大家不要购买，里面有几只虫",
        "真心建议别买，喝了拉肚子",
        "I suggest you check it, the plug was smoking",
    ],
)
def test_a_safety_report_with_advice_is_a_complaint(text):
    assert classify_intent(normalize(text)[0]) == "complaint"
