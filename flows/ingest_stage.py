"""Ingest stage: pull every configured source (or one) into the store."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from voc.config.settings import Source, VocConfig
from voc.errors import SourceError
from voc.sources.incremental import IncrementalSource, pull
from voc.sources.ingest import IngestSummary, ingest_path


def _need(src: Source, field: str, what: str) -> str:
    value = getattr(src, field)
    if not value:
        raise SourceError(f"source {src.name!r}: kind {src.kind!r} needs `{field}` ({what})")
    return str(value)


def _secret(src: Source, field: str, what: str) -> tuple[str, str]:
    """(variable name, value) of a secret named by ``field``; the value never comes from the file."""
    var = _need(src, field, f"the name of the environment variable holding {what}")
    value = os.environ.get(var, "").strip()
    if not value:
        raise SourceError(f"source {src.name!r}: environment variable ${var} ({what}) is not set")
    return var, value


def build_incremental(
    src: Source, *, sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0
) -> IncrementalSource:
    """The incremental source for a config entry of kind sql / zendesk / freshdesk / qiyu / sobot."""
    if src.kind == "sql":
        from voc.sources.sql import SqlSource

        var, url = _secret(src, "url_env", "the database URL")
        return SqlSource(
            src.name,
            url,
            _need(src, "query", "the SELECT to read tickets with"),
            _need(src, "watermark_column", "a column that grows when a row is added or changed"),
            batch_size=src.page_size or 1000,
            since=src.since,
            url_env=var,
        )
    if src.kind == "zendesk":
        from voc.sources.zendesk import ZendeskSource

        base = (
            src.base_url
            or f"https://{_need(src, 'subdomain', 'as in https://SUBDOMAIN.zendesk.com')}.zendesk.com"
        )
        email_var, email = _secret(src, "email_env", "the agent email")
        token_var, token = _secret(src, "token_env", "the API token")
        return ZendeskSource(
            src.name,
            base,
            email,
            token,
            statuses=src.statuses,
            page_size=src.page_size,
            since=src.since,
            replies=src.replies,
            email_env=email_var,
            token_env=token_var,
            timeout=timeout,
            sleep=sleep,
        )
    if src.kind == "freshdesk":
        from voc.sources.freshdesk import FreshdeskSource

        if src.base_url:
            base = src.base_url
        else:
            domain = _need(src, "domain", "as in DOMAIN.freshdesk.com")
            base = f"https://{domain if '.' in domain else domain + '.freshdesk.com'}"
        key_var, key = _secret(src, "token_env", "the API key")
        return FreshdeskSource(
            src.name,
            base,
            key,
            statuses=src.statuses,
            page_size=src.page_size,
            since=src.since,
            replies=src.replies,
            token_env=key_var,
            timeout=timeout,
            sleep=sleep,
        )
    if src.kind == "qiyu":
        from voc.sources.qiyu import QiyuSource

        key_var, key = _secret(src, "app_key_env", "the Qiyu appKey")
        secret_var, secret = _secret(src, "token_env", "the Qiyu appSecret")
        return QiyuSource(
            src.name,
            src.base_url or "https://qiyukf.com",
            key,
            secret,
            since=src.since,
            window_hours=src.window_hours,
            lag_minutes=src.lag_minutes,
            key_env=key_var,
            secret_env=secret_var,
            timeout=timeout,
            sleep=sleep,
        )
    if src.kind == "sobot":
        from voc.sources.sobot import SobotSource

        id_var, appid = _secret(src, "app_id_env", "the Sobot appid")
        key_var, app_key = _secret(src, "token_env", "the Sobot app_key")
        return SobotSource(
            src.name,
            src.base_url or "https://www.sobot.com",
            appid,
            app_key,
            since=src.since,
            page_size=src.page_size,
            window_hours=src.window_hours,
            lag_minutes=src.lag_minutes,
            statuses=src.statuses,
            id_env=id_var,
            key_env=key_var,
            timeout=timeout,
            sleep=sleep,
        )
    raise SourceError(f"source {src.name!r}: kind {src.kind!r} is not an incremental source")


def ingest_source(
    engine: Engine,
    cfg: VocConfig,
    src: Source,
    *,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 30.0,
) -> IngestSummary:
    if src.kind == "file":
        if not src.path:
            raise SourceError(f"source {src.name!r}: kind 'file' needs a path")
        if not Path(src.path).exists():  # an empty drop folder nobody created yet: said, not a failed run
            return IngestSummary(src.name, missing=f"{src.path} does not exist (relative to {Path.cwd()})")
        return ingest_path(
            engine,
            Path(src.path),
            src.name,
            cfg.mapping(src.mapping),
            encoding=src.encoding,
            max_body_chars=cfg.max_body_chars,
        )
    if src.kind in ("sql", "zendesk", "freshdesk", "qiyu", "sobot"):
        return pull(
            engine,
            build_incremental(src, sleep=sleep, timeout=timeout),
            cfg.mapping(src.mapping),
            max_body_chars=cfg.max_body_chars,
            copies=src.copies,
        )
    raise SourceError(f"source {src.name!r}: kind {src.kind!r} is not available in this version")


def ingest_all(engine: Engine, cfg: VocConfig, only: str | None = None) -> list[IngestSummary]:
    sources = [cfg.source(only)] if only else cfg.sources
    return [ingest_source(engine, cfg, s) for s in sources]
