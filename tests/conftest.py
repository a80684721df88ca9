"""Shared fixtures: real databases (SQLite file and PostgreSQL schema) per test, offline env, paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="voc-prefect-")
for k, v in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PREFECT_HOME": _PREFECT_HOME,
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}.items():
    os.environ.setdefault(k, v)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PG_URL = os.environ.get("VOC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files in tests/golden instead of comparing",
    )


def shared_data(name: str) -> Path:
    """A file from ../shared/data; skip (locally) or fail (on CI) when it is absent."""
    p = SHARED_DATA / name
    if not p.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{p} is missing on CI")
        pytest.skip(f"{p} not present (../shared/data is only beside the repo on dev machines and CI)")
    return p


def _pg_available() -> str | None:
    import sqlalchemy as sa

    try:
        eng = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
        eng.dispose()
        return None
    except Exception as e:  # noqa: BLE001 - any failure means "no server"
        return str(e).splitlines()[0]


@pytest.fixture(scope="session")
def pg_server() -> str:
    err = _pg_available()
    if err:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required on CI and did not answer: {err}")
        pytest.skip(f"no PostgreSQL server at {PG_URL}: {err}")
    return PG_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty schema on the real PostgreSQL server, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"voc_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_server)
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{pg_server}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def _migrated_prefect_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty Prefect database at the current schema, migrated once per worker process (in a process
    of its own, so this one's Prefect settings are untouched)."""
    home = tmp_path_factory.mktemp("prefect-template")
    code = (
        "import asyncio\n"
        "from prefect.server.database import provide_database_interface\n"
        "asyncio.run(provide_database_interface().create_db())\n"
    )
    env = {**os.environ, "PREFECT_HOME": str(home)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=600)
    return home / "prefect.db"


@pytest.fixture
def prefect_home(tmp_path: Path, _migrated_prefect_db: Path) -> Path:
    """A PREFECT_HOME of the test's own (``tmp_path/prefect``), for a `voc` process whose runs and logs are
    read afterwards: a new home, with a copy of the migrated empty Prefect database (no runs, no logs),
    so each such process does not run every Prefect migration again (several seconds each)."""
    home = tmp_path / "prefect"
    home.mkdir()
    shutil.copyfile(_migrated_prefect_db, home / "prefect.db")
    return home


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'voc.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs twice: on a fresh SQLite file and on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    from voc.store.db import make_engine, migrate

    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


def understood_sample(engine, tmp_path: Path, end_week: str = "2026-W47"):  # type: ignore[no-untyped-def]
    """A real store through ingest and understanding: 10 weeks × ~300 generated tickets. Returns the config."""
    from voc import sample
    from voc.config.settings import EXAMPLE_CONFIG, Mapping, load_config
    from voc.flows.understand import understand_pending
    from voc.sources.ingest import ingest_path
    from voc.weeks import Week

    rows, _ = sample.generate(Week.parse(end_week), weeks=10, per_week=300, seed=3)
    sample.write_csv(tmp_path / "t.csv", rows)
    cfg = load_config(EXAMPLE_CONFIG)
    ingest_path(engine, tmp_path / "t.csv", "demo", Mapping())
    understand_pending(engine, cfg)
    return cfg


def copy_store(src, dst) -> None:  # type: ignore[no-untyped-def]
    """Every row of the store behind engine ``src`` into the fresh, migrated store behind ``dst`` (same
    backend, same migrations). SQLite: the database file itself (SQLite's backup). PostgreSQL (one
    schema each, on one server): each table's rows server-side, and each sequence where ``src`` left it."""
    import sqlite3
    from contextlib import closing

    import sqlalchemy as sa

    if dst.dialect.name == "sqlite":
        dst.dispose()
        with closing(sqlite3.connect(src.url.database)) as a, closing(sqlite3.connect(dst.url.database)) as b:
            a.backup(b)
        return
    md = sa.MetaData()
    with src.connect() as c:
        md.reflect(c)
        schema = c.execute(sa.text("select current_schema()")).scalar_one()
        seqs = c.execute(
            sa.text("select sequencename, last_value from pg_sequences where schemaname = current_schema()")
        ).all()
    tables = [t.name for t in md.sorted_tables if t.name != "alembic_version"]
    with dst.begin() as c:
        # a copy, not a change: no trigger fires (the stale-week marks are copied as they are)
        c.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for name in reversed(tables):  # whatever the migrations put there
            c.execute(sa.text(f'DELETE FROM "{name}"'))
        for name in tables:  # the same migrations: the columns are in the same order
            c.execute(sa.text(f'INSERT INTO "{name}" SELECT * FROM "{schema}"."{name}"'))
        for name, last in seqs:
            if last is not None:  # NULL: never used
                c.execute(sa.text("select setval(:s, :v, true)"), {"s": f'"{name}"', "v": last})


class StoreTemplates:
    """Stores whose building is the slow part of a module's tests (e.g. :func:`understood_sample`), built
    once per backend and copied into each test's own fresh store (:func:`copy_store`)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self._built: dict[str, tuple[Any, Any]] = {}
        self._schemas: list[str] = []

    def copy(self, engine, build: Callable[[Any, Path], Any]) -> Any:  # type: ignore[no-untyped-def]
        """``build(template_engine, folder)`` once for ``engine``'s backend, then its store copied into
        ``engine``'s; returns a deep copy of what ``build`` returned."""
        import copy

        kind = engine.dialect.name
        if kind not in self._built:
            src = self._store(kind)
            folder = self.tmp / kind
            folder.mkdir()
            self._built[kind] = (src, build(src, folder))
        src, value = self._built[kind]
        copy_store(src, engine)
        return copy.deepcopy(value)

    def _store(self, kind: str):  # type: ignore[no-untyped-def]
        import sqlalchemy as sa

        from voc.store.db import make_engine, migrate

        if kind == "sqlite":
            eng = make_engine(f"sqlite:///{self.tmp / 'template.sqlite3'}")
        else:
            schema = f"voc_t_{uuid.uuid4().hex[:10]}"
            admin = sa.create_engine(PG_URL)
            with admin.begin() as c:
                c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            admin.dispose()
            self._schemas.append(schema)
            eng = make_engine(f"{PG_URL}?options=-csearch_path%3D{schema}")
        migrate(eng)
        return eng

    def close(self) -> None:
        import sqlalchemy as sa

        for src, _ in self._built.values():
            src.dispose()
        if self._schemas:
            admin = sa.create_engine(PG_URL)
            with admin.begin() as c:
                for schema in self._schemas:
                    c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture(scope="module")
def store_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreTemplates]:
    templates = StoreTemplates(tmp_path_factory.mktemp("store-templates"))
    try:
        yield templates
    finally:
        templates.close()


@pytest.fixture(scope="module")
def dask_cluster():  # type: ignore[no-untyped-def]
    """A separate 2-worker cluster reached by address (the production shape), shared by the store params."""
    import distributed  # the dask extra is part of the test extra

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster.scheduler_address, client


def voc_in(cwd: Path, args: Sequence[str], env: Mapping[str, str | None]) -> Any:
    """A `voc` command in this process through typer's runner, as if started in the folder ``cwd`` with
    ``env`` added to (None: removed from) the environment; returns typer's ``Result``."""
    from typer.testing import CliRunner

    from voc.app.cli import app

    here = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, list(args), env=dict(env))
    finally:
        os.chdir(here)
