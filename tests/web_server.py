"""The real ``voc web`` command on a test store, and the headless Chromium the browser tests drive it
with (shared by tests/test_web.py, tests/test_web_actions.py and tests/test_web_topics.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.test_browser import Chromium, _chromium
from voc.config.settings import EXAMPLE_CONFIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium_binary(engine: Engine) -> str:
    """The Chromium to drive; skips on PostgreSQL (one browser run, on SQLite, is enough: the pages
    are the same) and without Chromium - but fails without it when CI is set."""
    if engine.dialect.name != "sqlite":
        pytest.skip("one browser run (on SQLite) is enough: the pages are the same on PostgreSQL")
    binary = _chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("the browser test needs chromium (Debian package chromium) on CI")
        pytest.skip("no chromium (Debian package chromium)")
    return binary


class Watching(Chromium):
    """Also records every request a page makes (DevTools Network domain)."""

    _EVENTS = (*Chromium._EVENTS, "Network.requestWillBeSent")

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        out = super().send(method, params, session)
        if method == "Page.enable" and session:
            super().send("Network.enable", session=session)
        return out


@contextmanager
def voc_web(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """``voc web`` (the command, in its own process) on ``engine``'s store, without tokens (loopback:
    the local user is editor); yields its base URL once it answers, stops it afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("VOC_WEB_TOKEN", "VOC_WEB_EDITOR_TOKEN")}
    env.update(
        VOC_DATABASE_URL=engine.url.render_as_string(hide_password=False),
        VOC_CONFIG=str(EXAMPLE_CONFIG),
        VOC_LOG_FILE=str(tmp_path / "voc-errors.log"),
    )
    log = (tmp_path / "voc-web.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "voc.app.cli", "web", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "voc-web.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "voc web did not answer within 60 s"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()
