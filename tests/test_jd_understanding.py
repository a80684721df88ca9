"""The real JD.com export through ingestion and understanding: product and model on every ticket."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import shared_data
from voc.config.settings import EXAMPLE_CONFIG, load_config
from voc.flows.understand import understand_pending
from voc.sources.ingest import ingest_path


@pytest.mark.slow
def test_jd_tickets_get_product_and_model(sqlite_url: str) -> None:
    from voc.store.db import make_engine, migrate

    path = shared_data("zh_jd_aircon_comments_ORIGINAL_gb18030.csv")
    engine = make_engine(sqlite_url)
    migrate(engine)
    cfg = load_config(EXAMPLE_CONFIG)
    ingest_path(engine, path, "jd_reviews", cfg.mapping("jd_reviews"))
    assert understand_pending(engine, cfg) > 10_000
    with engine.connect() as c:
        n, prod, model, zh, complaints, flagged_mojibake = c.execute(
            text(
                "select count(*), count(product_n), count(model_n), sum(case when lang in ('zh','mixed') then 1 else 0 end),"
                " sum(case when intent='complaint' then 1 else 0 end),"
                " sum(case when flags like '%mojibake%' then 1 else 0 end) from tickets"
            )
        ).one()
        sources = c.execute(text("select entity_sources, count(*) from tickets group by 1")).all()
    # 商品名称 names a model on every row of this export (the mapping extracts it), so all are filled
    assert prod == n and model == n
    assert all("model=field" in (s or "") for s, _ in sources)
    assert zh >= 0.95 * n, "the GB18030 text decoded as Chinese"
    assert flagged_mojibake == 0
    assert complaints >= 0.05 * n  # 1-2 star reviews are complaints (intent_hint from the mapping)
