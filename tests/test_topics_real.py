"""Topic engine on real data from ../shared/data (skipped when that directory is absent)."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_data

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ZH = DATA / "zh_online_shopping_10_cats.csv"
pytestmark = [pytest.mark.slow]
_ZH_STOP = set(
    "的 了 是 我 也 就 都 还 很 在 和 有 不 这 那 你 他 啊 吧 呢 吗 又 太 个 一个 没有 就是 但是 可以 真的 感觉".split()
)


def test_zh_reviews_topics_quality_and_labels():
    import jieba
    import pandas as pd
    from sklearn.metrics import normalized_mutual_info_score

    from voc.nlp.catalogue import assign_week, known_from_found
    from voc.nlp.embedding import TfidfSvdEmbedder
    from voc.nlp.topics import LABEL_STOPWORDS, fit_topics

    jieba.setLogLevel(60)
    d = pd.read_csv(shared_data(ZH.name))  # skips locally without ../shared, fails on CI
    d = d[(d.label == 0) & d.review.notna()].sample(n=4000, random_state=0).reset_index(drop=True)
    texts = d.review.astype(str).str.strip().tolist()
    tokens = [
        tuple(w for w in jieba.lcut(t) if w.strip() and w not in _ZH_STOP and re.search(r"\w", w))
        for t in texts
    ]
    hist, week = slice(0, 3000), slice(3000, 4000)
    emb = TfidfSvdEmbedder().fit(texts[hist], tokens[hist])
    x = emb.transform(texts, tokens)
    found = fit_topics(texts[hist], tokens[hist], x[hist], min_topic_size=20)
    labels = np.full(3000, -1)
    for f in found:
        labels[list(f.members)] = f.key
        for term in [*f.keywords, *f.label.split(" / ")]:
            assert not (len(term) == 1 and "\u4e00" <= term <= "\u9fff"), term
            assert term not in LABEL_STOPWORDS
            assert any(unicodedata.category(c).startswith("L") for c in term)
    assert (labels >= 0).all()
    assert 4 <= len(found) <= 40
    assert normalized_mutual_info_score(d.cat[:3000], labels) >= 0.3
    known = known_from_found(found, first_id=1, status="active")
    upd = assign_week(
        known,
        texts[week],
        tokens[week],
        x[week],
        threshold=0.25,
        min_new_topic_size=20,
        next_id=len(known) + 1,
    )
    assert len(upd.assignments) == 1000
    # the same kind of reviews: most of next week lands on known topics
    assert np.mean([t <= len(known) for t, _ in upd.assignments]) >= 0.8
