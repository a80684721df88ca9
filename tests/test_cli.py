"""The CLI through its runner: help everywhere, one-line errors with exit code 2, ingest-file summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from voc.app.cli import app

runner = CliRunner()
COMMANDS = [
    "init",
    "ingest",
    "ingest-file",
    "analyze",
    "brief",
    "alerts",
    "review",
    "surges",
    "run-weekly",
    "serve",
    "demo",
    "topics",
    "topics rename",
    "topics merge",
    "topics show",
    "topics ignore",
    "topics assignments",
    "actions add",
    "actions list",
    "actions update",
    "quarantine",
    "quarantine replay",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    res = runner.invoke(app, [*command.split(), "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output


def _env(db_url: str) -> dict[str, str]:
    return {"VOC_DATABASE_URL": db_url}


def test_bad_week_is_one_clear_line(sqlite_url: str) -> None:
    runner.invoke(app, ["init"], env=_env(sqlite_url))
    res = runner.invoke(app, ["brief", "--week", "2026-W99"], env=_env(sqlite_url))
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: week 99 does not exist in 2026: '2026-W99'"


def test_uninitialised_database_says_run_init(tmp_path: Path) -> None:
    res = runner.invoke(app, ["topics"], env=_env(f"sqlite:///{tmp_path / 'new.sqlite3'}"))
    assert res.exit_code == 2
    assert "run `voc init` first" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["topics"], env=_env("postgresql://nobody@127.0.0.1:1/none"))
    assert res.exit_code == 2
    assert res.stderr.startswith("error: cannot reach the database")
    assert len(res.stderr.strip().splitlines()) == 1


def test_bad_config_names_the_field(tmp_path: Path, sqlite_url: str) -> None:
    cfg = tmp_path / "voc.yaml"
    cfg.write_text("thresholds:\n  min_count: many\n", encoding="utf-8")
    res = runner.invoke(app, ["init"], env={**_env(sqlite_url), "VOC_CONFIG": str(cfg)})
    assert res.exit_code == 2
    assert "thresholds.min_count" in res.stderr and "'many'" in res.stderr


def test_ingest_file_summary_and_rerun(db_url: str, tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text(
        "ticket_id,closed_at,body\nA,2026-11-16 10:00,门关不紧\nB,bad,正文\nC,2026-11-16 10:00,\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["init"], env=_env(db_url)).exit_code == 0
    res = runner.invoke(app, ["ingest-file", str(f)], env=_env(db_url))
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("files: read 3, inserted 1,") and "quarantined 2" in lines[0]
    res = runner.invoke(app, ["ingest-file", str(f), "--force"], env=_env(db_url))
    assert "inserted 0," in res.stdout
    res = runner.invoke(app, ["quarantine"], env=_env(db_url))
    assert "closed_at: not a date/time: 'bad'" in res.stdout and "2 quarantined row(s)" in res.stdout


def test_unknown_mapping_lists_known_ones(sqlite_url: str, tmp_path: Path) -> None:
    runner.invoke(app, ["init"], env=_env(sqlite_url))
    f = tmp_path / "t.csv"
    f.write_text("ticket_id,closed_at,body\n", encoding="utf-8")
    res = runner.invoke(app, ["ingest-file", str(f), "--mapping", "nope"], env=_env(sqlite_url))
    assert res.exit_code == 2 and "no mapping named 'nope'" in res.stderr and "jd_reviews" in res.stderr


def test_actions_roundtrip(sqlite_url: str) -> None:
    env = _env(sqlite_url)
    runner.invoke(app, ["init"], env=env)
    res = runner.invoke(
        app,
        [
            "actions",
            "add",
            "--product",
            "oven",
            "--batch",
            "B2409",
            "--owner",
            "王磊",
            "--due",
            "2026-12-01",
            "--note",
            "校准门铰链",
        ],
        env=env,
    )
    assert res.exit_code == 0 and "action 1 added" in res.stdout
    res = runner.invoke(
        app, ["actions", "update", "1", "--status", "done", "--fix-date", "2026-11-20"], env=env
    )
    assert res.exit_code == 0
    res = runner.invoke(app, ["actions", "list", "--json"], env=env)
    assert '"status": "done"' in res.stdout and '"fix_date": "2026-11-20"' in res.stdout
    res = runner.invoke(app, ["actions", "update", "1", "--status", "finished"], env=env)
    assert res.exit_code == 2 and "status must be one of open, doing, done" in res.stderr


def test_surges_backtest_on_cfpb_monthly_counts() -> None:
    from tests.conftest import shared_data

    path = shared_data("cfpb_monthly_by_product.csv")
    res = runner.invoke(
        app,
        [
            "surges",
            "--counts",
            str(path),
            "--period-col",
            "month",
            "--cell-cols",
            "product",
            "--count-col",
            "n",
            "--freq",
            "M",
        ],
    )
    assert res.exit_code == 0, res.output
    sept = [
        ln for ln in res.stdout.splitlines() if ln.strip().startswith("2017-09") and "Credit reporting" in ln
    ]
    assert sept, "the September 2017 credit-reporting rise is flagged"
    assert (
        "missing-data periods (not tested): 2023-04, 2023-05, 2023-06, 2023-07, 2023-08, 2023-09, 2023-10"
        in res.stdout
    )
    assert not [
        ln for ln in res.stdout.splitlines() if ln.strip()[:7] in {f"2023-{m:02d}" for m in range(4, 11)}
    ]


def test_progress_is_drawn_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from voc.app import cli

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    with cli._progress("ingesting x.csv") as update:
        assert update is None
    assert pipe.getvalue() == ""
    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    with cli._progress() as update:
        assert update is not None
        update("understand", 1200, 3000)
        update("stage: topics", 2, 6)
        update("stage: surges", 3, 6)
    out = tty.getvalue()
    assert "understand" in out and "1200/3000" in out
    assert "stage: surges" in out and "3/6" in out


@pytest.mark.slow
def test_analyze_draws_progress_on_a_terminal_and_nothing_in_a_pipe(sqlite_url: str, tmp_path: Path) -> None:
    """The real command in a pseudo-terminal: bars for the stages and the tickets understood on stderr."""
    import os
    import re
    import select
    import subprocess
    import sys

    from voc import sample
    from voc.weeks import Week

    rows, _ = sample.generate(Week.parse("2026-W47"), weeks=3, per_week=100, seed=2)
    sample.write_csv(tmp_path / "t.csv", rows)
    env = {**os.environ, "VOC_DATABASE_URL": sqlite_url, "COLUMNS": "120"}
    cmd = [sys.executable, "-m", "voc.app.cli"]
    for args in (["init"], ["ingest-file", str(tmp_path / "t.csv")]):
        res = subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0 and res.stderr == "", res.stderr  # not a terminal: no bar
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [*cmd, "analyze", "--week", "2026-W47"], env=env, stdout=subprocess.PIPE, stderr=slave, close_fds=True
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    stdout = proc.communicate(timeout=300)[0].decode()
    assert proc.returncode == 0, seen.decode(errors="replace")[-2000:]
    drawn = seen.decode(errors="replace")
    tickets = [(int(a), int(b)) for a, b in re.findall(r"understand\S*\s.*?(\d+)/(\d+)", drawn)]
    assert tickets and tickets[-1][0] == tickets[-1][1] > len(rows) // 2, drawn[-2000:]
    assert "stage: topics" in drawn and "stage: done" in drawn and "3/3" in drawn, drawn[-2000:]
    assert "\x1b[" not in stdout, "no terminal codes on stdout"
