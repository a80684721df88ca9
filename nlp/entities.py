"""Entity patterns: catalogue products and models, batch codes, parts, order numbers.

Model and batch codes are also what redaction must never touch, so their regexes live here and
``nlp.redact`` imports them. Product / model / part mentions are found by a spaCy EntityRuler
(``add_entity_ruler``); batch and order numbers by regex.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# ---------------------------------------------------------------- parts (PART entities)

PARTS_ZH = (
    "门",
    "炉门",
    "门把手",
    "把手",
    "手柄",
    "加热管",
    "发热管",
    "加热丝",
    "发热盘",
    "玻璃门",
    "玻璃",
    "内胆",
    "炸篮",
    "篮子",
    "锅篮",
    "涂层",
    "不粘涂层",
    "旋钮",
    "按键",
    "按钮",
    "显示屏",
    "屏幕",
    "面板",
    "电源线",
    "插头",
    "电线",
    "风扇",
    "风机",
    "温控器",
    "温控",
    "定时器",
    "烤盘",
    "烤架",
    "接油盘",
    "托盘",
    "密封圈",
    "密封条",
    "铰链",
    "合页",
    "外壳",
    "底座",
    "指示灯",
    "灯",
    "电机",
    "马达",
    "保险丝",
    "主板",
    "电路板",
    "水箱",
    "滤网",
    "刀片",
    "盖子",
    "锅盖",
    "卡扣",
    "脚垫",
    "说明书",
    "包装",
    "配件",
)
PARTS_EN = (
    "door",
    "handle",
    "door handle",
    "heating element",
    "element",
    "glass door",
    "glass",
    "basket",
    "coating",
    "non-stick coating",
    "knob",
    "dial",
    "button",
    "display",
    "screen",
    "panel",
    "control panel",
    "power cord",
    "cord",
    "plug",
    "fan",
    "thermostat",
    "timer",
    "tray",
    "baking tray",
    "rack",
    "wire rack",
    "drip tray",
    "crumb tray",
    "seal",
    "gasket",
    "hinge",
    "housing",
    "casing",
    "base",
    "light",
    "indicator light",
    "motor",
    "fuse",
    "circuit board",
    "pcb",
    "water tank",
    "filter",
    "blade",
    "lid",
    "latch",
    "feet",
    "manual",
    "packaging",
)

# ---------------------------------------------------------------- batch codes

_BATCH_CODE = r"([A-Za-z0-9][A-Za-z0-9-]{2,11})"
BATCH_KEYWORD_RES = (
    re.compile(r"(?:批次|批号|生产批号|生产批次)(?:号|编号|代码)?\s*(?:是|为)?\s*[:：#]?\s*" + _BATCH_CODE),
    re.compile(
        r"(?i:\b(?:batch|lot)(?:\s*(?:no\.?|number|num|code|id))?\s*(?:is\s+)?[:：#]?\s*)" + _BATCH_CODE
    ),
)
# bare codes that look like batch codes (B2409); 24A17 only protected, not extracted, when bare
BATCH_BARE_RE = re.compile(r"(?<![A-Za-z0-9])B\d{4}(?![A-Za-z0-9])")
BATCH_BARE_PROTECT_RE = re.compile(r"(?<![A-Za-z0-9])(?:B\d{4}|\d{2}[A-Z]\d{2})(?![A-Za-z0-9])")


def _plausible_batch(code: str) -> bool:
    if not re.search(r"\d", code):
        return False
    digits = sum(c.isdigit() for c in code)
    # long pure digit runs are phone / order numbers, not batch codes
    return bool(re.search(r"[A-Za-z]", code)) or digits <= 8


def batch_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, canonical_code) for every batch code in text (keyword or bare B####)."""
    out: list[tuple[int, int, str]] = []
    for rx in BATCH_KEYWORD_RES:
        for m in rx.finditer(text):
            code = m.group(1).rstrip("-")
            if _plausible_batch(code):
                out.append((m.start(1), m.start(1) + len(code), code.upper()))
    for m in BATCH_BARE_RE.finditer(text):
        out.append((m.start(), m.end(), m.group(0).upper()))
    out.sort()
    return out


