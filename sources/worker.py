"""Reading and validating a big file in a second process while this one writes.

The worker (``python -m voc.sources.worker``) runs ``prepare`` over the file and streams whole batches
back as pickles over its stdout pipe; the pipe's back-pressure keeps memory at a batch or two, and
the writer commits the batches in file order exactly as the in-process path does, so crash, re-run
and quarantine behave the same. A plain subprocess, not multiprocessing: nothing re-imports the
caller's ``__main__`` and no threads are forked. Small files are not worth the process start.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import voc
from voc.config.settings import Mapping
from voc.errors import SourceError
from voc.sources.files import read_rows
from voc.sources.prepare import Prepared, prepare
from voc.store.tickets import base_row, complete_row

MIN_BYTES = 8 << 20  # ~30k tickets: below this the process start (~1 s of imports) is not repaid
# the folder holding this process's ``voc`` package (site-packages, or the checkout of an editable install)
_ROOT = str(Path(voc.__file__).resolve().parents[1])


def worth_it(path: Path) -> bool:
    """A big file, and a core to spare: on a busy machine the worker only adds its pipe overhead
    (about a quarter more CPU in total), so the file is then read in-process. Results are identical."""
    cores = os.cpu_count() or 1
    return cores > 1 and path.stat().st_size >= MIN_BYTES and os.getloadavg()[0] <= cores - 1


# The worker sends ``base_row`` tuples and the writer adds the derived columns (hash, week...), which
# balances the two processes. Datetimes cross the pipe as ISO text: pickling datetime objects costs
# more than the rest of the row, and fromisoformat(isoformat()) gives back exactly the same value.
def _to_wire(b: Prepared) -> Prepared:
    out = []
    for r in b.rows:
        c, k = r[2], r[3]
        out.append(
            (r[0], r[1], None if c is None else c.isoformat(), None if k is None else k.isoformat(), *r[4:])
        )
    b.rows = out
    return b


def _from_wire(b: Prepared) -> Prepared:
    iso = datetime.fromisoformat
    out = []
    for r in b.rows:
        c, k = r[2], r[3]
        out.append(
            complete_row((r[0], r[1], None if c is None else iso(c), None if k is None else iso(k), *r[4:]))
        )
    b.rows = out
    return b


def prepared_in_worker(
    path: Path, encoding: str | None, source: str, mapping: Mapping, max_body_chars: int, batch_size: int
) -> Iterator[Prepared]:
    """The batches of ``prepare(read_rows(path))``, computed in a worker process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (_ROOT, os.environ.get("PYTHONPATH"))))}
    # -P: the working directory is not put on the worker's sys.path (a user's own voc/ folder there is not
    # imported instead of the pipeline)
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "voc.sources.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        pickle.dump((path, encoding, source, mapping, max_body_chars, batch_size), proc.stdin)
        proc.stdin.close()
        while True:
            try:
                item = pickle.load(proc.stdout)
            except EOFError:
                raise SourceError(f"{path}: the reader process died (exit code {proc.wait()})") from None
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield _from_wire(item)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def _serve() -> int:
    """Worker side: read the job from stdin, write pickled batches, then None (or the exception)."""
    out = sys.stdout.buffer
    job: tuple[Any, ...] = pickle.load(sys.stdin.buffer)
    path, encoding, source, mapping, max_body_chars, batch_size = job
    try:
        for b in prepare(read_rows(path, encoding), source, mapping, max_body_chars, batch_size, base_row):
            pickle.dump(_to_wire(b), out, protocol=pickle.HIGHEST_PROTOCOL)
        end: object = None
    except Exception as e:  # the writer raises it (picklable or not)
        try:
            pickle.dumps(e)
            end = e
        except Exception:
            end = SourceError(f"{path}: {e!r}")
    pickle.dump(end, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_serve())
