"""Topic stage: keep the topic catalogue up to date for one week, per intent.

The first run fits on all history; later weeks assign new tickets to existing topic ids and open
*emerging* topics for the rest (``nlp.catalogue``). The fitted embedder is stored so every week
embeds in the same space, and each ticket's embedding is cached.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, Engine

from config.settings import VocConfig
from nlp.catalogue import KnownTopic, assign_week
from nlp.embedding import TfidfSvdEmbedder, load_embedder
from store import analysis
from store.models import Topic
from voc.weeks import Week

INTENTS = ("complaint", "question", "suggestion")


@dataclass
class TopicSummary:
    assigned: dict[str, int] = field(default_factory=dict)
    new_topics: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        parts = [f"{i}: {self.assigned.get(i, 0)} assigned, {self.new_topics.get(i, 0)} new topics"
                 for i in INTENTS]
        return "; ".join(parts)


BATCH_CODE = re.compile(r"\b(?:[A-Z]{1,2}\d{3,5}[A-Z]?|\d{2}[A-Z]\d{2,3})\b")


def catalogue_terms(cfg: VocConfig) -> list[str]:
    """Product names, aliases, models and brand words: they say *what* product, not *what problem*.

    Products are their own dimension (topic × product cells), so topics are built without them:
    "door won't close" is one topic whether the text names the oven by model or by alias.
    """
    terms = {cfg.report.brand, *cfg.report.brand.split()}
    for p in cfg.products:
        terms.update([p.id, p.name_zh, p.name_en, *p.aliases, *p.models])
    return sorted((t for t in terms if t and len(t) > 1), key=len, reverse=True)


def topic_view(texts: list[str], tokens: list[list[str]], terms: list[str]) -> tuple[list[str], list[list[str]]]:
    """Texts and tokens with catalogue terms and batch codes removed, for embedding and labels."""
    if not terms:
        return texts, tokens
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    lowered = {t.lower() for t in terms}
    out_texts = [BATCH_CODE.sub(" ", pattern.sub(" ", t)) for t in texts]
    out_tokens = [[w for w in toks if w.lower() not in lowered and not BATCH_CODE.fullmatch(w)
                   and not pattern.fullmatch(w.replace("_", " "))] for toks in tokens]
    return out_texts, out_tokens


def _known(t: Topic) -> KnownTopic:
    centroid = np.frombuffer(t.centroid, dtype=np.float32) if t.centroid else np.zeros(1, np.float32)
    return KnownTopic(topic_id=t.id, label=t.label, keywords=tuple(k for k in t.keywords.split(" / ") if k),
                      centroid=centroid, status=t.status, merged_into=t.merged_into, human_label=t.human_label)


def _embed(conn: Connection, embedder, key: str, ids: list[int], texts: list[str],
           tokens: list[list[str]]) -> np.ndarray:
    """Embed with the cache: only tickets never embedded under this embedder state are computed."""
    cached = analysis.cached_embeddings(conn, key, ids)
    todo = [i for i, tid in enumerate(ids) if tid not in cached]
    if todo:
        vecs = embedder.transform([texts[i] for i in todo], [tokens[i] for i in todo])
        analysis.store_embeddings(conn, key, [ids[i] for i in todo], vecs)
        for i, v in zip(todo, vecs, strict=True):
            cached[ids[i]] = v
    return np.vstack([cached[tid] for tid in ids]) if ids else np.zeros((0, 1), np.float32)


def update_topics(engine: Engine, cfg: VocConfig, week: Week) -> TopicSummary:
    th = cfg.thresholds
    summary = TopicSummary()
    w = week.ordinal()
    terms = catalogue_terms(cfg)
    for intent in INTENTS:
        with engine.begin() as conn:
            analysis.promote_emerging(conn, w)
            known = [t for t in analysis.load_topics(conn, intent)]
            art_key = f"embedder:{intent}"
            blob = analysis.get_artifact(conn, art_key)
            first = blob is None or not known
            rows = analysis.tickets_for_topics(conn, intent, w, only_unassigned=not first)
            if not rows:
                continue
            ids = [r.id for r in rows]
            texts, tokens = topic_view([r.text_clean or "" for r in rows], [(r.tokens or "").split() for r in rows],
                                       terms)
            if first:
                embedder = TfidfSvdEmbedder().fit(texts, tokens)
                blob = embedder.dumps()
                analysis.put_artifact(conn, art_key, blob)
            else:
                embedder = load_embedder(blob)
            emb_key = f"{intent}:{hashlib.sha256(blob).hexdigest()[:16]}"
            vectors = _embed(conn, embedder, emb_key, ids, texts, tokens)
            upd = assign_week([] if first else [_known(t) for t in known], texts, tokens, vectors,
                              threshold=th.topic_match_similarity, min_new_topic_size=th.min_new_topic_size,
                              next_id=analysis.next_topic_id(conn))
            new = upd.new_topics
            if first:  # the initial fit on history is the baseline catalogue, not "emerging"
                new = [KnownTopic(topic_id=t.topic_id, label=t.label, keywords=t.keywords, centroid=t.centroid,
                                  status="active") for t in new]
            analysis.upsert_topics(conn, intent, [*new, *upd.updated], w)
            analysis.save_assignments(conn, ids, upd.assignments, w)
            analysis.record_lineage(conn, upd.lineage, w)
            summary.assigned[intent] = len(ids)
            summary.new_topics[intent] = len(new)
    return summary
