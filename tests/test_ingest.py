"""File ingestion on real databases: good rows stored, bad rows quarantined with reasons, no duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tests.conftest import shared_data
from voc.config.settings import EXAMPLE_CONFIG, Mapping, load_config
from voc.sources.files import detect_encoding, read_rows
from voc.sources.ingest import ingest_path, ingest_rows, replay_quarantine
from voc.store.models import QuarantinedRow, TicketRow

HEADER = "ticket_id,created_at,closed_at,channel,product,model,batch,subject,body,resolution,csat,reopened,transfers\n"
GOOD = [
    "T1,2026-11-16 09:00,2026-11-16 12:00,电话,oven,KX-30A,B2409,门,烤箱门关不紧,校准,2,0,0\n",
    "T2,2026-11-17T10:00:00+08:00,2026-11-18T10:00:00+08:00,chat,kettle,KT-17,,leak,The kettle leaks,replaced,4,1,1\n",
    'T3,2026/11/18 8:00,2026/11/18 9:30,邮件,,,,,"多行\n正文, 带逗号",,5,,\n',
]
BAD = [
    "T4,not-a-date,,电话,oven,,,,有正文,,,,\n",  # bad date, no other date
    "T5,2026-11-16 09:00,2026-11-16 10:00,电话,oven,,,,,,,,\n",  # missing body
    "T6,2026-11-16 09:00,2026-11-16 10:00,电话,oven,,,,正文,,abc,,\n",  # csat not a number
    ",2026-11-16 09:00,2026-11-16 10:00,电话,oven,,,,正文,,,,\n",  # missing id
    "T7,2026-11-16 09:00,2026-11-16 10:00,电话,oven\n",  # too few columns
]


def _count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(model)).scalar_one())


def test_broken_rows_quarantined_good_rows_stored_and_rerun_adds_nothing(engine, tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text(HEADER + "".join(GOOD + BAD), encoding="utf-8")
    s = ingest_path(engine, f, "files", Mapping())
    assert (s.read, s.counts.inserted, s.quarantined) == (8, 3, 5)
    assert _count(engine, TicketRow) == 3
    with engine.connect() as c:
        reasons = dict(c.execute(select(QuarantinedRow.location, QuarantinedRow.reason)).all())
    assert any("created_at" in r and "not-a-date" in r for r in reasons.values())
    assert any(r.startswith("body: missing") for r in reasons.values())
    assert any("csat" in r and "abc" in r for r in reasons.values())
    assert any(r.startswith("ticket_id: missing") for r in reasons.values())
    assert any("expected 13 columns, found 5" in r for r in reasons.values())
    # the multi-line quoted body survived intact
    with engine.connect() as c:
        body = c.execute(select(TicketRow.body).where(TicketRow.source_id == "T3")).scalar_one()
    assert body == "多行\n正文, 带逗号"
    # same file again: a no-op; forced re-read: nothing new either
    again = ingest_path(engine, f, "files", Mapping())
    assert again.files_skipped == 1 and again.read == 0
    forced = ingest_path(engine, f, "files", Mapping(), force=True)
    assert forced.counts.inserted == 0 and forced.counts.unchanged == 3
    assert _count(engine, TicketRow) == 3
    assert _count(engine, QuarantinedRow) == 5


def test_changed_file_is_reread_and_newer_version_wins(engine, tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text(HEADER + GOOD[0], encoding="utf-8")
    ingest_path(engine, f, "files", Mapping())
    f.write_text(
        HEADER
        + GOOD[0]
        .replace("烤箱门关不紧", "烤箱门关不紧 已第二次联系")
        .replace("2026-11-16 12:00", "2026-11-16 13:00"),
        encoding="utf-8",
    )
    s = ingest_path(engine, f, "files", Mapping())
    assert s.counts.updated == 1
    with engine.connect() as c:
        rows = c.execute(select(TicketRow.body)).scalars().all()
    assert rows == ["烤箱门关不紧 已第二次联系"]


def test_crash_mid_run_then_rerun_equals_one_clean_run(engine, tmp_path: Path, sqlite_url: str) -> None:
    rows = [HEADER] + [
        f"K{i},2026-11-16 09:00,2026-11-16 10:{i % 60:02d},电话,oven,,,,正文{i},,,,\n" for i in range(250)
    ]
    f = tmp_path / "big.csv"
    f.write_text("".join(rows), encoding="utf-8")

    def exploding():  # type: ignore[no-untyped-def]
        for n, r in enumerate(read_rows(f)):
            if n == 120:
                raise KeyboardInterrupt("killed mid-run")
            yield r

    with pytest.raises(KeyboardInterrupt):
        ingest_rows(engine, "files", exploding(), Mapping(), batch_size=50)
    assert _count(engine, TicketRow) == 100  # two committed batches, nothing half-written
    ingest_path(engine, f, "files", Mapping(), batch_size=50)
    with engine.connect() as c:
        got = sorted(c.execute(select(TicketRow.source_id, TicketRow.body)).all())
    assert len(got) == 250 and got == sorted((f"K{i}", f"正文{i}") for i in range(250))
    with engine.connect() as c:
        runs = c.execute(text("select status from ingest_runs order by id")).scalars().all()
    assert runs == ["failed", "ok"]


def test_jsonl_broken_lines_and_replay(engine, tmp_path: Path) -> None:
    f = tmp_path / "drop.jsonl"
    f.write_text(
        "\n".join(
            [
                json.dumps({"ticket_id": "J1", "closed_at": "2026-11-16T10:00:00Z", "body": "ok"}),
                '{"ticket_id": "J2", "closed_at": ',
                json.dumps(["not", "an", "object"]),
                json.dumps({"ticket_id": "J3", "closed_at": "2026-11-16T10:00:00Z", "body": "x" * 500}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    s = ingest_path(engine, f, "files", Mapping(), max_body_chars=100)
    assert (s.counts.inserted, s.quarantined) == (1, 3)
    assert s.reasons == {"invalid JSON": 1, "JSON line is a list, not an object": 1, "body": 1}
    fixed, still = replay_quarantine(engine, "files", {}, max_body_chars=1000)
    assert (fixed, still) == (1, 2)
    assert _count(engine, TicketRow) == 2


def test_encodings_detected(tmp_path: Path) -> None:
    content = HEADER + GOOD[0]
    for enc in ("utf-8", "utf-8-sig", "utf-16", "gb18030"):
        f = tmp_path / f"x-{enc}.csv"
        f.write_bytes(content.encode(enc))
        rows = list(read_rows(f))
        assert rows[0].data["body"] == "烤箱门关不紧", enc
    assert detect_encoding("烤箱门关不紧".encode("gbk")) == "gb18030"


def test_undecodable_bytes_quarantined_not_fatal(engine, tmp_path: Path) -> None:
    f = tmp_path / "mixed.csv"
    f.write_bytes(
        HEADER.encode() + GOOD[0].encode("utf-8") + b"T9,2026-11-16 09:00,,x,,,,,\xff\xfe bad,,,,\n"
    )
    s = ingest_path(engine, f, "files", Mapping(), encoding="utf-8")
    assert s.counts.inserted == 1 and s.quarantined == 1
    assert "undecodable" in next(iter(s.reasons))


def test_jd_export_gb18030_with_mapping(engine) -> None:
    path = shared_data("zh_jd_aircon_comments_ORIGINAL_gb18030.csv")
    cfg = load_config(EXAMPLE_CONFIG)
    s = ingest_path(engine, path, "jd_reviews", cfg.mapping("jd_reviews"))
    assert s.read == 13576 and s.quarantined == 0
    # 2,407 reviews occur 2-5 times (same SKU, user, time and text; 11 of the repeats differ only in
    # the unmapped reply/member counters): each is one ticket, every repeat counted as a duplicate,
    # in whichever batch it falls
    assert (s.counts.inserted, s.counts.duplicates, s.counts.unchanged, s.counts.updated) == (
        10866,
        2710,
        0,
        0,
    )
    assert "duplicates 2710 (same id again in this run" in s.line()
    with engine.connect() as c:
        n, with_model, complaints = c.execute(
            text(
                "select count(*), count(model), sum(case when intent_hint='complaint' then 1 else 0 end) from tickets"
            )
        ).one()
        sample = c.execute(select(TicketRow.body).where(TicketRow.body.like("%空调%")).limit(1)).scalar_one()
    assert n == s.counts.inserted and with_model == n and complaints > 100
    assert "空调" in sample
    again = ingest_path(engine, path, "jd_reviews", cfg.mapping("jd_reviews"), force=True)
    assert (again.counts.inserted, again.counts.unchanged, again.counts.duplicates) == (0, 10866, 2710)


def _big_file(tmp_path: Path, n: int = 400) -> Path:
    """Good rows with a repeat across batch boundaries, plus every kind of bad row."""
    rows = [f"W{i},2026-11-16 09:00,2026-11-16 10:{i % 60:02d},电话,oven,,,,正文{i},,,,\n" for i in range(n)]
    rows[n - 1] = rows[3].replace("正文3", "正文3 第二版").replace("10:03", "11:03")  # newer version of W3
    rows[n - 2] = rows[5]  # verbatim repeat of W5
    f = tmp_path / "big.csv"
    f.write_text(HEADER + "".join(rows[:50] + BAD + rows[50:]), encoding="utf-8")
    return f


def _stored(engine, source: str) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    cols = [c for c in TicketRow.__table__.c if c.name not in ("id", "source", "ingested_at")]
    q = QuarantinedRow.__table__.c
    with engine.connect() as c:
        tickets = c.execute(
            select(*cols).where(TicketRow.source == source).order_by(TicketRow.source_id)
        ).all()
        bad = c.execute(
            select(q.location, q.raw, q.reason).where(q.source == source).order_by(q.location)
        ).all()
    return [tuple(r) for r in tickets], [tuple(r) for r in bad]


def test_worker_process_stores_exactly_what_the_in_process_path_stores(engine, tmp_path: Path) -> None:
    f = _big_file(tmp_path)
    a = ingest_path(engine, f, "inproc", Mapping(), batch_size=64, worker=False)
    b = ingest_path(engine, f, "worker", Mapping(), batch_size=64, worker=True)
    assert a.line().replace("inproc", "worker") == b.line() and a.reasons == b.reasons
    assert (b.read, b.counts.inserted, b.counts.duplicates, b.quarantined) == (405, 398, 2, 5)
    assert _stored(engine, "inproc") == _stored(engine, "worker")
    with engine.connect() as c:
        w3 = c.execute(
            select(TicketRow.body).where(TicketRow.source == "worker", TicketRow.source_id == "W3")
        )
        assert w3.scalars().all() == ["正文3 第二版"]  # the newest version of W3 kept
    forced = ingest_path(engine, f, "worker", Mapping(), batch_size=64, worker=True, force=True)
    assert (forced.counts.inserted, forced.counts.unchanged, forced.counts.duplicates) == (0, 398, 2)


def test_worker_kill_mid_run_then_rerun_equals_one_clean_run(
    engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import voc.sources.ingest as ing

    f = _big_file(tmp_path)
    ingest_path(engine, f, "clean", Mapping(), batch_size=64, worker=True)
    real, calls = ing.upsert_rows, []

    def dying(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed mid-run")
        return real(*a, **k)

    monkeypatch.setattr(ing, "upsert_rows", dying)
    with pytest.raises(KeyboardInterrupt):
        ingest_path(engine, f, "killed", Mapping(), batch_size=64, worker=True)
    assert len(_stored(engine, "killed")[0]) == 128 - 5  # two whole batches (minus their bad rows)
    monkeypatch.setattr(ing, "upsert_rows", real)
    ingest_path(engine, f, "killed", Mapping(), batch_size=64, worker=True)
    assert _stored(engine, "killed") == _stored(engine, "clean")


def test_the_reader_process_imports_the_pipeline_not_the_working_directorys_packages(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#18: run from a folder holding its own ``config/``, ``store/``, ``sources/`` and ``voc/`` packages
    (a user's project), the big-file reader process imports the pipeline's packages, not those (it
    died with "the reader process died" when it imported the folder's ``config``)."""
    from voc.store.db import make_engine, migrate

    work = tmp_path / "work"
    for pkg in ("config", "store", "sources", "voc"):
        (work / pkg).mkdir(parents=True)
        (work / pkg / "__init__.py").write_text(f"raise ImportError('the folder {pkg}/ was imported')\n")
    f = _big_file(tmp_path)
    engine = make_engine(sqlite_url)
    migrate(engine)
    monkeypatch.chdir(work)
    s = ingest_path(engine, f, "w", Mapping(), batch_size=64, worker=True)
    assert (s.read, s.counts.inserted, s.counts.duplicates, s.quarantined) == (405, 398, 2, 5)
    engine.dispose()


def test_worker_errors_reach_the_caller(engine, tmp_path: Path) -> None:
    from voc.errors import SourceError

    f = _big_file(tmp_path, 10)
    with pytest.raises(SourceError, match="unknown encoding 'no-such-codec'"):
        ingest_path(engine, f, "w", Mapping(), encoding="no-such-codec", worker=True)
    with engine.connect() as c:
        assert c.execute(text("select status from ingest_runs")).scalars().all() == ["failed"]
