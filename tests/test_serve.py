"""``voc serve`` against a real ``prefect server start``: the four deployments register with their
schedules, the server plans the weekly and quarterly runs on the right days, and a forced run of the
ingest deployment completes and ingests the configured file."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from prefect.server.schemas.schedules import CronSchedule
from sqlalchemy import text

from tests.web_server import free_port
from voc import sample
from voc.config.settings import EXAMPLE_CONFIG, Schedules
from voc.weeks import Week

BIN = Path(sys.executable).parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEPLOYMENTS = {
    "voc-scheduled-ingest/ingest": "ingest_cron",
    "voc-scheduled-weekly/weekly": "weekly_cron",
    "voc-safety-check/safety": "safety_cron",
    "voc-quarterly-review/quarterly": "quarterly_cron",
}


def _tails(logs: list[Path]) -> str:
    return "\n".join(
        f"--- {p.name}:\n" + "\n".join(p.read_text(errors="replace").splitlines()[-25:])
        for p in logs
        if p.exists()
    )


def _wait(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    logs: list[Path],
    proc: subprocess.Popen[bytes] | None = None,
) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` with the logs' tails
    (at once if ``proc``, the process that should make it happen, has exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"exited with code {proc.returncode} while waiting for {what}\n{_tails(logs)}")
        try:
            got = check()
        except httpx.HTTPError:
            got = None
        if got:
            return got
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{_tails(logs)}")


def _api(method: str, url: str, **kw: Any) -> httpx.Response:
    """One Prefect API call, retried on 429/502/503 as Prefect's own client does: the server
    answers 503 for errors a client may retry (its SQLite database briefly busy on a loaded
    machine), which is not a failure of what this test checks."""
    for attempt in range(8):
        r = httpx.request(method, url, timeout=10, **kw)
        if r.status_code not in (429, 502, 503):
            break
        time.sleep(min(0.25 * 2**attempt, 4.0))
    r.raise_for_status()
    return r


def _stop(proc: subprocess.Popen[bytes], name: str) -> None:
    """SIGTERM to the process group we started (server/serve and their children); kill only if stuck."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        pytest.fail(f"{name} did not stop within 30 s of SIGTERM")


