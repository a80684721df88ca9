"""A fresh, empty store for one benchmark run: a new SQLite file in the work folder, or a new schema on
the local PostgreSQL (127.0.0.1:5432, trust auth, database ``test``)."""

from __future__ import annotations

import uuid
from pathlib import Path

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fresh_store_url(db: str, workdir: Path, stem: str) -> str:
    """Database URL of a new empty store: ``db`` is ``sqlite`` or ``postgres``."""
    tag = uuid.uuid4().hex[:8]
    if db == "sqlite":
        return f"sqlite:///{workdir / f'{stem}-{tag}.sqlite3'}"
    import sqlalchemy as sa

    schema = f"bench_{tag}"
    with sa.create_engine(PG).begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    return f"{PG}?options=-csearch_path%3D{schema}"
