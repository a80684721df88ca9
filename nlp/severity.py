"""Severity by keyword rules (zh + en): safety > defect > service > other.

Works on normalised, lower-cased text. Negated safety mentions ("没有冒烟", "no smoke") do not count.
"""

from __future__ import annotations

import re

SEVERITIES = ("safety", "defect", "service", "other")

_NEG_ZH = r"(?<!没有)(?<!没)(?<!不会)(?<!并未)(?<!未)(?<!无)(?<!不)"

SAFETY_RE = re.compile(
    _NEG_ZH + r"(?:起火|着火|失火|火苗|明火|冒火|火星|火花|打火|自燃|燃烧|烧起来|漏电|触电|电到|电了一下|麻手|电击|"
    r"冒烟|冒黑烟|冒白烟|烟雾|浓烟|烫伤|烧伤|灼伤|烫到手|烫到了|烫起泡|爆炸|炸裂|爆裂|炸开|炸了|玻璃碎|玻璃爆|"
    r"焦味|糊味|烧焦味|焦糊味|烧焦的味|塑料烧|橡胶味|烧坏|烧熔|熔化|融化|化了|短路|跳闸|过热|危险|安全隐患|"
    r"受伤|划伤|割伤|伤到|送医|医院)"
    r"|(?<!\bno )(?<!\bnot )(?<!\bwithout )(?<!\bany )\b(?:fire|flames?|caught fire|on fire|sparks?|sparking|sparked|"
    r"smoke|smoking|smoked|smoky|shock(?:ed|s)?|electrocut\w*|tingl\w+|explod\w*|explosion|shatter\w*|"
    r"melt(?:ed|ing|s)?|burn(?:ed|t|s|ing)?|scald\w*|blister\w*|injur\w*|hurt|hospital|short[- ]circuit\w*|"
    r"tripp?\w* (?:the )?(?:breaker|fuse|circuit)|overheat\w*|dangerous|hazard\w*|unsafe|too hot to touch|"
    r"burning smell|smell\w* (?:of|like) (?:burning|plastic|smoke))\b",
    re.I,
)
# "burnt toast" is a cooking result, not a hazard
_FOOD_BURN_RE = re.compile(
    r"\bburn(?:ed|t|s|ing)? (?:the |my |our )?(?:food|toast|fries|chips|chicken|bread|cake|pizza|bottom|"
    r"edges?|wings|cookies|outside|potatoes|bacon)\b|\b(?:food|toast|fries|chicken|bread|cake|pizza|cookies)"
    r" (?:came out |comes out |got |gets |is |was |were )?burn(?:ed|t)\b",
    re.I,
)

DEFECT_RE = re.compile(
    r"坏|故障|不工作|不能用|用不了|没法用|无法使用|不加热|不制热|加热不|不热|不转|不亮|不启动|启动不了|开不了机|开不开|"
    r"打不开|无法启动|关不紧|关不上|合不上|锁不上|扣不上|异响|噪音|响声|嗡嗡|咔咔|漏水|漏油|漏气|渗水|裂|断了|断裂|"
    r"掉漆|掉涂层|涂层脱落|脱落|生锈|锈|松动|松了|晃|失灵|报错|错误代码|故障码|[eE]\d{1,2}\b|卡住|卡死|没反应|无反应|"
    r"温度不准|受热不均|加热不均|烤不熟|不熟|屏幕不|按键不|按钮不|灯不亮|死机|变形|凹|划痕|瑕疵|质量|次品|残次|"
    r"缺陷|做工|不粘涂层|粘锅|异味|有味道|味道很大|塑料味|停止工作|停机|自动断电|断电|计时不准|定时不|风扇不|"
    r"把手掉|把手松|密封不严|坏掉|坏了|用了.{0,6}就|缺件|少了?配件|不好用|没用几次"
    r"|\b(?:broken|broke|breaks|stopped working|stops working|stop working|not working|doesn'?t work|"
    r"does not work|won'?t (?:turn on|start|heat|close|power|work|open)|will not (?:turn on|start|heat|close)|"
    r"didn'?t work|dead|died|faulty|defect\w*|malfunction\w*|leak\w*|crack\w*|noise|noisy|rattl\w*|squeak\w*|"
    r"buzz\w*|grinding|error(?: code)?|e\d{1,2}|uneven\w*|undercook\w*|doesn'?t heat|not heat\w*|no heat|"
    r"won'?t heat|stopped heating|cold spots?|hinge|loose|wobbl\w*|rust\w*|peel\w*|flak\w*|chipp\w*|scratch\w*|"
    r"dent\w*|snapped|fell off|falls off|came off|comes off|flicker\w*|unresponsive|glitch\w*|stuck|jammed|"
    r"inaccurate|(?:poor|bad|terrible|low|awful) quality|quality (?:issue|problem|control)|poorly made|cheap(?:ly)? made|flimsy|warp\w*|smells? (?:bad|weird|strange|chemical)|"
    r"chemical smell|plastic smell|missing (?:part|piece|screw|accessor\w*)|doa|lemon|keeps? (?:shutting|turning) off|"
    r"shuts? off|turns? off by itself|won'?t stay|(?:display|button|thermostat|timer|fan|light|screen) (?:doesn'?t|does not|won'?t|stopped|is dead|went))",
    re.I,
)

SERVICE_RE = re.compile(
    r"客服|态度|物流|快递|发货|到货|送货|配送|没人理|没人回|不回复|不回|回复慢|回复太慢|等了|催|售后|上门|安装师傅|"
    r"师傅|包装|发错|少发|漏发|补发|价格|降价|保价|差价|发票|优惠券|运费|退款|退货|换货|投诉|电话打不通|打不通|"
    r"转人工|机器人|承诺|推诿|踢皮球|敷衍|拖|延迟|延误|丢件|丢了|签收|未收到|没收到|还没到|迟迟|工单|审核|"
    r"赠品|积分|订单|下单|客户服务|服务"
    r"|\b(?:customer service|support|agent|representative|rep|rude|unhelpful|delivery|deliver\w*|shipping|"
    r"shipped|ship|courier|carrier|package|parcel|box arrived|refund\w*|return\w*|exchange|replacement|waiting|"
    r"waited|wait|no response|no reply|never (?:replied|responded|heard back|arrived|received|came)|ignored|"
    r"tracking|invoice|charged|overcharged|double charged|price|coupon|discount|late|delay\w*|wrong (?:item|"
    r"color|colour|model|size|product)|warranty|claim|runaround|hold for|on hold|call center|chat|escalat\w*|"
    r"promised|lost (?:package|parcel|in transit)|hasn'?t arrived|has not arrived|not arrived|order)\b",
    re.I,
)


def has_safety(text: str) -> bool:
    low = text.lower()
    m = SAFETY_RE.search(low)
    if not m:
        return False
    if _FOOD_BURN_RE.search(low):
        # only food-burn mentions? then look for a different safety hit
        rest = _FOOD_BURN_RE.sub(" ", low)
        return bool(SAFETY_RE.search(rest))
    return True


def classify_severity(text: str, intent: str | None = None) -> str:
    """Severity of the issue. Praise is 'other'; suggestions are 'safety' or 'other'."""
    if has_safety(text):
        return "safety" if intent != "praise" else "other"
    if intent in ("praise", "suggestion"):
        return "other"
    if DEFECT_RE.search(text):
        return "defect"
    if SERVICE_RE.search(text):
        return "service"
    return "other"