@pytest.fixture
def prefect_server(tmp_path: Path, prefect_home: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """A real Prefect server on a free port with its own PREFECT_HOME (the session's ephemeral one untouched),
    starting from a copy of the migrated empty Prefect database (``prefect_home``: no migrations at start)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        # a run refused by a deployment's concurrency limit (ENQUEUE) is retried after 2 s, not 30
        PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS="2",
    )
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    log = tmp_path / "prefect-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait(
            "the Prefect server to be healthy",
            lambda: httpx.get(f"{api}/health", timeout=5).status_code == 200,
            120,
            [log],
            proc,
        )
        yield api, env, log
    finally:
        _stop(proc, "prefect server")


def _init_here(env: dict[str, str], cwd: Path) -> None:
    """``voc init`` with ``env``'s ``VOC_`` variables, in this process (typer's runner): creating the schema is
    not what these tests check, the processes they start after it are."""
    from typer.testing import CliRunner

    from voc.app.cli import app

    voc_env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("VOC_")}
    voc_env.update({k: v for k, v in env.items() if k.startswith("VOC_")})
    here = Path.cwd()
    os.chdir(cwd)
    try:
        res = CliRunner().invoke(app, ["init"], env=voc_env)
    finally:
        os.chdir(here)
    assert res.exit_code == 0, res.output


def _sample_drop_config(tmp_path: Path, *, weeks: int, per_week: int, seed: int) -> tuple[Path, int]:
    """(the example config with one file source, the tickets in it): a drop folder holding sample tickets
    up to 2026-W47."""
    drops = tmp_path / "drops"
    drops.mkdir()
    rows, _ = sample.generate(Week.parse("2026-W47"), weeks=weeks, per_week=per_week, seed=seed)
    sample.write_csv(drops / "tickets.csv", rows)
    cfg = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    cfg["sources"] = [{"name": "drops", "kind": "file", "path": str(drops)}]
    cfg_path = tmp_path / "voc.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return cfg_path, len(rows)


@pytest.mark.slow
def test_voc_serve_schedules_and_a_forced_run_completes(prefect_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    api, env, server_log = prefect_server
    cfg_path, n_rows = _sample_drop_config(tmp_path, weeks=3, per_week=50, seed=11)
    db = f"sqlite:///{tmp_path / 'voc.sqlite3'}"
    env = {
        **env,
        "PREFECT_API_URL": api,
        "VOC_DATABASE_URL": db,
        "VOC_CONFIG": str(cfg_path),
        "VOC_OUT_DIR": str(tmp_path / "out"),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    voc = [str(BIN / "voc")]
    _init_here(env, tmp_path)

    serve_log = tmp_path / "voc-serve.log"
    logs = [serve_log, server_log]
    with serve_log.open("wb") as out:
        serve = subprocess.Popen(
            [*voc, "serve"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def deployment(name: str) -> dict[str, Any] | None:
            r = httpx.get(f"{api}/deployments/name/{name}", timeout=10)
            return r.json() if r.status_code == 200 else None

        deps = {
            name: _wait(f"deployment {name} to register", lambda n=name: deployment(n), 90, logs, serve)
            for name in DEPLOYMENTS
        }

        # the registered schedules: crons from the config, in Asia/Shanghai
        defaults = Schedules()
        for name, field in DEPLOYMENTS.items():
            scheds = deps[name]["schedules"]
            assert len(scheds) == 1 and scheds[0]["active"], (name, scheds)
            s = scheds[0]["schedule"]
            assert (s["cron"], s["timezone"]) == (getattr(defaults, field), "Asia/Shanghai"), (name, s)

        # force a run of the ingest deployment and wait for `voc serve` to execute it
        r = _api(
            "POST", f"{api}/deployments/{deps['voc-scheduled-ingest/ingest']['id']}/create_flow_run", json={}
        )
        run_id = r.json()["id"]

        def finished() -> dict[str, Any] | None:
            state = _api("GET", f"{api}/flow_runs/{run_id}").json()["state"]
            return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

        state = _wait("the forced ingest run to finish", finished, 120, logs, serve)
        assert state["type"] == "COMPLETED", f"{state['type']}: {state.get('message')}\n{_tails(logs)}"

        from voc.store.db import make_engine

        eng = make_engine(db)
        with eng.connect() as c:
            tickets = c.execute(text("select count(*) from tickets where source = 'drops'")).scalar_one()
            bad = c.execute(text("select count(*) from quarantine")).scalar_one()
        eng.dispose()
        assert tickets > 0 and tickets + bad == n_rows, (tickets, bad, n_rows)

        # the server's own plan: the next weekly runs are Mondays 08:00 and the next quarterly runs are the
        # first Monday of January/April/July/October, 08:00 Shanghai time
        def planned(name: str, n: int) -> list[datetime] | None:
            body = {
                "deployments": {"id": {"any_": [deps[name]["id"]]}},
                "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
                "sort": "EXPECTED_START_TIME_ASC",
            }
            runs = _api("POST", f"{api}/flow_runs/filter", json=body).json()
            times = [datetime.fromisoformat(x["expected_start_time"]).astimezone(SHANGHAI) for x in runs]
            return times if len(times) >= n else None

        weekly = _wait(
            "the server to plan weekly runs", lambda: planned("voc-scheduled-weekly/weekly", 3), 90, logs
        )
        assert all((t.weekday(), t.hour, t.minute) == (0, 8, 0) for t in weekly), weekly
        # the server plans 100 days ahead: always the next quarterly run (first Mondays are <= 98 days apart)
        quarterly = _wait(
            "the server to plan the quarterly run",
            lambda: planned("voc-quarterly-review/quarterly", 1),
            90,
            logs,
        )
        # ... and the same schedule, computed further ahead by the server's own code
        sched = CronSchedule(**deps["voc-quarterly-review/quarterly"]["schedules"][0]["schedule"])
        quarterly += [
            t.astimezone(SHANGHAI) for t in asyncio.run(sched.get_dates(n=8, start=quarterly[0]))[1:]
        ]
        assert all(
            (t.weekday(), t.hour, t.minute) == (0, 8, 0) and t.day <= 7 and t.month in (1, 4, 7, 10)
            for t in quarterly
        ), quarterly
        assert len({(t.year, t.month) for t in quarterly}) == len(quarterly) == 8, (
            f"one run a quarter: {quarterly}"
        )
    finally:
        _stop(serve, "voc serve")
    assert serve.returncode is not None


REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_prefect_yaml_weekly_deployment_runs_on_a_process_worker(
    prefect_server,
    pg_url: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The operator setup of README "Running with a Prefect server": ``prefect work-pool create voc --type
    process``, ``prefect deploy`` of the weekly deployment from prefect.yaml, a run of one week
    (``week`` parameter) executed by ``prefect worker start --pool voc --run-once``: COMPLETED, briefs written.
    Two runs of that week are asked for at once: the deployment's concurrency limit (1, ENQUEUE) holds the
    second (AwaitingConcurrencySlot) until the first is over, and a later worker runs it. voc's store is
    PostgreSQL, as in that README section (``voc serve`` above runs on SQLite)."""
    api, env, server_log = prefect_server
    cfg_path, _ = _sample_drop_config(tmp_path, weeks=4, per_week=60, seed=5)
    out_dir = tmp_path / "out"
    env = {
        **env,
        "PREFECT_API_URL": api,
        "VOC_CONFIG": str(cfg_path),
        "VOC_OUT_DIR": str(out_dir),
        "VOC_HOME": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.pop("VOC_DATABASE_URL", None)
    env.pop("VOC_SMTP_HOST", None)
    db = pg_url
    logs = [server_log]

    def run(*args: str, cwd: Path = tmp_path, extra: dict[str, str] | None = None) -> str:
        p = subprocess.run(
            list(args), env={**env, **(extra or {})}, cwd=cwd, capture_output=True, text=True, timeout=180
        )
        assert p.returncode == 0, f"{args}: {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        return p.stdout

    _init_here({**env, "VOC_DATABASE_URL": db}, tmp_path)
    run(str(BIN / "prefect"), "work-pool", "create", "voc", "--type", "process")
    # deploy-time env: VOC_HOME (pull step), VOC_CONFIG and VOC_OUT_DIR (job variables); never the database URL
    run(str(BIN / "prefect"), "--no-prompt", "deploy", "--name", "weekly", cwd=REPO)
    dep = _api("GET", f"{api}/deployments/name/voc-scheduled-weekly/weekly").json()
    assert (
        dep["work_pool_name"] == "voc"
        and dep["parameter_openapi_schema"]["properties"].get("week") is not None
    )
    assert dep["job_variables"]["env"] == {"VOC_CONFIG": str(cfg_path), "VOC_OUT_DIR": str(out_dir)}
    assert [s["schedule"]["cron"] for s in dep["schedules"]] == ["0 8 * * 1"]
    assert (dep.get("concurrency_limit") or (dep.get("global_concurrency_limit") or {}).get("limit")) == 1, (
        dep
    )

    # two runs of the same week at once: the deployment's limit of one makes the second wait for the first
    run_ids = [
        _api(
            "POST",
            f"{api}/deployments/{dep['id']}/create_flow_run",
            json={"parameters": {"week": "2026-W47"}},
        ).json()["id"]
        for _ in range(2)
    ]

    def flow_run(run_id: str) -> dict[str, Any]:
        return _api("GET", f"{api}/flow_runs/{run_id}").json()  # type: ignore[no-any-return]

    def done(run_id: str) -> bool:
        return flow_run(run_id)["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")

    worker_log = tmp_path / "worker.log"
    logs.insert(0, worker_log)
    workers = 0
    deadline = time.monotonic() + 420
    while not all(done(i) for i in run_ids):
        # the worker's environment holds the database URL (a secret in production); --run-once takes the runs
        # due now and exits when they are over, so another one is started for the run that had to wait
        assert time.monotonic() < deadline, f"runs not finished in time\n{_tails(logs)}"
        workers += 1
        with worker_log.open("ab") as out:
            worker = subprocess.Popen(
                [str(BIN / "prefect"), "worker", "start", "--pool", "voc", "--run-once"],
                env={**env, "VOC_DATABASE_URL": db},
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            worker.wait(timeout=300)
        except subprocess.TimeoutExpired:
            pytest.fail(f"prefect worker --run-once still running after 300 s\n{_tails(logs)}")
        finally:
            _stop(worker, "prefect worker")
        assert worker.returncode == 0, _tails(logs)
        time.sleep(1)
    runs = [flow_run(i) for i in run_ids]
    for fr in runs:
        assert fr["state"]["type"] == "COMPLETED", (
            f"{fr['state']['type']}: {fr['state'].get('message')}\n{_tails(logs)}"
        )
        assert fr["parameters"] == {"week": "2026-W47"}
    history = {
        i: [st["name"] for st in _api("GET", f"{api}/flow_run_states/", params={"flow_run_id": i}).json()]
        for i in run_ids
    }
    assert sum("AwaitingConcurrencySlot" in names for names in history.values()) == 1, history
    first, second = sorted(runs, key=lambda fr: fr["start_time"])
    assert datetime.fromisoformat(second["start_time"]) >= datetime.fromisoformat(first["end_time"]), runs
    assert workers >= 2
    briefs = sorted(p.name for p in out_dir.glob("brief-2026-W47.*"))
    assert briefs and all(p.stat().st_size > 0 for p in out_dir.glob("brief-2026-W47.*")), sorted(
        out_dir.iterdir()
    )
    assert "brief-2026-W47.zh.html" in briefs or any(b.endswith(".md") for b in briefs), briefs
    # the runs worked on the PostgreSQL store the worker's environment named: its tickets, its week judged
    import sqlalchemy as sa

    eng = sa.create_engine(pg_url)
    try:
        with eng.connect() as conn:
            assert conn.execute(sa.text("select count(*) from tickets")).scalar_one() > 0
            assert (
                conn.execute(
                    sa.text("select count(*) from stage_runs where week = :w and stage = 'surges'"),
                    {"w": Week.parse("2026-W47").ordinal()},
                ).scalar_one()
                == 1
            )
    finally:
        eng.dispose()
