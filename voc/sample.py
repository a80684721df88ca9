"""A seeded generator of realistic closed support tickets for a small-appliance brand.

"Hearth & Co / 暖厨" sells ovens, air fryers, kettles, blenders and a robot vacuum. The data is
bilingual (about 85% Chinese, 15% English, a few code-switched tickets) and carries known,
planted facts so that ``voc demo`` has a story to tell and tests have something to find:

* a **surge**: oven KX-30A door complaints ("门关不紧" / "door won't close") rise from about
  3 a week to 12 and then 30 in the last two weeks, most of them from production batch B2409;
* an **unmet need**: suggestions asking for air-fry baskets / liners that fit the ovens;
* a **global spike**: one sale week with 1.8x the volume of everything (not a real surge);
* a low, steady rate of **safety** tickets (smoke, burning smell, electric shock) that must not
  be reported as a surge;
* **personal data** in about 10% of bodies (mobiles, e-mails, ID numbers with valid checksums,
  order numbers), one body with ``<script>`` and one with HTML markup.

Everything comes from one ``random.Random(seed)``: the same arguments give the same rows.
Dates depend only on ``end_week``, never on today.
"""

from __future__ import annotations

import csv
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from voc.ticket import CANONICAL_FIELDS
from voc.weeks import Week

BRAND_ZH = "暖厨"
BRAND_EN = "Hearth & Co"
TZ = timezone(timedelta(hours=8))

PRODUCTS: list[dict] = [
    {
        "id": "oven",
        "name_zh": "烤箱",
        "name_en": "oven",
        "aliases": ["电烤箱", "小烤箱", "暖厨烤箱", "countertop oven", "toaster oven"],
        "models": ["KX-30A", "KX-45B"],
        "owner": "王磊",
    },
    {
        "id": "airfryer",
        "name_zh": "空气炸锅",
        "name_en": "air fryer",
        "aliases": ["炸锅", "空气炸", "暖厨空气炸锅", "airfryer", "air-fryer"],
        "models": ["AF-5L", "AF-8L"],
        "owner": "陈静",
    },
    {
        "id": "kettle",
        "name_zh": "电热水壶",
        "name_en": "kettle",
        "aliases": ["热水壶", "烧水壶", "电水壶", "electric kettle"],
        "models": ["KT-17"],
        "owner": "刘洋",
    },
    {
        "id": "blender",
        "name_zh": "破壁机",
        "name_en": "blender",
        "aliases": ["料理机", "破壁料理机", "豆浆机", "high-speed blender"],
        "models": ["BL-900"],
        "owner": "刘洋",
    },
    {
        "id": "vacuum",
        "name_zh": "扫地机器人",
        "name_en": "robot vacuum",
        "aliases": ["扫地机", "扫拖机器人", "机器人", "robot vac", "robovac"],
        "models": ["RV-2"],
        "owner": "Kevin Zhao",
    },
]

OWNERS: list[dict] = [
    {"name": "王磊", "department": "烘焙电器产品线", "email": "wang.lei@hearth.example", "language": "zh"},
    {"name": "陈静", "department": "空气炸锅产品线", "email": "chen.jing@hearth.example", "language": "zh"},
    {"name": "刘洋", "department": "厨房小电产品线", "email": "liu.yang@hearth.example", "language": "zh"},
    {
        "name": "Kevin Zhao",
        "department": "Smart Home",
        "email": "kevin.zhao@hearth.example",
        "language": "en",
    },
    {"name": "周敏", "department": "客服与物流", "email": "zhou.min@hearth.example", "language": "zh"},
]

# Production batches (BYYMM-style codes) per model, with their share of shipped units.
BATCHES: dict[str, dict[str, float]] = {
    "KX-30A": {
        "B2405": 0.10,
        "B2406": 0.12,
        "B2407": 0.13,
        "B2408": 0.15,
        "B2409": 0.15,
        "B2410": 0.14,
        "B2411": 0.11,
        "B2412": 0.10,
    },
    "KX-45B": {"B2403": 0.20, "B2406": 0.25, "B2409": 0.25, "B2411": 0.30},
    "AF-5L": {"B2402": 0.15, "B2404": 0.20, "B2407": 0.25, "B2410": 0.25, "B2412": 0.15},
    "AF-8L": {"B2405": 0.30, "B2408": 0.35, "B2411": 0.35},
    "KT-17": {"B2401": 0.15, "B2403": 0.15, "B2406": 0.20, "B2409": 0.25, "B2412": 0.25},
    "BL-900": {"B2404": 0.30, "B2408": 0.35, "B2411": 0.35},
    "RV-2": {"B2406": 0.40, "B2410": 0.60},
}
_PRODUCT_SHARE = {"oven": 0.25, "airfryer": 0.30, "kettle": 0.20, "blender": 0.13, "vacuum": 0.12}
_MODEL_SHARE = {
    "KX-30A": 0.65,
    "KX-45B": 0.35,
    "AF-5L": 0.60,
    "AF-8L": 0.40,
    "KT-17": 1.0,
    "BL-900": 1.0,
    "RV-2": 1.0,
}
_BY_ID = {p["id"]: p for p in PRODUCTS}

INTENTS = ("complaint", "question", "suggestion", "praise")


# --------------------------------------------------------------------------- planted facts


@dataclass(frozen=True)
class Label:
    """Ground truth for one generated ticket (never written to the CSV)."""

    theme: str
    intent: str  # complaint | question | suggestion | praise
    severity: str  # safety | defect | service | other
    product: str
    model: str
    batch: str
    language: str  # zh | en | mixed
    week: str  # ISO week of closed_at, e.g. "2026-W47"
    planted: str = ""  # "surge" for the planted surge tickets, "" otherwise


@dataclass(frozen=True)
class PiiItem:
    ticket_id: str
    kind: str  # phone | email | id_number | order
    value: str  # exactly as it appears in the body


@dataclass(frozen=True)
class Planted:
    """What was planted, so tests and the demo can check the pipeline finds it."""

    end_week: Week
    weeks: tuple[Week, ...]
    surge_product: str = "oven"
    surge_model: str = "KX-30A"
    surge_batch: str = "B2409"
    surge_theme: str = "door"
    surge_topic_words: tuple[str, ...] = (
        "门关不紧",
        "关不上",
        "门有缝",
        "炉门",
        "door won't close",
        "door doesn't shut",
        "gap",
    )
    surge_weeks: tuple[Week, ...] = ()
    # door complaints for oven KX-30A per ISO week (all weeks), and how many came from B2409
    surge_counts: Mapping[str, int] = field(default_factory=dict)
    surge_batch_counts: Mapping[str, int] = field(default_factory=dict)
    surge_workaround: tuple[str, str] = (
        "指导客户按门铰链校准视频调整",
        "Sent the door hinge calibration video",
    )
    unmet_need_theme: str = "oven_airfry_accessory"
    unmet_need_words: tuple[str, ...] = (
        "空气炸篮",
        "硅胶垫",
        "烘焙纸",
        "配件",
        "air-fry basket",
        "liners",
        "accessories",
    )
    unmet_need_counts: Mapping[str, int] = field(default_factory=dict)
    global_spike_week: Week | None = None
    global_spike_factor: float = 1.8
    weekly_volume: Mapping[str, int] = field(default_factory=dict)
    safety_theme: str = "safety"
    safety_counts: Mapping[str, int] = field(default_factory=dict)
    pii: tuple[PiiItem, ...] = ()
    script_ticket_id: str = ""
    html_ticket_id: str = ""
    labels: Mapping[str, Label] = field(default_factory=dict, repr=False)
    # an action item the demo records once the topics exist (flows/demo.py): the fix of the robot vacuum's
    # app connection, shipped action_weeks_back weeks before the last week, so the quarterly review and the
    # workbench measure its before/after effect. Nothing in the tickets is planted for it: the measure
    # says what the data says (these complaints run at a steady rate).
    action_theme: str = "app_connect"
    action_product: str = "vacuum"
    action_weeks_back: int = 8
    action_note: str = "App 连接问题固件更新 / firmware update for the app connection"

    def count(self, theme: str | None = None, week: Week | str | None = None, **where: str) -> int:
        """Count generated tickets by ground truth, e.g. ``count("door", w, model="KX-30A")``."""
        wk = None if week is None else str(week)
        n = 0
        for lab in self.labels.values():
            if theme is not None and lab.theme != theme:
                continue
            if wk is not None and lab.week != wk:
                continue
            if all(getattr(lab, k) == v for k, v in where.items()):
                n += 1
        return n


