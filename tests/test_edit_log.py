"""The catalogue's edit log and undo (store/edit_log.py) on real stores, SQLite and PostgreSQL: every
edit of topics and themes (CLI or web) is recorded with who, when, before and after; each can be
undone, also after a refit, and a refit keeps every edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from tests.conftest import understood_sample
from voc.errors import VocError
from voc.flows.topic_stage import refit_topics, update_topics
from voc.store import analysis, edit_log, themes, topic_edits
from voc.store.models import Assignment
from voc.weeks import Week

WEEK = Week.parse("2026-W47")


def _assigned(engine: Any, topic_id: int) -> set[int]:
    with engine.connect() as c:
        return set(c.execute(select(Assignment.ticket_id).where(Assignment.topic_id == topic_id)).scalars())


def _theme_of(engine: Any, topic_id: int) -> int | None:
    with engine.connect() as c:
        return themes.topic_theme_map(c).get(topic_id)


def _analyse(engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = understood_sample(engine, tmp_path, str(WEEK))
    update_topics(engine, cfg, WEEK.shift(-1))
    update_topics(engine, cfg, WEEK)
    return cfg


@pytest.fixture
def analysed(engine, store_templates):  # type: ignore[no-untyped-def]
    """A fresh store per test: a copy of the module's analysed one (built once per backend)."""
    return engine, store_templates.copy(engine, _analyse)


