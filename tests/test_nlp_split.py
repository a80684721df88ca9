"""The weekly split of earlier tickets into a new topic (nlp.split), on plain arrays: no store."""

from __future__ import annotations

import numpy as np

from voc.nlp.split import split_topics
from voc.nlp.topics import normalise

E1, E2, E3 = np.eye(3, dtype=np.float32)
NEAR_E3 = normalise(np.array([0.1, 0.0, 1.0], dtype=np.float32))


def _case() -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    # rows: a topic-1 ticket, two topic-1 tickets that are really about new topic 3 (weeks 9 and 10),
    # topic 3's own ticket, a topic-2 ticket, and a topic-2 ticket about 3 (topic 2 is frozen: a human's)
    x = np.vstack([E1, NEAR_E3, NEAR_E3, E3, E2, NEAR_E3])
    label = np.array([1, 1, 1, 3, 2, 2])
    weeks = np.array([9, 9, 10, 10, 10, 9])
    return x, label, weeks, {1: E1, 2: E2, 3: E3}


def test_a_new_topic_takes_over_the_close_tickets_of_unfrozen_topics() -> None:
    x, label, weeks, cents = _case()
    s = split_topics(x, label, weeks, 10, [1, 2, 3], cents, [3], {2}, threshold=0.5, min_size=2)
    assert s.label.tolist() == [1, 3, 3, 3, 2, 2]
    assert label.tolist() == [1, 1, 1, 3, 2, 2]  # the input is not changed
    assert s.split_ids == (3,) and s.moved_before == 1 and s.touched == {1, 3}
    assert s.lineage == ()  # a parent is named only when it gave 3 tickets or more
    assert [(m.topic_id, m.rows) for m in s.moves] == [(3, (1, 2))]
    assert all(sim > 0.9 for sim in s.moves[0].similarities)


def test_too_few_close_tickets_move_nothing() -> None:
    x, label, weeks, cents = _case()
    s = split_topics(x, label, weeks, 10, [1, 2, 3], cents, [3], {2}, threshold=0.5, min_size=3)
    assert s.label.tolist() == label.tolist() and s.moves == () and s.split_ids == () and s.moved_before == 0