# --------------------------------------------------------------------------- themes


@dataclass(frozen=True)
class _Theme:
    key: str
    intent: str
    severity: str
    weight: float  # percent of background volume (0 = planted separately)
    products: tuple[str, ...]
    zh: tuple[str, ...]  # core sentences; {P} is the product mention
    en: tuple[str, ...]
    subj_zh: tuple[str, ...]
    subj_en: tuple[str, ...]
    res_zh: tuple[str, ...]
    res_en: tuple[str, ...]
    mixed: tuple[str, ...] = ()
    detail_zh: tuple[str, ...] = ()
    detail_en: tuple[str, ...] = ()
    service: bool = False  # not about the unit itself: batch is rarely mentioned
    models: tuple[str, ...] = ()  # restrict to these models


_ALL = ("oven", "airfryer", "kettle", "blender", "vacuum")
_HEATING = ("oven", "airfryer", "kettle", "blender")

THEMES: tuple[_Theme, ...] = (
    # ---------------------------------------------------------------- complaints
    _Theme(
        "door",
        "complaint",
        "defect",
        0,
        ("oven",),
        zh=(
            "{P}的门关不紧，关上以后右上角有条缝，烤东西的时候热气一直往外冒。",
            "{P}用了没几天，炉门就合不上了，得用手一直按着才行。",
            "新买的{P}门关不严，一松手门就自己弹开一点。",
            "{P}的门有缝隙，关门的时候感觉铰链那里卡卡的，关不到底。",
            "{P}的门总是关不上，预热的时候温度一直上不去，我怀疑是门漏气。",
            "炉门关不紧！{P}才用两周，门和机身对不齐，左边高右边低。",
            "{P}门合不拢，烤蛋糕时热量都跑出来了，外面摸着很烫。",
            "收到的{P}门有点歪，关门要用力推，关上了还是有缝。",
            "{P}烤门关不严实，玻璃门和箱体之间能塞进一张纸。",
            "{P}的门关上会自己慢慢弹开，烤箱门关不紧，东西烤不熟。",
        ),
        en=(
            "The door on my {P} won't close properly. There's a gap at the top corner and heat escapes.",
            "My {P} door doesn't shut all the way; it springs back open a little when I let go.",
            "{P}: the door won't stay closed and the hinge feels stiff.",
            "There's a visible gap between the door and the body of the {P}, so it never gets up to temperature.",
            "The door of the {P} is misaligned and I have to hold it shut while baking.",
            "Door won't close on the {P} I bought. It looks slightly crooked.",
        ),
        mixed=(
            "{P}的door关不紧，有个gap，heat一直往外跑。",
            "My {P} 门关不紧, there's a gap at the top. 能换一个吗?",
            "{P}的门 won't close properly，铰链好像有问题。",
        ),
        detail_zh=(
            "铰链那里好像有点松。",
            "门上的密封条看着也没问题。",
            "烤出来的东西一边生一边熟。",
            "关门时能听到咔哒一声但就是不到位。",
            "门缝里能看到灯光漏出来。",
        ),
        detail_en=(
            "The hinge feels loose.",
            "The seal looks fine, it's the alignment.",
            "You can see light through the gap.",
            "Food comes out half raw.",
        ),
        subj_zh=("烤箱门关不紧", "炉门合不上", "烤箱门有缝", "门关不严", "烤箱门问题"),
        subj_en=("Oven door won't close", "Door gap on oven", "Door not shutting"),
        res_zh=("安排上门检修，更换门铰链", "同意换货，已安排快递取件", "指导客户按门铰链校准视频调整"),
        res_en=(
            "Arranged a technician visit to replace the hinge",
            "Approved exchange; courier pickup booked",
            "Sent the door hinge calibration video",
        ),
    ),
    _Theme(
        "heating_uneven",
        "complaint",
        "defect",
        5,
        ("oven", "airfryer"),
        zh=(
            "{P}加热不均匀，烤出来上面焦了下面还是生的。",
            "{P}受热不均，一边烤糊一边没熟，温度是不是不准？",
            "用{P}烤鸡翅，里面那排都焦了，靠门这边还是白的。",
            "{P}温度不准，设了180度实际感觉高很多，东西总是烤糊。",
            "{P}只有上管热，下面不怎么热，做披萨底是软的。",
            "同样的时间，{P}烤出来的薯条有的焦有的软，加热太不均匀了。",
        ),
        en=(
            "My {P} heats unevenly: the top burns while the bottom is still raw.",
            "The {P} temperature seems off; things burn at 180°C.",
            "Uneven heating in the {P}. One side of the tray is always burnt.",
            "The {P} cooks fries unevenly even when I shake them halfway.",
        ),
        mixed=("{P}加热不均匀，top都焦了bottom还是生的。",),
        detail_zh=("已经按说明书预热过了。", "换了好几个菜谱都一样。", "中途也翻面了。"),
        detail_en=("I preheated as the manual says.", "I tried rotating the tray."),
        subj_zh=("加热不均匀", "温度不准", "烤糊了", "受热不均"),
        subj_en=("Uneven heating", "Temperature problem", "Burnt food"),
        res_zh=("提供温度校准方法，建议放中层并减温10度", "安排寄回检测", "同意换货"),
        res_en=(
            "Explained temperature calibration; suggested middle rack and 10°C lower",
            "Arranged return for inspection",
            "Approved exchange",
        ),
    ),
    _Theme(
        "coating_peel",
        "complaint",
        "defect",
        5,
        ("airfryer", "oven"),
        zh=(
            "{P}的不粘涂层掉了，炸篮底部一块一块往下脱。",
            "才用一个月，{P}内胆的涂层就起皮了，还敢吃吗？",
            "{P}烤盘涂层脱落，洗的时候用的是软海绵，没用钢丝球。",
            "{P}炸篮掉漆，黑色的碎片粘在食物上了。",
            "{P}的不粘层剥落得很厉害，现在什么都粘锅。",
        ),
        en=(
            "The non-stick coating on my {P} basket is peeling off.",
            "Black flakes of coating from the {P} ended up in the food.",
            "After a month the {P} tray coating is coming off, and I only used a soft sponge.",
            "The {P} basket coating is flaking; is it still safe to use?",
        ),
        mixed=("{P}的coating掉了，炸篮底部都是peeling。",),
        detail_zh=("担心对健康有影响。", "家里有小孩，很担心。", "没有用洗碗机洗过。"),
        detail_en=("I'm worried about health effects.", "Never put it in the dishwasher."),
        subj_zh=("涂层脱落", "炸篮掉漆", "不粘层起皮", "涂层问题"),
        subj_en=("Coating peeling", "Non-stick coating flaking", "Basket coating"),
        res_zh=("免费补寄新炸篮", "同意更换内胆", "说明涂层材质安全并补寄配件"),
        res_en=(
            "Sent a free replacement basket",
            "Replaced the inner pot",
            "Explained coating safety and shipped a new part",
        ),
    ),
    _Theme(
        "kettle_leak",
        "complaint",
        "defect",
        4,
        ("kettle",),
        zh=(
            "{P}底部漏水，桌子上一滩水。",
            "{P}烧水的时候从底座渗水出来，吓得我赶紧拔了插头。",
            "{P}壶身和底座连接处漏水。",
            "刚买的{P}就漏水，水位线下面一直往外滴。",
            "{P}壶嘴下面那条缝漏水，倒水时也漏。",
        ),
        en=(
            "My {P} is leaking from the bottom.",
            "Water seeps out of the base of the {P} while it boils.",
            "The {P} drips from under the water-level window.",
        ),
        detail_zh=("水没有加超过最高水位线。", "用了不到两个月。"),
        detail_en=("I never fill above the max line.",),
        subj_zh=("水壶漏水", "底部渗水", "漏水"),
        subj_en=("Kettle leaking", "Leak from base"),
        res_zh=("同意换新", "安排退货退款"),
        res_en=("Replacement approved", "Return and refund arranged"),
    ),
    _Theme(
        "kettle_noise",
        "complaint",
        "defect",
        3,
        ("kettle",),
        zh=(
            "{P}烧水声音特别大，像吹哨一样尖。",
            "{P}快开的时候有很刺耳的啸叫声，半夜烧水吵醒全家。",
            "{P}噪音太大了，嗡嗡响还带尖叫。",
            "{P}烧水时一直有哨声，正常吗？",
        ),
        en=(
            "The {P} makes a very loud whistling noise when boiling.",
            "My {P} screeches before it boils; it's really loud.",
            "Is the high-pitched whine from the {P} normal?",
        ),
        subj_zh=("烧水噪音大", "啸叫", "声音太吵"),
        subj_en=("Noisy kettle", "Whistling noise"),
        res_zh=("说明属于沸腾正常声音，建议除垢后再试", "同意换货"),
        res_en=("Explained boiling noise; suggested descaling", "Exchange approved"),
    ),
    _Theme(
        "blender_noise",
        "complaint",
        "defect",
        4,
        ("blender",),
        zh=(
            "{P}声音太大了，开高速的时候整个厨房都在响。",
            "{P}噪音大得吓人，邻居都来敲门了。",
            "{P}运转时有异响，咔咔咔的，不像正常电机声。",
            "{P}打豆浆的时候声音震耳朵，还抖得厉害。",
        ),
        en=(
            "The {P} is extremely loud on high speed.",
            "My {P} makes a rattling noise that doesn't sound normal.",
            "The {P} vibrates and is noisier than any blender I've owned.",
        ),
        mixed=("{P}太noisy了，开high speed的时候受不了。",),
        subj_zh=("噪音大", "有异响", "声音太吵"),
        subj_en=("Blender too loud", "Rattling noise"),
        res_zh=("建议放在平稳台面并检查杯体安装", "安排上门检测", "同意换货"),
        res_en=("Advised a flat surface and reseating the jar", "Arranged inspection", "Exchange approved"),
    ),
    _Theme(
        "blender_cup_crack",
        "complaint",
        "defect",
        2,
        ("blender",),
        zh=(
            "{P}的杯体裂了，底部有一条细缝在漏。",
            "{P}杯子用了几次就出现裂纹。",
            "{P}杯盖卡扣断了，盖不上。",
        ),
        en=("The jar of my {P} has cracked near the base.", "The lid clip on the {P} snapped off."),
        subj_zh=("杯体裂纹", "杯盖坏了"),
        subj_en=("Cracked jar", "Broken lid"),
        res_zh=("补寄新杯体", "补寄杯盖"),
        res_en=("Sent a new jar", "Sent a new lid"),
    ),
    _Theme(
        "vacuum_stuck",
        "complaint",
        "defect",
        4,
        ("vacuum",),
        zh=(
            "{P}老是卡在沙发底下出不来。",
            "{P}一直原地打转，扫不了几分钟就报错。",
            "{P}经常卡在门槛那里，每天都要我去救它。",
            "{P}找不到充电座，电量耗光就停在房间中间。",
            "{P}撞到椅子腿就卡死不动了。",
        ),
        en=(
            "My {P} keeps getting stuck under the sofa.",
            "The {P} spins in circles and then stops with an error.",
            "The {P} can't find its dock and dies in the middle of the room.",
        ),
        mixed=("{P}老是stuck在门槛那里。",),
        subj_zh=("扫地机卡住", "原地打转", "回不了充电座"),
        subj_en=("Vacuum gets stuck", "Can't find dock"),
        res_zh=("指导设置禁区和虚拟墙", "远程升级固件后恢复", "安排寄修"),
        res_en=("Helped set no-go zones", "Remote firmware update fixed it", "Arranged repair"),
    ),
    _Theme(
        "vacuum_battery",
        "complaint",
        "defect",
        3,
        ("vacuum",),
        zh=("{P}电池不耐用，充满电只能扫二十分钟。", "{P}续航越来越短，半个月前还能扫完全屋。"),
        en=("The {P} battery only lasts about 20 minutes now.", "Battery life on the {P} has dropped a lot."),
        subj_zh=("续航短", "电池问题"),
        subj_en=("Battery life", "Short runtime"),
        res_zh=("寄送新电池", "指导电池校准"),
        res_en=("Shipped a new battery", "Walked through battery calibration"),
    ),
    _Theme(
        "app_connect",
        "complaint",
        "defect",
        4,
        ("vacuum",),
        zh=(
            "{P}连不上APP，配网一直失败。",
            "{P}的APP老是显示离线，路由器换了也不行。",
            "更新后{P}在APP里找不到设备了。",
            "{P}绑定APP时卡在百分之九十九。",
        ),
        en=(
            "The app won't connect to my {P}; pairing keeps failing.",
            "My {P} shows offline in the app all the time.",
            "After the update the app can't find my {P}.",
        ),
        mixed=("{P}的app一直connect不上，WiFi是正常的。", "{P} 配网 failed again, app shows offline."),
        detail_zh=("家里是双频WiFi。", "手机是安卓的。", "已经重置过了。"),
        detail_en=("I have a dual-band router.", "I already reset it twice."),
        subj_zh=("APP连不上", "配网失败", "设备离线"),
        subj_en=("App won't connect", "Pairing fails", "Device offline"),
        res_zh=("指导切换2.4G WiFi后配网成功", "远程重置设备绑定", "升级APP后恢复"),
        res_en=(
            "Switched to 2.4 GHz WiFi; pairing worked",
            "Reset the device binding remotely",
            "Updating the app fixed it",
        ),
    ),
    _Theme(
        "error_e3",
        "complaint",
        "defect",
        3,
        ("airfryer", "oven"),
        zh=(
            "{P}屏幕显示E3，然后就不加热了。",
            "{P}一开机就报E3错误，按什么键都没反应。",
            "{P}用到一半跳出E3代码，停机了。",
        ),
        en=("The {P} shows error E3 and stops heating.", "My {P} displays E3 right after switching on."),
        mixed=("{P}显示error code E3，然后就不工作了。",),
        subj_zh=("显示E3", "报错E3", "故障代码"),
        subj_en=("Error E3", "Error code on display"),
        res_zh=("指导断电重启并清理温度探头", "安排寄修更换温控器"),
        res_en=("Power-cycled and cleaned the sensor", "Arranged repair to replace the thermostat"),
    ),
    _Theme(
        "delivery_late",
        "complaint",
        "service",
        7,
        _ALL,
        service=True,
        zh=(
            "买的{P}一个星期了还没到，物流信息也不更新。",
            "{P}说好三天到，现在都第六天了。",
            "物流太慢了，{P}卡在中转站好几天。",
            "我的{P}显示已签收，但我根本没收到。",
        ),
        en=(
            "My {P} still hasn't arrived after a week.",
            "Tracking for my {P} hasn't updated in days.",
            "The {P} shows as delivered but I never received it.",
        ),
        mixed=("{P}的快递太慢了，tracking一直不更新。",),
        subj_zh=("物流慢", "还没收到货", "快递问题"),
        subj_en=("Late delivery", "Where is my order"),
        res_zh=("已催促物流并补偿优惠券", "联系快递核实后重新发货"),
        res_en=("Chased the courier and sent a coupon", "Reshipped after checking with courier"),
    ),
    _Theme(
        "refund_slow",
        "complaint",
        "service",
        5,
        _ALL,
        service=True,
        zh=(
            "退了{P}半个月了，退款还没到账。",
            "{P}已经寄回去了，退款迟迟不处理。",
            "申请{P}退款一直显示审核中，太慢了。",
        ),
        en=(
            "I returned the {P} two weeks ago and still no refund.",
            "Refund for the {P} is stuck in review.",
        ),
        subj_zh=("退款慢", "退款未到账"),
        subj_en=("Refund delay", "Refund not received"),
        res_zh=("已加急退款，预计1-3个工作日到账", "财务确认已原路退回"),
        res_en=("Expedited the refund (1–3 business days)", "Finance confirmed the refund was issued"),
    ),
    _Theme(
        "missing_parts",
        "complaint",
        "service",
        4,
        _ALL,
        service=True,
        zh=(
            "收到的{P}少了配件，说明书里写的烤网没有。",
            "{P}包装里没有电源线。",
            "{P}少了一个刷头。",
            "打开{P}的箱子发现少了量杯。",
        ),
        en=(
            "My {P} arrived without the rack shown in the manual.",
            "The {P} box was missing the power cord.",
            "A part is missing from my {P} package.",
        ),
        subj_zh=("缺少配件", "少件"),
        subj_en=("Missing parts", "Incomplete package"),
        res_zh=("补寄缺少的配件", "已补发"),
        res_en=("Shipped the missing part", "Sent the missing item"),
    ),
    _Theme(
        "safety",
        "complaint",
        "safety",
        0,
        _HEATING,
        zh=(
            "{P}用的时候冒烟了，还有一股焦味。",
            "{P}插上电摸外壳有点麻，是不是漏电？",
            "{P}后面散热口有烧焦的味道，吓得我赶紧断电。",
            "{P}电源线插头发烫变形了。",
        ),
        en=(
            "My {P} started smoking and there was a burning smell.",
            "I got a small electric shock touching the {P}.",
            "There's a burning smell coming from the back of the {P}.",
        ),
        subj_zh=("冒烟", "焦味", "漏电"),
        subj_en=("Smoke", "Burning smell", "Electric shock"),
        res_zh=("已升级质量安全团队，安排上门取件检测", "提醒停止使用，安排换新并回收检测"),
        res_en=(
            "Escalated to product safety; pickup for inspection arranged",
            "Advised to stop using it; replacement sent and unit recalled for testing",
        ),
    ),
    # ---------------------------------------------------------------- questions
    _Theme(
        "descale",
        "question",
        "other",
        4,
        ("kettle",),
        zh=("{P}里面有白色水垢，怎么除垢比较好？", "{P}可以用柠檬酸除垢吗？", "{P}多久需要清洗一次水垢？"),
        en=("How do I descale the {P}?", "Can I use citric acid to clean the {P}?"),
        subj_zh=("怎么除垢", "水垢清洁"),
        subj_en=("Descaling", "Cleaning limescale"),
        res_zh=("发送除垢教程：柠檬酸加水煮沸后静置", "已告知除垢步骤"),
        res_en=("Sent the descaling guide (citric acid)", "Explained descaling steps"),
    ),
    _Theme(
        "warranty",
        "question",
        "other",
        5,
        _ALL,
        service=True,
        zh=(
            "{P}保修期是多久？",
            "请问{P}发票丢了还能保修吗？",
            "{P}的电机保几年？",
            "{P}过了一年还能免费修吗？",
        ),
        en=("What's the warranty period for the {P}?", "Is the {P} still under warranty without a receipt?"),
        subj_zh=("保修期咨询", "保修"),
        subj_en=("Warranty question",),
        res_zh=("告知整机保修一年、电机三年", "说明可凭订单记录保修"),
        res_en=("One-year warranty, three years on the motor", "Order record is enough for warranty"),
    ),
    _Theme(
        "app_pair",
        "question",
        "other",
        3,
        ("vacuum",),
        zh=("{P}怎么连接手机APP？", "请问{P}配网步骤是什么？", "{P}可以用小度音箱控制吗？"),
        en=("How do I pair the {P} with the app?", "Does the {P} work with voice assistants?"),
        subj_zh=("如何连接APP", "配网咨询"),
        subj_en=("How to pair the app",),
        res_zh=("发送配网指引", "说明支持的智能音箱"),
        res_en=("Sent pairing instructions", "Listed supported assistants"),
    ),
    _Theme(
        "recipe",
        "question",
        "other",
        4,
        ("oven", "airfryer"),
        zh=("{P}烤鸡翅要多少度多长时间？", "{P}需要预热吗？预热几分钟？", "用{P}做蛋挞温度怎么设置？"),
        en=("What temperature should I use for chicken wings in the {P}?", "Do I need to preheat the {P}?"),
        subj_zh=("使用咨询", "温度时间怎么设"),
        subj_en=("Cooking question", "Preheating"),
        res_zh=("发送官方食谱", "告知预热5分钟"),
        res_en=("Sent the recipe booklet", "Preheat for 5 minutes"),
    ),
    _Theme(
        "dishwasher",
        "question",
        "other",
        2,
        ("airfryer", "blender"),
        zh=("{P}的配件可以放洗碗机吗？", "{P}怎么清洗比较好？"),
        en=("Is the {P} basket dishwasher safe?", "How should I clean the {P}?"),
        subj_zh=("清洗咨询",),
        subj_en=("Cleaning question",),
        res_zh=("告知可拆配件可进洗碗机", "发送清洁指南"),
        res_en=("Removable parts are dishwasher safe", "Sent cleaning guide"),
    ),
    _Theme(
        "invoice",
        "question",
        "service",
        2,
        _ALL,
        service=True,
        zh=("买的{P}怎么开发票？", "{P}的电子发票在哪里下载？"),
        en=("How can I get an invoice for the {P}?",),
        subj_zh=("开发票",),
        subj_en=("Invoice request",),
        res_zh=("已开具电子发票并发送", "指导在订单页面申请"),
        res_en=("Issued the e-invoice", "Explained how to request it"),
    ),
    # ---------------------------------------------------------------- suggestions
    _Theme(
        "oven_airfry_accessory",
        "suggestion",
        "other",
        0,
        ("oven",),
        zh=(
            "{P}能用空气炸锅的烘焙纸和硅胶垫吗？希望出个烤箱专用的。",
            "希望{P}能配一个空气炸篮，这样就不用再买空气炸锅了。",
            "请问空气炸锅的炸篮放得进{P}吗？建议出烤箱用的配件。",
            "{P}要是有专用硅胶垫和油纸就好了，现在买的尺寸都不对。",
            "建议给{P}出一套空气炸配件，网篮、烤盘那种。",
        ),
        en=(
            "Do air fryer liners fit the {P}? Would love official ones.",
            "Please sell an air-fry basket that fits the {P}.",
            "I wish there were silicone liners and accessories sized for the {P}.",
        ),
        mixed=("{P}能不能出一个air-fry basket？我不想再买一台空气炸锅了。",),
        subj_zh=("配件建议", "烤箱配件", "想要空气炸篮"),
        subj_en=("Accessory suggestion", "Liners for the oven"),
        res_zh=("已记录建议并反馈产品部门", "推荐通用尺寸配件并记录需求"),
        res_en=(
            "Logged the suggestion for the product team",
            "Suggested generic sizes and logged the request",
        ),
    ),
    _Theme(
        "white_color",
        "suggestion",
        "other",
        2.5,
        ("kettle", "blender", "airfryer"),
        zh=("希望{P}出个白色款，现在的颜色和我家厨房不搭。", "{P}能不能出奶白色或者浅灰色？"),
        en=("Please make the {P} in white.", "Would buy another {P} if it came in a lighter colour."),
        subj_zh=("颜色建议",),
        subj_en=("Colour suggestion",),
        res_zh=("已记录建议",),
        res_en=("Suggestion logged",),
    ),
    _Theme(
        "timer",
        "suggestion",
        "other",
        3,
        ("kettle", "blender", "oven"),
        zh=("{P}要是有预约定时功能就好了。", "建议{P}加个定时，早上起来就能用。"),
        en=("I wish the {P} had a timer.", "A delay-start timer on the {P} would be great."),
        subj_zh=("功能建议",),
        subj_en=("Feature request",),
        res_zh=("已记录建议",),
        res_en=("Suggestion logged",),
    ),
    _Theme(
        "longer_cord",
        "suggestion",
        "other",
        2,
        ("kettle", "airfryer"),
        zh=("{P}的电源线太短了，建议加长一点。",),
        en=("The {P} power cord is too short, please make it longer.",),
        subj_zh=("电源线太短",),
        subj_en=("Cord length",),
        res_zh=("已记录建议",),
        res_en=("Suggestion logged",),
    ),
    # ---------------------------------------------------------------- praise
    _Theme(
        "praise_product",
        "praise",
        "other",
        8,
        _ALL,
        zh=(
            "{P}很好用，颜值也高，推荐！",
            "{P}用了一个月，非常满意。",
            "给我妈买的{P}，她说比以前那个好用多了。",
            "{P}做出来的东西很好吃，全家都喜欢。",
            "{P}质量不错，声音也小。",
        ),
        en=("Love the {P}, works great.", "Really happy with my {P}.", "The {P} is excellent value."),
        mixed=("{P}真的很好用，highly recommend！",),
        subj_zh=("好评", "很满意"),
        subj_en=("Great product", "Happy customer"),
        res_zh=("感谢客户反馈",),
        res_en=("Thanked the customer",),
    ),
    _Theme(
        "praise_service",
        "praise",
        "other",
        4,
        _ALL,
        service=True,
        zh=("上次{P}的问题客服处理得很快，点赞。", "售后小姐姐很耐心，{P}的问题一次就解决了。"),
        en=("Thanks to your support team for sorting out my {P} so quickly.",),
        subj_zh=("表扬客服", "感谢"),
        subj_en=("Thank you",),
        res_zh=("感谢客户反馈",),
        res_en=("Thanked the customer",),
    ),
    _Theme(
        "praise_delivery",
        "praise",
        "other",
        3,
        _ALL,
        service=True,
        zh=("{P}第二天就到了，包装也很好。", "物流很快，{P}完好无损。"),
        en=("The {P} arrived next day, well packed.",),
        subj_zh=("物流快",),
        subj_en=("Fast delivery",),
        res_zh=("感谢客户反馈",),
        res_en=("Thanked the customer",),
    ),
)
_THEME = {t.key: t for t in THEMES}
_BACKGROUND = [t for t in THEMES if t.weight > 0]

