"""Language identification without a model: script counts.

Han characters carry roughly as much content as 2-3 Latin letters, so letters are weighed against
Han chars x 2.5. Codes (KX-30A), placeholders ([PHONE]) and URLs are ignored. Kana/Hangul/RTL-heavy
texts are 'unknown' (we only route zh / en / mixed).
"""

from __future__ import annotations

import re

LANGUAGES = ("zh", "en", "mixed", "unknown")

_IGNORE_RE = re.compile(
    r"\[(?:PHONE|EMAIL|ID|CARD|ORDER|ADDRESS|NAME|图片|image)\]|https?://\S+|www\.\S+"
    r"|(?<![A-Za-z])[A-Za-z]{1,4}-?\d+[A-Za-z0-9\-]*|\b(?:ok|OK|app|APP|wifi|WiFi|WIFI|LED|led|USB|usb)\b"
)
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
_KANA_RE = re.compile(r"[\u3040-\u30ff\uac00-\ud7af\u1100-\u11ff]")
_OTHER_RE = re.compile(r"[\u0400-\u04ff\u0590-\u08ff\u0e00-\u0e7f]")  # Cyrillic, Hebrew, Arabic, Thai

HAN_WEIGHT = 2.5


def detect_language(text: str) -> str:
    """'zh' | 'en' | 'mixed' | 'unknown'."""
    if not text:
        return "unknown"
    sample = _IGNORE_RE.sub(" ", text[:5000])
    han = len(_HAN_RE.findall(sample)) * HAN_WEIGHT
    latin = len(_LATIN_RE.findall(sample))
    other = len(_KANA_RE.findall(sample)) * HAN_WEIGHT + len(_OTHER_RE.findall(sample))
    total = han + latin + other
    if total == 0:
        return "unknown"
    if other / total > 0.3:
        return "unknown"
    if han == 0 and latin < 2:
        return "unknown"
    share = han / (han + latin) if han + latin else 0.0
    if share >= 0.8:
        return "zh"
    if share <= 0.2:
        return "en"
    return "mixed"
