"""Epoch timestamps are recognised by magnitude: seconds (10 digits) and milliseconds (13, as 七鱼/Qiyu
and JavaScript exports give them) are stored at the right time; anything else is quarantined, never
misdated (Python 3.11's fromisoformat reads 1631081162000 as the basic-format date 1631-08-11)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from voc.config.settings import Mapping
from voc.errors import RowError
from voc.sources.ingest import ingest_path
from voc.store.models import TicketRow
from voc.ticket import parse_datetime

WHEN = datetime(2021, 9, 8, 6, 6, 2)  # 1631081162 s = 2021-09-08 06:06:02 UTC


@pytest.mark.parametrize(
    "value",
    [
        1631081162000,
        "1631081162000",
        1631081162000.0,
        "1631081162000.0",
        1631081162,
        "1631081162",
        " 1631081162000 ",
    ],
)
def test_epoch_seconds_and_milliseconds(value: object) -> None:
    assert parse_datetime(value, "closed_at") == WHEN


def test_epoch_milliseconds_keep_their_fraction() -> None:
    assert parse_datetime(1631081162250, "closed_at") == datetime(2021, 9, 8, 6, 6, 2, 250000)


@pytest.mark.parametrize("value", [16310811620, "163108116200", 163108116, 4102444800000, 946684799])
def test_epoch_out_of_range_or_ambiguous_is_a_row_error(value: object) -> None:
    with pytest.raises(RowError, match="closed_at: epoch"):
        parse_datetime(value, "closed_at")


def test_other_formats_unchanged() -> None:
    assert parse_datetime(20210908, "closed_at") == datetime(2021, 9, 8)  # basic ISO date, 8 digits
    assert parse_datetime("2021-09-08T14:06:02+08:00", "closed_at") == WHEN
    assert parse_datetime("2021/9/8 14:06", "closed_at", "Asia/Shanghai") == datetime(2021, 9, 8, 6, 6)


def test_millisecond_export_is_stored_at_the_right_time(engine: Engine, tmp_path: Path) -> None:
    rows = [
        {"ticket_id": "a", "closed_at": 1631081162000, "created_at": 1631080000000, "body": "门关不紧"},
        {"ticket_id": "b", "closed_at": "1631081162000", "body": "kettle leaks"},
        {"ticket_id": "c", "closed_at": 16310811620, "body": "11 digits: neither unit"},
    ]
    f = tmp_path / "qiyu.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    s = ingest_path(engine, f, "qiyu-file", Mapping())
    assert (s.read, s.counts.inserted, s.quarantined) == (3, 2, 1)
    with engine.connect() as c:
        got = dict(c.execute(select(TicketRow.source_id, TicketRow.closed_at)).all())
    assert {k: v.replace(tzinfo=None) for k, v in got.items()} == {"a": WHEN, "b": WHEN}