_OPEN_ZH = {
    "complaint": ("", "", "你好，", "您好，", "客服你好，", "在吗？", "投诉一下，"),
    "question": ("", "你好，", "您好，", "麻烦问一下，", "请问一下，"),
    "suggestion": ("", "你好，", "提个建议：", "您好，"),
    "praise": ("", "", "必须夸一下，", "你好，"),
}
_OPEN_EN = {
    "complaint": ("", "", "Hi. ", "Hello! ", "Hi there. "),
    "question": ("", "Hi! ", "Hello. ", "Quick question. "),
    "suggestion": ("", "Hi. ", "Suggestion. "),
    "praise": ("", "Hi! ", "Just wanted to say thanks. "),
}
_CONTEXT_ZH = (
    "买了不到一个月。",
    "去年双十一买的。",
    "刚收到第三天。",
    "用了大概两个月。",
    "给爸妈买的。",
    "这是第二次联系你们了。",
    "已经按说明书操作过了。",
    "视频已经拍好了，可以发给你们。",
    "之前用得好好的。",
    "是在旗舰店买的。",
)
_CONTEXT_EN = (
    "Bought it about a month ago.",
    "It arrived last week.",
    "This is the second time I'm contacting you.",
    "I've followed the manual.",
    "I have a video if needed.",
    "It was working fine until recently.",
)
_ASK_ZH = {
    "complaint": (
        "麻烦尽快处理。",
        "能换货吗？",
        "请给个解决办法。",
        "希望能退货。",
        "怎么处理？",
        "太失望了。",
        "请尽快回复我。",
        "要求换新。",
    ),
    "question": ("谢谢！", "麻烦告知一下。", ""),
    "suggestion": ("希望考虑一下。", "谢谢。", ""),
    "praise": ("", "会推荐给朋友。", ""),
}
_ASK_EN = {
    "complaint": (
        "Please advise.",
        "Can I get a replacement?",
        "What are my options?",
        "Please sort this out.",
        "Very disappointed.",
    ),
    "question": ("Thanks!", "Thanks in advance.", ""),
    "suggestion": ("Thanks for considering.", ""),
    "praise": ("", "Will recommend to friends."),
}
_ASK_SERVICE_ZH = ("麻烦尽快处理。", "请尽快回复我。", "太失望了。", "给个说法。", "")
_ASK_SERVICE_EN = ("Please sort this out.", "Very disappointed.", "Please get back to me.", "")
_MENTION_ZH = ("{M}{N}", "{N}（{M}）", "型号{M}的{N}", "暖厨{M}{N}", "{M}", "{N} {M}")
_MENTION_ZH_PLAIN = ("{N}", "{N}", "{A}", "暖厨{N}", "你们家的{N}")
_MENTION_EN = ("{M} {N}", "{N} ({M})", "Hearth & Co {M}", "{M}", "{N} (model {M})")
_MENTION_EN_PLAIN = ("{N}", "{N}", "Hearth & Co {N}", "{A}")
_BATCH_ZH = (
    "批次{B}。",
    "机身底部贴纸上的批号是{B}。",
    "生产批次：{B}。",
    "（批次号{B}）",
    "批号{B}的。",
    "铭牌上写着{B}。",
)
_BATCH_EN = ("Batch {B}.", "The label says batch {B}.", "(lot {B})", "Production code on the back: {B}.")
_ALIASES_ZH = {
    "oven": ("电烤箱", "小烤箱"),
    "airfryer": ("炸锅", "空气炸"),
    "kettle": ("热水壶", "烧水壶", "电水壶"),
    "blender": ("料理机", "破壁料理机"),
    "vacuum": ("扫地机", "扫拖机器人"),
}
_ALIASES_EN = {
    "oven": ("countertop oven", "toaster oven"),
    "airfryer": ("airfryer", "air-fryer"),
    "kettle": ("electric kettle",),
    "blender": ("high-speed blender",),
    "vacuum": ("robot vac", "robovac"),
}

