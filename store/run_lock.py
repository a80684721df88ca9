"""A database lock per week, so two weekly runs for the same week never overlap (any store, any host)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from voc.errors import VocError
from voc.store.models import RunLock

STALE_AFTER = timedelta(hours=6)
HOST = socket.gethostname()


class RunInProgress(VocError):
    """Another run holds the week's lock."""


@contextmanager
def week_lock(engine: Engine, week: int, label: str) -> Iterator[None]:
    """Hold the lock for ``week`` while the block runs. A lock left by a crashed run is taken over: at
    once when its holder was a process on this host that no longer exists (a SIGKILLed run, so
    ``--resume`` works straight away), otherwise once it is older than 6 h (a holder on another host)."""
    holder = f"{HOST}:{os.getpid()}"
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(delete(RunLock).where(RunLock.week == week, RunLock.acquired_at < now - STALE_AFTER))
        old = conn.execute(select(RunLock.holder).where(RunLock.week == week)).scalar_one_or_none()
        if old is not None and dead_here(old):
            conn.execute(delete(RunLock).where(RunLock.week == week, RunLock.holder == old))
    try:
        with engine.begin() as conn:
            conn.execute(insert(RunLock).values(week=week, holder=holder, acquired_at=now))
    except IntegrityError:
        with engine.connect() as conn:
            row = conn.execute(
                select(RunLock.holder, RunLock.acquired_at).where(RunLock.week == week)
            ).first()
        who = f"{row.holder} since {row.acquired_at:%Y-%m-%d %H:%M}" if row else "another process"
        raise RunInProgress(
            f"a weekly run for {label} is already in progress ({who}); "
            "wait for it to finish (a lock of a process that is gone is taken over at once "
            "on the same host, after 6 h from another host)"
        ) from None
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(delete(RunLock).where(RunLock.week == week, RunLock.holder == holder))


def dead_here(holder: str) -> bool:
    """True when ``holder`` ("host:pid") names a process on this host that is not running."""
    host, _, pid = holder.rpartition(":")
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
