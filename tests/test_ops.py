"""Issue #16 part 2, operations: what a new user and an operator see.

The commands whose terminal output or Prefect database is checked run as real processes (``voc`` from
the venv): Prefect's console handler and logging are set up at import, so only a process of its own
shows what a user sees. The steps around them (``init``, ``ingest-file``, a repeated run read as JSON)
run in this process through typer's runner: each process of its own starts Prefect's API again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from tests.conftest import voc_in
from voc import sample
from voc.weeks import Week

WEEK = Week.parse("2026-W47")
VOC = Path(sys.executable).with_name("voc")


def _voc(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VOC_")},
        "VOC_LOG_FILE": str(cwd / "voc-errors.log"),
        **env,
    }
    return subprocess.run([str(VOC), *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=full)


def _voc_here(*args: str, cwd: Path, **env: str) -> Result:
    """The same command in this process through typer's runner, with the same environment as `_voc` (no
    other ``VOC_`` variable, the folder ``cwd``), for the steps whose point is not a process of its own.
    Its Prefect flows run on this session's Prefect: a ``PREFECT_HOME`` given is not passed on."""
    full: dict[str, str | None] = {k: None for k in os.environ if k.startswith("VOC_")}
    full.update({"VOC_LOG_FILE": str(cwd / "voc-errors.log")})
    full.update({k: v for k, v in env.items() if k != "PREFECT_HOME"})
    return voc_in(cwd, args, full)


def _export(tmp_path: Path, per_week: int = 50) -> Path:
    rows, _ = sample.generate(WEEK, weeks=3, per_week=per_week, seed=5)
    sample.write_csv(tmp_path / "export.csv", rows)
    return tmp_path / "export.csv"