_CHANNELS_ZH = (("电话", 30), ("在线客服", 35), ("邮件", 5), ("京东", 15), ("天猫", 15))
_CHANNELS_EN = (("phone", 25), ("chat", 50), ("email", 25))
_AGENTS_ZH = (
    "李娜",
    "王芳",
    "张伟",
    "刘洋洋",
    "陈晓",
    "杨帆",
    "赵敏",
    "黄磊",
    "周婷",
    "吴昊",
    "孙悦",
    "马丽",
)
_AGENTS_EN = ("Emily Zhou", "Jason Wu", "Grace Lin")
_REGIONS = (
    ("广东", 14),
    ("浙江", 10),
    ("江苏", 10),
    ("上海", 7),
    ("北京", 6),
    ("山东", 7),
    ("四川", 6),
    ("湖北", 5),
    ("福建", 5),
    ("河南", 5),
    ("湖南", 4),
    ("安徽", 4),
    ("河北", 4),
    ("陕西", 3),
    ("重庆", 3),
    ("天津", 2),
    ("辽宁", 3),
    ("云南", 2),
    ("广西", 2),
    ("江西", 2),
)
_REGIONS_EN = (("上海", 30), ("北京", 25), ("广东", 25), ("香港", 10), ("浙江", 5), ("江苏", 5))
_DAY_W = (1.25, 1.15, 1.1, 1.05, 1.0, 0.75, 0.7)
_HOURS = tuple(range(8, 22))
_HOUR_W = (2, 6, 9, 9, 7, 7, 8, 8, 7, 6, 6, 6, 5, 3)

