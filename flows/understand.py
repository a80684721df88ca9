"""Understanding stage: every ticket not yet understood gets language, clean redacted text,
tokens, product/model/batch, intent and severity (``nlp.understanding`` does the work)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from config.settings import VocConfig
from nlp.understanding import CatalogueEntry, TicketText, Understander
from store import analysis

NLP_VERSION = "1"


@lru_cache(maxsize=4)
def _understander(products: tuple[CatalogueEntry, ...], order_patterns: tuple[str, ...]) -> Understander:
    return Understander(products=products, order_patterns=order_patterns)


def understander_for(cfg: VocConfig) -> Understander:
    """One Understander (spaCy pipelines built once) per catalogue, reused across calls."""
    entries = tuple(CatalogueEntry(id=p.id, name_zh=p.name_zh, name_en=p.name_en, aliases=tuple(p.aliases),
                                   models=tuple(p.models)) for p in cfg.products)
    return _understander(entries, tuple(cfg.order_patterns))


def understand_pending(engine: Engine, cfg: VocConfig, batch_size: int = 2000) -> int:
    """Understand all pending tickets in batches; returns how many were processed."""
    und = understander_for(cfg)
    done = 0
    while True:
        with engine.connect() as conn:
            rows = analysis.pending_understanding(conn, NLP_VERSION, batch_size)
        if not rows:
            return done
        items = [TicketText(body=r.body, subject=r.subject, product=r.product, model=r.model, batch=r.batch,
                            language=r.language, intent_hint=r.intent_hint) for r in rows]
        results = und.understand(items)
        out = []
        for r, u in zip(rows, results, strict=True):
            sources = ",".join(f"{k}={v}" for k, v in (("product", u.product_source), ("model", u.model_source),
                                                        ("batch", u.batch_source)) if v)
            out.append({
                "_id": r.id, "nlp_version": NLP_VERSION, "lang": u.language, "text_clean": u.text,
                "resolution_clean": und.redact(r.resolution) if r.resolution else None,
                "tokens": " ".join(t.replace(" ", "_") for t in u.tokens), "intent": u.intent, "severity": u.severity,
                "product_n": u.product, "model_n": u.model, "batch_n": u.batch,
                "entity_sources": sources or None, "flags": ",".join(u.flags) or None,
            })
        with engine.begin() as conn:
            analysis.save_understanding(conn, out)
        done += len(out)