def find_batch(text: str) -> str | None:
    spans = batch_spans(text)
    return spans[0][2] if spans else None


# ---------------------------------------------------------------- catalogue models


def _model_variant_regex(model: str) -> str:
    """KX-30A also matches kx30a, KX 30A, kx-30a (separators optional, case-insensitive)."""
    chunks = re.findall(r"[A-Za-z]+|\d+", model)
    if not chunks:
        return re.escape(model)
    return r"[\s\-_]?".join(re.escape(c) for c in chunks)


_ASCII_LOWER = {i: i + 32 for i in range(65, 91)}
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@dataclass
class ModelFinder:
    """Finds catalogue model codes in text, in any common spelling, and returns canonical forms."""

    models: Sequence[str]

    def __post_init__(self) -> None:
        self._canon: dict[str, str] = {}
        alts = []
        for m in sorted({m.strip() for m in self.models if m and m.strip()}, key=len, reverse=True):
            self._canon[self._key(m)] = m
            alts.append(_model_variant_regex(m.lower()))
        # matched on ASCII-lower-cased text; no IGNORECASE / look-behind so re can skip ahead fast
        self.regex = re.compile("(?:" + "|".join(alts) + r")(?![a-z0-9])") if alts else None

    @staticmethod
    def _key(s: str) -> str:
        return re.sub(r"[^0-9a-z]", "", s.lower())

    def canonical(self, s: str) -> str | None:
        return self._canon.get(self._key(s))

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        if self.regex is None:
            return []
        low = text.translate(_ASCII_LOWER)
        out = []
        for m in self.regex.finditer(low):
            s = m.start()
            if s and low[s - 1] in _ALNUM:
                continue
            out.append((s, m.end(), self._canon.get(self._key(m.group(0)), text[s : m.end()])))
        return out

    def canonicalise(self, text: str) -> str:
        """Rewrite every model mention to its catalogue spelling (used on token text only)."""
        spans = self.spans(text)
        if not spans:
            return text
        parts, pos = [], 0
        for s, e, code in spans:
            parts += [text[pos:s], " ", code, " "]
            pos = e
        parts.append(text[pos:])
        return "".join(parts)


# generic model-like codes with a hyphen (KX-30A, AF-5L): never redacted even if not in catalogue
GENERIC_CODE_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,4}-\d{1,4}[A-Za-z]{0,3}(?![A-Za-z0-9-])")
MODEL_KEYWORD_RE = re.compile(
    r"(?:型号|机型|(?i:\bmodel)(?:\s*(?:no\.?|number|#))?)\s*(?:是|为|is)?\s*[:：#]?\s*([A-Za-z]{1,5}[-\s]?\d{1,5}[A-Za-z0-9]{0,4})"
)

# a model code inside a free-text product field ("净水器 WP5", "Water purifier WP-5", "吹风机HD2201"):
# letters then digits, a letter or digit may follow; not a capacity or size ("5L", "1.5 L", "2 pack")
# (a space may separate only upper-case letters from the digits: "WP 5" is a code, "fryer 5L" is not)
FIELD_CODE_RE = re.compile(
    r"(?<![A-Za-z0-9])((?:[A-Z]{1,5}[\s_]|[A-Za-z]{1,5}[-_]?)\d{1,5}[A-Za-z0-9]{0,4}(?:-[A-Za-z0-9]{1,4})?)(?![A-Za-z0-9])"
)


def field_code(value: str) -> str | None:
    """The model code a product field carries, upper-cased, any space or underscore written '-'
    ("wp 5" -> "WP-5", "WP5" -> "WP5"); None when it carries none."""
    m = FIELD_CODE_RE.search(value)
    return re.sub(r"[\s_]+", "-", m.group(1).strip()).upper() if m else None


# ---------------------------------------------------------------- products


def _norm_name(s: str) -> str:
    return re.sub(r"[\s\-_]+", " ", s.strip().lower())