# --------------------------------------------------------------------------- personal data

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_AREAS = ("110101", "310104", "440305", "330106", "320102", "510104", "420106", "370202", "440106")
_MOBILE_PREFIX = (
    "138",
    "139",
    "137",
    "136",
    "135",
    "150",
    "151",
    "158",
    "159",
    "186",
    "187",
    "188",
    "177",
    "180",
    "189",
    "199",
    "153",
    "133",
)
_MAIL_USERS = (
    "zhangwei",
    "li.na",
    "wangfang88",
    "liuyang",
    "chenjing1990",
    "emma.liu",
    "yangfan",
    "zhao.min",
    "huanglei",
    "zhouting",
    "david.wu",
    "sunyue2001",
    "amy_chen",
    "xiaoma",
)
_MAIL_DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "foxmail.com")
_PII_ZH = {
    "phone": ("我的电话{v}，麻烦回电。", "联系电话：{v}。", "有问题打我手机{v}。", "手机号{v}，白天都在。"),
    "email": ("照片发到我邮箱了：{v}。", "邮箱{v}，请把处理结果发给我。"),
    "id_number": ("保修登记需要的话，我身份证号是{v}。", "身份证：{v}。"),
    "order": ("订单号{v}。", "订单号：{v}。", "我的订单号是{v}。"),
}
_PII_EN = {
    "phone": ("You can reach me on {v}.", "My number is {v}."),
    "email": ("Email me at {v}.", "My email: {v}"),
    "id_number": ("ID number for the warranty form: {v}.",),
    "order": ("Order #{v}.", "My order number is {v}.", "Ref: order #{v}"),
}