def test_run_weekly_after_ingest_file_on_the_default_config(sqlite_url: str, tmp_path: Path) -> None:
    """The example config's `drops` source points at ./drops, which a new user has not created: the
    weekly run says so in one warning line and goes on with what `voc ingest-file` stored."""
    db = {"VOC_DATABASE_URL": sqlite_url}
    assert _voc_here("init", cwd=tmp_path, **db).exit_code == 0
    got = _voc_here("ingest-file", str(_export(tmp_path)), cwd=tmp_path, **db)
    assert got.exit_code == 0, got.output
    res = _voc(
        "run-weekly",
        "--week",
        str(WEEK),
        "--out",
        str(tmp_path / "out"),
        "--alerts-to",
        str(tmp_path / "outbox"),
        cwd=tmp_path,
        **db,
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == [
        f"warning: source 'drops': ./drops does not exist (relative to {tmp_path}), nothing read; create it "
        "(exports dropped there are read by the next run) or change `sources:` in your VOC_CONFIG"
    ], res.stderr
    briefs = res.stdout.split()
    assert briefs and all(Path(p).exists() for p in briefs), res.stdout
    assert any(p.endswith(".html") for p in briefs)


def _prefect_logs(home: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(home / "prefect.db") as c:
        return [r[0] for r in c.execute("select message from log")]


def test_ingest_says_what_it_did_and_the_project_logs_reach_the_run_logs(
    sqlite_url: str, tmp_path: Path, prefect_home: Path
) -> None:
    """`voc ingest`: one line per source on stdout (or --json), the missing folder as a warning; the
    Freshdesk source's "rate-limit budget spent, pausing" (an INFO line of sources.http) is in the flow
    run's logs in Prefect's database, not on the terminal."""
    import json

    import yaml

    from tests.helpdesk_server import FD_KEY, HelpdeskServer
    from voc.config.settings import EXAMPLE_CONFIG

    cfg = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    cfg["sources"] = [
        {"name": "fd", "kind": "freshdesk", "base_url": "", "token_env": "FD_KEY", "page_size": 3},
        {"name": "drops", "kind": "file", "path": "./drops"},
    ]
    with HelpdeskServer() as server:
        cfg["sources"][0]["base_url"] = server.url
        (tmp_path / "voc.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        at = server.tick()
        for i in range(1, 6):
            server.add_freshdesk(i, "closed", at=at, description=f"kettle leaks #{i}")
        server.rate_reset = "1"
        server.inject(None, "spent")  # the second page says the budget is spent: a 1 s pause
        env = {
            "VOC_DATABASE_URL": sqlite_url,
            "VOC_CONFIG": str(tmp_path / "voc.yaml"),
            "FD_KEY": FD_KEY,
            "PREFECT_HOME": str(prefect_home),
        }
        assert _voc_here("init", cwd=tmp_path, **env).exit_code == 0
        res = _voc("ingest", cwd=tmp_path, **env)
        again = _voc_here("ingest", "--json", cwd=tmp_path, **env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "fd: read 5, inserted 5, updated 0, unchanged 0, duplicates 0, quarantined 0",
        f"drops: nothing read (./drops does not exist (relative to {tmp_path}))",
    ], res.stdout
    assert res.stderr.splitlines() == [
        f"warning: source 'drops': ./drops does not exist (relative to {tmp_path}), nothing read; create it "
        "(exports dropped there are read by the next run) or change `sources:` in your VOC_CONFIG"
    ], res.stderr
    assert "rate-limit" not in res.stderr  # INFO: the run's logs, not the terminal
    logs = _prefect_logs(prefect_home)
    assert any("fd: rate-limit budget spent, pausing 1.0s" in m for m in logs), logs
    assert again.exit_code == 0, again.output
    rows = json.loads(again.stdout)
    assert [(r["source"], r["read"], r["inserted"], r["unchanged"], r["missing"] is None) for r in rows] == [
        ("fd", 0, 0, 0, True),
        ("drops", 0, 0, 0, False),
    ]


def test_analyze_prints_each_stage_and_json(sqlite_url: str, tmp_path: Path) -> None:
    import json

    db = {"VOC_DATABASE_URL": sqlite_url}
    assert _voc_here("init", cwd=tmp_path, **db).exit_code == 0
    assert _voc_here("ingest-file", str(_export(tmp_path)), cwd=tmp_path, **db).exit_code == 0
    res = _voc("analyze", "--week", str(WEEK), cwd=tmp_path, **db)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"analyzed {WEEK}:" and len(lines) == 4, res.stdout
    assert lines[1].startswith("  understand: understood ") and lines[1].endswith(" tickets")
    assert lines[2].startswith("  topics: ")
    assert lines[3].startswith("  surges: ") and lines[3].endswith(f"surge cells flagged in {WEEK}")
    again = _voc_here("analyze", "--week", str(WEEK), "--json", cwd=tmp_path, **db)
    assert again.exit_code == 0, again.output
    got = json.loads(again.stdout)
    assert set(got) == {"week", "understand", "topics", "surges"} and got["week"] == str(WEEK)
    assert got["understand"] == "understood 0 tickets"  # all understood by the first run


def test_version() -> None:
    from importlib.metadata import version

    from voc.app.cli import app

    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.stdout.startswith(f"voc {version('voc-pipeline')} (Prefect {version('prefect')}, ")


PASSWORD = "pw-Zq81-never-stored"


def test_flows_store_no_secret_in_prefect(pg_url: str, tmp_path: Path, prefect_home: Path) -> None:
    """The flows take week/paths/flags, never Settings: the database URL's password (and the SMTP
    password) appear nowhere in Prefect's database after `voc ingest` and `voc analyze` ran on it,
    and the analyze run's stored parameters are just its week (and the CLI's progress hook)."""
    import json
    import sqlite3

    # the test server trusts local connections, so any password is accepted: it only has to be stored nowhere
    db = pg_url.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    assert PASSWORD in db
    drops = tmp_path / "drops"
    drops.mkdir()
    _export(drops)
    home = prefect_home
    env = {"VOC_DATABASE_URL": db, "VOC_SMTP_PASSWORD": PASSWORD + "-smtp", "PREFECT_HOME": str(home)}
    assert _voc_here("init", cwd=tmp_path, **env).exit_code == 0
    for args in (["ingest"], ["analyze", "--week", str(WEEK)]):
        res = _voc(*args, cwd=tmp_path, **env)
        assert res.returncode == 0, res.stderr
        assert PASSWORD not in res.stdout + res.stderr
    with sqlite3.connect(home / "prefect.db") as c:
        runs = {
            name: json.loads(params)
            for name, params in c.execute(
                "select flow.name, flow_run.parameters from flow_run join flow on flow.id = flow_run.flow_id"
            )
        }
    assert set(runs) == {"voc-ingest", "voc-analyze", "voc-understand"}, runs
    assert runs["voc-ingest"] == {"source": None}
    assert runs["voc-analyze"]["week"] == str(WEEK) and set(runs["voc-analyze"]) <= {"week", "progress"}
    c.close()
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert PASSWORD.encode() not in stored, "a password is stored in Prefect's database"


def test_config_errors_never_echo_a_pasted_webhook_token(tmp_path: Path) -> None:
    """A DingTalk robot's access_token pasted where its variable's name belongs (or under a made-up key)
    is never repeated in the error; every problem of the file is still listed."""
    import pytest

    from voc.config.settings import load_config
    from voc.errors import ConfigError

    token = "9f2c1e0d4b7a6c3e8f1d2b5a7c9e0f1a3b5c7d9e"
    cfg = tmp_path / "voc.yaml"
    cfg.write_text(
        f"""owners:
  - name: a
    channels:
      - {{kind: dingtalk, webhook: {token}}}
      - {{kind: dingtalk, access_token: {token}}}
      - {{kind: dingtalk, webhook_env: {token}}}
      - {{kind: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token={token}"}}
thresholds: {{min_count: many}}
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    lines = e.value.lines()
    assert token not in str(e.value) and not any(token in line for line in lines), lines
    assert [line.split(": ")[1] for line in lines] == [
        "owners.0.channels.0.webhook",
        "owners.0.channels.1.access_token",
        "owners.0.channels.2",
        "owners.0.channels.3.url",
        "thresholds.min_count",
    ], lines
    assert "(got 'many')" in lines[-1]  # a harmless value is still shown


def _uncommented(text: str) -> tuple[str, int]:
    """The example config with every commented-out YAML block switched on: an indented comment line whose
    text is YAML (``- ...``, ``key: ...``) loses its ``# ``, keeping its indentation. Returns the text and
    how many lines were switched on."""
    import re

    code = re.compile(r"^(\s+)# ((?:- |[\w-]+:(?: |$)|  +[-\w{]).*)$")
    out, n = [], 0
    for line in text.splitlines():
        m = code.match(line)
        if m:
            line, n = m.group(1) + m.group(2), n + 1
        out.append(line)
    return "\n".join(out) + "\n", n


def test_example_config_loads_with_every_commented_block_switched_on(tmp_path: Path) -> None:
    from voc.config.settings import EXAMPLE_CONFIG, load_config

    text, n = _uncommented(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert n >= 25, n
    (tmp_path / "all.yaml").write_text(text, encoding="utf-8")
    cfg = load_config(tmp_path / "all.yaml")  # the Freshdesk block's `statuses: [4, 5]` used to fail here
    assert [s.kind for s in cfg.sources] == ["file", "zendesk", "freshdesk", "qiyu", "sobot", "sql"]
    assert cfg.mapping("qiyu").extract["product"]["column"] == "category"
    assert cfg.source("sobot").statuses == ["3", "99"] and "sobot" in cfg.mappings
    assert cfg.source("freshdesk").statuses == ["4", "5"]
    assert [c.kind for c in cfg.owners[0].channels] == ["email", "dingtalk", "wecom", "feishu", "slack"]
    assert len(cfg.alerts.routes) == 3


def test_smtp_over_implicit_tls(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """VOC_SMTP_SSL=1: the alert e-mail goes over TLS from the first byte (SMTPS, port 465) to a real
    aiosmtpd server with a self-signed certificate (trusted here through SSL_CERT_FILE), with login."""
    import pytest

    from tests.chat_server import MailServer
    from voc.config.settings import settings_from_env
    from voc.delivery.message import DeliveryError, Message
    from voc.errors import ConfigError
    from voc.flows.alert_stage import channel_from

    server = MailServer(tmp_path, implicit_tls=True).start()
    try:
        for k, v in {
            "VOC_SMTP_HOST": "127.0.0.1",
            "VOC_SMTP_PORT": str(server.port),
            "VOC_SMTP_SSL": "1",
            "VOC_SMTP_USER": server.user,
            "VOC_SMTP_PASSWORD": server.password,
            "VOC_SMTP_FROM": "voc@hearth.example",
            "SSL_CERT_FILE": server.cert,
        }.items():
            monkeypatch.setenv(k, v)
        smtp = channel_from(settings_from_env(), None).smtp
        assert smtp is not None and smtp.implicit_tls
        smtp.send(Message("wang.lei@hearth.example", "烤箱 KX-30A 投诉激增", "正文 text"))
        assert [(m["To"], str(m["Subject"])) for m in server.messages] == [
            ("wang.lei@hearth.example", "烤箱 KX-30A 投诉激增")
        ]
        # the same server spoken to in plain SMTP (the old behaviour): no greeting ever comes
        plain = channel_from(settings_from_env(), None).smtp
        assert plain is not None
        plain.implicit_tls, plain.timeout = False, 2
        with pytest.raises(DeliveryError):
            plain.send(Message("wang.lei@hearth.example", "s", "t"))
    finally:
        server.stop()
    monkeypatch.setenv("VOC_SMTP_STARTTLS", "1")
    with pytest.raises(ConfigError, match="not both"):
        settings_from_env()


def test_prefect_yaml_deploys_the_four_schedules_of_the_config() -> None:
    """prefect.yaml: a process-worker pool, the four deployments on the config's crons and timezone,
    a `week` parameter for the weekly run, one run at a time; every entrypoint is a flow."""
    import importlib

    import yaml

    from voc.config.settings import EXAMPLE_CONFIG, load_config

    root = Path(__file__).resolve().parents[1]
    spec = yaml.safe_load((root / "prefect.yaml").read_text(encoding="utf-8"))
    s = load_config(EXAMPLE_CONFIG).schedules
    want = {
        "weekly": s.weekly_cron,
        "safety": s.safety_cron,
        "ingest": s.ingest_cron,
        "quarterly": s.quarterly_cron,
    }
    deps = {d["name"]: d for d in spec["deployments"]}
    assert set(deps) == set(want)
    for name, d in deps.items():
        assert d["schedules"] == [{"cron": want[name], "timezone": s.timezone}], name
        assert d["concurrency_limit"]["limit"] == 1 and d["work_pool"]["name"] == "voc"
        path, fn = d["entrypoint"].split(":")
        # flows/serve.py is the module voc.flows.serve (pyproject.toml's package-dir)
        obj = getattr(importlib.import_module("voc." + path.removesuffix(".py").replace("/", ".")), fn)
        assert hasattr(obj, "to_deployment"), d["entrypoint"]
    assert deps["weekly"]["parameters"] == {"week": None}


def test_serve_reads_the_api_url_from_prefects_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A PREFECT_API_URL from the active Prefect profile (not the environment) is enough for `voc serve`."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from voc.config.settings import EXAMPLE_CONFIG, Settings, load_config
    from voc.flows import serve

    served: list[object] = []
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(serve, "serve", lambda *deps: served.extend(deps))
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        serve.serve_all(Settings(), load_config(EXAMPLE_CONFIG))
    assert sorted(d.name for d in served) == ["ingest", "quarterly", "safety", "weekly"]  # type: ignore[attr-defined]