@pytest.mark.slow
def test_edits_are_logged_survive_a_refit_and_are_undone(analysed, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, cfg = analysed
    with engine.connect() as c:
        live = [t for t in analysis.load_topics(c, "complaint") if t.status in ("active", "emerging")]
        theme_map = themes.topic_theme_map(c)
        live_themes = [th for th in themes.load_themes(c) if th.topic_ids]
    size = {t.id: len(_assigned(engine, t.id)) for t in live}
    renamed, ignored, src, dst = sorted(size, key=lambda t: -size[t])[:4]
    members = {th.id: len(th.topic_ids) for th in live_themes}
    # moved: from a theme of several topics, which the refit keeps (a theme left empty is retired,
    # and a move back into a retired theme is refused)
    moved = max(
        (
            t
            for t in size
            if t not in (renamed, ignored, src, dst) and members.get(theme_map.get(t, 0), 0) >= 3
        ),
        key=lambda t: size[t],
    )
    old = {t.id: t for t in live}
    src_tickets = _assigned(engine, src)
    src_theme = theme_map.get(src)
    assert src_tickets and src_theme is not None
    dest = next(th.id for th in live_themes if th.id != theme_map.get(moved))
    theme = next(th for th in live_themes if th.id != dest)

    ids = [
        topic_edits.rename(engine, renamed, "<b>门关不上</b> (human)", who="editor:alice"),
        topic_edits.ignore(engine, ignored, who="local"),
        topic_edits.merge(engine, src, dst, who="editor:bob"),
        themes.move(engine, moved, dest, who="local"),
        themes.rename(engine, theme.id, "炉门", "Oven door", who="local"),
    ]
    with engine.connect() as c:
        log = edit_log.history(c)
        assert [e.id for e in log] == sorted(ids, reverse=True)
        assert [e.kind for e in reversed(log)] == [
            "topic-rename",
            "topic-ignore",
            "topic-merge",
            "topic-move",
            "theme-rename",
        ]
        r = edit_log.get(c, ids[0])
        assert (r.who, r.subject_id, r.target_id) == ("editor:alice", renamed, None)
        assert r.before == {"label": old[renamed].label, "human_label": False}
        assert r.after == {"label": "<b>门关不上</b> (human)", "human_label": True} and r.undone_at is None
        m = edit_log.get(c, ids[2])
        assert m.who == "editor:bob" and m.target_id == dst and m.before["status"] == old[src].status
        assert set(m.before["tickets"]) == src_tickets and m.after == {"status": "merged", "merged_into": dst}
        assert edit_log.get(c, ids[3]).before["theme"][0] == theme_map.get(moved)
        assert [e.id for e in edit_log.history(c, topic_id=dst)] == [ids[2]]  # the merge's target
        assert [e.id for e in edit_log.history(c, theme_id=dest)] == [ids[3]]  # the move's destination
    assert _theme_of(engine, moved) == dest

    # a refit keeps every edit (and moves the merged topic's tickets onto its target)
    refit_topics(engine, cfg, WEEK)
    with engine.connect() as c:
        now = {t.id: t for t in analysis.load_topics(c)}
    assert now[renamed].label == "<b>门关不上</b> (human)" and now[renamed].human_label
    assert now[ignored].status == "ignored"
    assert now[src].status == "merged" and now[src].merged_into == dst
    assert _assigned(engine, src) == set() and src_tickets <= _assigned(engine, dst)
    assert _theme_of(engine, moved) == dest
    with engine.connect() as c:
        th = next(x for x in themes.load_themes(c) if x.id == theme.id)
    assert (th.label, th.label_en, th.human_label) == ("炉门", "Oven door", True)

    # undo, latest first and in any order where nothing later changed the same thing
    edit_log.undo(engine, ids[2], "editor:carol")  # the merge
    with engine.connect() as c:
        s = next(t for t in analysis.load_topics(c) if t.id == src)
        done = edit_log.get(c, ids[2])
    assert (s.status, s.merged_into) == (old[src].status, None)
    assert _assigned(engine, src) == src_tickets, "the tickets the refit moved onto the target are back"
    assert done.undone_by == "editor:carol" and done.undone_at is not None
    with pytest.raises(VocError, match="already undone"):
        edit_log.undo(engine, ids[2], "local")

    later = topic_edits.rename(engine, renamed, "again")
    with pytest.raises(VocError, match="changed since"):
        edit_log.undo(engine, ids[0], "local")  # the later rename first
    edit_log.undo(engine, later, "local")
    edit_log.undo(engine, ids[0], "local")
    t = topic_edits.get(engine, renamed)
    assert (t.label, t.human_label) == (old[renamed].label, False)

    edit_log.undo(engine, ids[1], "local")
    assert topic_edits.get(engine, ignored).status == old[ignored].status
    edit_log.undo(engine, ids[3], "local")
    assert _theme_of(engine, moved) == theme_map.get(moved)
    edit_log.undo(engine, ids[4], "local")
    with engine.connect() as c:
        th = next(x for x in themes.load_themes(c) if x.id == theme.id)
    assert (th.label, th.label_en, th.human_label) == (theme.label, theme.label_en, theme.human_label)

    # un-ignore is an edit too; refused on a topic that is not ignored
    with pytest.raises(VocError, match="not ignored"):
        topic_edits.unignore(engine, ignored)
    topic_edits.ignore(engine, ignored)
    u = topic_edits.unignore(engine, ignored, who="local")
    assert topic_edits.get(engine, ignored).status == "active"
    edit_log.undo(engine, u, "local")
    assert topic_edits.get(engine, ignored).status == "ignored"

    # the CLI's edits are logged (who: cli) and undone the same way
    from voc.app.cli import app

    monkeypatch.setenv("VOC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    label = topic_edits.get(engine, dst).label  # the refit's label
    res = CliRunner().invoke(app, ["topics", "rename", str(dst), "门把手"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["topics", "history", "--limit", "1"])
    assert res.exit_code == 0 and "\tcli\ttopic-rename" in res.output and "门把手" in res.output, res.output
    edit = int(res.output.split("\t", 1)[0])
    res = CliRunner().invoke(app, ["topics", "undo", str(edit)])
    assert res.exit_code == 0 and f"edit {edit} (topic-rename {dst}) undone" in res.output, res.output
    assert topic_edits.get(engine, dst).label == label != "门把手"
    assert CliRunner().invoke(app, ["topics", "undo", str(edit)]).exit_code == 2


@pytest.mark.slow
def test_theme_merge_is_undone(analysed) -> None:
    engine, _ = analysed
    with engine.connect() as c:
        live = [th for th in themes.load_themes(c) if th.topic_ids]
        before = dict(c.execute(text("select topic_id, theme_id from topic_themes")).all())
    a, b = live[0], live[1]
    edit = themes.merge(engine, a.id, b.id, who="local")
    with engine.connect() as c:
        assert all(themes.topic_theme_map(c).get(t) == b.id for t in a.topic_ids)
    edit_log.undo(engine, edit, "local")
    with engine.connect() as c:
        after = dict(c.execute(text("select topic_id, theme_id from topic_themes")).all())
        th = next(x for x in themes.load_themes(c) if x.id == a.id)
    assert after == before and th.status == a.status and th.merged_into is None


@pytest.mark.slow
def test_split_is_logged_survives_a_refit_and_is_undone(analysed, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chosen tickets of a topic (here its English ones) go to a new topic in the same theme, which a
    refit keeps (id, human label, most of its tickets); the undo puts every ticket back."""
    engine, cfg = analysed
    with engine.connect() as c:
        live = [t for t in analysis.load_topics(c, "complaint") if t.status in ("active", "emerging")]
        theme_map = themes.topic_theme_map(c)
        lang = {int(i): lg for i, lg in c.execute(text("select id, lang from tickets"))}
    by_lang = {t.id: [x for x in _assigned(engine, t.id) if lang[x] == "en"] for t in live}
    src = max(
        (t for t in live if 5 <= len(by_lang[t.id]) < len(_assigned(engine, t.id)) - 5),
        key=lambda t: len(by_lang[t.id]),
    )
    chosen = sorted(by_lang[src.id])
    before = _assigned(engine, src.id)
    with pytest.raises(VocError, match="not in topic"):
        topic_edits.split(engine, src.id, [*chosen, -1], "x")
    with pytest.raises(VocError, match="must leave tickets"):
        topic_edits.split(engine, src.id, sorted(before), "x")
    edit = topic_edits.split(engine, src.id, chosen, "English: <door>", who="editor:alice")
    with engine.connect() as c:
        e = edit_log.get(c, edit)
        new = e.target_id
        assert e.kind == "topic-split" and e.before == {"tickets": chosen} and e.after["topic"] == new
        assert [x.id for x in edit_log.history(c, topic_id=new)] == [edit]
    assert new is not None and _assigned(engine, new) == set(chosen)
    assert _assigned(engine, src.id) == before - set(chosen)
    assert _theme_of(engine, new) == theme_map[src.id]
    t = topic_edits.get(engine, new)
    assert (t.label, t.human_label, t.status, t.intent) == ("English: <door>", True, "active", "complaint")

    refit_topics(engine, cfg, WEEK)
    t = topic_edits.get(engine, new)
    assert (t.label, t.human_label, t.status) == ("English: <door>", True, "active")
    kept = len(_assigned(engine, new) & set(chosen)) / len(chosen)
    assert kept >= 0.5, f"the refit kept only {kept:.0%} of the split-off tickets"

    on_new, on_src = _assigned(engine, new), _assigned(engine, src.id)
    edit_log.undo(engine, edit, "local")
    assert _assigned(engine, new) == set() and _assigned(engine, src.id) == on_src | on_new
    t = topic_edits.get(engine, new)
    assert (t.status, t.merged_into) == ("merged", src.id) and _theme_of(engine, new) == _theme_of(
        engine, src.id
    )

    # the same from the command line
    from voc.app.cli import app

    monkeypatch.setenv("VOC_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    two = sorted(_assigned(engine, src.id))[:2]
    res = CliRunner().invoke(
        app, ["topics", "split", str(src.id), "--label", "cli split", "--tickets", ",".join(map(str, two))]
    )
    assert res.exit_code == 0 and f"2 ticket(s) of topic {src.id} split off into topic" in res.output, (
        res.output
    )
    with engine.connect() as c:
        e = edit_log.history(c, 1)[0]
    assert (e.who, e.kind, e.before) == ("cli", "topic-split", {"tickets": two})
    assert e.target_id is not None and _assigned(engine, e.target_id) == set(two)