def id_checksum(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a Chinese ID number."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _fake_phone(rng: random.Random) -> str:
    p = rng.choice(_MOBILE_PREFIX)
    a, b = f"{rng.randrange(10000):04d}", f"{rng.randrange(10000):04d}"
    fmt = rng.randrange(6)
    return (
        f"{p}{a}{b}",
        f"{p} {a} {b}",
        f"{p}-{a}-{b}",
        f"+86 {p} {a} {b}",
        f"+86-{p}{a}{b}",
        f"+86{p}{a}{b}",
    )[fmt]


def _fake_id(rng: random.Random) -> str:
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 42))
    first = f"{rng.choice(_AREAS)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first + id_checksum(first)


def _fake_pii(rng: random.Random, kind: str, year: int) -> str:
    if kind == "phone":
        return _fake_phone(rng)
    if kind == "email":
        return f"{rng.choice(_MAIL_USERS)}{rng.choice(('', '', str(rng.randrange(10, 99))))}@{rng.choice(_MAIL_DOMAINS)}"
    if kind == "id_number":
        return _fake_id(rng)
    return f"{year}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(10**8):08d}"


# --------------------------------------------------------------------------- engine

_Table = tuple[tuple, list[float], float]


def _table(pairs: Iterable[tuple[object, float]]) -> _Table:
    """Precomputed cumulative weights for fast weighted picks (``random.choices`` rebuilds them)."""
    items, cum, acc = [], [], 0.0
    for item, w in pairs:
        acc += w
        items.append(item)
        cum.append(acc)
    return tuple(items), cum, acc


def _wpick(rnd, t: _Table):
    return t[0][bisect_right(t[1], rnd() * t[2])]


def _pick(rnd, seq: Sequence):
    return seq[int(rnd() * len(seq))]


_T_CHANNEL_ZH, _T_CHANNEL_EN = _table(_CHANNELS_ZH), _table(_CHANNELS_EN)
_T_REGION, _T_REGION_EN = _table(_REGIONS), _table(_REGIONS_EN)
_T_DAY, _T_HOUR = _table(zip(range(7), _DAY_W, strict=True)), _table(zip(_HOURS, _HOUR_W, strict=True))
_T_PII = _table((("phone", 40), ("email", 20), ("id_number", 10), ("order", 30)))
_T_BATCH = {m: _table(bw.items()) for m, bw in BATCHES.items()}
_T_MODEL = {p["id"]: _table((m, _MODEL_SHARE[m]) for m in p["models"]) for p in PRODUCTS}
_T_PRODUCT = {t.key: _table((p, _PRODUCT_SHARE[p]) for p in t.products) for t in THEMES}
_T_CSAT = {
    k: _table(zip(("1", "2", "3", "4", "5"), w, strict=True))
    for k, w in (
        ("defect", (25, 20, 25, 18, 12)),
        ("service", (30, 25, 20, 15, 10)),
        ("safety", (25, 20, 25, 18, 12)),
        ("praise", (1, 1, 3, 20, 75)),
        ("other", (3, 5, 15, 37, 40)),
    )
}
_T_TRANSFERS = {
    True: _table((("0", 55), ("1", 30), ("2", 15))),
    False: _table((("0", 80), ("1", 15), ("2", 5))),
}


