"""Copy an analysed SQLite store into a fresh PostgreSQL schema, row for row (a benchmark aid).

    python bench/pgcopy.py sqlite:////path/to/store.sqlite3

Building a 1M-ticket store takes ~15-20 minutes per database; copying the SQLite one takes a few, and
both databases then hold the same tickets, topics, counts and surges, so their page timings
(bench/web.py --store URL) compare like with like. The new schema is migrated to the newest revision
first; every table is then copied with PostgreSQL's COPY, the id sequences are moved past the
copied ids, and the schema is analysed (statistics, as a store in use would have). Prints the URL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402
from benchdb import fresh_store_url  # noqa: E402

from voc.store.db import make_engine, migrate  # noqa: E402
from voc.store.models import Base  # noqa: E402

CHUNK = 20_000


def copy_store(src_url: str) -> str:
    dst_url = fresh_store_url("postgres", Path("."), "copy")
    src, dst = make_engine(src_url), make_engine(dst_url)
    migrate(dst)
    tables = [t for t in Base.metadata.sorted_tables]
    with src.connect() as s, dst.connect() as d:
        raw = d.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cur:
            for t in reversed(tables):
                cur.execute(f'TRUNCATE "{t.name}" CASCADE')
            for t in tables:
                t0 = time.perf_counter()
                cols = [c.name for c in t.columns]
                n = 0
                result = s.execution_options(stream_results=True, yield_per=CHUNK).execute(sa.select(t))
                with cur.copy(f'COPY "{t.name}" ({", ".join(cols)}) FROM STDIN') as cp:
                    for row in result:
                        cp.write_row(tuple(row))
                        n += 1
                for c in t.columns:
                    if c.primary_key and c.autoincrement is not False and isinstance(c.type, sa.Integer):
                        cur.execute(
                            f"SELECT setval(pg_get_serial_sequence('\"{t.name}\"', '{c.name}'), "
                            f'COALESCE(MAX("{c.name}"), 0) + 1, false) FROM "{t.name}" '
                            f"WHERE pg_get_serial_sequence('\"{t.name}\"', '{c.name}') IS NOT NULL"
                        )
                print(f"{t.name}: {n:,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
        raw.commit()
        raw.autocommit = True
        with raw.cursor() as cur:
            cur.execute("ANALYZE")
    return dst_url


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].startswith("sqlite:///"):
        print(__doc__)
        return 2
    print(copy_store(sys.argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
