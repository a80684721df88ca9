"""The understanding stage: ticket text in, ``Understanding`` values out.

Pure: no database, network or orchestration imports. Build one ``Understander`` per process (it
compiles the spaCy pipelines and the redaction rules once) and call ``understand`` with batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voc.nlp.entities import FIELD_CODE_RE, ModelFinder, ProductIndex, find_batch
from voc.nlp.entities import MODEL_KEYWORD_RE as _MODEL_KW_RE
from voc.nlp.intent import INTENTS, classify_intents
from voc.nlp.language import LANGUAGES, detect_language
from voc.nlp.normalize import MAX_CHARS, normalize
from voc.nlp.redact import Redactor
from voc.nlp.severity import classify_severities, rule_severity
from voc.nlp.tokens import ZhWords, build_pipelines, content_tokens, content_words, token_text


@dataclass(frozen=True)
class CatalogueEntry:
    id: str
    name_zh: str
    name_en: str
    aliases: tuple[str, ...] = ()
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class TicketText:
    body: str
    subject: str | None = None
    product: str | None = None
    model: str | None = None
    batch: str | None = None
    language: str | None = None
    intent_hint: str | None = None


@dataclass(frozen=True)
class Understanding:
    language: str  # 'zh' | 'en' | 'mixed' | 'unknown'
    text: str  # subject + body, normalised and redacted
    tokens: tuple[str, ...]
    product: str | None
    model: str | None
    batch: str | None
    product_source: str | None  # 'field' | 'text' | None
    model_source: str | None
    batch_source: str | None
    intent: str  # 'complaint' | 'question' | 'suggestion' | 'praise'
    severity: str  # 'safety' | 'defect' | 'service' | 'other'
    flags: tuple[str, ...]
    redactions: int


def _clean(v: object) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


class Understander:
    """Normalise, redact, detect language, extract entities, tokenise and classify ticket texts."""

    def __init__(
        self,
        products: Sequence[CatalogueEntry] = (),
        order_patterns: Sequence[str] = (),
        *,
        max_chars: int = MAX_CHARS,
        hmm: bool = False,
        batch_size: int = 512,
    ) -> None:
        self.products = tuple(products)
        self.index = ProductIndex(self.products)
        self.redactor = Redactor(self.index.models, order_patterns)
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.zh, self.en, self._lemmas = build_pipelines(self.index, hmm=hmm)
        self.zh_words = ZhWords(self.zh)

    # ------------------------------------------------------------------ helpers

    def redact(self, text: str) -> str:
        """Normalise and redact any text (resolutions, quotes)."""
        norm, _ = normalize(text, self.max_chars)
        return self.redactor.redact(norm)[0]

    def _prepare(self, item: TicketText) -> tuple[str, tuple[str, ...], int, str]:
        body = item.body if item.body is not None else ""
        subject = (
            _clean(item.subject)
            if isinstance(item.subject, str) or item.subject is None
            else str(item.subject)
        )
        if subject:
            norm_s, flags_s = normalize(subject, 500)
        else:
            norm_s, flags_s = "", ()
        norm_b, flags_b = normalize(body, self.max_chars)
        if norm_s and norm_b and not norm_b.startswith(norm_s):
            text = f"{norm_s}。{norm_b}" if _ends_han(norm_s) else f"{norm_s}. {norm_b}"
            flags = flags_b
        elif norm_s and not norm_b:
            text, flags = (
                norm_s,
                tuple(f for f in flags_b if f not in ("empty", "placeholder_only", "emoji_only")),
            )
        else:
            text, flags = norm_b, flags_b
        for f in flags_s:
            if f not in flags and f not in ("empty", "placeholder_only", "emoji_only"):
                flags = (*flags, f)
        red, n = self.redactor.redact(text)
        lang = _clean(item.language)
        lang = lang.lower() if lang else None
        if lang not in LANGUAGES or lang == "unknown":
            lang = detect_language(red)
        return red, flags, n, lang

    def _field_product(self, value: str | None) -> str | None:
        """The product field's identity: model code first, catalogue aliases second (see
        ``ProductIndex.field_product``)."""
        v = _clean(value)
        if v is None:
            return None
        return self.index.field_product(v)[0]

    def _field_model(self, value: str | None, product: str | None = None) -> str | None:
        """The model field (catalogue spelling if known, a bare code upper-cased); when it is empty,
        the model code the product field carries ("净水器 WP5" -> "WP5")."""
        v = _clean(value)
        if v is None:
            p = _clean(product)
            return self.index.field_product(p)[1] if p else None
        known = self.index.finder.canonical(v)
        if known:
            return known
        return v.upper() if FIELD_CODE_RE.fullmatch(v) else v

    # ------------------------------------------------------------------ main

    def understand(self, items: Sequence[TicketText]) -> list[Understanding]:
        prepared = [self._prepare(it) for it in items]
        # per ticket: (content tokens, first MODEL, first PRODUCT id) from its tokenizer + entity ruler
        parsed: list[tuple[tuple[str, ...], str | None, str | None]] = [((), None, None)] * len(prepared)
        en_idx = []
        zw, lemmas = self.zh_words, self._lemmas
        for i, p in enumerate(prepared):
            if p[3] in ("zh", "mixed") or (p[3] == "unknown" and _has_han(p[0])):
                # zh: words and entity spans straight from the segmenter (no Doc; see ZhWords)
                words = zw.words(token_text(p[0], self.index))
                ents = zw.entities(words)
                models = {s: (e, eid or " ".join(words[s:e])) for s, e, lab, eid in ents if lab == "MODEL"}
                model = next(iter(models.values()))[1] if models else None
                pid = next(
                    (
                        eid or self.index.product_id("".join(words[s:e]))
                        for s, e, lab, eid in ents
                        if lab == "PRODUCT"
                    ),
                    None,
                )
                parsed[i] = (content_words(words, models, lemmas), model, pid)
            else:
                en_idx.append(i)
        if en_idx:
            en_texts = [token_text(prepared[i][0], self.index) for i in en_idx]
            # lemmas are looked up only for content tokens (same lookup table), not for every token
            with self.en.select_pipes(disable=[p for p in ("lemmatizer",) if p in self.en.pipe_names]):
                for i, doc in zip(en_idx, self.en.pipe(en_texts, batch_size=self.batch_size), strict=True):
                    parsed[i] = (
                        content_tokens(doc, lemmas),
                        _first_ent(doc, "MODEL"),
                        _first_product(doc, self.index),
                    )

        # every field but intent and severity, per ticket; the Understandings are made once at the end
        fields: list[tuple] = []
        texts: list[str] = []
        intents: list[str] = []
        rules: list[str] = []
        ask: list[int] = []  # tickets whose intent the rules + classifier decide
        for item, (text, flags, n, lang), (tokens, text_model, text_pid) in zip(
            items, prepared, parsed, strict=True
        ):
            # --- entities: field first, then text
            product = self._field_product(item.product)
            product_source = "field" if product else None
            model = self._field_model(item.model, item.product)
            model_source = "field" if model else None
            batch = _clean(item.batch)
            batch_source = "field" if batch else None

            if model is None:
                spans = self.index.finder.spans(text)
                model = (
                    text_model or (spans[0][2] if spans else None) or _keyword_model(text, self.index.finder)
                )
                model_source = "text" if model else None
            if product is None:
                pid = text_pid
                if pid is None and model:
                    pid = self.index.product_of_model(model)
                    if pid is not None:
                        product, product_source = pid, model_source
                elif pid is not None:
                    product, product_source = pid, "text"
            if batch is None:
                batch = find_batch(text)
                batch_source = "text" if batch else None

            # --- classification
            hint = _clean(item.intent_hint)
            hint = hint.lower() if hint else None
            if hint in INTENTS:
                intent = hint
                rules.append(rule_severity(text, intent))
            else:
                intent = ""  # decided for the whole batch below (one classifier call)
                rules.append("")
                ask.append(len(texts))
            texts.append(text)
            intents.append(intent)
            fields.append(
                (
                    lang,
                    tokens,
                    product,
                    model,
                    batch,
                    product_source,
                    model_source,
                    batch_source,
                    tuple(flags),
                    n,
                )
            )
        # intent (rules + classifier) and severity for the whole batch: one classifier call each
        for k, (intent, safety, defect) in zip(ask, classify_intents([texts[k] for k in ask]), strict=True):
            intents[k] = intent
            rules[k] = rule_severity(texts[k], intent, safety=safety, defect=defect)
        sev = classify_severities(texts, intents, rules=rules)
        return [
            Understanding(
                language=lang,
                text=text,
                tokens=tokens,
                product=product,
                model=model,
                batch=batch,
                product_source=p_src,
                model_source=m_src,
                batch_source=b_src,
                intent=intent,
                severity=severity,
                flags=flags,
                redactions=n,
            )
            for (
                lang,
                tokens,
                product,
                model,
                batch,
                p_src,
                m_src,
                b_src,
                flags,
                n,
            ), text, intent, severity in zip(fields, texts, intents, sev, strict=True)
        ]


def _ends_han(s: str) -> bool:
    return bool(s) and "\u4e00" <= s[-1] <= "\u9fff"


def _has_han(s: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in s[:2000])


def _first_ent(doc, label: str) -> str | None:
    if doc is None:
        return None
    for ent in doc.ents:
        if ent.label_ == label:
            return ent.ent_id_ or ent.text
    return None


def _first_product(doc, index: ProductIndex) -> str | None:
    if doc is None:
        return None
    for ent in doc.ents:
        if ent.label_ == "PRODUCT":
            return ent.ent_id_ or index.product_id(ent.text)
    return None


def _keyword_model(text: str, finder: ModelFinder) -> str | None:
    """An explicit '型号: XX-123' / 'model XX-123' not in the catalogue."""
    m = _MODEL_KW_RE.search(text)
    if not m:
        return None
    code = m.group(1).strip()
    return finder.canonical(code) or code.upper()
