"""Issue #16 part 2, operations: what a new user and an operator see.

The commands run as real processes (``voc`` from the venv): Prefect's console handler and logging
are set up at import, so only a process of its own shows what a user sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from voc import sample
from voc.weeks import Week

WEEK = Week.parse("2026-W47")
VOC = Path(sys.executable).with_name("voc")


def _voc(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("VOC_")},
            "VOC_LOG_FILE": str(cwd / "voc-errors.log"), **env}
    return subprocess.run([str(VOC), *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=full)


def _export(tmp_path: Path, per_week: int = 50) -> Path:
    rows, _ = sample.generate(WEEK, weeks=3, per_week=per_week, seed=5)
    sample.write_csv(tmp_path / "export.csv", rows)
    return tmp_path / "export.csv"


def test_run_weekly_after_ingest_file_on_the_default_config(sqlite_url: str, tmp_path: Path) -> None:
    """The example config's `drops` source points at ./drops, which a new user has not created: the
    weekly run says so in one warning line and goes on with what `voc ingest-file` stored."""
    db = {"VOC_DATABASE_URL": sqlite_url}
    assert _voc("init", cwd=tmp_path, **db).returncode == 0
    got = _voc("ingest-file", str(_export(tmp_path)), cwd=tmp_path, **db)
    assert got.returncode == 0, got.stderr
    res = _voc("run-weekly", "--week", str(WEEK), "--out", str(tmp_path / "out"), "--alerts-to",
               str(tmp_path / "outbox"), cwd=tmp_path, **db)
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == [
        f"warning: source 'drops': ./drops does not exist (relative to {tmp_path}), nothing read; create it "
        "(exports dropped there are read by the next run) or change `sources:` in your VOC_CONFIG"], res.stderr
    briefs = res.stdout.split()
    assert briefs and all(Path(p).exists() for p in briefs), res.stdout
    assert any(p.endswith(".html") for p in briefs)


def _prefect_logs(home: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(home / "prefect.db") as c:
        return [r[0] for r in c.execute("select message from log")]


def test_ingest_says_what_it_did_and_the_project_logs_reach_the_run_logs(sqlite_url: str, tmp_path: Path) -> None:
    """`voc ingest`: one line per source on stdout (or --json), the missing folder as a warning; the
    Freshdesk source's "rate-limit budget spent, pausing" (an INFO line of sources.http) is in the flow
    run's logs in Prefect's database, not on the terminal."""
    import json

    import yaml

    from config.settings import EXAMPLE_CONFIG
    from tests.helpdesk_server import FD_KEY, HelpdeskServer

    cfg = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    cfg["sources"] = [{"name": "fd", "kind": "freshdesk", "base_url": "", "token_env": "FD_KEY", "page_size": 3},
                      {"name": "drops", "kind": "file", "path": "./drops"}]
    with HelpdeskServer() as server:
        cfg["sources"][0]["base_url"] = server.url
        (tmp_path / "voc.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        at = server.tick()
        for i in range(1, 6):
            server.add_freshdesk(i, "closed", at=at, description=f"kettle leaks #{i}")
        server.rate_reset = "1"
        server.inject(None, "spent")  # the second page says the budget is spent: a 1 s pause
        env = {"VOC_DATABASE_URL": sqlite_url, "VOC_CONFIG": str(tmp_path / "voc.yaml"), "FD_KEY": FD_KEY,
               "PREFECT_HOME": str(tmp_path / "prefect")}
        assert _voc("init", cwd=tmp_path, **env).returncode == 0
        res = _voc("ingest", cwd=tmp_path, **env)
        again = _voc("ingest", "--json", cwd=tmp_path, **env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "fd: read 5, inserted 5, updated 0, unchanged 0, duplicates 0, quarantined 0",
        f"drops: nothing read (./drops does not exist (relative to {tmp_path}))"], res.stdout
    assert res.stderr.splitlines() == [
        f"warning: source 'drops': ./drops does not exist (relative to {tmp_path}), nothing read; create it "
        "(exports dropped there are read by the next run) or change `sources:` in your VOC_CONFIG"], res.stderr
    assert "rate-limit" not in res.stderr  # INFO: the run's logs, not the terminal
    logs = _prefect_logs(tmp_path / "prefect")
    assert any("fd: rate-limit budget spent, pausing 1.0s" in m for m in logs), logs
    assert again.returncode == 0, again.stderr
    rows = json.loads(again.stdout)
    assert [(r["source"], r["read"], r["inserted"], r["unchanged"], r["missing"] is None) for r in rows] == \
        [("fd", 0, 0, 0, True), ("drops", 0, 0, 0, False)]


def test_analyze_prints_each_stage_and_json(sqlite_url: str, tmp_path: Path) -> None:
    import json

    db = {"VOC_DATABASE_URL": sqlite_url}
    assert _voc("init", cwd=tmp_path, **db).returncode == 0
    assert _voc("ingest-file", str(_export(tmp_path)), cwd=tmp_path, **db).returncode == 0
    res = _voc("analyze", "--week", str(WEEK), cwd=tmp_path, **db)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"analyzed {WEEK}:" and len(lines) == 4, res.stdout
    assert lines[1].startswith("  understand: understood ") and lines[1].endswith(" tickets")
    assert lines[2].startswith("  topics: ")
    assert lines[3].startswith("  surges: ") and lines[3].endswith(f"surge cells flagged in {WEEK}")
    again = _voc("analyze", "--week", str(WEEK), "--json", cwd=tmp_path, **db)
    assert again.returncode == 0, again.stderr
    got = json.loads(again.stdout)
    assert set(got) == {"week", "understand", "topics", "surges"} and got["week"] == str(WEEK)
    assert got["understand"] == "understood 0 tickets"  # all understood by the first run


def test_version() -> None:
    from importlib.metadata import version

    from typer.testing import CliRunner

    from voc.cli import app

    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.stdout.startswith(f"voc {version('voc-pipeline')} (Prefect {version('prefect')}, ")
