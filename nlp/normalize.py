"""Text clean-up before anything else looks at a ticket.

``normalize(text) -> (clean_text, flags)`` never raises: it strips HTML, quoted e-mail history and
agent boilerplate, repairs common mojibake, folds full-width ASCII to half-width (Chinese punctuation
stays), converts traditional to simplified Chinese and collapses whitespace. Anything odd about the
input is reported as a flag rather than an exception.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
from functools import lru_cache

MAX_CHARS = 20_000

# ---------------------------------------------------------------- flags / detectors

PLACEHOLDER_RE = re.compile(
    r"\[(?:图片|圖片|表情|动画表情|语音|視頻|视频|文件|链接|商品卡片|订单卡片|位置|"
    r"image|img|photo|picture|sticker|attachment|voice|video|file|link|emoji)\]",
    re.I,
)
_WORD_RE = re.compile(r"\w")
_RTL_RE = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_CTRL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_C1_RE = re.compile(r"[\x80-\x9f]")
_ZERO_WIDTH_RE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_WS_RE = re.compile(r"\s+")

# ---------------------------------------------------------------- HTML

_HTML_TAG_RE = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*\b[^<>]*|/[a-zA-Z][a-zA-Z0-9]*\s*|!--.*?--)>", re.S)
_HTML_DROP_RE = re.compile(r"<(script|style|head|title)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.S | re.I)
_HTML_BREAK_RE = re.compile(r"<(?:br|/?p|/?div|/?li|/?tr|/?h[1-6]|/?blockquote|/?table)\b[^>]*>", re.I)
_ENTITY_RE = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")


def strip_html(text: str) -> tuple[str, bool]:
    """Remove tags (keeping their text) and unescape entities. Returns (text, had_tags)."""
    had = bool(_HTML_TAG_RE.search(text))
    if had:
        text = _HTML_DROP_RE.sub(" ", text)
        # blockquotes in HTML mails are quoted history
        text = re.sub(r"<blockquote\b.*?</blockquote\s*>", "\n", text, flags=re.S | re.I)
        text = _HTML_BREAK_RE.sub("\n", text)
        text = _HTML_TAG_RE.sub("", text)
    if "&" in text and _ENTITY_RE.search(text):
        text = html.unescape(text)
    return text, had


# ---------------------------------------------------------------- quoted history / boilerplate

_QUOTE_CUT_RES = [
    re.compile(
        r"^\s*-{2,}\s*(?:Original Message|原始邮件|原始郵件|Forwarded message|转发邮件|转发的邮件)\s*-{2,}",
        re.I | re.M,
    ),
    re.compile(r"^\s*On\b[^\n]{0,200}?(?:\n[^\n]{0,200}?)?\bwrote:\s*$", re.I | re.M),
    re.compile(r"^\s*在[^\n]{2,120}?写道\s*[:：]", re.M),
    re.compile(r"^\s*_{5,}\s*$", re.M),
]
_HEADER_CUT_RE = re.compile(
    r"^\s*(?:From|发件人|寄件者)\s*[:：][^\n]*\n(?:[^\n]*\n){0,3}?\s*(?:Sent|Date|发送时间|时间|日期|To|收件人)\s*[:：]",
    re.I | re.M,
)
_QUOTED_LINE_RE = re.compile(r"^[ \t]*>[^\n]*(?:\n|$)", re.M)

_BOILERPLATE_GATES = (
    "为您服务",
    "为您解答",
    "感谢您的",
    "还有",
    "请问",
    "祝您",
    "本邮件",
    "thank",
    "anything else",
    "a great",
    "a nice",
    "a good",
    "a wonderful",
    "automatically",
    "do not reply",
)
_BOILERPLATE_RES = [
    re.compile(p, re.I)
    for p in [
        r"(?:亲[,，!！ ]*)?您好[,，!！ ]*(?:很|非常)高兴(?:为您服务|为您解答|能为您服务)[,，!！。 ]*",
        r"(?:很|非常)高兴为您服务[,，!！。 ]*",
        r"(?:这里是|我是)?[\w]{0,8}(?:在线)?客服[\w]{0,4}[,，]?(?:很高兴)?(?:为您服务|竭诚为您服务)[,，!！。 ]*",
        r"感谢您的(?:耐心)?(?:等待|来信|咨询|反馈|支持与理解|支持和理解|支持|理解)[,，!！。 ]*",
        r"请问(?:有什么|有啥)可以帮(?:到)?您的?(?:吗)?[?？]*[,，。 ]*",
        r"(?:请问)?还有(?:什么|其他|其它)(?:问题|可以帮您|需要帮助)[\w]{0,6}[?？吗的]*[,，。 ]*",
        r"祝您(?:生活愉快|购物愉快|工作顺利|一切顺利)[!！。 ]*",
        r"本邮件(?:由系统)?自动(?:发送|生成)[^。\n]{0,40}[。 ]*",
        r"thank(?:s| you) for (?:contacting|reaching out to|writing to) (?:us|[\w .&'-]{1,40}?(?:support|team|service))[.!,]*",
        r"(?:is there )?anything else (?:that )?(?:i|we) can (?:help|assist) (?:you )?with(?: today)?\?*",
        r"(?:have|wish you) a (?:great|nice|good|wonderful) (?:day|weekend|one)[.!]*",
        r"this (?:e-?mail|message) was (?:sent|generated) automatically[^.\n]{0,60}[.]*",
        r"please do not reply to this (?:e-?mail|message)[.]*",
    ]
]


_QUOTE_GATES = ("--", "_____", "wrote:", "写道", "from", "发件人", "寄件者", ">")


def strip_quoted(text: str) -> tuple[str, bool]:
    """Cut quoted e-mail history; returns (text, removed_something). Keeps the text if all was quoted."""
    low = text.lower()
    if not any(g in low for g in _QUOTE_GATES):
        return text, False
    cut = len(text)
    for rx in _QUOTE_CUT_RES:
        m = rx.search(text)
        if m and m.start() < cut:
            cut = m.start()
    m = _HEADER_CUT_RE.search(text)
    if m and 0 < m.start() < cut:
        cut = m.start()
    out = text[:cut]
    if ">" in out:
        out = _QUOTED_LINE_RE.sub("", out)
    if out.strip():
        return out, len(out) != len(text)
    # everything was history: keep its words, drop the markers
    return _QUOTED_LINE_RE.sub(lambda mm: mm.group(0).lstrip(" \t>"), text), False


def strip_boilerplate(text: str) -> str:
    low = text.lower() if len(text) < 5000 else text[:5000].lower()
    if not any(g in low for g in _BOILERPLATE_GATES):
        return text
    for rx in _BOILERPLATE_RES:
        text = rx.sub(" ", text)
    return text


# ---------------------------------------------------------------- width folding

# Full-width ASCII -> half-width, but keep the Chinese punctuation that reads naturally in zh text.
_KEEP_FULL = set("，！？：；（）")
_WIDTH_TABLE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp) not in _KEEP_FULL}
_WIDTH_TABLE[0x3000] = 0x20
_WIDTH_TABLE[0xFFE5] = ord("¥")
_WIDTH_RE = re.compile(r"[\uff01-\uff5e\u3000\uffe5]")


def fold_width(text: str) -> str:
    if _WIDTH_RE.search(text):
        return text.translate(_WIDTH_TABLE)
    return text


# ---------------------------------------------------------------- traditional -> simplified


# Two distributions install the module `opencc`: `opencc` (the maintained C++ OpenCC, the
# dependency) and `opencc-python-reimplemented` (pure Python, the earlier one). Either works here. bench/t2s.py, 62,774 reviews (3.67M chars) converted to
# traditional (s2tw/s2hk) and back: `opencc` 1.4.2 0.47-0.71 s, reimplemented 9.3-16.5 s (20-24x),
# load 6-7.6 on 2 cores; the outputs differ on 3 texts (幷->并 and 乾红->干红 right, 宁->甯 in a name wrong in
# `opencc`).
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))


@lru_cache(maxsize=1)
def _t2s():
    import opencc
    from opencc import OpenCC

    cc = OpenCC("t2s")
    trad: set[str] = set()
    path = os.path.join(os.path.dirname(opencc.__file__), "dictionary", "TSCharacters.txt")
    if os.path.exists(path):  # opencc-python-reimplemented: its text dictionary
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 2 and len(parts[0]) == 1 and parts[1].split(" ")[0] != parts[0]:
                    trad.add(parts[0])
    else:  # the C++ `opencc` ships compiled dictionaries: ask it, character by character (~30 ms)
        for lo, hi in _CJK_RANGES:
            for cp in range(lo, hi + 1):
                ch = chr(cp)
                if cc.convert(ch) != ch:
                    trad.add(ch)
    return cc, frozenset(trad)


def to_simplified(text: str) -> str:
    """Traditional -> simplified (OpenCC t2s), only when a traditional-only character is present."""
    cc, trad = _t2s()
    if not trad or not trad.isdisjoint(text):
        return cc.convert(text)
    return text


# ---------------------------------------------------------------- mojibake

_LATIN_MOJI_RE = re.compile(
    r"[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    r"\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
_LATIN_RUN_RE = re.compile(
    r"[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    r"\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122\ufffd]{2,}"
)
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
_GARBLED_RE = re.compile(r"锟斤拷|烫烫烫|屯屯屯|\ufffd")


def _fix_latin_run(m: re.Match[str]) -> str:
    s = m.group(0)
    for enc in ("cp1252", "latin-1"):
        try:
            return s.encode(enc).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    # lossy: bytes that cp1252 could not map became U+FFFD; recover what we can
    out = s.encode("cp1252", errors="replace").decode("utf-8", errors="replace")
    if re.search(r"[^\x00-\u024f\ufffd?]", out):
        return re.sub("\ufffd\\??", "", out)
    return s


def _common_ratio(text: str) -> float:
    """Share of Han chars that are GB2312 level-1 (the 3,755 most common). Mojibake scores low."""
    han = _HAN_RE.findall(text)
    if not han:
        return 0.0
    common = 0
    for ch in han:
        try:
            b = ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if 0xB0 <= b[0] <= 0xD7:
            common += 1
    return common / len(han)


def fix_mojibake(text: str) -> tuple[str, bool]:
    """Repair UTF-8 read as latin-1/cp1252 or as GBK. Returns (text, was_mojibake)."""
    found = False
    if _LATIN_MOJI_RE.search(text):
        fixed = _LATIN_RUN_RE.sub(_fix_latin_run, text)
        if fixed != text:
            text, found = fixed, True
    if len(_HAN_RE.findall(text)) >= 3:
        cand = text.encode("gbk", errors="replace").decode("utf-8", errors="replace")
        if cand != text and cand.count("\ufffd") <= max(1, len(cand) // 3):
            if _common_ratio(cand) >= _common_ratio(text) + 0.4:
                text, found = re.sub("\ufffd\\??", "", cand), True
    if _GARBLED_RE.search(text):
        found = True
    return text, found


# ---------------------------------------------------------------- content checks


def is_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    sample = text[:4000]
    if not sample:
        return False
    bad = len(_CTRL_RE.findall(sample)) + sample.count("\ufffd")
    return bad / len(sample) > 0.1


def content_flags(text: str) -> list[str]:
    """Flags describing what is (not) in already-normalised text."""
    flags: list[str] = []
    if not text:
        return ["empty"]
    rest = PLACEHOLDER_RE.sub("", text).strip()
    if not rest:
        return ["empty", "placeholder_only"]
    if not _WORD_RE.search(rest):
        if any(unicodedata.category(c) in ("So", "Sk", "Cs", "Co") for c in rest):
            flags.append("emoji_only")
        else:
            flags.append("empty")
    if _RTL_RE.search(text):
        flags.append("rtl")
    return flags


# ---------------------------------------------------------------- main entry


def normalize(text: str | bytes | None, max_chars: int = MAX_CHARS) -> tuple[str, tuple[str, ...]]:
    """Normalise one text. Never raises; returns (clean_text, flags)."""
    flags: list[str] = []
    if text is None:
        return "", ("empty",)
    if isinstance(text, bytes | bytearray):
        raw = bytes(text)
        if b"\x00" in raw[:4000]:
            flags.append("binary")
        text = raw.decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    # bound the work on huge bodies before any regex runs
    if len(text) > max_chars * 3:
        text = text[: max_chars * 3]
        flags.append("truncated")
    text, moji = fix_mojibake(text)
    if is_binary(text):
        if "binary" not in flags:
            flags.append("binary")
        text = _CTRL_RE.sub(" ", text).replace("\ufffd", " ")
    elif moji and "binary" not in flags:
        flags.append("mojibake")
    if _CTRL_RE.search(text) or _C1_RE.search(text):
        text = _C1_RE.sub(" ", _CTRL_RE.sub(" ", text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _RTL_RE.search(text):
        flags.append("rtl")
    text = _ZERO_WIDTH_RE.sub("", text)

    text, had_html = strip_html(text)
    if had_html:
        flags.append("html")
    text, quoted = strip_quoted(text)
    if quoted:
        flags.append("quoted")
    text = fold_width(text)
    text = strip_boilerplate(text)
    text = to_simplified(text)
    text = _WS_RE.sub(" ", text).strip()
    if len(text) > max_chars:
        text = text[:max_chars].rstrip()
        if "truncated" not in flags:
            flags.append("truncated")
    for f in content_flags(text):
        if f not in flags:
            flags.append(f)
    return text, tuple(flags)