class _Engine:
    """Generates one ISO week at a time; :func:`generate` and ``bench/generate.py`` share it."""

    def __init__(
        self,
        end_week: Week,
        weeks: int,
        per_week: int,
        seed: int,
        *,
        record: bool = True,
        total: int | None = None,
    ) -> None:
        if weeks < 3:
            raise ValueError("weeks must be at least 3 (baseline, then two surge weeks)")
        if per_week < 50:
            raise ValueError("per_week must be at least 50")
        self.rng = rng = random.Random(seed)
        self.record = record
        self.weeks = [end_week.shift(i - weeks + 1) for i in range(weeks)]
        self.n = weeks
        self.per_week = per_week
        self.scale = per_week / 350
        self.spike_idx = weeks - 6 if weeks >= 8 else weeks - 3
        vols = [round(per_week * rng.uniform(0.9, 1.1)) for _ in range(weeks)]
        vols[self.spike_idx] = round(per_week * 1.8 * rng.uniform(0.98, 1.02))
        if total is not None:
            f = total / sum(vols)
            vols = [round(v * f) for v in vols]
            vols[-1] += total - sum(vols)
        self.volumes = vols
        self.week_start = [datetime(w.start.year, w.start.month, w.start.day, tzinfo=TZ) for w in self.weeks]
        self.next_id = 1
        self.labels: dict[str, Label] = {}
        self.pii: list[PiiItem] = []
        self.script_id = ""
        self.html_id = ""
        self.bg_themes = _BACKGROUND
        self.bg_weights = [t.weight for t in _BACKGROUND]
        self.exact = total is not None

    # -- one ticket ----------------------------------------------------------------------------
    def _ticket(
        self, theme: _Theme, wi: int, *, model: str | None = None, batch: str | None = None, planted: str = ""
    ) -> tuple[dict[str, str], Label, list[tuple[str, str]]]:
        rng = self.rng
        R = rng.random
        r = R()
        lang = "zh" if r < 0.83 else "en" if r < 0.97 else "mixed"
        if lang == "mixed" and not theme.mixed:
            lang = "zh"
        if model is None:
            pid = _wpick(R, _T_PRODUCT[theme.key])
            model = _wpick(R, _T_MODEL[pid])
        else:
            pid = next(p["id"] for p in PRODUCTS if model in p["models"])
        if batch is None:
            batch = _wpick(R, _T_BATCH[model])
        prod = _BY_ID[pid]
        surge = planted == "surge"

        structured = R() >= 0.40
        f_product = pid if structured else ""
        f_model = model if structured and R() < 0.9 else ""
        f_batch = batch if structured and not theme.service and R() < (0.7 if surge else 0.55) else ""
        if theme.service:
            p_model, p_batch = (0.3, 0.0) if structured else (0.5, 0.05)
        elif surge:
            p_model, p_batch = (0.5, 0.0 if f_batch else 0.8) if structured else (0.9, 0.9)
        else:
            p_model, p_batch = (0.35, 0.1 if f_batch else 0.2) if structured else (0.7, 0.35)
        say_model = R() < p_model
        say_batch = R() < p_batch

        en = lang == "en"
        if en:
            tmpl = _pick(R, _MENTION_EN if say_model else _MENTION_EN_PLAIN)
            name, alias = prod["name_en"], _pick(R, _ALIASES_EN[pid])
        else:
            tmpl = _pick(R, _MENTION_ZH if say_model else _MENTION_ZH_PLAIN)
            name, alias = prod["name_zh"], _pick(R, _ALIASES_ZH[pid])
        mention = tmpl.replace("{M}", model).replace("{N}", name).replace("{A}", alias)

        core = _pick(R, theme.mixed if lang == "mixed" else theme.en if en else theme.zh)
        core = core.replace("{P}", mention)
        if en and core[:1].islower():
            core = core[0].upper() + core[1:]
        intent = theme.intent
        parts: list[str] = []
        opener = _pick(R, _OPEN_EN[intent] if en else _OPEN_ZH[intent])
        if intent == "complaint" and R() < 0.35:
            parts.append(_pick(R, _CONTEXT_EN if en else _CONTEXT_ZH))
        parts.append(core)
        if say_batch:
            parts.append(_pick(R, _BATCH_EN if en else _BATCH_ZH).replace("{B}", batch))
        details = theme.detail_en if en else theme.detail_zh
        if details and R() < 0.45:
            parts.append(_pick(R, details))
        pii: list[tuple[str, str]] = []
        if R() < 0.10:
            for _ in range(1 if R() < 0.85 else 2):
                kind = _wpick(R, _T_PII)
                value = _fake_pii(rng, kind, self.weeks[wi].year)
                pii.append((kind, value))
                parts.append(_pick(R, (_PII_EN if en else _PII_ZH)[kind]).replace("{v}", value))
        ask_lang_en = en or (lang == "mixed" and R() < 0.5)
        if theme.service and intent == "complaint":
            ask = _pick(R, _ASK_SERVICE_EN if ask_lang_en else _ASK_SERVICE_ZH)
        else:
            ask = _pick(R, _ASK_EN[intent] if ask_lang_en else _ASK_ZH[intent])
        if ask and R() < 0.6:
            parts.append(ask)
        body = opener + (" " if en else "").join(parts)

        subject = _pick(R, theme.subj_en if en else theme.subj_zh)
        if not en and R() < 0.3:
            subject = f"【{prod['name_zh']}】{subject}"
        if surge:
            res = (
                (self.surge_res_en if en else self.surge_res_zh)
                if R() < 0.8
                else _pick(R, theme.res_en if en else theme.res_zh)
            )
        else:
            res = _pick(R, theme.res_en if en else theme.res_zh)

        # timing: closed inside the week, 08:00-22:00 Beijing time (so the UTC date is the same week)
        week = self.weeks[wi]
        closed = self.week_start[wi] + timedelta(
            days=_wpick(R, _T_DAY), hours=_wpick(R, _T_HOUR), seconds=int(R() * 3600)
        )
        channel = _wpick(R, _T_CHANNEL_EN if en else _T_CHANNEL_ZH)
        live = channel in ("电话", "在线客服", "phone", "chat")
        r = R()
        fast = 0.55 if live else 0.15
        if intent == "complaint":
            fast *= 0.6
        if r < fast:
            dur = timedelta(minutes=3 + int(R() * 43))
        elif r < fast + 0.35:
            dur = timedelta(minutes=46 + int(R() * (24 * 60 - 46)))
        elif r < fast + 0.55:
            dur = timedelta(minutes=24 * 60 + int(R() * 24 * 60))
        else:
            dur = timedelta(minutes=48 * 60 + int(R() * 72 * 60))
        created = closed - dur

        csat_t = _T_CSAT[
            theme.severity if intent == "complaint" else "praise" if intent == "praise" else "other"
        ]
        csat = "" if R() < 0.3 else _wpick(R, csat_t)
        reopen_p = (0.14 if surge else 0.08) if intent == "complaint" else 0.02

        row = {
            "ticket_id": "",
            "created_at": created.isoformat(),
            "closed_at": closed.isoformat(),
            "channel": channel,
            "product": f_product,
            "model": f_model,
            "batch": f_batch,
            "subject": subject,
            "body": body,
            "resolution": res,
            "status": "closed" if R() < 0.7 else "solved",
            "agent": _pick(R, _AGENTS_EN) if en or (lang == "mixed" and R() < 0.5) else _pick(R, _AGENTS_ZH),
            "customer_region": _wpick(R, _T_REGION_EN if en else _T_REGION),
            "csat": csat,
            "reopened": "1" if R() < reopen_p else "0",
            "transfers": _wpick(R, _T_TRANSFERS[intent == "complaint"]),
            "language": "",
            "intent_hint": "",
        }
        label = Label(theme.key, intent, theme.severity, pid, model, batch, lang, str(week), planted)
        return row, label, pii

    surge_res_zh = "指导客户按门铰链校准视频调整，客户确认门已关紧"
    surge_res_en = "Sent the door hinge calibration video; customer confirmed the door now closes"

    # -- one week ------------------------------------------------------------------------------
    def plan(self, wi: int) -> dict[str, int]:
        """How many planted-cell tickets week ``wi`` gets (drawn in week order from the rng)."""
        rng = self.rng
        v = self.volumes[wi] / self.per_week
        s = self.scale
        base_door = max(1, round((3 + rng.choice((-1, 0, 0, 1))) * s * v))
        if wi == self.n - 1:
            door = round(30 * s)
        elif wi == self.n - 2:
            door = round(12 * s)
        else:
            door = base_door
        door45 = round(rng.choice((0, 1, 1, 2)) * s * v)
        safety = max(1, round((3 + rng.choice((-1, 0, 0, 1))) * s * v))
        unmet = round(8 * s * v * (0.7 + 0.6 * wi / max(1, self.n - 1)))
        return {"door": door, "base_door": base_door, "door45": door45, "safety": safety, "unmet": unmet}

    def week_rows(self, wi: int) -> list[dict[str, str]]:
        rng = self.rng
        plan = self.plan(wi)
        door = plan["door"]
        surge_week = wi >= self.n - 2
        items: list[tuple[dict[str, str], Label, list[tuple[str, str]]]] = []
        # planted cell: door complaints on KX-30A
        if surge_week:
            n_hot = round(door * 0.84)
            others = _table((b, w) for b, w in BATCHES["KX-30A"].items() if b != "B2409")
            for k in range(door):
                b = "B2409" if k < n_hot else _wpick(rng.random, others)
                items.append(self._ticket(_THEME["door"], wi, model="KX-30A", batch=b, planted="surge"))
        else:
            for _ in range(door):
                items.append(self._ticket(_THEME["door"], wi, model="KX-30A"))
        for _ in range(plan["door45"]):
            items.append(self._ticket(_THEME["door"], wi, model="KX-45B"))
        for _ in range(plan["safety"]):
            items.append(self._ticket(_THEME["safety"], wi))
        for _ in range(plan["unmet"]):
            items.append(self._ticket(_THEME["oven_airfry_accessory"], wi))
        # exact totals (bench): the surge replaces background tickets instead of adding to the volume
        planted = (
            (door if self.exact else plan["base_door"]) + plan["door45"] + plan["safety"] + plan["unmet"]
        )
        n_bg = self.volumes[wi] - planted
        for theme in rng.choices(self.bg_themes, self.bg_weights, k=max(0, n_bg)):
            items.append(self._ticket(theme, wi))

        if wi == self.n - 1 and self.record:
            self._plant_markup(items)
        items.sort(key=lambda it: it[0]["created_at"])
        rows = []
        for row, label, pii in items:
            tid = f"HC-{self.next_id:06d}"
            self.next_id += 1
            row["ticket_id"] = tid
            rows.append(row)
            if self.record:
                self.labels[tid] = label
                for kind, value in pii:
                    self.pii.append(PiiItem(tid, kind, value))
        return rows

    def _plant_markup(self, items: list) -> None:
        """Put ``<script>`` and ``<p>`` markup into two surge tickets (they may be quoted in briefs)."""
        surge = [it for it in items if it[1].planted == "surge" and it[1].language == "zh"]
        if len(surge) < 2:
            surge = [it for it in items if it[1].language == "zh"]
        script_row, html_row = surge[0][0], surge[1][0]
        script_row["body"] = script_row["body"] + "<script>alert(1)</script>"
        script_row["channel"] = "在线客服"
        script_row["_mark"] = "script"
        html_row["body"] = f"<p>您好：</p><p>{html_row['body']}</p><p>谢谢！<br/>张先生</p>"
        html_row["channel"] = "邮件"
        html_row["_mark"] = "html"


