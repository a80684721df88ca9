"""Replace personal identifiers with typed placeholders.

``Redactor(models, order_patterns).redact(text) -> (text, count)``. Model and batch codes are masked
first so no rule can touch them; then, in order: e-mail, order numbers (keyword + configured
patterns), IDs (keyword), phone numbers read out in Chinese numerals (一三八…, 幺/〇/零, full-width or
mixed digits), phone numbers, 18-digit resident IDs (checksum), bank cards (Luhn or
4-digit grouping), other long digit runs (treated as order numbers), addresses, names.
Recall is preferred over precision: a long digit run that is not a code is always removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from voc.nlp.entities import BATCH_BARE_PROTECT_RE, GENERIC_CODE_RE, ModelFinder, batch_spans

PLACEHOLDERS = ("[PHONE]", "[EMAIL]", "[ID]", "[CARD]", "[ORDER]", "[ADDRESS]", "[NAME]")
PLACEHOLDER_RE = re.compile(r"\[(?:PHONE|EMAIL|ID|CARD|ORDER|ADDRESS|NAME)\]")

_PUA0 = 0xE000  # masked codes become single private-use characters


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 12:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_id_ok(s: str) -> bool:
    """18-char PRC resident ID checksum (ISO 7064 MOD 11-2)."""
    if len(s) != 18 or not s[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == s[17].upper()


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


# ---------------------------------------------------------------- patterns

EMAIL_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
    r"|[A-Za-z0-9][A-Za-z0-9._%+\-]*\s*(?:\(at\)|\[at\]|＠| at )\s*[A-Za-z0-9\-]+\s*(?:\(dot\)|\[dot\]| dot |\.)\s*"
    r"(?:com|net|org|cn|edu|io|co|de|uk|fr|jp|hk)\b"
)

_ID_VAL = r"([A-Za-z0-9][A-Za-z0-9_\-]{4,23})"
DEFAULT_ORDER_PATTERNS = (
    r"(?:订单号?|订单编号|订单号码|单号|运单号|快递单号|物流单号|退款单号|售后单号|工单号|交易号|流水号|发票号)"
    r"(?:码)?\s*(?:是|为)?\s*[:：#]?\s*([A-Za-z0-9][A-Za-z0-9\-]{4,39})",
    r"(?i:\b(?:order|tracking|invoice|case|ticket|rma|reference|ref|confirmation|transaction|receipt|waybill)"
    r"\s*(?:no\.?|number|num|id|#|code)?\s*(?:is|was)?\s*[:：#]?\s*)([A-Za-z0-9][A-Za-z0-9\-]{4,39})",
    r"(?<![\w#])#\s?(\d{5,})",
)
ID_KEYWORD_RE = re.compile(
    r"(?:身份证(?:号码|号)?|证件号(?:码)?|护照(?:号码|号)?|微信号?|vx|wx|QQ号?|(?i:passport(?:\s*(?:no\.?|number))?"
    r"|id\s*(?:card\s*)?(?:no\.?|number)|ssn|social security(?:\s*number)?|driver'?s licen[cs]e(?:\s*(?:no\.?|number))?"
    r"|wechat(?:\s*id)?))\s*(?:是|为|is)?\s*[:：#]?\s*" + _ID_VAL
)
INTL_PHONE_RE = re.compile(r"(?<![A-Za-z0-9+])(?:\+|00)[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,5}\)?){2,6}(?!\d)")
CN_MOBILE_RE = re.compile(
    r"(?<![\d+])(?<!\d[ \-])(?:(?:\+|00)?86[ \-]?)?1[3-9]\d(?:[ \-]?\d){8}(?!\d)|1[3-9]\d[*xX]{4}\d{4}"
)
LANDLINE_RE = re.compile(
    r"(?<![\d\-])(?:\(0\d{2,3}\)|0\d{2,3})[ \-]?[1-9]\d{2,3}[ \-]?\d{4}"
    r"(?:\s*(?:转|ext\.?|x|-)\s*\d{1,5})?(?!\d)"
)
US_PHONE_RE = re.compile(r"(?<![\d\-])(?:\(\d{3}\)\s?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?!\d)")
# phone numbers read out digit by digit in Chinese numerals (一三八一二三四五六七八, 幺 for 1, 〇/零 for 0),
# full-width digits, financial numerals (壹贰...), or any mix with ASCII digits; spaces/dashes/dots between
_CN_DIGIT_VALUE = {
    **{c: str(i) for i, c in enumerate("〇一二三四五六七八九")},
    "零": "0",
    "幺": "1",
    "两": "2",
    **{c: str(i) for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")},
    **{chr(0xFF10 + i): str(i) for i in range(10)},
    **{str(i): str(i) for i in range(10)},
}
_CN_DIGIT = "[" + "".join(sorted(_CN_DIGIT_VALUE)) + "]"
_CN_NUMERAL_ONLY = re.compile("[" + "".join(sorted(set(_CN_DIGIT_VALUE) - set("0123456789"))) + "]")
_CN_DIGIT_CHARS = "".join(sorted(_CN_DIGIT_VALUE))
CN_NUMERAL_PHONE_RE = re.compile(
    r"(?<![+＋" + _CN_DIGIT_CHARS + r"])[+＋]?" + _CN_DIGIT + r"(?:[ \-－—·.]?" + _CN_DIGIT + r"){6,}"
    r"(?![" + _CN_DIGIT_CHARS + r"])"
)
# what a digit string must look like to be a phone number: a mainland mobile (optionally +86 / 0086),
# a landline with area code, or a 7-8 digit local number
_PHONE_DIGITS_RE = re.compile(r"(?:0{0,2}86)?1[3-9]\d{9}|0\d{9,11}|[2-9]\d{6,7}")


def cn_numeral_digits(text: str) -> str:
    """The ASCII digits that a run of Chinese / full-width / ASCII numerals spells ('一三八' -> '138')."""
    return "".join(_CN_DIGIT_VALUE[c] for c in text if c in _CN_DIGIT_VALUE)


def _cn_numeral_repl(m: re.Match[str]) -> str | None:
    raw = m.group(0)
    if not _CN_NUMERAL_ONLY.search(raw):
        return None  # plain ASCII digits: the rules below handle them
    d = cn_numeral_digits(raw)
    if _PHONE_DIGITS_RE.fullmatch(d):
        return "[PHONE]"
    return "[ORDER]" if len(d) >= 11 else None


CN_ID_RE = re.compile(r"(?<![0-9A-Za-z])\d{6}[ \-]?\d{8}[ \-]?\d{3}[\dXx](?![0-9A-Za-z])")
CARD_RE = re.compile(r"(?<![0-9A-Za-z])\d(?:[ \-]?\d){12,18}(?![0-9A-Za-z])")
_GROUPED4_RE = re.compile(r"\d{4}(?:[ \-]\d{4}){2,3}(?:[ \-]\d{1,3})?")
LONG_DIGITS_RE = re.compile(r"(?<![0-9A-Za-z])\d(?:[ \-]?\d){10,}(?![0-9A-Za-z])")
ALNUM_ORDER_RE = re.compile(r"(?<![A-Za-z0-9\-])[A-Za-z]{1,4}\d{8,}(?![A-Za-z0-9])")

# --- addresses
_HAN_ADDR = r"(?:(?![我你他她的是在到住寄送了址为家收货和从请把给])[\u4e00-\u9fff])"
_ADM = r"(?:" + _HAN_ADDR + r"{1,8}?(?:省|自治区|特别行政区|市|区|县|镇|乡|街道|新区|开发区))"
_ROAD = r"(?:" + _HAN_ADDR + r"{1,10}?(?:路|街|大道|大街|巷|胡同|道))"
_NUM = r"(?:\d+(?:-\d+)?(?:号院|号|弄))"
_TAIL = r"(?:[\u4e00-\u9fffA-Za-z0-9\-]{0,12}?(?:\d+|[A-Za-z])(?:号楼|栋|幢|座|单元|楼|层|室|号|户))*"
_ESTATE = r"(?:" + _HAN_ADDR + r"{1,12}?(?:小区|花园|大厦|公寓|家园|新村|社区|广场|苑|村|园区))"
ZH_ADDR_RE = re.compile(
    _ADM
    + r"{0,5}"
    + _ROAD
    + _NUM
    + r"(?:"
    + _ESTATE
    + r")?"
    + _TAIL
    + r"|"
    + _ADM
    + r"{2,5}(?:"
    + _ROAD
    + r"|"
    + _ESTATE
    + r")"
    + _TAIL
    + r"|"
    + _ESTATE
    + r"\d+(?:号楼|栋|幢|座)"
    + _TAIL
)
ZH_ADDR_KEYWORD_RE = re.compile(
    r"(?:收货地址|收件地址|送货地址|家庭住址|联系地址|地址|住址|寄到|送到|住在|家住)(?:是|为|在)?\s*[:：]?\s*"
    r"([^\s，,。；;！!？?\[\]]{4,60})"
)
_ZH_ADDR_HINT_RE = re.compile(r"[省市区县镇乡路街道巷号室栋幢弄苑村]")
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Terrace|Ter"
    r"|Parkway|Pkwy|Highway|Hwy|Square|Sq|Circle|Cir|Crescent|Close|street|avenue|road|boulevard|lane)"
)
EN_ADDR_RE = re.compile(
    r"\b\d{1,6}[A-Za-z]?\s+(?:[A-Z0-9][A-Za-z0-9.'\-]*\s+){0,4}" + _STREET_SUFFIX + r"\b\.?"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Fl|Floor|#)\.?\s*[A-Za-z0-9\-]+)?"
    r"(?:,\s*[A-Z][A-Za-z]+(?:\s[A-Z][A-Za-z]+){0,2})?"
    r"(?:,?\s*[A-Z]{2})?(?:,?\s+\d{5}(?:-\d{4})?)?"
    r"|\b(?i:p\.?\s?o\.?\s?box)\s*\d+"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b"  # UK postcode
)
EN_ADDR_KEYWORD_RE = re.compile(
    r"(?i:\b(?:my address is|address:|ship(?:ped)? to|deliver(?:ed)? to|send it to|i live at|shipping address(?: is)?:?))"
    r"\s+(\d[^.;!?\n]{5,80}?)(?=[.;!?\n]|$)"
)

# --- names
_SURNAMES_STRONG = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范廖贾夏韦付邹孟熊秦邱尹薛闫段雷侯史陶黎贺顾毛郝龚邵钱严覃戴莫孔汤温康施牛樊葛邢乔伍庞颜倪庄聂"
    "章鲁岳翟殷詹申欧耿兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕季裴霍涂苗盛翁冉骆蓝辛靳柴鲍喻祁蒲滕屈饶牟艾尤"
    "穆卓缪褚娄窦戚岑党宫费卜晏席卫柏宗瞿桂佟臧闵苟邬卞姬仇栾隋刁巫寇桑郎甄丛仲虞敖巩佘邝"
)
# common surnames that are also everyday words: only after strong triggers (我叫, 姓名 ...)
_SURNAMES_WEAK = "高方金石白江龙武易文向常安齐关谷单成曲路游华解阳时司农古吉简车项连芦麦景冷米全应边师和商沙荣明池查麻苑迟万于"
_COMPOUND = (
    "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|长孙|宇文|司徒|夏侯|令狐|端木|独孤|南宫|万俟|闻人|轩辕"
)
_GIVEN = r"(?:(?![的了在是想要买说和跟从把被给这那也都就还很太刚已再又才用收您你我他她们啊呀吧呢吗哦嗯先女小])[\u4e00-\u9fff])"
ZH_NAME_STRONG_RE = re.compile(
    r"(?:我叫|我的名字是|名字叫|名字是|姓名|联系人|收件人|收货人|签收人|客户姓名|用户名|署名|落款|户名|开户名|持卡人|寄件人)\s*(?:是|为)?\s*[:：]?\s*"
    r"((?:" + _COMPOUND + r"|[\u4e00-\u9fff])" + _GIVEN + r"{1,2})"
)
ZH_NAME_WEAK_RE = re.compile(
    r"(?:我是|本人是?|我姓|姓)\s*((?:" + _COMPOUND + r"|[" + _SURNAMES_STRONG + r"])" + _GIVEN + r"{0,2})"
)
# weak surnames (高, 方, 金 ...) after 我是 only when the name ends the clause: 我是高翔， but not 我是高三学生
ZH_NAME_CLAUSE_RE = re.compile(
    r"(?:我是|本人是?)\s*((?:"
    + _COMPOUND
    + r"|["
    + _SURNAMES_STRONG
    + _SURNAMES_WEAK
    + r"])"
    + _GIVEN
    + r"{1,2})(?=[，,。！!？?\s、;；]|$)"
)
ZH_TITLE_RE = re.compile(
    r"(?<![\u4e00-\u9fff])((?:"
    + _COMPOUND
    + r"|["
    + _SURNAMES_STRONG
    + _SURNAMES_WEAK
    + r"]))(?=先生|女士|小姐|太太)"
    r"|(?<=[，,。！!？?\s:：])((?:" + _COMPOUND + r"|[" + _SURNAMES_STRONG + r"]))(?=先生|女士|小姐|太太)"
)
_EN_NOT_NAME = {
    "Support",
    "Team",
    "Customer",
    "Customers",
    "Sir",
    "Madam",
    "All",
    "There",
    "Service",
    "Sales",
    "Everyone",
    "The",
    "A",
    "An",
    "I",
    "Please",
    "Thanks",
    "Thank",
    "Hello",
    "Hi",
    "Dear",
    "Very",
    "So",
    "Really",
    "Not",
    "Still",
    "Just",
    "Extremely",
    "Absolutely",
    "Quite",
    "Totally",
    "Completely",
    "Writing",
    "Contacting",
    "Reaching",
    "Having",
    "Trying",
    "Getting",
    "Sorry",
    "Happy",
    "Glad",
    "Disappointed",
    "Angry",
    "Frustrated",
    "Upset",
    "Sure",
    "Afraid",
    "Again",
    "Here",
    "Back",
    "Now",
    "Also",
    "Again,",
    "Amazon",
    "Oven",
    "Fryer",
    "Air",
    "Your",
    "You",
    "Guys",
    "Folks",
    "Friends",
    "Manager",
    "Agent",
    "In",
    "On",
    "At",
    "For",
    "From",
    "Best",
    "Kind",
    "Regards",
    "Sincerely",
    "Cheers",
    "Again.",
    "It",
    "This",
    "That",
    "My",
    "We",
    "Our",
    "Looking",
    "Waiting",
    "Going",
    "Calling",
    "Following",
    "Attached",
    "Appreciated",
    "Much",
    "Lot",
    "Lots",
    "Team,",
    "Whom",
    "Mr",
    "Mrs",
    "Ms",
    "Miss",
    "Dr",
    "Mx",
    "Prof",
    "To",
    "Concerned",
    "Valued",
    "Hope",
    "Hey",
    "Ok",
    "OK",
    "Yes",
    "No",
}
_NW = r"[A-Z][A-Za-z'\-]*[a-z]"  # Smith, O'Brien, McDonald, Smith-Jones
_EN_NAME = r"(" + _NW + r"(?:\s+(?:[A-Z]\.\s*)?" + _NW + r"){0,2})"
EN_NAME_RES = (
    re.compile(
        r"(?i:\bmy name is|\bmy name's|\bname\s*:|\bcontact person\s*:|\brecipient\s*:)\s+([A-Za-z][A-Za-z'\-]+(?:\s+"
        + _NW
        + r"){0,2})"
    ),
    re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Mx|Prof)\.?\s+(" + _NW + r"(?:\s" + _NW + r")?)"),
    re.compile(
        r"(?i:\b(?:this is|i am|i'm|signed|regards|sincerely|cheers|thanks|thank you|best|dear|hi|hello|hey|yours truly|yours))"
        r"[,!.:]?\s+" + _EN_NAME
    ),
)


_ANY_DIGIT_RE = re.compile(r"\d")
_DIGIT_RUN_GATE = re.compile(r"\d(?:[ .\-()]{0,2}\d){3}")
_ID_GATES = (
    "身份证",
    "证件",
    "护照",
    "微信",
    "vx",
    "wx",
    "qq",
    "passport",
    "id",
    "ssn",
    "social security",
    "licen",
    "wechat",
)
_ZH_ADDR_GATE_RE = re.compile(r"\d\s*(?:号|弄|栋|幢|室|单元|楼|座)|[省市][^，。,\s]{1,12}?[区县镇]")
_EN_ADDR_KW_GATES = ("address", "ship", "deliver", "send it", "live at")
_ZH_NAME_GATES = (
    "户名",
    "持卡人",
    "寄件人",
    "我叫",
    "名字",
    "姓名",
    "联系人",
    "收件人",
    "收货人",
    "签收人",
    "用户名",
    "署名",
    "落款",
    "我是",
    "本人",
    "姓",
)
_EN_NAME_GATES = (
    "name",
    "mr",
    "ms",
    "miss",
    "dr",
    "prof",
    "this is",
    "i am",
    "i'm",
    "signed",
    "regards",
    "sincerely",
    "cheers",
    "thank",
    "best",
    "dear",
    "hi",
    "hello",
    "hey",
    "yours",
    "contact person",
    "recipient",
)


def _cn_id_repl(m: re.Match[str]) -> str | None:
    raw = m.group(0)
    d = _digits(raw)
    if raw[-1] in "Xx":
        return "[ID]"
    return "[ID]" if cn_id_ok(d) else None


class Redactor:
    """Compiled redaction rules. ``models``: catalogue model codes, never redacted."""

    def __init__(self, models: Sequence[str] = (), order_patterns: Sequence[str] = ()) -> None:
        self.model_finder = ModelFinder(list(models))
        pats: list[re.Pattern[str]] = []
        for p in list(order_patterns) + list(DEFAULT_ORDER_PATTERNS):
            try:
                pats.append(re.compile(p))
            except re.error as exc:  # a bad configured pattern must not break the pipeline
                raise ValueError(f"invalid order pattern {p!r}: {exc}") from exc
        self.order_res = pats
        self._n_custom = len(order_patterns)

    # ------------------------------------------------------------ masking

    def _mask(self, text: str) -> tuple[str, list[str]]:
        spans: list[tuple[int, int]] = []
        spans += [(s, e) for s, e, _ in self.model_finder.spans(text)]
        spans += [(s, e) for s, e, _ in batch_spans(text)]
        spans += [m.span() for m in BATCH_BARE_PROTECT_RE.finditer(text)]
        spans += [m.span() for m in GENERIC_CODE_RE.finditer(text)]
        if not spans:
            return text, []
        spans.sort()
        merged: list[list[int]] = []
        for s, e in spans:
            if merged and s < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        saved: list[str] = []
        out: list[str] = []
        pos = 0
        for s, e in merged:
            if len(saved) >= 6000:
                break
            out.append(text[pos:s])
            out.append(chr(_PUA0 + len(saved)))
            saved.append(text[s:e])
            pos = e
        out.append(text[pos:])
        return "".join(out), saved

    @staticmethod
    def _unmask(text: str, saved: list[str]) -> str:
        if not saved:
            return text
        return re.sub(
            "[\ue000-" + chr(_PUA0 + len(saved) - 1) + "]", lambda m: saved[ord(m.group(0)) - _PUA0], text
        )

    # ------------------------------------------------------------ main

    def redact(self, text: str) -> tuple[str, int]:
        if not text:
            return text, 0
        # private-use chars in the input would confuse unmasking
        if re.search("[\ue000-\uf8ff]", text):
            text = re.sub("[\ue000-\uf8ff]", "", text)
        text, saved = self._mask(text)
        count = 0

        def sub(
            rx: re.Pattern[str], repl: str | Callable[[re.Match[str]], str | None], group: int = 0
        ) -> None:
            nonlocal text, count

            def _r(m: re.Match[str]) -> str:
                nonlocal count
                if callable(repl):
                    r = repl(m)
                    if r is None:
                        return m.group(0)
                else:
                    r = repl
                count += 1
                if group and m.lastindex and m.group(group) is not None:
                    s, e = m.span(group)
                    return m.group(0)[: s - m.start()] + r + m.group(0)[e - m.start() :]
                return r

            text = rx.sub(_r, text)

        low = text.lower()
        if "@" in text or "＠" in text or " at " in low or "(at)" in low or "[at]" in low:
            sub(EMAIL_RE, "[EMAIL]")
        has_digits = _DIGIT_RUN_GATE.search(text) is not None
        for rx in self.order_res[: self._n_custom]:
            sub(rx, _order_repl(rx), group=1 if rx.groups else 0)
        if has_digits or "#" in text:
            for rx in self.order_res[self._n_custom :]:
                sub(rx, _order_repl(rx), group=1 if rx.groups else 0)
        if any(k in low for k in _ID_GATES):
            sub(ID_KEYWORD_RE, _id_kw_repl, group=1)
        if _CN_NUMERAL_ONLY.search(text):
            sub(CN_NUMERAL_PHONE_RE, _cn_numeral_repl)
        if has_digits:
            if "+" in text or "00" in text:
                sub(INTL_PHONE_RE, lambda m: "[PHONE]" if len(_digits(m.group(0))) >= 8 else None)
            sub(CN_MOBILE_RE, "[PHONE]")
            sub(CN_ID_RE, _cn_id_repl)
            sub(CARD_RE, _card_repl)
            sub(LANDLINE_RE, "[PHONE]")
            sub(US_PHONE_RE, "[PHONE]")
            sub(LONG_DIGITS_RE, "[ORDER]")
            sub(ALNUM_ORDER_RE, "[ORDER]")
        if _ZH_ADDR_HINT_RE.search(text):
            sub(ZH_ADDR_KEYWORD_RE, _zh_addr_kw_repl, group=1)
            if _ZH_ADDR_GATE_RE.search(text):
                sub(ZH_ADDR_RE, "[ADDRESS]")
        if _ANY_DIGIT_RE.search(text):
            if any(k in low for k in _EN_ADDR_KW_GATES):
                sub(EN_ADDR_KEYWORD_RE, "[ADDRESS]", group=1)
            sub(EN_ADDR_RE, "[ADDRESS]")
        if any(k in text for k in _ZH_NAME_GATES):
            sub(ZH_NAME_STRONG_RE, _zh_name_repl, group=1)
            sub(ZH_NAME_WEAK_RE, "[NAME]", group=1)
            sub(ZH_NAME_CLAUSE_RE, "[NAME]", group=1)
        if any(k in text for k in ("先生", "女士", "小姐", "太太")):
            sub(ZH_TITLE_RE, "[NAME]")
        if any(k in low for k in _EN_NAME_GATES):
            for rx in EN_NAME_RES:
                sub(rx, _en_name_repl, group=1)
        return self._unmask(text, saved), count


def _order_repl(rx: re.Pattern[str]) -> Callable[[re.Match[str]], str | None]:
    def repl(m: re.Match[str]) -> str | None:
        val = m.group(1) if rx.groups else m.group(0)
        if val is None or "[" in val:
            return None
        if sum(c.isdigit() for c in val) < 4:
            return None
        return "[ORDER]"

    return repl


def _id_kw_repl(m: re.Match[str]) -> str | None:
    val = m.group(1)
    if "[" in val or not re.search(r"\d", val) and len(val) < 5:
        return None
    return "[ID]"


def _card_repl(m: re.Match[str]) -> str | None:
    raw = m.group(0)
    d = _digits(raw)
    if 13 <= len(d) <= 19 and (luhn_ok(d) or _GROUPED4_RE.fullmatch(raw)):
        return "[CARD]"
    return None


def _zh_addr_kw_repl(m: re.Match[str]) -> str | None:
    val = m.group(1)
    if "[" in val or not _ZH_ADDR_HINT_RE.search(val):
        return None
    return "[ADDRESS]"


def _zh_name_repl(m: re.Match[str]) -> str | None:
    return None if "[" in m.group(1) else "[NAME]"


def _en_name_repl(m: re.Match[str]) -> str | None:
    words = m.group(1).split()
    if not words or words[0].rstrip(",.") in _EN_NOT_NAME or words[0].lower() in _EN_LOWER_STOP:
        return None
    # keep only the name-looking prefix (stop at a non-name word)
    return "[NAME]"


_EN_LOWER_STOP = {
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "not",
    "very",
    "so",
    "really",
    "just",
    "still",
    "writing",
    "having",
    "trying",
    "from",
    "in",
    "on",
    "at",
    "to",
    "for",
    "with",
    "about",
    "again",
    "here",
    "there",
    "sorry",
    "happy",
    "glad",
    "disappointed",
    "angry",
    "upset",
    "sure",
    "calling",
    "contacting",
    "reaching",
    "waiting",
    "looking",
    "going",
    "getting",
    "it",
    "this",
    "that",
    "my",
    "your",
    "we",
    "our",
    "i",
    "you",
    "they",
    "he",
    "she",
    "unhappy",
    "frustrated",
    "tired",
    "done",
    "asking",
    "following",
    "hoping",
    "wondering",
}


# redactor placeholders that mean personal data; [ORDER] is a bare long digit run, which is how SKU and
# batch codes look (a JD product id is 12 digits), so it does not count
_PERSONAL = re.compile(r"\[(PHONE|EMAIL|ID|CARD|ADDRESS|NAME)\]")


@lru_cache(maxsize=1)
def _default_redactor() -> Redactor:
    return Redactor()


@lru_cache(maxsize=1 << 16)  # code fields repeat: a handful of products, channels and batches
def personal_data_kind(text: str) -> str | None:
    """The kind of personal data the redactor finds in ``text`` (phone, email, ...), or None."""
    m = _PERSONAL.search(_default_redactor().redact(text)[0])
    return m.group(1).lower() if m else None
