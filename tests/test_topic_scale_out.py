"""Scale-out of the topic stage's embedding: chunks embedded on workers (pickled there and back, or on a
Dask cluster through the weekly flow's topic stage) store exactly the topics, assignments and embeddings
the embedding in the flow process stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import pickle

import pytest
from sqlalchemy import text

from tests.conftest import understood_sample
from voc.config.settings import Settings
from voc.flows import topic_stage
from voc.nlp.embedding import embed_chunk
from voc.weeks import Week

WEEK = Week.parse("2026-W47")


def _topic_results(engine) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    queries = {
        "topics": "select id, intent, label, keywords, status, merged_into, centroid from topics order by id",
        "assignments": "select ticket_id, topic_id, similarity, week from assignments order by ticket_id",
        "embeddings": "select ticket_id, embedder_key, vector from embeddings order by ticket_id, embedder_key",
    }
    with engine.connect() as c:
        return {k: [tuple(r) for r in c.execute(text(q))] for k, q in queries.items()}


def _here(engine, store_templates) -> tuple:  # type: ignore[no-untyped-def]
    """The first fit and the next week with the embedding in this process; then the store as it was."""
    cfg = store_templates.copy(engine, understood_sample)
    topic_stage.update_topics(engine, cfg, WEEK.shift(-1))
    topic_stage.update_topics(engine, cfg, WEEK)
    here = _topic_results(engine)
    assert len(here["assignments"]) > 2000 and len(here["embeddings"]) == len(here["assignments"])
    store_templates.copy(engine, understood_sample)  # the understood store again, no topics yet
    assert not any(_topic_results(engine).values())
    return cfg, here


def test_embedding_on_workers_stores_what_embedding_here_stores(
    engine, store_templates, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    cfg, here = _here(engine, store_templates)
    monkeypatch.setattr(topic_stage, "EMBED_CHUNK", 150)
    sent: list[int] = []

    def via_pickle(blob, parts):  # type: ignore[no-untyped-def]
        # what a worker gets: the embedder's bytes and the chunks pickled, done in any order
        sent.append(len(parts))
        blob, parts = pickle.loads(pickle.dumps((blob, parts)))
        done = {i: embed_chunk(blob, t, k) for i, (t, k) in reversed(list(enumerate(parts)))}
        return pickle.loads(pickle.dumps([done[i] for i in range(len(parts))]))

    topic_stage.update_topics(engine, cfg, WEEK.shift(-1), embed_chunks=via_pickle)
    topic_stage.update_topics(engine, cfg, WEEK, embed_chunks=via_pickle)
    assert sent and max(sent) >= 5, f"the first fit went to the workers in chunks: {sent}"
    assert _topic_results(engine) == here


def test_short_answer_from_workers_is_refused(engine, store_templates, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cfg = store_templates.copy(engine, understood_sample)
    monkeypatch.setattr(topic_stage, "EMBED_CHUNK", 150)

    def one_lost(blob, parts):  # type: ignore[no-untyped-def]
        return [embed_chunk(blob, t, k) for t, k in parts[:-1]]

    with pytest.raises(RuntimeError, match="vectors for"):
        topic_stage.update_topics(engine, cfg, WEEK.shift(-1), embed_chunks=one_lost)
    assert not _topic_results(engine)["assignments"], "nothing written from a short answer"


@pytest.mark.slow
def test_dask_cluster_embeds_the_first_fit_with_identical_results(
    engine, db_url: str, store_templates, dask_cluster, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import distributed

    from voc.flows.weekly import topics_stage

    cfg, here = _here(engine, store_templates)
    monkeypatch.setattr(topic_stage, "EMBED_CHUNK", 150)
    address, client = dask_cluster
    settings = Settings(database_url=db_url, workers=2, task_runner="dask", dask_address=address)
    with distributed.get_task_stream(client) as stream:
        topics_stage(settings, cfg, WEEK.shift(-1))
        topics_stage(settings, cfg, WEEK)
    assert _topic_results(engine) == here
    ran = [t["worker"] for t in stream.data if "embed" in str(t.get("key", ""))]
    assert len(ran) >= 5 and len(set(ran)) == 2, f"chunks ran on both workers: {ran}"
