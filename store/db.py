"""Engine creation, migrations and readiness checks for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from voc.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")
SUPPORTED = ("sqlite", "postgresql")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (psycopg2 is not a dependency)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL + foreign keys and its parent folder created."""
    try:
        u = make_url(normalise_url(url))
    except ArgumentError as e:
        raise StoreError(
            "VOC_DATABASE_URL is not a database URL (use sqlite:///path/voc.sqlite3 or "
            "postgresql://user@host/db)"
        ) from e
    if u.get_backend_name() not in SUPPORTED:
        raise StoreError(
            f"VOC_DATABASE_URL: {u.get_backend_name()!r} databases are not supported "
            "(use sqlite:///path/voc.sqlite3 or postgresql://user@host/db)"
        )
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            folder = Path(u.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except FileExistsError as e:
                raise StoreError(
                    f"cannot create the SQLite database {u.database}: {e.filename or folder} "
                    "is a file, not a folder"
                ) from e
            except OSError as e:
                raise StoreError(
                    f"cannot create the SQLite database {u.database}: "
                    f"{e.strerror or e} ({e.filename or folder})"
                ) from e
        engine = create_engine(u, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if u.get_driver_name() == "psycopg":
        # psycopg prepares a statement after 5 runs, and PostgreSQL then switches to a generic plan
        # that ignores the bound week/topic: the brief's quote queries went from ~2 ms to 140 ms
        # (a 100k-ticket week's brief 26 s -> 3.9 s with custom plans).
        return create_engine(u, pool_pre_ping=True, connect_args={"prepare_threshold": None})
    return create_engine(u, pool_pre_ping=True)


def refresh_statistics(engine: Engine) -> None:
    """ANALYZE the big tables on PostgreSQL after a stage rewrote many of their rows.

    Autovacuum's analyze may not have run yet right after a bulk load or a week's assignment, and
    without statistics the planner scans whole weeks for the brief's quotes (a 100k-ticket week's
    brief: 22.4 s before, 2.8 s after). A sampled ANALYZE costs about a second per million rows.
    SQLite plans these queries from its indexes and needs nothing here."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE tickets, assignments")


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    cfg = _alembic_config(engine)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as e:
        raise StoreError(f"cannot reach the database at {engine.url!r}: {e.orig}") from e


def check_ready(engine: Engine) -> None:
    """Fail with one clear line when the database is unreachable or not initialised."""
    try:
        with engine.connect() as conn:
            has = inspect(conn).has_table("alembic_version")
    except SQLAlchemyError as e:
        raise StoreError(f"cannot reach the database at {engine.url!r}: {getattr(e, 'orig', e)}") from e
    if not has:
        raise StoreError(f"database {engine.url!r} is not initialised: run `voc init` first")


def describe_error(e: SQLAlchemyError) -> str:
    """One line for a database failure met mid-command (read-only file, disk full, lost connection...):
    the driver's own first line, without the SQL statement or its parameters (they can hold ticket text)."""
    orig = getattr(e, "orig", None)
    first = (str(orig) if orig is not None else str(e)).strip().splitlines()
    reason = first[0] if first else type(e).__name__
    return f"the database refused the operation: {reason}"


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