def iter_weeks(
    end_week: Week, weeks: int = 20, per_week: int = 350, seed: int = 7, *, total: int | None = None
) -> Iterator[list[dict[str, str]]]:
    """Stream rows one week at a time without recording ground truth (for big files)."""
    eng = _Engine(end_week, weeks, per_week, seed, record=False, total=total)
    for wi in range(weeks):
        yield eng.week_rows(wi)


def generate(
    end_week: Week, weeks: int = 20, per_week: int = 350, seed: int = 7
) -> tuple[list[dict[str, str]], Planted]:
    """Generate ``weeks`` ISO weeks of closed tickets ending with ``end_week`` (inclusive).

    Rows are dicts of canonical field name -> string, sorted by creation time, ids HC-000001...
    """
    eng = _Engine(end_week, weeks, per_week, seed)
    rows: list[dict[str, str]] = []
    for wi in range(weeks):
        rows.extend(eng.week_rows(wi))
    script_id = html_id = ""
    for row in rows:
        mark = row.pop("_mark", None)
        if mark == "script":
            script_id = row["ticket_id"]
        elif mark == "html":
            html_id = row["ticket_id"]
    labels = eng.labels
    wk = [str(w) for w in eng.weeks]
    by_week: Counter[tuple[str, str]] = Counter()
    for lab in labels.values():
        by_week[(lab.week, lab.theme)] += 1
        if lab.theme == "door" and lab.model == "KX-30A":
            by_week[(lab.week, "_cell")] += 1
            if lab.batch == "B2409":
                by_week[(lab.week, "_cell_b")] += 1
    volume = Counter(lab.week for lab in labels.values())
    planted = Planted(
        end_week=end_week,
        weeks=tuple(eng.weeks),
        surge_weeks=tuple(eng.weeks[-2:]),
        surge_counts={w: by_week[(w, "_cell")] for w in wk},
        surge_batch_counts={w: by_week[(w, "_cell_b")] for w in wk},
        unmet_need_counts={w: by_week[(w, "oven_airfry_accessory")] for w in wk},
        global_spike_week=eng.weeks[eng.spike_idx],
        weekly_volume={w: volume[w] for w in wk},
        safety_counts={w: by_week[(w, "safety")] for w in wk},
        pii=tuple(eng.pii),
        script_ticket_id=script_id,
        html_ticket_id=html_id,
        labels=labels,
    )
    return rows, planted


def write_csv(path: str | Path, rows: Iterable[Mapping[str, str]], *, append: bool = False) -> None:
    """Write rows as UTF-8 CSV with the canonical columns as header (header skipped when appending)."""
    p = Path(path)
    with p.open("a" if append else "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        if not append:
            w.writerow(CANONICAL_FIELDS)
        for row in rows:
            w.writerow([row.get(f, "") for f in CANONICAL_FIELDS])
