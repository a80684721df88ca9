"""Ingest stage: pull every configured source (or one) into the store."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from config.settings import Source, VocConfig
from sources.ingest import IngestSummary, ingest_path
from voc.errors import SourceError


def ingest_source(engine: Engine, cfg: VocConfig, src: Source) -> IngestSummary:
    if src.kind == "file":
        if not src.path:
            raise SourceError(f"source {src.name!r}: kind 'file' needs a path")
        return ingest_path(engine, Path(src.path), src.name, cfg.mapping(src.mapping), encoding=src.encoding,
                           max_body_chars=cfg.max_body_chars)
    raise SourceError(f"source {src.name!r}: kind {src.kind!r} is not available in this version")


def ingest_all(engine: Engine, cfg: VocConfig, only: str | None = None) -> list[IngestSummary]:
    sources = [cfg.source(only)] if only else cfg.sources
    return [ingest_source(engine, cfg, s) for s in sources]