class ProductIndex:
    """Maps names / aliases / ids / models to catalogue ids."""

    def __init__(self, products: Iterable) -> None:
        self.by_name: dict[str, str] = {}
        self.by_model: dict[str, str] = {}
        self.models: list[str] = []
        self.names: list[tuple[str, str]] = []  # (surface, id) for the entity ruler
        for p in products:
            for surface in (p.id, p.name_zh, p.name_en, *p.aliases):
                if surface and surface.strip():
                    self.by_name.setdefault(_norm_name(surface), p.id)
                    if surface != p.id or not re.fullmatch(r"[a-z0-9_]+", surface):
                        self.names.append((surface.strip(), p.id))
            for m in p.models:
                if m and m.strip():
                    self.models.append(m.strip())
                    self.by_model.setdefault(ModelFinder._key(m), p.id)
        self.finder = ModelFinder(self.models)

    def product_id(self, value: str) -> str | None:
        return self.by_name.get(_norm_name(value))

    def field_product(self, value: str) -> tuple[str, str | None]:
        """(product value, model code) of a product field. One product spelled two ways is one value:
        a catalogue name or alias is its id; else a catalogue model code in it maps to that model's
        product; else the catalogue name or alias left once the code is taken out; else the model
        code itself ("净水器 WP5" and "Water purifier WP5" -> "WP5"); else the value as given."""
        pid = self.product_id(value)
        code = field_code(value)
        model = (self.finder.canonical(code) or code) if code else None
        if pid is not None:
            return pid, model
        spans = self.finder.spans(value)
        if spans:
            model = spans[0][2]
            pid = self.by_model.get(ModelFinder._key(model))
            if pid is not None:
                return pid, model
        if code:
            rest = FIELD_CODE_RE.sub(" ", value).strip(" -_/()（）")
            pid = self.product_id(rest) if rest else None
            if pid:
                return pid, model
            # the code alone is the product only when it is distinctive: "WP5", "WP-5" and "wp 5" are
            # one product; a two-character code ("V2", "S7") is shared by unrelated products
            key = re.sub(r"[\s_-]+", "", code)
            return (key if len(key) >= 3 else value), model
        return value, None

    def product_of_model(self, model: str) -> str | None:
        return self.by_model.get(ModelFinder._key(model))


# ---------------------------------------------------------------- spaCy entity ruler


def add_entity_ruler(nlp, index: ProductIndex, lang: str) -> None:
    """PRODUCT (id as ent_id), MODEL (canonical code) and PART patterns, matched on LOWER."""
    patterns: list[dict] = []
    for surface, pid in index.names:
        patterns.append({"label": "PRODUCT", "pattern": surface, "id": pid})
    for m in index.models:
        patterns.append({"label": "MODEL", "pattern": m, "id": m})
    for part in PARTS_ZH if lang == "zh" else PARTS_EN:
        patterns.append({"label": "PART", "pattern": part})
    if lang == "zh":  # mixed-language tickets go through the zh pipeline
        for part in PARTS_EN:
            patterns.append({"label": "PART", "pattern": part})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    ruler.add_patterns(patterns)


# ---------------------------------------------------------------- convenience (no spaCy)


@dataclass(frozen=True)
class Entity:
    label: str
    text: str
    start: int
    end: int
    value: str


def regex_entities(text: str, index: ProductIndex | None = None) -> list[Entity]:
    """Regex-only entities (BATCH, MODEL, ORDER placeholders) for callers without a pipeline."""
    ents: list[Entity] = []
    for s, e, code in batch_spans(text):
        ents.append(Entity("BATCH", text[s:e], s, e, code))
    if index is not None:
        for s, e, code in index.finder.spans(text):
            ents.append(Entity("MODEL", text[s:e], s, e, code))
    for m in re.finditer(r"\[ORDER\]", text):
        ents.append(Entity("ORDER", m.group(0), m.start(), m.end(), m.group(0)))
    ents.sort(key=lambda x: x.start)
    return ents
