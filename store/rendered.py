"""The record of every rendered brief and review file (``briefs_rendered``): written after each file,
read by the workbench (``store.workbench.rendered_files``) and by an erasure (``store.erasure``), which
deletes the files that may quote an erased ticket."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, insert

from voc.store.models import BriefRendered


def record(
    engine: Engine, kind: str, period: str, lang: str, fmt: str, path: Path, content: str | bytes
) -> None:
    """One written file: ``kind`` weekly | review, ``period`` 2026-W47 | 2026-Q4, its absolute path (found
    from any working directory) and the SHA-256 of its content."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with engine.begin() as conn:
        conn.execute(
            insert(BriefRendered).values(
                kind=kind,
                period=period,
                lang=lang,
                fmt=fmt,
                path=str(path.resolve()),
                sha256=hashlib.sha256(data).hexdigest(),
                created_at=datetime.now().replace(microsecond=0),
            )
        )
