"""A database lock per week, so two weekly runs for the same week never overlap (any store, any host)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from store.models import RunLock
from voc.errors import VocError

STALE_AFTER = timedelta(hours=6)


class RunInProgress(VocError):
    """Another run holds the week's lock."""


@contextmanager
def week_lock(engine: Engine, week: int, label: str) -> Iterator[None]:
    """Hold the lock for ``week`` while the block runs; a lock older than 6 h is taken over (crashed run)."""
    holder = f"{socket.gethostname()}:{os.getpid()}"
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(delete(RunLock).where(RunLock.week == week, RunLock.acquired_at < now - STALE_AFTER))
    try:
        with engine.begin() as conn:
            conn.execute(insert(RunLock).values(week=week, holder=holder, acquired_at=now))
    except IntegrityError:
        with engine.connect() as conn:
            row = conn.execute(select(RunLock.holder, RunLock.acquired_at).where(RunLock.week == week)).first()
        who = f"{row.holder} since {row.acquired_at:%Y-%m-%d %H:%M}" if row else "another process"
        raise RunInProgress(f"a weekly run for {label} is already in progress ({who}); "
                            "wait for it to finish (locks older than 6 h are taken over)") from None
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(delete(RunLock).where(RunLock.week == week, RunLock.holder == holder))
